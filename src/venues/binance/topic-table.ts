// HOT PATH: no allocation (find; the rest is cold)
/**
 * The stream table of one Binance connection: stream name (`btcusdt@depth@100ms`) → subscription entry, built at
 * subscribe time and read by the scanner on every frame by hashing the name's characters in place (no substring).
 * @module
 */

/** FNV-1a step over one UTF-16 code unit; the table and the scanner must agree on it. */
export const FNV_OFFSET = 0x811c9dc5 | 0;

export class StreamTable {
  readonly streams: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  /** The symbol as the payload's `s` spells it (upper case). */
  readonly symbols: string[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.streams.length;
  }

  /** Adds (or updates) a stream; returns its entry id. Cold. */
  add(stream: string, symbol: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const existing = this.entryOf(stream);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.setExponents(existing, priceExp, qtyExp);
      return existing;
    }
    const entry = this.streams.length;
    this.streams.push(stream);
    this.symbols.push(symbol);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.hashes.push(hashOf(stream));
    if (this.streams.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** Cold lookup by string; -1 when absent. */
  entryOf(stream: string): number {
    return this.find(stream, 0, stream.length, hashOf(stream));
  }

  /** Hot lookup of s[start, end) with its precomputed hash; -1 when absent. */
  find(s: string, start: number, end: number, hash: number): number {
    const len = end - start;
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const t = this.streams[entry]!;
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
    for (let e = 0; e < this.streams.length; e++) this.place(e);
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry;
  }
}

export function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}
