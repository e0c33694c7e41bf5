// HOT PATH: no allocation
/**
 * Bybit v5 order-book frame scanner: reads `{"topic":"orderbook.N.SYM","type":…,"ts":…,"data":{"s","b","a","u","seq"},"cts":…}`
 * from the string the WebSocket delivers into a reusable BookUpdate, without JSON.parse (docs/performance.md §1; here a 500×500 snapshot scans in ~1/5–1/10 of JSON.parse + conversion) and without a substring
 * per level or per topic. The frame is copied once into a reusable byte buffer (same offsets) and read from there:
 * indexing bytes is cheaper than String.charCodeAt; the topic table's compare and exact decimal parsing
 * (parseFixedCodes) still read the string, and so do the topic hash and the symbol check when a unit is not ASCII.
 * Bybit's compact key layout (`{"topic":"`, `,"ts":`, `"b":` …) is matched as whole 4-byte words, with the general
 * key reader behind it (measured: the fixed cost of a scan, keys and ts/cts/u/seq, 305 → 223 ns per frame).
 *
 * It is a strict JSON reader for this one shape: it validates every byte it walks over (unknown keys are skipped
 * by a validating generic skipper), so whatever it accepts, JSON.parse accepts too and converts to the same book.
 * Whatever it does not handle (a first key other than `topic`, escapes in keys or strings, duplicate keys,
 * numbers in exponent form) it hands to the JSON path (SCAN_NOT_BOOK / SCAN_FALLBACK); genuine errors are
 * negative codes with a name in SCAN_RESULT_NAMES and the offset in `errorPos`.
 * Key order is free after `topic` (spot puts `ts` before `type`, option adds `id`; docs/venues/bybit.md §4.2–4.3).
 * A frame of WASM_MIN_CHARS or more is copied into the memory of the WebAssembly side reader (common/levels-wasm.ts),
 * which reads each side in Bybit's compact layout; a side it declines is read by level-reader.ts from its start, which
 * decides and names any error, so results and errors are those of the TypeScript reader alone.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { CH_BACKSLASH, CH_COLON, CH_COMMA, CH_LBRACE, CH_QUOTE, CH_RBRACE, eq4, isWsCode, TWO_53, word } from "./json-cursor.ts";
import { LevelReader } from "./level-reader.ts";
import { WasmLevels } from "../common/levels-wasm.ts";
import {
  SCAN_ERR_DEPTH,
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_SYNTAX,
  SCAN_ERR_TYPE,
  SCAN_FALLBACK,
  SCAN_NOT_BOOK,
  SCAN_UNKNOWN_TOPIC,
} from "./scan-codes.ts";
import { FNV_OFFSET, TOPIC_PREFIX, TopicTable } from "./topic-table.ts";

export { TopicTable };
export * from "./scan-codes.ts";

/**
 * Frames at least this long have their sides read by the WebAssembly side reader. Below it the module's fixed cost
 * (room check, two calls, copying the pairs out) outweighs its speed: measured, a delta of 1 level a side (190 B) 7 %
 * slower through it, 8 a side (430 B) even, the real deltas (60 levels, 1271 B) 17 % faster (docs/performance.md §1.1).
 */
export const WASM_MIN_CHARS = 512;

// Key bits, also used to detect duplicate keys (JSON.parse keeps the last one; the scanner falls back instead).
const K_TOPIC = 1;
const K_TYPE = 2;
const K_TS = 4;
const K_DATA = 8;
const K_CTS = 16;
const K_S = 32;
const K_B = 64;
const K_A = 128;
const K_U = 256;
const K_SEQ = 512;

// Bybit's compact key layout, for the whole-word fast paths (topKey, dataKey, the start of scanTop).
const W_LBRACE_TO = word('{"to');
const W_PIC_COLON = word('pic"');
const W_TS = word('"ts"');
const W_TYPE = word('"typ');
const W3_E_COLON = word('e":');
const W_DATA = word('"dat');
const W3_A_COLON = word('a":');
const W_CTS = word('"cts');
const W2_Q_COLON = word('":');
const W_B = word('"b":');
const W_A = word('"a":');
const W_U = word('"u":');
const W_S = word('"s":');
const W_SEQ = word('"seq');

/**
 * The scanner. One instance per connection (it keeps the cursor and the last error position in fields, so the
 * hot functions need neither closures nor result objects). Its readers: level-reader.ts (the sides) on
 * json-cursor.ts (the frame's bytes and the generic JSON readers).
 */
export class BybitScanner extends LevelReader {
  /** Offset where the last scan stopped with an error (for logs). */
  errorPos = 0;
  /** Table entry of the topic of the last frame, or -1 when the topic was not reached or unknown. */
  entry = -1;
  private topicStart = 0;
  /** The WebAssembly side reader: created on the first frame; null when unavailable or not wanted. */
  private wasm: WasmLevels | null | undefined = undefined;

  /** `useWasm` false: sides are read by the TypeScript reader alone (the reference the tests compare with). */
  constructor(private readonly useWasm = true) {
    super();
  }

  /**
   * Scans one frame. Returns the subscription index (≥ 0) with `out` filled, or a negative SCAN_* code.
   * `out.tsRecvUs` is left 0: the caller stamps it.
   */
  scan(s: string, table: TopicTable, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    this.entry = -1;
    this.place(s.length);
    this.encodeFrame();
    out.reset();
    const r = this.scanTop(table, out);
    if (r < 0) this.errorPos = this.pos;
    this.s = ""; // do not keep the frame alive
    return r;
  }

  /**
   * Where the frame goes: the WebAssembly side reader's memory when it is available, has room and the frame is long
   * enough to gain (its bytes have the cursor's layout, so every reader works on them alike; `side` is set for
   * level-reader.ts), else the cursor's own buffer.
   */
  private place(len: number): void {
    let w = this.wasm;
    if (w === undefined) w = this.wasm = this.useWasm ? WasmLevels.create() : null;
    if (w !== null && len >= WASM_MIN_CHARS && w.ensure(len)) {
      this.bytes = w.bytes;
      this.view = w.view;
      this.side = w;
    } else {
      this.useOwnBuffer();
      this.side = null;
    }
  }

  private scanTop(table: TopicTable, out: BookUpdate): number {
    const s = this.s;
    const b = this.bytes;
    const dv = this.view;
    // The first key must be "topic": every Bybit push frame starts with it; acks and pongs do not. Bybit's
    // compact `{"topic":"` is recognised by whole words; anything else takes the general path.
    if (dv.getInt32(0, true) === W_LBRACE_TO && dv.getInt32(4, true) === W_PIC_COLON && this.end >= 10 && b[8] === CH_COLON && b[9] === CH_QUOTE) {
      this.pos = 10;
    } else {
      this.ws();
      if (this.pos >= this.end || b[this.pos] !== CH_LBRACE) return SCAN_NOT_BOOK;
      this.pos++;
      this.ws();
      if (!this.matchKey("topic")) return SCAN_NOT_BOOK;
      this.ws();
      if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_NOT_BOOK;
      this.pos++;
    }
    const topicStart = this.pos;
    this.topicStart = topicStart;
    let hash = FNV_OFFSET;
    let p = topicStart;
    const end = this.end;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      let c = b[p];
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      if (c === 0x80) c = s.charCodeAt(p); // cold: the hash is over UTF-16 units (TopicTable)
      hash = Math.imul(hash ^ c, 0x01000193);
      p++;
    }
    const topicEnd = p;
    this.pos = p + 1;
    const entry = table.find(s, topicStart, topicEnd, hash);
    // Every table topic starts with "orderbook.", so the prefix only needs checking on a miss.
    if (entry < 0) return startsWithPrefix(s, topicStart, topicEnd) ? SCAN_UNKNOWN_TOPIC : SCAN_NOT_BOOK;
    this.entry = entry;

    let seen = K_TOPIC;
    let type = 0; // 1 snapshot, 2 delta
    let tsMs = 0;
    let ctsMs = 0;
    let u = -1;
    for (;;) {
      if (isWsCode(b[this.pos])) this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      let c = b[this.pos];
      if (c === CH_RBRACE) {
        this.pos++;
        break;
      }
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
      this.pos++;
      if (isWsCode(b[this.pos])) this.ws();
      const key = this.topKey();
      if (key < 0) return key;
      if ((seen & key) !== 0) return SCAN_FALLBACK;
      seen |= key;
      if (isWsCode(b[this.pos])) this.ws();
      if (key === K_TYPE) {
        const p = this.pos;
        if (b[p] === CH_QUOTE && b[p + 1] === 100 && eq4(b, p + 2, 101, 108, 116, 97) && b[p + 6] === CH_QUOTE) {
          type = 2; // "delta"
          this.pos = p + 7;
        } else if (b[p] === CH_QUOTE && b[p + 1] === 115 && eq4(b, p + 2, 110, 97, 112, 115) && eq4(b, p + 6, 104, 111, 116, CH_QUOTE)) {
          type = 1; // "snapshot"
          this.pos = p + 10;
        } else {
          type = this.readType();
          if (type < 0) return type;
        }
      } else if (key === K_TS) {
        tsMs = this.readUint();
        if (tsMs < 0) return tsMs;
      } else if (key === K_CTS) {
        ctsMs = this.readUint();
        if (ctsMs < 0) return ctsMs;
      } else if (key === K_DATA) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        c = b[this.pos];
        if (c !== CH_LBRACE) {
          const r = this.skipValue(0);
          return r < 0 ? r : SCAN_ERR_MISSING;
        }
        u = this.scanData(table, entry, topicEnd, out);
        if (u < 0) return u;
      } else {
        const r = this.skipValue(0);
        if (r < 0) return r;
      }
    }
    if (isWsCode(b[this.pos])) this.ws();
    if (this.pos !== this.end) return SCAN_ERR_SYNTAX;
    if (type === 0 || (seen & K_DATA) === 0) return SCAN_ERR_MISSING;
    if (tsMs * 1000 >= TWO_53 || ctsMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
    // A snapshot deeper than its topic: Bybit deletes only levels it sent, so the extra ones would stay for good.
    if (type === 1 && (out.bidCount > table.depth[entry]! || out.askCount > table.depth[entry]!)) return SCAN_ERR_DEPTH;
    out.isSnapshot = type === 1;
    out.venueSeq = u;
    out.tsExchangeUs = tsMs * 1000;
    out.tsEventUs = ctsMs * 1000;
    return table.indexes[entry]!;
  }

  /** Reads the data object; returns u (≥ 1) or a negative code. */
  private scanData(table: TopicTable, entry: number, topicEnd: number, out: BookUpdate): number {
    const b = this.bytes;
    this.pos++; // {
    let seen = 0;
    let u = -1;
    const priceExp = table.priceExp[entry]!;
    const qtyExp = table.qtyExp[entry]!;
    if (isWsCode(b[this.pos])) this.ws();
    if (this.pos < this.end && b[this.pos] === CH_RBRACE) {
      this.pos++;
      return SCAN_ERR_MISSING;
    }
    for (;;) {
      if (isWsCode(b[this.pos])) this.ws();
      const key = this.dataKey();
      if (key < 0) return key;
      if ((seen & key) !== 0) return SCAN_FALLBACK;
      seen |= key;
      if (isWsCode(b[this.pos])) this.ws();
      if (key === K_B || key === K_A) {
        const r = this.scanLevels(key === K_B, priceExp, qtyExp, out);
        if (r < 0) return r;
      } else if (key === K_U) {
        u = this.readUint();
        if (u < 0) return u;
        // Bybit's u starts at 1; 0 is the adapter's "no sequence" (TopicState.lastSeq). "-0" goes to the JSON path.
        if (u === 0) return SCAN_ERR_NUMBER;
      } else if (key === K_SEQ) {
        const r = this.readUint();
        if (r < 0) return r;
      } else if (key === K_S) {
        const r = this.checkSymbol(table.symbolStart[entry]!, topicEnd);
        if (r < 0) return r;
      } else {
        const r = this.skipValue(1);
        if (r < 0) return r;
      }
      if (isWsCode(b[this.pos])) this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_RBRACE) break;
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
    }
    if ((seen & (K_B | K_A | K_U)) !== (K_B | K_A | K_U)) return SCAN_ERR_MISSING;
    return u;
  }

  /** data.s must equal the symbol part of this frame's topic (which equals the table's topic). */
  private checkSymbol(symStart: number, topicEnd: number): number {
    const s = this.s;
    const b = this.bytes;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_SYMBOL;
    }
    const symFrame = this.topicStart + symStart;
    const symLen = topicEnd - symFrame;
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    const len = close - start;
    if (len !== symLen) return SCAN_ERR_SYMBOL;
    if (this.ascii) {
      for (let i = 0; i < len; i++) if (b[start + i] !== b[symFrame + i]) return SCAN_ERR_SYMBOL;
    } else {
      // Cold: non-ASCII units all became 0x80 in `bytes`, so only the string tells them apart.
      for (let i = 0; i < len; i++) if (s.charCodeAt(start + i) !== s.charCodeAt(symFrame + i)) return SCAN_ERR_SYMBOL;
    }
    return 0;
  }

  /**
   * Reads a top-level key and its colon. Bybit's compact `"key":` is matched as whole little-endian words (the
   * closing quote is part of the match, so a longer key never matches); anything else goes through readTopKey.
   */
  private topKey(): number {
    const dv = this.view;
    const p = this.pos;
    const w = dv.getInt32(p, true);
    const next = dv.getInt32(p + 4, true);
    if (w === W_TS && (next & 0xff) === CH_COLON) {
      this.pos = p + 5;
      return K_TS;
    }
    if (w === W_TYPE && (next & 0xffffff) === W3_E_COLON) {
      this.pos = p + 7;
      return K_TYPE;
    }
    if (w === W_DATA && (next & 0xffffff) === W3_A_COLON) {
      this.pos = p + 7;
      return K_DATA;
    }
    if (w === W_CTS && (next & 0xffff) === W2_Q_COLON) {
      this.pos = p + 6;
      return K_CTS;
    }
    return this.readTopKey();
  }

  /** Reads a key inside data and its colon, as topKey does. */
  private dataKey(): number {
    const dv = this.view;
    const p = this.pos;
    const w = dv.getInt32(p, true);
    let bit = -1;
    if (w === W_B) bit = K_B;
    else if (w === W_A) bit = K_A;
    else if (w === W_U) bit = K_U;
    else if (w === W_S) bit = K_S;
    else if (w === W_SEQ && (dv.getInt32(p + 4, true) & 0xffff) === W2_Q_COLON) {
      this.pos = p + 6;
      return K_SEQ;
    }
    if (bit < 0) return this.readDataKey();
    this.pos = p + 4;
    return bit;
  }

  /** Reads a top-level key and the colon after it; returns its K_* bit (0 for an unknown key) or a negative code. */
  private readTopKey(): number {
    const k = this.readKey();
    if (k < 0) return k;
    const b = this.bytes;
    const ks = k >> 8;
    const kl = k & 0xff;
    let bit = 0;
    if (kl === 4) {
      if (eq4(b, ks, 116, 121, 112, 101)) bit = K_TYPE; // type
      else if (eq4(b, ks, 100, 97, 116, 97)) bit = K_DATA; // data
    } else if (kl === 2) {
      if (b[ks] === 116 && b[ks + 1] === 115) bit = K_TS; // ts
    } else if (kl === 3) {
      if (b[ks] === 99 && b[ks + 1] === 116 && b[ks + 2] === 115) bit = K_CTS; // cts
    } else if (kl === 5) {
      if (eq4(b, ks, 116, 111, 112, 105) && b[ks + 4] === 99) bit = K_TOPIC; // topic (again)
    }
    return this.colon(bit);
  }

  /** Reads a key inside data; returns its K_* bit (0 for unknown) or a negative code. */
  private readDataKey(): number {
    const k = this.readKey();
    if (k < 0) return k;
    const b = this.bytes;
    const ks = k >> 8;
    const kl = k & 0xff;
    let bit = 0;
    if (kl === 1) {
      const c = b[ks];
      if (c === 98) bit = K_B;
      else if (c === 97) bit = K_A;
      else if (c === 117) bit = K_U;
      else if (c === 115) bit = K_S;
    } else if (kl === 3) {
      if (b[ks] === 115 && b[ks + 1] === 101 && b[ks + 2] === 113) bit = K_SEQ; // seq
    }
    return this.colon(bit);
  }

  private colon(bit: number): number {
    this.ws();
    if (this.pos >= this.end || this.bytes[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
    this.pos++;
    return bit;
  }

  /** Reads `"snapshot"` or `"delta"`: 1 or 2, else a negative code. */
  private readType(): number {
    const b = this.bytes;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(0);
      return r < 0 ? r : SCAN_ERR_TYPE;
    }
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    const len = close - start;
    // snapshot
    if (len === 8 && eq4(b, start, 115, 110, 97, 112) && eq4(b, start + 4, 115, 104, 111, 116)) return 1;
    // delta
    if (len === 5 && eq4(b, start, 100, 101, 108, 116) && b[start + 4] === 97) return 2;
    return SCAN_ERR_TYPE;
  }
}

function startsWithPrefix(s: string, start: number, end: number): boolean {
  const n = TOPIC_PREFIX.length;
  if (end - start <= n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(start + i) !== TOPIC_PREFIX.charCodeAt(i)) return false;
  return true;
}
