// HOT PATH: no allocation (find; the rest is cold)
/**
 * The topic table of one OKX connection: `channel:instId` → subscription entry, built at subscribe time and read
 * by the scanner on every frame by hashing the channel and instId char codes in place (no substring), or, on the
 * frame's bytes, by hashing the `channel","instId":"instId` run a push carries 4 bytes at a time (findFrame).
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
  // findFrame's index: per entry the run `channel","instId":"instId` as little-endian words (the last one zero-padded),
  // its length and its word hash, in a second open-addressing table of the same size.
  private readonly frameWords: Int32Array[] = [];
  private readonly frameLengths: number[] = [];
  private readonly frameHashes: number[] = [];
  private frameSlots = new Int32Array(16).fill(-1);

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
    const colon = topic.indexOf(":");
    const run = `${topic.slice(0, colon)}","instId":"${topic.slice(colon + 1)}`;
    const words = new Int32Array((run.length + 3) >> 2);
    let ascii = true;
    for (let i = 0; i < run.length; i++) {
      const c = run.charCodeAt(i);
      if (c > 0x7f) ascii = false;
      words[i >> 2] |= (c & 0xff) << (8 * (i & 3));
    }
    this.frameWords.push(words);
    this.frameLengths.push(ascii ? run.length : -1); // a frame's bytes are ASCII (the scanner copies no other)
    this.frameHashes.push(wordHash(words));
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

  /**
   * Hot lookup on a frame's bytes (read through dv): the run [start, end) = `channel","instId":"instId` of a push,
   * hashed and compared 4 bytes at a time; −1 when absent. The bytes from end to the next word boundary are read
   * and masked off (the caller's buffer has room beyond the frame).
   */
  findFrame(dv: DataView, start: number, end: number): number {
    const len = end - start;
    const full = len >> 2;
    const rest = len & 3;
    let h = FNV_OFFSET;
    for (let i = 0; i < full; i++) h = fnvStep(h, dv.getInt32(start + 4 * i, true));
    const last = rest === 0 ? 0 : dv.getInt32(start + 4 * full, true) & ((1 << (8 * rest)) - 1);
    if (rest !== 0) h = fnvStep(h, last);
    let slot = h & this.mask;
    for (;;) {
      const entry = this.frameSlots[slot]!;
      if (entry < 0) return -1;
      if (this.frameHashes[entry] === h && this.frameLengths[entry] === len) {
        const words = this.frameWords[entry]!;
        let i = 0;
        while (i < full && words[i] === dv.getInt32(start + 4 * i, true)) i++;
        if (i === full && (rest === 0 || words[full] === last)) return entry;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size).fill(-1);
    this.frameSlots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let e = 0; e < this.topics.length; e++) this.place(e);
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry;
    slot = this.frameHashes[entry]! & this.mask;
    while (this.frameSlots[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.frameSlots[slot] = entry;
  }
}

/** FNV-1a over little-endian words (the last one zero-padded), as findFrame hashes a frame's bytes. */
function wordHash(words: Int32Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < words.length; i++) h = fnvStep(h, words[i]!);
  return h;
}

function hashOf(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h;
}
