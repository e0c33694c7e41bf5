// HOT PATH: no allocation
/**
 * OKX v5 order-book frame scanner: string → reusable BookUpdate with no JSON.parse and no substring, for the shape
 * OKX sends (docs/venues/okx.md, "Frames"):
 *   {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"|"update","data":[{"asks":[["px","sz","0","n"],…],
 *    "bids":[…],"ts":"ms","checksum":int,"prevSeqId":int,"seqId":int}]}
 * (books5 / bbo-tbt: no action, no prevSeqId, an `instId` in data). Data keys may come in any order; levels carry
 * two or more strings (price, size, then ignored fields). It is a strict reader: anything it does not recognise
 * exactly (whitespace, escapes, other key orders at the top, fractional or exponent integers, bad numbers, duplicate
 * keys) returns SCAN_FALLBACK and goes to the JSON path (parse-json.ts), which validates the same way and is the
 * one that reports errors. Whatever the scanner accepts, JSON.parse accepts with the same meaning. Each side is read by
 * the shared WebAssembly module (common/levels-wasm.ts) where it takes it, else by side-text.ts, which decides.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { WasmLevels } from "../common/levels-wasm.ts";
import { digits4, isDigits4, readSideText } from "./side-text.ts";
import type { OkxTopicTable } from "./topic-table.ts";

/** Not an order-book push (a control frame, text `pong`, or a frame not starting like one): the JSON path decides. */
export const SCAN_NOT_BOOK = -1;
/** Looks like a push but is not in the exact shape: the JSON path decides. */
export const SCAN_FALLBACK = -2;
/** A well-formed `arg` naming a channel not subscribed on this connection. */
export const SCAN_UNKNOWN_TOPIC = -3;
// Errors reported by the JSON path (parse-json.ts):
export const SCAN_ERR_SYNTAX = -4;
/** Not the push's shape; also a level whose price or size is no decimal string (`"abc"`, `"-1"`: no instrument re-check). */
export const SCAN_ERR_SHAPE = -5;
/** A price (QTY: a size) that is a decimal but does not fit the tick (lot), or past 2^53 at it: re-checks the instrument. */
export const SCAN_ERR_PRICE = -6;
export const SCAN_ERR_QTY = -7;
export const SCAN_ERR_FIELD = -8;

export const SCAN_RESULT_NAMES: readonly string[] = ["", "not_book", "fallback", "unknown_topic", "syntax", "shape", "price", "qty", "field"];

/**
 * `ts` is ms; its µs must stay below 2^53 (ms up to 9007199254740, the year 2255): beyond, they are not exact and
 * the wire's nanoseconds overflow i64 (a negative tsExchangeNs, which decoders refuse). Bybit's bound too.
 */
export const MAX_TS_US = 9007199254740992;

export const ACTION_NONE = 0;
export const ACTION_SNAPSHOT = 1;
export const ACTION_UPDATE = 2;

const QUOTE = 34;
const COMMA = 44;
const BACKSLASH = 92;
const RBRACKET = 93;
const RBRACE = 125;
const MINUS = 45;
const D0 = 48;
const D9 = 57;

const HEAD = '{"arg":{"channel":"';
const INST = '","instId":"';
const ACTION = ',"action":"';
const DATA = ',"data":[{';

/**
 * A literal as little-endian 4-byte words (the last one masked to the literal's length), matched on the frame's
 * bytes a word at a time: String.prototype.startsWith per key cost ~4× more than bytes, bytes ~3× more than words.
 */
interface Lit {
  words: Int32Array;
  masks: Int32Array;
}
function lit(text: string): Lit {
  const n = (text.length + 3) >> 2;
  const words = new Int32Array(n);
  const masks = new Int32Array(n);
  for (let i = 0; i < text.length; i++) {
    words[i >> 2] |= text.charCodeAt(i) << (8 * (i & 3));
    masks[i >> 2] |= 0xff << (8 * (i & 3));
  }
  return { words, masks };
}
const BOOKS_HEAD = HEAD + 'books' + INST;
const UPDATE_DATA = '"}' + ACTION + 'update"' + DATA;
const SNAPSHOT_DATA = '"}' + ACTION + 'snapshot"' + DATA;
const L_HEAD = lit(HEAD);
const L_BOOKS_HEAD = lit(BOOKS_HEAD);
const L_UPDATE_DATA = lit(UPDATE_DATA);
const L_SNAPSHOT_DATA = lit(SNAPSHOT_DATA);
const L_INST = lit(INST);
const L_ACTION = lit(ACTION);
const L_DATA = lit(DATA);
const L_SNAPSHOT = lit('snapshot"');
const L_UPDATE = lit('update"');
const L_ASKS = lit('asks":[');
const L_BIDS = lit('bids":[');
const L_TS = lit('ts":"');
const L_CHECKSUM = lit('checksum":');
const L_PREV = lit('prevSeqId":');
const L_SEQ = lit('seqId":');
const L_INSTID = lit('instId":"');

const SEEN_ASKS = 1;
const SEEN_BIDS = 2;
const SEEN_TS = 4;
const SEEN_CHECKSUM = 8;
const SEEN_PREV = 16;
const SEEN_SEQ = 32;
const SEEN_INST = 64;

export class OkxScanner {
  /** Table entry of the last frame's topic (-1 = none). */
  entry = -1;
  action = ACTION_NONE;
  seqId = 0;
  hasSeqId = false;
  prevSeqId = 0;
  hasPrevSeqId = false;
  /** 0 when absent (deprecated field: always 0 in production). */
  checksum = 0;
  private pos = 0;
  /** Where the arg's instId lies in the frame's bytes: a data `instId` (books5, bbo-tbt) must be the same. */
  private instStart = 0;
  private instEnd = 0;
  /**
   * The frame's bytes (ASCII: one per UTF-16 unit at the same offset) with a 0 sentinel: indexing bytes and reading
   * four digits at once through the DataView is cheaper than charCodeAt per character (the Bybit scanner measured
   * the same). Room for 3 × length + 8 bytes, so a 4-byte read near the end stays inside.
   */
  private bytes: Buffer;
  private view: DataView;
  /** The scanner's own buffer, for when the WebAssembly side reader is unavailable or the frame too long for it. */
  private ownBytes: Buffer = Buffer.alloc(8192);
  private ownView: DataView = new DataView(this.ownBytes.buffer, this.ownBytes.byteOffset, this.ownBytes.byteLength);
  /** The WebAssembly side reader: created on the first frame; null when unavailable or not wanted. */
  private wasm: WasmLevels | null | undefined = undefined;
  /** The side reader while the frame is in its memory, else null. */
  private side: WasmLevels | null = null;
  /** The update whose side arrays may be the module's own (shareSides), else null. */
  private shared: BookUpdate | null = null;

  /** `useWasm` false: levels are read by the TypeScript reader alone (the reference the tests compare with). */
  constructor(private readonly useWasm = true) {
    this.bytes = this.ownBytes;
    this.view = this.ownView;
  }

  /**
   * Lets `u` (the connection's one reused update) have the module's arrays as its side arrays: the module then writes
   * the levels where the book reads them, with no copy. Its levels are then valid only until this scanner's next scan
   * (of any frame, into any update), which is how a connection uses its update; any other update gets the levels
   * copied into its own arrays and keeps them, as before.
   */
  shareSides(u: BookUpdate): void {
    // A second update would keep the module's arrays as its sides, silently overwritten by the next frame.
    if (this.shared !== null && this.shared !== u) throw new Error("OkxScanner.shareSides: this scanner already shares its sides with another update");
    this.shared = u;
  }

  /** Subscription index (≥ 0) with `update` filled, or a SCAN_* code. */
  scan(s: string, table: OkxTopicTable, u: BookUpdate): number {
    this.entry = -1;
    this.action = ACTION_NONE;
    this.hasSeqId = false;
    this.hasPrevSeqId = false;
    this.seqId = 0;
    this.prevSeqId = 0;
    this.checksum = 0;
    if (s.length < HEAD.length || s.charCodeAt(0) !== 123) return SCAN_NOT_BOOK;
    // The frame is copied first and its head matched on the bytes; a frame that cannot be copied (not ASCII) is
    // judged on the string, as before.
    const ascii = this.encode(s);
    const w = this.side;
    const shared = w !== null && u === this.shared;
    if (shared) {
      // The shared update's sides are the module's arrays: "okxdata" writes the levels where the book reads them.
      // Set on every frame the module's memory holds, so that after a grow (which detaches the old views) the update
      // never keeps a detached one; whatever else fills the update (the TypeScript reader, the JSON path) writes there
      // too, and a side longer than they hold grows into an array of the update's own, as before.
      u.askPx = w.okxAskPx;
      u.askQty = w.okxAskQty;
      u.bidPx = w.okxBidPx;
      u.bidQty = w.okxBidQty;
    }
    if (!ascii) return s.startsWith(HEAD) ? SCAN_FALLBACK : SCAN_NOT_BOOK;
    const b = this.bytes;
    const n = s.length;
    const cs = HEAD.length;
    let p: number;
    let is: number;
    // The `books` channel's head, and then its usual `"},"action":"update"|"snapshot","data":[{`, are each matched
    // whole (fewer, longer compares); any other channel or shape takes the literal-by-literal path, which decides.
    if (this.at(0, L_BOOKS_HEAD)) is = BOOKS_HEAD.length;
    else {
      if (!this.at(0, L_HEAD)) return SCAN_NOT_BOOK;
      p = this.skipPlain(cs);
      if (p < 0 || !this.at(p, L_INST)) return SCAN_FALLBACK;
      is = p + INST.length;
    }
    p = this.skipPlain(is);
    if (p < 0 || b[p + 1] !== RBRACE) return SCAN_FALLBACK;
    this.instStart = is;
    this.instEnd = p;
    const entry = table.findFrame(this.view, cs, p);
    if (entry < 0) return SCAN_UNKNOWN_TOPIC;
    if (this.at(p, L_UPDATE_DATA)) {
      this.action = ACTION_UPDATE;
      p += UPDATE_DATA.length;
    } else if (this.at(p, L_SNAPSHOT_DATA)) {
      this.action = ACTION_SNAPSHOT;
      p += SNAPSHOT_DATA.length;
    } else {
      p += 2;
      if (this.at(p, L_ACTION)) {
        p += ACTION.length;
        if (this.at(p, L_SNAPSHOT)) {
          this.action = ACTION_SNAPSHOT;
          p += 9;
        } else if (this.at(p, L_UPDATE)) {
          this.action = ACTION_UPDATE;
          p += 7;
        } else return SCAN_FALLBACK;
      }
      if (!this.at(p, L_DATA)) return SCAN_FALLBACK;
      p += DATA.length;
    }
    u.reset();
    u.isSnapshot = this.action === ACTION_SNAPSHOT;
    const pe = table.priceExp[entry]!;
    const qe = table.qtyExp[entry]!;
    // The module reads the whole data object in one call where it takes it; else the key loop below, from the start.
    const e = w === null ? -1 : w.readOkxData(p, pe, qe);
    if (e >= 0) {
      const h = w!.okxI32;
      const seen = h[0]!;
      if ((seen & (SEEN_ASKS | SEEN_BIDS)) !== (SEEN_ASKS | SEEN_BIDS)) return SCAN_FALLBACK;
      if (shared) {
        u.askCount = h[1]!;
        u.bidCount = h[2]!;
      } else w!.copyOkxSides(u, h[1]!, h[2]!);
      const f = w!.okxF64;
      if ((seen & SEEN_TS) !== 0) u.tsExchangeUs = f[2]! * 1000;
      if ((seen & SEEN_CHECKSUM) !== 0) this.checksum = f[3]!;
      if ((seen & SEEN_PREV) !== 0) {
        this.prevSeqId = f[4]!;
        this.hasPrevSeqId = true;
      }
      if ((seen & SEEN_SEQ) !== 0) {
        this.seqId = f[5]!;
        this.hasSeqId = true;
      }
      p = e;
    } else {
      p = this.keys(s, u, p, pe, qe);
      if (p < 0) return SCAN_FALLBACK;
    }
    if (b[p + 1] !== RBRACKET || b[p + 2] !== RBRACE || p + 3 !== n) return SCAN_FALLBACK;
    // A ts whose µs reach 2^53 wraps the wire's i64 nanoseconds: the JSON path names it (`field`).
    if (u.tsExchangeUs >= MAX_TS_US) return SCAN_FALLBACK;
    // A negative seqId would go out as a negative venueSeq, which decoders refuse with the rest of its datagram: the
    // JSON path names it (`field`). (At most 15 digits are read here: 2^53 is the JSON path's to refuse too.)
    if (this.seqId < 0) return SCAN_FALLBACK;
    u.venueSeq = this.hasSeqId ? this.seqId : 0;
    this.entry = entry;
    return table.indexes[entry]!;
  }

  /**
   * The data object's keys from p (just after its `{`), in any order, each once, asks and bids required: the index
   * of its closing `}`, or SCAN_FALLBACK for anything else.
   */
  private keys(s: string, u: BookUpdate, p: number, pe: number, qe: number): number {
    const b = this.bytes;
    let seen = 0;
    for (;;) {
      if (b[p] !== QUOTE) return SCAN_FALLBACK;
      p++;
      let bit: number;
      const k = b[p];
      if (k === 97 /* a */ && this.at(p, L_ASKS)) {
        bit = SEEN_ASKS;
        this.pos = p + 7;
        if (!this.levels(s, u, false, pe, qe)) return SCAN_FALLBACK;
      } else if (k === 98 /* b */ && this.at(p, L_BIDS)) {
        bit = SEEN_BIDS;
        this.pos = p + 7;
        if (!this.levels(s, u, true, pe, qe)) return SCAN_FALLBACK;
      } else if (k === 116 /* t */ && this.at(p, L_TS)) {
        bit = SEEN_TS;
        let q = p + 5;
        let ms = 0;
        const start = q;
        const dv = this.view;
        let w = dv.getInt32(q, true);
        while (isDigits4(w)) {
          ms = ms * 10000 + digits4(w);
          q += 4;
          w = dv.getInt32(q, true);
        }
        let c = b[q]!;
        while (c >= D0 && c <= D9) {
          ms = ms * 10 + (c - D0);
          c = b[++q]!;
        }
        if (c !== QUOTE || q === start || q - start > 15) return SCAN_FALLBACK;
        u.tsExchangeUs = ms * 1000;
        this.pos = q + 1;
      } else if (k === 99 /* c */ && this.at(p, L_CHECKSUM)) {
        bit = SEEN_CHECKSUM;
        this.pos = p + 10;
        const v = this.int();
        if (this.pos < 0 || v < -2147483648 || v > 2147483647) return SCAN_FALLBACK;
        this.checksum = v;
      } else if (k === 112 /* p */ && this.at(p, L_PREV)) {
        bit = SEEN_PREV;
        this.pos = p + 11;
        this.prevSeqId = this.int();
        if (this.pos < 0) return SCAN_FALLBACK;
        this.hasPrevSeqId = true;
      } else if (k === 115 /* s */ && this.at(p, L_SEQ)) {
        bit = SEEN_SEQ;
        this.pos = p + 7;
        this.seqId = this.int();
        if (this.pos < 0) return SCAN_FALLBACK;
        this.hasSeqId = true;
      } else if (k === 105 /* i */ && this.at(p, L_INSTID)) {
        bit = SEEN_INST;
        const q = this.skipPlain(p + 9);
        if (q < 0) return SCAN_FALLBACK;
        // Another instrument's data under this arg: the JSON path names it (and its book resyncs), never applied.
        if (!this.sameAsArgInst(p + 9, q)) return SCAN_FALLBACK;
        this.pos = q + 1;
      } else return SCAN_FALLBACK;
      if ((seen & bit) !== 0) return SCAN_FALLBACK; // a duplicate key: JSON.parse keeps the last one
      seen |= bit;
      p = this.pos;
      const c = b[p];
      if (c === COMMA) {
        p++;
        continue;
      }
      if (c !== RBRACE) return SCAN_FALLBACK;
      break;
    }
    if ((seen & (SEEN_ASKS | SEEN_BIDS)) !== (SEEN_ASKS | SEEN_BIDS)) return SCAN_FALLBACK;
    return p;
  }

  /**
   * True when the frame's bytes at p are `l`. The 0 sentinel after the frame stops a match running past its end
   * (no literal holds a 0), and the buffer has room for the words read beyond it (encode()).
   */
  private at(p: number, l: Lit): boolean {
    const dv = this.view;
    const words = l.words;
    const masks = l.masks;
    for (let i = 0; i < words.length; i++) if ((dv.getInt32(p + 4 * i, true) & masks[i]!) !== words[i]) return false;
    return true;
  }

  /** Whether the bytes [from, to) are the arg's instId. */
  private sameAsArgInst(from: number, to: number): boolean {
    const b = this.bytes;
    const n = this.instEnd - this.instStart;
    if (to - from !== n) return false;
    for (let i = 0; i < n; i++) if (b[from + i] !== b[this.instStart + i]) return false;
    return true;
  }

  /** From `from`, the position of the closing quote of a string with no escapes or control characters; -1 otherwise. */
  private skipPlain(from: number): number {
    const b = this.bytes;
    for (let i = from; ; i++) {
      const c = b[i]!;
      if (c === QUOTE) return i;
      if (c === BACKSLASH || c < 32) return -1; // also the 0 sentinel at the end
    }
  }

  /** A JSON integer literal at this.pos (no leading zeros, no fraction or exponent), ≤ 15 digits; pos = -1 on failure. */
  private int(): number {
    const b = this.bytes;
    let p = this.pos;
    let neg = false;
    if (b[p] === MINUS) {
      neg = true;
      p++;
    }
    const start = p;
    let v = 0;
    const dv = this.view;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    let c = b[p]!;
    while (c >= D0 && c <= D9) {
      v = v * 10 + (c - D0);
      c = b[++p]!;
    }
    const digits = p - start;
    if (digits === 0 || digits > 15 || (digits > 1 && b[start] === D0) || (c !== COMMA && c !== RBRACE)) {
      this.pos = -1;
      return 0;
    }
    this.pos = p;
    return neg ? -v : v;
  }

  /**
   * `[["px","sz",…],…]` from this.pos (just after the opening bracket), on the frame's bytes, appended to the side;
   * false = not the exact shape or a number the fast path does not take exactly (the JSON path then decides). The
   * WebAssembly reader takes the plain side whole; what it declines is read by readSideText (side-text.ts) from the
   * same place.
   */
  private levels(s: string, u: BookUpdate, bid: boolean, pe: number, qe: number): boolean {
    const p = this.pos;
    if (this.bytes[p] === RBRACKET) {
      this.pos = p + 1;
      return true;
    }
    const w = this.side;
    if (w !== null) {
      const e = w.readSide(p, bid, pe, qe, u);
      if (e >= 0) {
        this.pos = e;
        return true;
      }
    }
    const e = readSideText(this.bytes, this.view, p, s, u, bid, pe, qe);
    if (e < 0) return false;
    this.pos = e;
    return true;
  }

  /**
   * Copies the frame into `bytes` (one native call): the WebAssembly side reader's memory where it is available and
   * has room, else the scanner's own buffer. False when the frame holds a non-ASCII unit (the JSON path takes it).
   */
  private encode(s: string): boolean {
    const len = s.length;
    let w = this.wasm;
    if (w === undefined) w = this.wasm = this.useWasm ? WasmLevels.create(true) : null;
    if (w !== null && w.ensure(len)) {
      this.bytes = w.bytes;
      this.view = w.view;
      this.side = w;
    } else {
      this.side = null;
      if (this.ownBytes.length < 3 * len + 8) {
        this.ownBytes = Buffer.alloc(Math.max(3 * len + 8, this.ownBytes.length * 2));
        this.ownView = new DataView(this.ownBytes.buffer, this.ownBytes.byteOffset, this.ownBytes.byteLength);
      }
      this.bytes = this.ownBytes;
      this.view = this.ownView;
    }
    if (this.bytes.write(s, 0) !== len) return false;
    this.bytes[len] = 0; // sentinel: no character the scanner accepts
    return true;
  }
}
