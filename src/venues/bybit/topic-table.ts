// HOT PATH: no allocation (find; the rest is cold)
/**
 * The topic table of one connection: topic string → subscription entry, built at subscribe time and read by the
 * scanner on every frame without creating a substring.
 * @module
 */

export const TOPIC_PREFIX = "orderbook.";

/** FNV-1a step over one UTF-16 code unit; the TopicTable and the scanner must agree on it. */
export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}
export const FNV_OFFSET = 0x811c9dc5 | 0;

/**
 * Topic string → entry, built at subscribe time (cold), read on the hot path by hashing the topic's char codes in
 * place and comparing them with the stored string, so no substring is created per frame.
 * One table per connection: the same topic name exists in several markets.
 */
export class TopicTable {
  readonly topics: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  /** Offset of the symbol inside the topic (after `orderbook.N.`). */
  readonly symbolStart: number[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.topics.length;
  }

  /** Adds (or updates) a topic; returns its entry id. Cold. */
  add(topic: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const existing = this.entryOf(topic);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.setExponents(existing, priceExp, qtyExp);
      return existing;
    }
    if (!topic.startsWith(TOPIC_PREFIX)) throw new Error(`not an order-book topic: ${topic}`);
    const dot = topic.indexOf(".", TOPIC_PREFIX.length);
    if (dot < 0) throw new Error(`order-book topic without a symbol: ${topic}`);
    const entry = this.topics.length;
    this.topics.push(topic);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.symbolStart.push(dot + 1);
    this.hashes.push(hashOf(topic));
    if (this.topics.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** Cold lookup by string; -1 when absent. */
  entryOf(topic: string): number {
    return this.find(topic, 0, topic.length, hashOf(topic));
  }

  /** Hot lookup of s[start, end) with its precomputed hash; -1 when absent. */
  find(s: string, start: number, end: number, hash: number): number {
    const len = end - start;
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const t = this.topics[entry]!;
        if (t.length === len) {
          let i = 0;
          while (i < len && t.charCodeAt(i) === s.charCodeAt(start + i)) i++;
          if (i === len) return entry;
        }
      }
      slot = (slot + 1) & this.mask;
    }
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let e = 0; e < this.topics.length; e++) this.place(e);
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry;
  }
}

function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
}
