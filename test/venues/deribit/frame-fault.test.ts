/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Deribit's own rule for a frame it refused
 * (DeribitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a notification of a channel not
 * on the connection is counted once (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/deribit/scanner.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";

function offlineAdapter(symbols = ["BTC-PERPETUAL"]): DeribitAdapter {
  const o = offlineVenue("deribit", "inverse", 0, symbols, "/ws/api/v2");
  return new DeribitAdapter(o.config, o.subscriptions, o.options);
}

frameFaultRuleTests("Deribit", () => offlineAdapter(), (t: TopicState) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${t.topic}","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`, SCAN_ERR_SYNTAX);

// BTC-PERPETUAL's change, its channel garbled.
const garbled = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAX.100ms","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`;
unknownTopicRuleTests("Deribit", () => offlineAdapter(["BTC-PERPETUAL", "ETH-PERPETUAL"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "book.SOL-PERPETUAL.100ms",
  frame: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.SOL-PERPETUAL.100ms","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`,
});
