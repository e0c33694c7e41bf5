// HOT PATH: no allocation (find; the rest is cold)
/**
 * One connection's book channels: channel name → entry (subscription index, exponents, full-book flag), built at
 * subscribe time and read by the scanner on every frame by hashing the channel's characters in place (no substring).
 * Replay adds a second name per channel where a capture used another interval (`book.X.raw` for `book.X.100ms`).
 * @module
 */

/**
 * A hash of s[start, end) from its length and five sampled characters: the scanner finds a channel's closing quote
 * with the native indexOf and hashes without touching every character (a JS character loop costs ~2 ns per
 * character on this VM); a hit is then confirmed whole with startsWith, which is native and fast when it matches.
 */
export function sampleHash(s: string, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(len, 0x9e3779b1);
  h = Math.imul(h ^ s.charCodeAt(end - 1), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(end - 5), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(end - 8), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(start + (len >> 1)), 0x01000193);
  h = Math.imul(h ^ s.charCodeAt(start + 6), 0x01000193);
  return h;
}

export class ChannelTable {
  readonly names: string[] = [];
  /** Subscription index of each entry. */
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  /** True for a grouped channel (`book.X.none.N.100ms`): every message is the whole top N, `[price, amount]` levels. */
  readonly grouped: boolean[] = [];
  /** The instrument name of each entry (`book.{name}.…`), which the frame's `instrument_name` repeats. */
  readonly symbols: string[] = [];
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
    if (!name.startsWith("book.") || name.length < MIN_NAME || name.indexOf(".", 5) < 0) throw new Error(`not a book channel: ${name}`);
    const entry = this.names.length;
    this.names.push(name);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.grouped.push(grouped);
    this.symbols.push(name.slice(5, name.indexOf(".", 5)));
    this.hashes.push(sampleHash(name, 0, name.length));
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
    return name.length < MIN_NAME ? -1 : this.find(name, 0, name.length);
  }

  /** Hot lookup of s[start, end) (at least MIN_NAME characters); -1 when absent. */
  find(s: string, start: number, end: number): number {
    const len = end - start;
    if (len < MIN_NAME) return -1;
    const hash = sampleHash(s, start, end);
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const t = this.names[entry]!;
        if (t.length === len && s.startsWith(t, start)) return entry;
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

/** The shortest channel name, `book.X.raw`: sampleHash reads up to 8 characters from the end. */
export const MIN_NAME = 10;
