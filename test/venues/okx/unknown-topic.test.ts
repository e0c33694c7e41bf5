/**
 * A book frame for a channel not on the connection (a garbled instId): counted once, in unknown_topic_total, and every
 * book of the connection resyncs (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import { silentLogger } from "../../../src/core/log.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { tempCachePath } from "./helpers.ts";

function offlineAdapter(symbols: string[]): OkxAdapter {
  const config = {
    venue: "okx" as const,
    wsUrl: "ws://127.0.0.1:9/ws/v5/public",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: tempCachePath(),
    markets: [{ market: "spot" as const, depth: 400, symbols }],
    overrides: new Map(symbols.map((s) => [`spot:${s}`, { tickSize: "0.1", lotSize: "0.001" }])), // loadInstruments offline (replay)
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new OkxAdapter(config, symbols.map((symbol) => ({ market: "spot" as const, symbol, depth: 400 })), { log: silentLogger, fetch: refuse });
}

// BTC-USDT's update, its instId garbled.
const garbled = `{"arg":{"channel":"books","instId":"BTC-USDX"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}`;
unknownTopicRuleTests("OKX", () => offlineAdapter(["BTC-USDT", "ETH-USDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "books:SOL-USDT",
  frame: `{"arg":{"channel":"books","instId":"SOL-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}`,
});
