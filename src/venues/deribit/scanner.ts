// HOT PATH: no allocation
/**
 * Deribit book notifications, text → BookUpdate, without JSON.parse and without substrings. It reads exactly the
 * shape Deribit sends (no whitespace):
 *
 *   {"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.100ms","data":{…}}}
 *
 * with the data keys in any order: `type` ("snapshot" | "change"), `timestamp`, `instrument_name`, `change_id`,
 * `prev_change_id`, `bids`, `asks`; levels `["new"|"change"|"delete", price, amount]`, or `[price, amount]` on a
 * grouped channel (`book.X.none.N.100ms`, every message the whole top N). Prices and amounts are bare JSON numbers,
 * read exactly from their text (core/fixed.ts parseJsonNumberCodes, exponent form included). Anything else — other
 * key orders around the channel, unknown keys, whitespace, escapes, a number the exponent cannot hold, a missing
 * field — returns SCAN_FALLBACK, and parse-json.ts (a full JSON reader keeping numbers as text) decides, with the
 * same rules and codes. So whatever this accepts, JSON.parse accepts with the same values.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { MAX_MANTISSA, parseJsonNumberCodes, POW10 } from "../../core/fixed.ts";
import type { ChannelTable } from "./channel-table.ts";

/** Not a book notification of this connection's shape (control frames, other channels): the JSON path decides. */
export const SCAN_NOT_BOOK = -1;
/** Something unusual: the JSON path decides (it may still be a good book message). */
export const SCAN_FALLBACK = -2;
/** A `book.` channel this connection did not subscribe. */
export const SCAN_UNKNOWN_TOPIC = -3;
// Errors (the JSON path's verdicts).
export const SCAN_ERR_SYNTAX = -4;
export const SCAN_ERR_MISSING = -5;
export const SCAN_ERR_TYPE = -6;
/** A level not [action, price, amount] (grouped: [price, amount]) of numbers; also a negative price or amount (no re-check). */
export const SCAN_ERR_LEVEL = -7;
/** A price (QTY: an amount) finer than the tick (lot) or past 2^53 at it: the adapter re-checks the instrument. */
export const SCAN_ERR_PRICE = -8;
export const SCAN_ERR_QTY = -9;
export const SCAN_ERR_NUMBER = -10;
/** `instrument_name` is not the channel's instrument: the data may be another book's. */
export const SCAN_ERR_INSTRUMENT = -11;
/** A change whose change_id is below its own prev_change_id: ids only grow, so the frame is not what it claims. */
export const SCAN_ERR_CHANGE_ID = -12;
/** A change whose change_id equals its own prev_change_id but carries levels: they change a state it says is the same. */
export const SCAN_ERR_CHANGE_ID_SAME = -13;
/**
 * A snapshot with a `change` or `delete` entry: Deribit documents `new` only there, so what the book holds at that
 * price is unknown (until 2026-12-08 a delete was taken as no level, a change as a level).
 */
export const SCAN_ERR_SNAPSHOT_ACTION = -14;

/** By -code. */
export const SCAN_RESULT_NAMES: readonly string[] = ["", "not_book", "fallback", "unknown_topic", "syntax", "missing_field", "bad_type", "bad_level", "bad_price", "bad_amount", "bad_number", "instrument_mismatch", "change_id_below_prev", "change_id_equals_prev", "snapshot_action"];

const PREFIX = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"';
const DATA = '","data":{';
const BOOK = "book.";

const Q = 34; // "
const BS = 92; // \
const COMMA = 44;
const LBRACK = 91;
const RBRACK = 93;
const RBRACE = 125;
const CH_0 = 48;
const CH_9 = 57;

const TWO_53 = 9007199254740992;
/** `timestamp` (ms) must be below this: its µs then stay below 2^53, exact, and their ns fit the wire's i64 (as Bybit's). */
export const TS_MS_LIMIT = Math.ceil(TWO_53 / 1000);
const MAX_SAFE = MAX_MANTISSA;
const DOT = 46;
const LOWER_E = 101;
const UPPER_E = 69;
const PLUS = 43;
const MINUS = 45;
const CH_T = 116;
const CH_Y = 121;
const CH_I = 105;
const CH_C = 99;
const CH_P = 112;
const CH_B = 98;
const CH_A = 97;
const CH_N = 110;
const CH_D = 100;
const CH_S = 115;
const KEY_TYPE = 'type":';
const KEY_TS = 'timestamp":';
const KEY_NAME = 'instrument_name":';
const KEY_CID = 'change_id":';
const KEY_PREV = 'prev_change_id":';
const KEY_BIDS = 'bids":';
const KEY_ASKS = 'asks":';
const VAL_SNAPSHOT = '"snapshot"';
const VAL_CHANGE = '"change"';
const ACT_NEW = '"new",';
const ACT_CHANGE = '"change",';
const ACT_DELETE = '"delete",';

// Key bits.
const K_TYPE = 1;
const K_TS = 2;
const K_NAME = 4;
const K_CID = 8;
const K_PREV = 16;
const K_BIDS = 32;
const K_ASKS = 64;

export class DeribitScanner {
  /** Table entry of the channel read (-1 before it is known): lets a later error name its book. */
  entry = -1;
  /** `prev_change_id` of the last book read, -1 when absent (a snapshot, a grouped book). */
  prevChangeId = -1;
  /** Where the last handover (SCAN_FALLBACK) stopped, for diagnostics (benches); kept over other results, so no log shows it. */
  errorPos = 0;
  private pos = 0;
  /** The frame read so far has a `change` or `delete` entry (a snapshot must not: the JSON path refuses it by name). */
  private notNew = false;

  scan(s: string, table: ChannelTable, out: BookUpdate): number {
    this.entry = -1;
    this.prevChangeId = -1;
    this.notNew = false;
    const n = s.length;
    if (!s.startsWith(PREFIX)) return SCAN_NOT_BOOK;
    const nameStart = PREFIX.length;
    // The closing quote (native search); find() compares the whole name, so an escaped quote cannot pass for the end.
    let i = s.indexOf('"', nameStart);
    if (i < 0) return this.fail(n, SCAN_FALLBACK);
    let c = 0;
    const entry = table.find(s, nameStart, i);
    if (entry < 0) {
      if (!s.startsWith(BOOK, nameStart)) return SCAN_NOT_BOOK;
      // Not found as written. A book name with an escape (`\u002d`) may still be one of ours once decoded: the JSON
      // path decides (until 2026-12-07 it was unknown here, the frame dropped and every book of its connection resynced).
      for (let j = nameStart; j < i; j++) if (s.charCodeAt(j) === BS) return this.fail(j, SCAN_FALLBACK);
      return SCAN_UNKNOWN_TOPIC;
    }
    this.entry = entry;
    if (!s.startsWith(DATA, i)) return this.fail(i, SCAN_FALLBACK);
    i += DATA.length;
    const grouped = table.grouped[entry]!;
    const pExp = table.priceExp[entry]!;
    const qExp = table.qtyExp[entry]!;
    out.reset();
    out.replace = grouped;
    let seen = 0;
    let cid = -1;
    let prev = -1;
    for (;;) {
      if (s.charCodeAt(i) !== Q) return this.fail(i, SCAN_FALLBACK);
      const k = i + 1;
      // Keys, told apart by length and a character or two (then compared whole).
      // Dispatch on the key's first character, then compare it whole with the native startsWith, which is fast when
      // it matches (a failed startsWith costs ~50 ns in JSC, a JS character loop ~2 ns per character on this VM).
      let bit = 0;
      let key = "";
      switch (s.charCodeAt(k)) {
        case CH_T:
          if (s.charCodeAt(k + 1) === CH_Y) (bit = K_TYPE), (key = KEY_TYPE);
          else (bit = K_TS), (key = KEY_TS);
          break;
        case CH_I:
          (bit = K_NAME), (key = KEY_NAME);
          break;
        case CH_C:
          (bit = K_CID), (key = KEY_CID);
          break;
        case CH_P:
          (bit = K_PREV), (key = KEY_PREV);
          break;
        case CH_B:
          (bit = K_BIDS), (key = KEY_BIDS);
          break;
        case CH_A:
          (bit = K_ASKS), (key = KEY_ASKS);
          break;
        default:
          return this.fail(i, SCAN_FALLBACK);
      }
      if (!s.startsWith(key, k)) return this.fail(i, SCAN_FALLBACK);
      if ((seen & bit) !== 0) return this.fail(i, SCAN_FALLBACK); // duplicate key: JSON.parse keeps the last
      seen |= bit;
      i = k + key.length;
      if (bit === K_TYPE) {
        const v = s.charCodeAt(i + 1);
        if (v === CH_S && s.startsWith(VAL_SNAPSHOT, i)) {
          out.isSnapshot = true;
          i += VAL_SNAPSHOT.length;
        } else if (v === CH_C && s.startsWith(VAL_CHANGE, i)) i += VAL_CHANGE.length;
        else return this.fail(i, SCAN_FALLBACK);
      } else if (bit === K_TS || bit === K_CID || bit === K_PREV) {
        const v = this.int(s, i);
        // A timestamp (ms) whose µs reach 2^53 (the year 2255) is inexact, its ns past the wire's i64: the JSON path refuses it.
        if (v < 0 || (bit === K_TS && v >= TS_MS_LIMIT)) return this.fail(i, SCAN_FALLBACK);
        // change_id 0 is the adapter's "no id" (TopicState.lastSeq): the JSON path refuses it (bad_number).
        if (bit === K_CID && v === 0) return this.fail(i, SCAN_FALLBACK);
        i = this.pos;
        if (bit === K_TS) out.tsExchangeUs = v * 1000;
        else if (bit === K_CID) cid = v;
        else prev = v;
      } else if (bit === K_NAME) {
        // The channel's own instrument, compared whole (native); anything else is for the JSON path.
        const sym = table.symbols[entry]!;
        if (s.charCodeAt(i) !== Q || !s.startsWith(sym, i + 1) || s.charCodeAt(i + 1 + sym.length) !== Q) return this.fail(i, SCAN_FALLBACK);
        i += sym.length + 2;
      } else {
        i = this.levels(s, i, out, bit === K_BIDS, grouped, pExp, qExp);
        if (i < 0) return this.fail(this.pos, SCAN_FALLBACK);
      }
      c = s.charCodeAt(i);
      if (c === COMMA) {
        i++;
        continue;
      }
      if (c !== RBRACE) return this.fail(i, SCAN_FALLBACK);
      break;
    }
    // data, params and the frame close together, and nothing follows.
    if (i + 3 !== n || s.charCodeAt(i + 1) !== RBRACE || s.charCodeAt(i + 2) !== RBRACE) return this.fail(i, SCAN_FALLBACK);
    const need = grouped ? K_CID | K_BIDS | K_ASKS : K_TYPE | K_CID | K_BIDS | K_ASKS;
    if ((seen & need) !== need) return this.fail(i, SCAN_FALLBACK);
    if (grouped) {
      if ((seen & (K_TYPE | K_PREV)) !== 0) return this.fail(i, SCAN_FALLBACK);
    } else if (out.isSnapshot ? (seen & K_PREV) !== 0 || this.notNew : (seen & K_PREV) === 0 || cid <= prev) {
      // A snapshot with prev_change_id or an entry other than `new` (the keys come in any order: `type` may follow the
      // levels), or a change without prev_change_id (or not going forward): unusual, the JSON path decides.
      return this.fail(i, SCAN_FALLBACK);
    }
    out.venueSeq = cid;
    this.prevChangeId = prev;
    return table.indexes[entry]!;
  }

  /** A non-negative integer literal (JSON: no leading zero) at i, < 2^53; -1 otherwise. Sets pos after it. */
  private int(s: string, i: number): number {
    let c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return -1;
    if (c === CH_0) {
      c = s.charCodeAt(i + 1);
      if (c >= CH_0 && c <= CH_9) return -1;
      this.pos = i + 1;
      return c === 46 || c === 101 || c === 69 ? -1 : 0;
    }
    let v = 0;
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      if (v >= TWO_53) return -1;
      c = s.charCodeAt(++i);
    }
    if (c === 46 || c === 101 || c === 69) return -1; // "1.0", "1e3": not an integer literal
    this.pos = i;
    return v;
  }

  /** One side's array at i; returns the index after it, -1 to fall back (pos = where). */
  private levels(s: string, i: number, out: BookUpdate, bid: boolean, grouped: boolean, pExp: number, qExp: number): number {
    if (s.charCodeAt(i) !== LBRACK) return this.bail(i);
    i++;
    if (s.charCodeAt(i) === RBRACK) return i + 1;
    for (;;) {
      if (s.charCodeAt(i) !== LBRACK) return this.bail(i);
      i++;
      let del = false;
      if (!grouped) {
        const a = s.charCodeAt(i + 1);
        const act = a === CH_N ? ACT_NEW : a === CH_C ? ACT_CHANGE : a === CH_D ? ACT_DELETE : "";
        if (act === "" || !s.startsWith(act, i)) return this.bail(i);
        i += act.length;
        del = a === CH_D;
        if (a !== CH_N) this.notNew = true;
      }
      const px = this.num(s, i, pExp);
      if (px < 0) return this.bail(i);
      i = this.pos;
      if (s.charCodeAt(i) !== COMMA) return this.bail(i);
      const qty = this.num(s, ++i, qExp);
      if (qty < 0) return this.bail(i);
      i = this.pos;
      if (s.charCodeAt(i) !== RBRACK) return this.bail(i);
      if (bid) out.pushBid(px, del ? 0 : qty);
      else out.pushAsk(px, del ? 0 : qty);
      i++;
      const c = s.charCodeAt(i);
      if (c === COMMA) {
        i++;
        continue;
      }
      if (c === RBRACK) return i + 1;
      return this.bail(i);
    }
  }

  /**
   * A JSON number at i, exactly, at exponent exp; sets pos after it. One pass for the usual `digits[.digits]`
   * (the same rules as parseJsonNumberCodes: no leading zero, decimals beyond exp must be zeros, < 2^53); an exponent
   * or anything unusual goes to parseJsonNumberCodes over the whole token. -1 when it is no such number.
   */
  private num(s: string, i: number, exp: number): number {
    const start = i;
    let c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return -1;
    let m = 0;
    if (c === CH_0) {
      c = s.charCodeAt(++i);
      if (c >= CH_0 && c <= CH_9) return -1; // "01": not JSON
    } else {
      do {
        m = m * 10 + (c - CH_0);
        c = s.charCodeAt(++i);
      } while (c >= CH_0 && c <= CH_9);
    }
    let frac = 0;
    if (c === DOT) {
      c = s.charCodeAt(++i);
      if (c < CH_0 || c > CH_9) return -1;
      do {
        if (frac < exp) {
          m = m * 10 + (c - CH_0);
          frac++;
        } else if (c !== CH_0) return this.slowNum(s, start, exp); // an exponent may follow: the slow path decides
        c = s.charCodeAt(++i);
      } while (c >= CH_0 && c <= CH_9);
    }
    if (c === LOWER_E || c === UPPER_E || c === PLUS || c === MINUS) return this.slowNum(s, start, exp);
    if (frac < exp) m *= POW10[exp - frac]!;
    // Digits only grow m, so a true value above 2^53 − 1 ends ≥ 2^53 however the doubles rounded.
    if (m > MAX_SAFE) return -1;
    this.pos = i;
    return m;
  }

  /** The whole token through parseJsonNumberCodes (exponent form, leading zeros, anything the fast path left). */
  private slowNum(s: string, start: number, exp: number): number {
    const end = numberEnd(s, start);
    this.pos = end;
    return parseJsonNumberCodes(s, start, end, exp);
  }

  private bail(at: number): number {
    this.pos = at;
    return -1;
  }

  private fail(at: number, code: number): number {
    this.errorPos = at;
    return code;
  }
}

/** The end of a number token starting at i (digits, '.', 'e', 'E', '+', '-'). */
function numberEnd(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if ((c >= CH_0 && c <= CH_9) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45) i++;
    else return i;
  }
}
