/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Deribit's own rule for a frame it refused
 * (DeribitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a notification of a channel not
 * on the connection is counted once (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import { join } from "node:path";
import { silentLogger } from "../../../src/core/log.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/deribit/scanner.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";

function offlineAdapter(symbols = ["BTC-PERPETUAL"]): DeribitAdapter {
  const config = {
    venue: "deribit" as const,
    wsUrl: "ws://127.0.0.1:9/ws/api/v2",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("deribit-offline"), "i.json"),
    markets: [{ market: "inverse" as const, depth: 0, symbols }],
    overrides: new Map(symbols.map((s) => [`inverse:${s}`, { tickSize: "0.1", lotSize: "0.001" }])), // loadInstruments offline (replay)
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new DeribitAdapter(config, symbols.map((symbol) => ({ market: "inverse" as const, symbol, depth: 0 })), { log: silentLogger, fetch: refuse });
}

frameFaultRuleTests("Deribit", () => offlineAdapter(), (t: TopicState) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${t.topic}","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`, SCAN_ERR_SYNTAX);

// BTC-PERPETUAL's change, its channel garbled.
const garbled = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAX.100ms","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`;
unknownTopicRuleTests("Deribit", () => offlineAdapter(["BTC-PERPETUAL", "ETH-PERPETUAL"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "book.SOL-PERPETUAL.100ms",
  frame: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.SOL-PERPETUAL.100ms","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`,
});
