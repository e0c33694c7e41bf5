/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Bybit's own rule for a frame it refused
 * (BybitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a frame of a topic not on the
 * connection is counted once (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/bybit/scan-codes.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";

function offlineAdapter(symbols = ["AUSDT"]): BybitAdapter {
  const o = offlineVenue("bybit", "spot", 50, symbols, "/v5/public/spot");
  return new BybitAdapter(o.config, o.subscriptions, o.options);
}

frameFaultRuleTests("Bybit", () => offlineAdapter(), (t: TopicState) => `{"topic":"${t.topic}","type":"delta","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"seq":3}}`, SCAN_ERR_SYNTAX);

// AUSDT's delta, its topic garbled (AUSDX).
const garbled = `{"topic":"orderbook.50.AUSDX","type":"delta","ts":1,"data":{"s":"AUSDX","b":[],"a":[],"u":2,"seq":3}}`;
unknownTopicRuleTests("Bybit", () => offlineAdapter(["AUSDT", "BUSDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "orderbook.50.CUSDT",
  frame: `{"topic":"orderbook.50.CUSDT","type":"delta","ts":1,"data":{"s":"CUSDT","b":[],"a":[],"u":2,"seq":3}}`,
});
