/**
 * A book frame for a channel not on the connection (a garbled instId): counted once, in unknown_topic_total, and every
 * book of the connection resyncs (unknown-topic-rule.ts). Offline: no socket, no network.
 */
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";

function offlineAdapter(symbols: string[]): OkxAdapter {
  const o = offlineVenue("okx", "spot", 400, symbols, "/ws/v5/public");
  return new OkxAdapter(o.config, o.subscriptions, o.options);
}

// BTC-USDT's update, its instId garbled.
const garbled = `{"arg":{"channel":"books","instId":"BTC-USDX"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}`;
unknownTopicRuleTests("OKX", () => offlineAdapter(["BTC-USDT", "ETH-USDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "books:SOL-USDT",
  frame: `{"arg":{"channel":"books","instId":"SOL-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}`,
});
