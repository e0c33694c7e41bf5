/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Bybit's own rule for a frame it refused
 * (BybitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a frame of a topic not on the
 * connection is counted once (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import { join } from "node:path";
import { silentLogger } from "../../../src/core/log.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/bybit/scan-codes.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";

function offlineAdapter(symbols = ["AUSDT"]): BybitAdapter {
  const config = {
    venue: "bybit" as const,
    wsUrl: "ws://127.0.0.1:9/v5/public/spot",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("bybit-offline"), "i.json"),
    markets: [{ market: "spot" as const, depth: 50, symbols }],
    overrides: new Map(symbols.map((s) => [`spot:${s}`, { tickSize: "0.1", lotSize: "0.001" }])), // loadInstruments offline (replay)
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new BybitAdapter(config, symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 50 })), { log: silentLogger, fetch: refuse });
}

frameFaultRuleTests("Bybit", () => offlineAdapter(), (t: TopicState) => `{"topic":"${t.topic}","type":"delta","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"seq":3}}`, SCAN_ERR_SYNTAX);

// AUSDT's delta, its topic garbled (AUSDX).
const garbled = `{"topic":"orderbook.50.AUSDX","type":"delta","ts":1,"data":{"s":"AUSDX","b":[],"a":[],"u":2,"seq":3}}`;
unknownTopicRuleTests("Bybit", () => offlineAdapter(["AUSDT", "BUSDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "orderbook.50.CUSDT",
  frame: `{"topic":"orderbook.50.CUSDT","type":"delta","ts":1,"data":{"s":"CUSDT","b":[],"a":[],"u":2,"seq":3}}`,
});
