// HOT PATH: no allocation (find; the rest is cold)
/**
 * The topic table of one OKX connection: `channel:instId` → subscription entry, built at subscribe time and read
 * by the scanner on every frame by hashing the channel and instId char codes in place (no substring).
 * @module
 */

const COLON = 58;
export const FNV_OFFSET = 0x811c9dc5 | 0;

export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}

export class OkxTopicTable {
  readonly topics: string[] = [];
  readonly indexes: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  private readonly hashes: number[] = [];
  private slots = new Int32Array(16).fill(-1);
  private mask = 15;

  get size(): number {
    return this.topics.length;
  }

  /** Adds (or updates) `channel:instId`; returns its entry. Cold. */
  add(topic: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const existing = this.entryOf(topic);
    if (existing >= 0) {
      this.indexes[existing] = subscriptionIndex;
      this.setExponents(existing, priceExp, qtyExp);
      return existing;
    }
    if (topic.indexOf(":") <= 0) throw new Error(`not an OKX topic (channel:instId): ${topic}`);
    const entry = this.topics.length;
    this.topics.push(topic);
    this.indexes.push(subscriptionIndex);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.hashes.push(hashOf(topic));
    if (this.topics.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** Cold lookup; -1 when absent. */
  entryOf(topic: string): number {
    const colon = topic.indexOf(":");
    if (colon <= 0) return -1;
    return this.find(topic, 0, colon, colon + 1, topic.length);
  }

  /** Hot lookup of s[cs, ce) + ":" + s[is, ie); -1 when absent. */
  find(s: string, cs: number, ce: number, is: number, ie: number): number {
    let h = FNV_OFFSET;
    for (let i = cs; i < ce; i++) h = fnvStep(h, s.charCodeAt(i));
    h = fnvStep(h, COLON);
    for (let i = is; i < ie; i++) h = fnvStep(h, s.charCodeAt(i));
    const clen = ce - cs;
    const len = clen + 1 + ie - is;
    let slot = h & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry < 0) return -1;
      if (this.hashes[entry] === h) {
        const t = this.topics[entry]!;
        if (t.length === len && t.charCodeAt(clen) === COLON) {
          let i = 0;
          while (i < clen && t.charCodeAt(i) === s.charCodeAt(cs + i)) i++;
          if (i === clen) {
            let j = 0;
            const n = ie - is;
            while (j < n && t.charCodeAt(clen + 1 + j) === s.charCodeAt(is + j)) j++;
            if (j === n) return entry;
          }
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
