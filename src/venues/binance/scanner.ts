// HOT PATH: no allocation
/**
 * Binance combined-stream diff scanner: reads
 * `{"stream":"sym@depth@100ms","data":{"e":"depthUpdate","E":…,"T":…,"s":"SYM","U":…,"u":…,"pu":…,"b":[…],"a":[…]}}`
 * from the string the WebSocket delivers into a reusable BookUpdate, without JSON.parse and without a substring per
 * level or stream. The frame is copied once into a reusable byte buffer (same offsets) and read from there; prices
 * and quantities become exact mantissas (the plain case in one pass, anything else through core/fixed.ts
 * parseFixedCodes). Sequence ids land in `firstId` (U), `out.venueSeq` (u) and `prevId` (pu, -1 when absent).
 *
 * The byte cursor and the validating JSON readers are the base class in json-cursor.ts, the level reader in
 * level-reader.ts, the REST snapshot reader (scanSnapshot, with its WebAssembly side reader levels-wasm.ts) in
 * snapshot-reader.ts, the general reader (scanTop) in general-reader.ts; the result codes in scan-codes.ts
 * (re-exported here).
 * Two readers: fastFrame, Binance's exact layout matched against the stream's word templates (topic-table.ts), and
 * the general reader (scanTop: any key order, whitespace, unknown keys), which reads every frame fastFrame did not
 * accept from the start and names the error.
 * A strict reader for this one shape: every byte it walks over is validated (unknown keys by a validating skipper),
 * so whatever it accepts, JSON.parse accepts with the same result. What it does not read itself (a first key other
 * than `stream`, escapes, duplicate keys, numbers with a sign, fraction or exponent) goes to the JSON path
 * (parse-json.ts) as SCAN_NOT_BOOK / SCAN_FALLBACK; errors are negative codes named in SCAN_RESULT_NAMES.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { CH_0, CH_9, CH_COLON, CH_COMMA, CH_LBRACKET, CH_RBRACE, CH_RBRACKET, digits4, isDigits4, TWO_53, word } from "./json-cursor.ts";
import { WasmLevels } from "../common/levels-wasm.ts";
import { GeneralReader } from "./general-reader.ts";
import { diffFirstAfterLast, SCAN_ERR_FIRST_AFTER_LAST } from "./scan-codes.ts";
import { FRAME_NAME_OFFSET, fastKey, type StreamTable, wordsEqual } from "./topic-table.ts";

export {
  SCAN_ERR_FIRST_AFTER_LAST,
  SCAN_ERR_LEVEL,
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_PRICE,
  SCAN_ERR_QTY,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_SYNTAX,
  SCAN_ERR_TYPE,
  SCAN_FALLBACK,
  SCAN_NOT_BOOK,
  SCAN_RESULT_NAMES,
  SCAN_UNKNOWN_TOPIC,
} from "./scan-codes.ts";

export class BinanceScanner extends GeneralReader {
  /** The WebAssembly reader of diff frames ("bindiff"): created on the first frame; null when unavailable or not wanted. */
  private diffWasm: WasmLevels | null | undefined = undefined;
  /** The diff reader while the frame is in its memory, else null. */
  private diffReader: WasmLevels | null = null;
  /** The update whose side arrays may be the module's own (shareSides), else null. */
  private shared: BookUpdate | null = null;
  /**
   * The table whose templates are in the diff module's memory (as of its version and the module's layout), and per
   * entry their absolute addresses there (-1: none). Cold: rewritten when any of the three changes.
   */
  private tplTable: StreamTable | null = null;
  private tplVersion = -1;
  private tplGen = -1;
  private tplHead = new Int32Array(0);
  private tplMid = new Int32Array(0);

  /**
   * Lets `u` (the connection's one reused update) have the diff module's arrays as its side arrays: the module then
   * writes the levels where the book reads them, with no copy. Its levels are then valid only until this scanner's
   * next scan (of any frame, into any update), which is how a connection uses its update; any other update gets the
   * levels copied into its own arrays and keeps them.
   */
  shareSides(u: BookUpdate): void {
    // A second update would keep the module's arrays as its sides, silently overwritten by the next frame.
    if (this.shared !== null && this.shared !== u) throw new Error("BinanceScanner.shareSides: this scanner already shares its sides with another update");
    this.shared = u;
  }

  /** Scans one frame: the subscription index (≥ 0) with `out` filled, or a negative SCAN_* code. */
  scan(s: string, table: StreamTable, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    this.entry = -1;
    this.prevId = -1;
    this.firstId = 0;
    // The frame goes into the diff module's memory (the cursor's own buffer where there is none).
    let w = this.diffWasm;
    if (w === undefined) w = this.diffWasm = this.useWasm ? WasmLevels.create(false, true) : null;
    if (w !== null && w.ensure(s.length)) {
      if (table !== this.tplTable || table.version !== this.tplVersion || w.layoutGen !== this.tplGen) this.loadTemplates(table, w);
      this.bytes = w.bytes;
      this.view = w.view;
      this.diffReader = w;
      if (out === this.shared) {
        // Set on every frame, so that after a grow (which detaches the old views) the update never keeps a detached
        // one; the TypeScript readers write there too, and grow into arrays of the update's own past their length.
        out.askPx = w.okxAskPx;
        out.askQty = w.okxAskQty;
        out.bidPx = w.okxBidPx;
        out.bidQty = w.okxBidQty;
      }
    } else {
      this.bytes = this.ownBytes;
      this.view = this.ownView;
      this.diffReader = null;
    }
    this.encodeFrame();
    out.reset();
    let r = this.fastFrame(table, out);
    if (r < 0) {
      // Not Binance's exact layout for a known stream (or something wrong in it): the general reader decides.
      this.pos = 0;
      this.entry = -1;
      this.prevId = -1;
      this.firstId = 0;
      out.reset();
      r = this.scanTop(table, out);
      if (r < 0) this.errorPos = this.pos;
    }
    // Whichever reader read it (the module's, the fast path's, the general one): the JSON path confirms the refusal.
    // Its offset is the frame's end, where every reader stands once it has read the frame whole (the module's pos not).
    if (r >= 0 && diffFirstAfterLast(this.firstId, out.venueSeq)) {
      this.errorPos = this.end;
      r = SCAN_ERR_FIRST_AFTER_LAST;
    }
    this.s = "";
    return r;
  }

  /**
   * Cold: copies the table's head and mid templates into the diff module's memory (the module compares them there),
   * again whenever the table gains an entry or the module's views change. Where there is no room, no entry gets an
   * address and the TypeScript fast path reads every frame, as before the module.
   */
  private loadTemplates(table: StreamTable, w: WasmLevels): void {
    const n = table.size;
    let total = 0;
    for (let e = 0; e < n; e++) total += ((table.headTexts[e]!.length + 7) & ~7) + ((table.midTexts[e]!.length + 7) & ~7);
    if (this.tplHead.length < n) {
      this.tplHead = new Int32Array(n);
      this.tplMid = new Int32Array(n);
    }
    this.tplHead.fill(-1);
    this.tplMid.fill(-1);
    const room = w.templates(total);
    if (room !== null) {
      const base = w.templateBase();
      let at = 0;
      for (let e = 0; e < n; e++) {
        const head = table.headTexts[e]!;
        const mid = table.midTexts[e]!;
        if (head.length === 0) continue;
        this.tplHead[e] = base + at;
        for (let i = 0; i < head.length; i++) room[at + i] = head.charCodeAt(i);
        at += (head.length + 7) & ~7;
        this.tplMid[e] = base + at;
        for (let i = 0; i < mid.length; i++) room[at + i] = mid.charCodeAt(i);
        at += (mid.length + 7) & ~7;
      }
    }
    this.tplTable = table;
    this.tplVersion = table.version;
    this.tplGen = w.layoutGen;
  }

  /**
   * Binance's own layout for a stream of the table, `{"stream":"NAME","data":{"e":"depthUpdate","E":…,["T":…,]"s":"SYM",
   * "U":…,"u":…,["pu":…,]"b":[…],"a":[…]}}` exactly (no whitespace, integers of 1–15 digits without a leading zero):
   * the constant parts are compared as 8-byte words with the stream's templates (topic-table.ts), the stream found by
   * its name's first 8 bytes. First the module's "bindiff" (common/levels-wasm.ts), which reads the whole frame, its
   * templates included, in one call; where it declines, the same layout in TypeScript from the head. The subscription
   * index with `out` filled, or -1 for anything else, error or not (the general reader then reads the frame from the
   * start and names the error). Measured: the general reader's stream hash and per-key work were ~2/3 of a small
   * diff's scan; the module's one call 0.67–0.81× the TypeScript fast path's scan (docs/performance.md §10).
   */
  private fastFrame(table: StreamTable, out: BookUpdate): number {
    const b = this.bytes;
    const dv = this.view;
    const end = this.end;
    if (end < FRAME_NAME_OFFSET + 8) return -1;
    const slots = table.fastSlots;
    const mask = table.fastMask;
    const key = fastKey(dv.getInt32(FRAME_NAME_OFFSET, true), dv.getInt32(FRAME_NAME_OFFSET + 4, true));
    let slot = key & mask;
    let entry = -1;
    let p = 0;
    // The whole frame in one module call, for the first stream whose name starts with the frame's 8 bytes: the module
    // compares the head and mid templates itself. Anything else (or a decline): the reader below, from the head.
    const w = this.diffReader;
    if (w !== null) {
      for (;;) {
        entry = slots[slot]!;
        if (entry < 0 || table.fastKeys[entry] === key) break;
        slot = (slot + 1) & mask;
      }
      const head = entry < 0 ? -1 : this.tplHead[entry]!;
      if (head >= 0) {
        const e = w.readBinDiff(table.headBytes[entry]!, head, table.midBytes[entry]!, this.tplMid[entry]!, end, table.priceExp[entry]!, table.qtyExp[entry]!);
        if (e >= 0 && e + 2 === end) {
          const h = w.binI32;
          const f = w.binF64;
          const eUs = f[3]! * 1000;
          const tUs = f[4]! * 1000;
          // u 0 (no id Binance sends; the adapter's "none") is the general reader's to name.
          if (eUs < TWO_53 && tUs < TWO_53 && f[6]! > 0) {
            if (out === this.shared) {
              out.bidCount = h[3]!;
              out.askCount = h[4]!;
            } else w.copyOkxSides(out, h[4]!, h[3]!);
            out.isSnapshot = false;
            out.venueSeq = f[6]!;
            out.tsExchangeUs = eUs;
            out.tsEventUs = tUs;
            this.entry = entry;
            this.firstId = f[5]!;
            this.prevId = f[7]!;
            return table.indexes[entry]!;
          }
        }
      }
      slot = key & mask;
    }
    for (;;) {
      entry = slots[slot]!;
      if (entry < 0) return -1;
      p = table.headBytes[entry]!;
      if (p <= end && wordsEqual(dv, 0, table.heads[entry]!, p)) break;
      slot = (slot + 1) & mask;
    }
    const priceExp = table.priceExp[entry]!;
    const qtyExp = table.qtyExp[entry]!;
    const midBytes = table.midBytes[entry]!;
    const eMs = this.uint(p);
    p = this.pos;
    if (eMs < 0 || b[p] !== CH_COMMA) return -1;
    let tMs = 0;
    if (dv.getInt32(p + 1, true) === W_KEY_T) {
      tMs = this.uint(p + 5);
      p = this.pos;
      if (tMs < 0 || b[p] !== CH_COMMA) return -1;
    }
    if (p + midBytes > end || !wordsEqual(dv, p, table.mids[entry]!, midBytes)) return -1;
    const first = this.uint(p + midBytes);
    p = this.pos;
    if (first < 0 || b[p] !== CH_COMMA || dv.getInt32(p + 1, true) !== W_KEY_U) return -1;
    const last = this.uint(p + 5);
    p = this.pos;
    if (last <= 0 || b[p] !== CH_COMMA) return -1;
    let prev = -1;
    if (dv.getInt32(p + 1, true) === W_KEY_PU1 && b[p + 5] === CH_COLON) {
      prev = this.uint(p + 6);
      p = this.pos;
      if (prev < 0 || b[p] !== CH_COMMA) return -1;
    }
    if (dv.getInt32(p + 1, true) !== W_KEY_B) return -1;
    // An empty side (a third of the spot recording's) without the call: `out` already has no levels.
    p += 5;
    if (b[p] === CH_LBRACKET && b[p + 1] === CH_RBRACKET) {
      p += 2;
    } else {
      this.pos = p;
      if (this.scanLevels(true, priceExp, qtyExp, out) < 0) return -1;
      p = this.pos;
    }
    if (b[p] !== CH_COMMA || dv.getInt32(p + 1, true) !== W_KEY_A) return -1;
    p += 5;
    if (b[p] === CH_LBRACKET && b[p + 1] === CH_RBRACKET) {
      p += 2;
    } else {
      this.pos = p;
      if (this.scanLevels(false, priceExp, qtyExp, out) < 0) return -1;
      p = this.pos;
    }
    if (p + 2 !== end || b[p] !== CH_RBRACE || b[p + 1] !== CH_RBRACE) return -1;
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53) return -1;
    out.isSnapshot = false;
    out.venueSeq = last;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    this.entry = entry;
    this.firstId = first;
    this.prevId = prev;
    return table.indexes[entry]!;
  }

  /**
   * The integer of 1–15 digits at p without a leading zero (exact, below 2^53), cursor after it; -1 for anything else
   * (the general reader decides what it is).
   */
  private uint(p: number): number {
    const b = this.bytes;
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    let c = w & 0xff;
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p]!;
    }
    this.pos = p;
    const n = p - start;
    if (n === 0 || n > 15 || (n > 1 && b[start] === CH_0)) return -1;
    return v;
  }
}

const W_KEY_T = word('"T":');
const W_KEY_U = word('"u":');
const W_KEY_PU1 = word('"pu"');
const W_KEY_B = word('"b":');
const W_KEY_A = word('"a":');
