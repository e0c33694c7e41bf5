// HOT PATH: no allocation (find; the rest is cold)
/**
 * Name → subscription entry for one connection: a topic (Bybit `orderbook.50.BTCUSDT`), a stream (Binance
 * `btcusdt@depth@100ms`) or a product id (Coinbase `BTC-USD`). Built at subscribe time (cold) and read by a venue's
 * scanner on every frame: the scanner hashes the name's char codes in place with `fnvStep` and `find` compares
 * them with the stored string, so no substring is created per frame. Open addressing over an Int32Array, load ≤ ½.
 * A venue that needs more per entry (Bybit's symbol offset, Binance's payload symbol) extends it with parallel
 * arrays filled in its own `add`.
 * @module
 */

/** FNV-1a offset basis; `fnvStep` over the name's UTF-16 code units from here gives its hash. */
export const FNV_OFFSET = 0x811c9dc5 | 0;

/** FNV-1a step over one UTF-16 code unit; the table and every scanner must agree on it. */
export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}

/** The hash `find` expects for a whole string (cold; scanners fold `fnvStep` as they read). */
export function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
}

export class NameTable {
  readonly names: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.names.length;
  }

  /** Adds (or updates) a name; returns its entry id. Cold. */
  add(name: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const existing = this.entryOf(name);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.setExponents(existing, priceExp, qtyExp);
      return existing;
    }
    const entry = this.names.length;
    this.names.push(name);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.hashes.push(hashOf(name));
    if (this.names.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** Cold lookup by string; -1 when absent. */
  entryOf(name: string): number {
    return this.find(name, 0, name.length, hashOf(name));
  }

  /** Hot lookup of s[start, end) with its precomputed hash; -1 when absent. */
  find(s: string, start: number, end: number, hash: number): number {
    const len = end - start;
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const t = this.names[entry]!;
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
    for (let e = 0; e < this.names.length; e++) this.place(e);
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry;
  }
}
