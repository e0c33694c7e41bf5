// HOT PATH: no allocation (find, in the common NameTable, and the template arrays the scanner reads; the rest is cold)
/**
 * The stream table of one Binance connection: stream name (`btcusdt@depth@100ms`) → subscription entry
 * (common/name-table.ts), plus the symbol as the payload's `s` spells it (upper case) for the scanner's check, plus
 * each stream's diff frame templates for the scanner's fast path (scanner.ts fastFrame): the constant bytes of
 * Binance's own layout as 8-byte words (compared as doubles), `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":`
 * (head) and `,"s":"BTCUSDT","U":` (mid), and an index from the name's first 8 bytes to the entries starting so.
 * Measured: hashing the name per character and comparing it by `charCodeAt` cost ~70 ns of a 205-byte spot diff's
 * 375 ns scan; finding the stream and matching the head as words costs ~18 (docs/performance.md §10).
 * @module
 */
import { NameTable } from "../common/name-table.ts";

export { FNV_OFFSET, hashOf } from "../common/name-table.ts";

/** Where the stream name starts in every combined-stream frame: after `{"stream":"`. */
export const FRAME_NAME_OFFSET = 11;
/** Names shorter than this (never Binance's) have no template: the index reads the name's first 8 bytes. */
const MIN_TEMPLATE_NAME = 8;
/** Longer templates are not built (the general reader handles such a stream). */
const MAX_TEMPLATE_BYTES = 256;

export class StreamTable extends NameTable {
  /** The symbol as the payload's `s` spells it (upper case). */
  readonly symbols: string[] = [];
  /** Per entry: the head template's words (templateWords), empty when the entry has none. */
  readonly heads: Float64Array[] = [];
  /** Per entry: the head template's length in bytes, 0 when none. */
  readonly headBytes: number[] = [];
  /** Per entry: the mid template `,"s":"SYM","U":` as words. */
  readonly mids: Float64Array[] = [];
  readonly midBytes: number[] = [];
  /** Per entry: the head and mid templates as text (cold: what a scanner's WebAssembly reader compares), "" when none. */
  readonly headTexts: string[] = [];
  readonly midTexts: string[] = [];
  /** Per entry: fastKey of the name's first 8 bytes (0 when the entry has no template). */
  readonly fastKeys: number[] = [];
  /** Bumped when an entry is added: a scanner that copied the templates elsewhere copies them again. */
  version = 0;
  /** Open addressing (load ≤ ½) over fastKey(first two words of the name) → entry; -1 = empty. */
  fastSlots = new Int32Array(16).fill(-1);
  fastMask = 15;
  /** Entries with templates (in fastSlots). */
  private templated = 0;

  /** Adds (or updates) a stream; returns its entry id. Cold. */
  addStream(stream: string, symbol: string, subscriptionIndex: number, priceExp: number, qtyExp: number): number {
    const before = this.size;
    const entry = super.add(stream, subscriptionIndex, priceExp, qtyExp);
    if (this.size > before) {
      this.symbols.push(symbol);
      this.addTemplates(stream, symbol);
      this.version++;
    }
    return entry;
  }

  /** Every entry needs its payload symbol: adding through the base would leave `symbols` short. */
  override add(): number {
    throw new Error("StreamTable: use addStream(stream, symbol, …)");
  }

  private addTemplates(stream: string, symbol: string): void {
    const head = `{"stream":"${stream}","data":{"e":"depthUpdate","E":`;
    const mid = `,"s":"${symbol}","U":`;
    const ok = stream.length >= MIN_TEMPLATE_NAME && plainAscii(stream) && plainAscii(symbol) && head.length <= MAX_TEMPLATE_BYTES && mid.length <= MAX_TEMPLATE_BYTES;
    this.heads.push(ok ? templateWords(head) : new Float64Array(0));
    this.headBytes.push(ok ? head.length : 0);
    this.mids.push(ok ? templateWords(mid) : new Float64Array(0));
    this.midBytes.push(ok ? mid.length : 0);
    this.headTexts.push(ok ? head : "");
    this.midTexts.push(ok ? mid : "");
    this.fastKeys.push(ok ? fastKey(wordOf(stream, 0), wordOf(stream, 4)) : 0);
    if (!ok) return;
    this.templated++;
    if (this.templated * 2 > this.fastSlots.length) {
      const size = this.fastSlots.length * 2;
      this.fastSlots = new Int32Array(size).fill(-1);
      this.fastMask = size - 1;
      for (let e = 0; e < this.headBytes.length; e++) if (this.headBytes[e]! > 0) this.placeFast(e);
    } else {
      this.placeFast(this.headBytes.length - 1);
    }
  }

  private placeFast(entry: number): void {
    const name = this.names[entry]!;
    let slot = fastKey(wordOf(name, 0), wordOf(name, 4)) & this.fastMask;
    while (this.fastSlots[slot]! >= 0) slot = (slot + 1) & this.fastMask;
    this.fastSlots[slot] = entry;
  }
}

/** The index key of a name from its first 8 bytes, read as two little-endian words. */
export function fastKey(w0: number, w1: number): number {
  const k = Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1), 0x85ebca6b);
  return k ^ (k >>> 15);
}

/**
 * A template of n ≥ 8 bytes as the 8-byte words wordsEqual compares, each read as a little-endian double: word i is
 * bytes [8i, 8i + 8) for i < last, and the last word is the template's final 8 bytes (overlapping the one before
 * when n is not a multiple of 8). A template is printable ASCII (plainAscii), so each word is a finite, non-zero,
 * normal double, which equals another double exactly when their bits are the same: one compare per 8 bytes.
 */
export function templateWords(t: string): Float64Array {
  const n = t.length;
  if (n < 8) throw new Error(`templateWords: a template needs 8 bytes or more, not ${n}`);
  const k = (n + 7) >> 3;
  const w = new Float64Array(k);
  const dv = new DataView(w.buffer);
  for (let i = 0; i < k - 1; i++) {
    dv.setInt32(8 * i, wordOf(t, 8 * i), true);
    dv.setInt32(8 * i + 4, wordOf(t, 8 * i + 4), true);
  }
  dv.setInt32(8 * (k - 1), wordOf(t, n - 8), true);
  dv.setInt32(8 * (k - 1) + 4, wordOf(t, n - 4), true);
  return w;
}

/** True when bytes [p, p + n) of the frame hold template t (templateWords of n bytes); the caller checks p + n ≤ end. */
export function wordsEqual(dv: DataView, p: number, t: Float64Array, n: number): boolean {
  const last = t.length - 1;
  let q = p;
  for (let i = 0; i < last; i++, q += 8) if (dv.getFloat64(q, true) !== t[i]) return false;
  return dv.getFloat64(p + n - 8, true) === t[last];
}

function wordOf(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
}

/** Printable ASCII without `"` and `\`: the frame spells it byte for byte, with no escape. */
function plainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return false;
  }
  return true;
}
