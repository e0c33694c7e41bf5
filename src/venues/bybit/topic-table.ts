// HOT PATH: no allocation (find, in the common NameTable; the rest is cold)
/**
 * The topic table of one Bybit connection: `orderbook.N.SYMBOL` → subscription entry (common/name-table.ts), plus
 * where the symbol starts in each topic so the scanner can check the payload's `s` without a substring.
 * One table per connection: the same topic name exists in several markets.
 * @module
 */
import { NameTable } from "../common/name-table.ts";

export { FNV_OFFSET, fnvStep } from "../common/name-table.ts";

export const TOPIC_PREFIX = "orderbook.";

export class TopicTable extends NameTable {
  /** Offset of the symbol inside the topic (after `orderbook.N.`). */
  readonly symbolStart: number[] = [];
  /** The topic's depth N (`orderbook.N.`): a snapshot may hold at most N levels a side (scanner, parse-json). */
  readonly depth: number[] = [];

  /** Adds (or updates) a topic; returns its entry id. Cold. */
  override add(topic: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    if (!topic.startsWith(TOPIC_PREFIX)) throw new Error(`not an order-book topic: ${topic}`);
    const dot = topic.indexOf(".", TOPIC_PREFIX.length);
    if (dot < 0) throw new Error(`order-book topic without a symbol: ${topic}`);
    const before = this.size;
    const entry = super.add(topic, subscriptionIndex, priceExp, qtyExp);
    if (this.size > before) {
      this.symbolStart.push(dot + 1);
      const n = Number(topic.slice(TOPIC_PREFIX.length, dot));
      // A depth that is not a number (no such Bybit topic) bounds nothing.
      this.depth.push(Number.isSafeInteger(n) && n > 0 ? n : Number.MAX_SAFE_INTEGER);
    }
    return entry;
  }
}
