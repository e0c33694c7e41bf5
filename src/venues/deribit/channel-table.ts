// HOT PATH: no allocation (find; the rest is cold)
/**
 * One connection's book channels: channel name → entry (subscription index, exponents, full-book flag), built at
 * subscribe time and read by the scanner on every frame by hashing the channel's characters in place (no substring).
 * Replay adds a second name per channel where a capture used another interval (`book.X.raw` for `book.X.100ms`).
 * @module
 */

/** FNV-1a step over one UTF-16 code unit; the table and the scanner must agree on it. */
export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}
export const FNV_OFFSET = 0x811c9dc5 | 0;

export class ChannelTable {
  readonly names: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  /** True for a grouped channel (`book.X.none.N.100ms`): every message is the whole top N, `[price, amount]` levels. */
  readonly grouped: boolean[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.names.length;
  }

  /** Adds (or updates) a channel; returns its entry. Cold. */
  add(name: string, subscriptionIndex: number, priceExp: number, qtyExp: number, grouped: boolean): number {
    const existing = this.entryOf(name);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.priceExp[existing] = priceExp;
      this.qtyExp[existing] = qtyExp;
      this.grouped[existing] = grouped;
      return existing;
    }
    if (!name.startsWith("book.")) throw new Error(`not a book channel: ${name}`);
    const entry = this.names.length;
    this.names.push(name);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.grouped.push(grouped);
    this.hashes.push(hashOf(name));
    if (this.names.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  /** New exponents for every entry of a subscription (a tick or lot change). Cold. */
  setExponents(subscriptionIndex: number, priceExp: number, qtyExp: number): void {
    for (let e = 0; e < this.names.length; e++) {
      if (this.indexes[e] !== subscriptionIndex) continue;
      this.priceExp[e] = priceExp;
      this.qtyExp[e] = qtyExp;
    }
  }

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

function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
}
