// HOT PATH: no allocation (UpbitScanner.scan, CodeTable.find)
/**
 * Upbit / Bithumb order-book frames (docs/venues/upbit.md, "Messages") → a reused BookUpdate, read from the frame's
 * UTF-8 bytes: no TextDecoder, no JSON.parse, no substring. A strict JSON reader for one object: keys in any order,
 * DEFAULT and SIMPLE names (`orderbook_units`/`obu`, `ask_price`/`ap`, …), unknown keys skipped (validated), every
 * number read exactly from its text with its exponent (core/fixed.ts parseJsonNumberBytes: `1.16539E8`, `2.571E-5`),
 * `timestamp` an integer literal. Unit i pairs ask i with bid i; a side whose price or size is 0 is skipped
 * (placeholders in thin books, Bithumb's size-0 units at live prices). Whatever it accepts JSON.parse accepts with
 * the same values; a string with an escape goes to the cold JSON path (parse-json.ts) with the same validation.
 * @module
 */
import { exponentOf, MAX_MANTISSA, parseJsonNumber, parseJsonNumberBytes, POW10 } from "../../core/fixed.ts";
import type { BookUpdate } from "../../core/book-update.ts";

export const SCAN_NOT_BOOK = -1;
export const SCAN_ERR_SYNTAX = -2;
export const SCAN_ERR_PRICE = -3;
export const SCAN_ERR_QTY = -4;
export const SCAN_UNKNOWN_CODE = -5;
/** A field missing, repeated or of the wrong type. */
export const SCAN_ERR_FIELD = -6;
/** A string with an escape: read by the JSON path instead. */
export const SCAN_FALLBACK = -7;
/** A `timestamp` of 0, or whose µs do not fit 2^53 (the wire's ns are exact only below it): refused, never written wrong. */
export const SCAN_ERR_TIMESTAMP = -8;
/**
 * More units than the code's depth asked (`KRW-BTC.5` answered with 6): refused, never cut to the depth (a level
 * dropped) nor published (a book deeper than its instrument, `KRW-BTC@5`, tells its subscribers).
 */
export const SCAN_ERR_DEPTH = -9;
/**
 * A book whose `level` (`lv`: Upbit's price grouping, 0 = none) is not the level subscribed, or no number: a grouped
 * book is not the exact one (its prices merged into units of the level), so it is refused, never applied. A book
 * without the key is read (older feeds). Checked only where the venue echoes the level asked (UpbitScanner `level`).
 */
export const SCAN_ERR_LEVEL = -10;
export const SCAN_RESULT_NAMES: readonly string[] = ["ok", "not_book", "syntax", "price", "qty", "unknown_code", "field", "escape", "timestamp", "over_depth", "level"];

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;

const K_OTHER = 0;
const K_TYPE = 1;
const K_CODE = 2;
const K_TS = 3;
const K_UNITS = 4;
const K_AP = 5;
const K_BP = 6;
const K_AS = 7;
const K_BS = 8;
const K_LEVEL = 9;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const TOP_KEYS: [Uint8Array, number][] = [
  [ascii("ty"), K_TYPE], [ascii("type"), K_TYPE], [ascii("cd"), K_CODE], [ascii("code"), K_CODE],
  [ascii("tms"), K_TS], [ascii("timestamp"), K_TS], [ascii("obu"), K_UNITS], [ascii("orderbook_units"), K_UNITS],
  [ascii("lv"), K_LEVEL], [ascii("level"), K_LEVEL],
];
const ORDERBOOK = ascii("orderbook");

function keyOf(keys: [Uint8Array, number][], b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]![0];
    if (key.length !== n) continue;
    let j = 0;
    while (j < n && key[j] === b[s + j]) j++;
    if (j === n) return keys[k]![1];
  }
  return K_OTHER;
}

/** Unit keys by shape: `ap` `bp` `as` `bs`, or `ask_price` `bid_price` `ask_size` `bid_size` (checked in full). */
function unitKeyOf(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  const c0 = b[s]!;
  if (c0 !== 97 && c0 !== 98) return K_OTHER; // a, b
  const ask = c0 === 97;
  if (n === 2) {
    const c1 = b[s + 1]!;
    return c1 === 112 ? (ask ? K_AP : K_BP) : c1 === 115 ? (ask ? K_AS : K_BS) : K_OTHER; // p, s
  }
  // ask_price / bid_price (9), ask_size / bid_size (8): the side's three letters, then the suffix, all checked.
  if (n !== 8 && n !== 9) return K_OTHER;
  if (ask ? b[s + 1] !== 115 || b[s + 2] !== 107 : b[s + 1] !== 105 || b[s + 2] !== 100) return K_OTHER; // sk, id
  const suffix = n === 9 ? PRICE_SUFFIX : SIZE_SUFFIX;
  for (let j = 0; j < suffix.length; j++) if (b[s + 3 + j] !== suffix[j]) return K_OTHER;
  return n === 9 ? (ask ? K_AP : K_BP) : ask ? K_AS : K_BS;
}
const PRICE_SUFFIX = ascii("_price");
const SIZE_SUFFIX = ascii("_size");

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * A dialect's timestamp unit that is read from each value: Bithumb's are documented in ms (orderbook doc; a 2024
 * WebSocket sample; its REST book moved from µs to ms in 2025-11) but were also seen in µs (docs/venues/bithumb.md).
 */
export const TS_UNIT_BY_MAGNITUDE = 0;
/** At or above this an epoch timestamp is µs (ms reach it in the year 5138; µs passed it in 1973). */
export const US_EPOCH_MIN = 1e14;
/**
 * A book's µs timestamp must be below this (2^53, year 2255): above, the µs (a ms value × 1000) are no longer exact
 * and their ns overflow the wire's i64 (wire/words.ts nsFromUsWords), so such a book is refused (SCAN_ERR_TIMESTAMP).
 */
export const TS_US_LIMIT = 2 ** 53;

/**
 * The book's timestamp → u.venueSeq (the ordering key) and u.tsExchangeUs. The key is in the venue's documented unit,
 * ms: by magnitude a µs value is keyed by its ms, so a book in one unit orders right against the last in the other
 * (two in one ms are equal keys; the adapter then compares two µs values exactly: adapter.ts onBook, newestUs).
 * Returns whether the value was a µs one keyed by its ms (exact below the key: one on the ms boundary too). The
 * caller refuses the book when u.tsExchangeUs is 0 or not below TS_US_LIMIT (tsOutOfRange).
 */
export function setTimestamp(u: BookUpdate, ts: number, tsUnitUs: number): boolean {
  if (tsUnitUs !== TS_UNIT_BY_MAGNITUDE) {
    u.venueSeq = ts;
    u.tsExchangeUs = ts * tsUnitUs;
    return false;
  } else if (ts < US_EPOCH_MIN) {
    u.venueSeq = ts;
    u.tsExchangeUs = ts * 1000;
    return false;
  }
  u.venueSeq = Math.floor(ts / 1000);
  u.tsExchangeUs = ts;
  return true;
}

/**
 * The timestamp setTimestamp wrote is 0 or does not fit the wire (µs ≥ 2^53): the book is refused, named as
 * `timestamp`, by both readers. 0 is no time and the adapter's "none applied yet" (newestTs): until s-venuesmall a
 * code's first book stamped 0 was taken for one of the newest stamp, applied, and went LIVE at exchange time 0.
 */
export function tsOutOfRange(u: BookUpdate): boolean {
  return !(u.tsExchangeUs > 0 && u.tsExchangeUs < TS_US_LIMIT);
}

/** Subscribed codes → entries (subscription index, exponents, depth asked), built at subscribe time, read per frame. */
export class CodeTable {
  readonly codes: string[] = [];
  readonly index: number[] = [];
  readonly priceExp: number[] = [];
  readonly qtyExp: number[] = [];
  /** The units asked for (`KRW-BTC.5`: 5): a book of more is refused (SCAN_ERR_DEPTH). */
  readonly depth: number[] = [];
  private readonly next: number[] = [];
  private readonly head = new Map<number, number>();

  /** Adds a code (upper case, as frames spell it) asked at `depth` units; returns its entry. */
  add(code: string, index: number, priceExp: number, qtyExp: number, depth: number): number {
    const entry = this.codes.length;
    this.codes.push(code);
    this.index.push(index);
    this.priceExp.push(priceExp);
    this.qtyExp.push(qtyExp);
    this.depth.push(depth);
    const h = hashString(code);
    this.next.push(this.head.get(h) ?? -1);
    this.head.set(h, entry);
    return entry;
  }

  setExponents(entry: number, priceExp: number, qtyExp: number): void {
    this.priceExp[entry] = priceExp;
    this.qtyExp[entry] = qtyExp;
  }

  /** The entry of the code in b[s, e), or -1. */
  find(b: Uint8Array, s: number, e: number): number {
    let h = 0x811c9dc5;
    for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    let entry = this.head.get(h >>> 0) ?? -1;
    while (entry >= 0) {
      const code = this.codes[entry]!;
      if (code.length === e - s) {
        let j = 0;
        while (j < code.length && code.charCodeAt(j) === b[s + j]) j++;
        if (j === code.length) return entry;
      }
      entry = this.next[entry]!;
    }
    return -1;
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ (s.charCodeAt(i) & 0xff), 0x01000193);
  return h >>> 0;
}

export class UpbitScanner {
  /** Where the last error was found (byte offset; -1: none), for the log. */
  errorPos = -1;
  /** What is wrong when no key at errorPos says it (a field missing); "" otherwise. For the log. */
  errorWhat = "";
  /** The code's entry once read (-1 before), so an error can be attributed to its book. */
  entry = -1;
  /** The last book's timestamp was a µs value (setTimestamp): the adapter compares it exactly within its ms. */
  tsUs = false;
  private b: Uint8Array = new Uint8Array(0);
  private end = 0;
  private p = 0;
  private strStart = 0;
  private strEnd = 0;

  /** The level subscribed at its own decimals (`levelExp`): a book's `level` must be it (SCAN_ERR_LEVEL); -1: not checked. */
  readonly levelExp: number;
  readonly levelMantissa: number;

  constructor(
    /** Microseconds per timestamp unit: 1000 for Upbit's ms; TS_UNIT_BY_MAGNITUDE for Bithumb (ms or µs). */
    readonly tsUnitUs: number,
    /** The level subscribed (Upbit: 0 = ungrouped); -1: books' `level` not checked (Bithumb: its default is 1, the plain tick). */
    readonly level = -1,
  ) {
    let exp = 0;
    let m = -1;
    try {
      exp = level > 0 ? exponentOf(String(level)) : 0;
      m = level >= 0 ? parseJsonNumber(String(level), exp) : -1;
    } catch {
      // Past 2^53 at its decimals (the config allows 1e12 with 8 of them; Upbit's supported_levels are far below): a
      // level no frame could be compared with exactly is not checked rather than every book refused.
      m = -1;
    }
    this.levelExp = exp;
    this.levelMantissa = m;
  }

  /**
   * Reads b[0, len) into u. Returns the subscription index (≥ 0), SCAN_NOT_BOOK for any other well-formed object
   * (control frames, other types; not one naming a subscribed code with order-book units: SCAN_ERR_FIELD), or a
   * negative SCAN_* error.
   */
  scan(b: Uint8Array, len: number, table: CodeTable, u: BookUpdate): number {
    this.b = b;
    this.end = len;
    this.p = 0;
    this.entry = -1;
    this.errorPos = -1;
    this.errorWhat = "";
    u.reset();
    let isBook = false;
    let seenType = false;
    let typeAt = 0;
    let ts = -1;
    let tsAt = 0;
    let unitsAt = -1;
    let unitsDone = false;
    let levelBadAt = -1;
    this.ws();
    if (this.p >= len || b[this.p] !== LBRACE) return this.fail(SCAN_ERR_SYNTAX);
    this.p++;
    this.ws();
    if (this.p < len && b[this.p] === RBRACE) {
      this.p++;
    } else {
      for (;;) {
        const r = this.str();
        if (r !== 0) return r;
        const key = keyOf(TOP_KEYS, b, this.strStart, this.strEnd);
        this.ws();
        if (this.p >= len || b[this.p] !== COLON) return this.fail(SCAN_ERR_SYNTAX);
        this.p++;
        this.ws();
        if (key === K_TYPE) {
          if (seenType) return this.fail(SCAN_ERR_FIELD);
          seenType = true;
          typeAt = this.p;
          if (this.p < len && b[this.p] === QUOTE) {
            const r2 = this.str();
            if (r2 !== 0) return r2;
            isBook = this.strEquals(ORDERBOOK);
          } else {
            const r2 = this.skipValue(0);
            if (r2 !== 0) return r2;
          }
        } else if (key === K_CODE) {
          if (this.entry !== -1 || this.p >= len || b[this.p] !== QUOTE) return this.fail(SCAN_ERR_FIELD);
          const r2 = this.str();
          if (r2 !== 0) return r2;
          this.entry = table.find(b, this.strStart, this.strEnd);
          if (this.entry < 0) this.entry = -2; // read, but not ours
        } else if (key === K_TS) {
          if (ts !== -1) return this.fail(SCAN_ERR_FIELD);
          tsAt = this.p;
          ts = this.integer();
          if (ts < 0) return this.fail(SCAN_ERR_FIELD);
        } else if (key === K_UNITS) {
          if (unitsAt !== -1) return this.fail(SCAN_ERR_FIELD);
          unitsAt = this.p;
          if (this.entry >= 0) {
            const r2 = this.units(table, u);
            if (r2 !== 0) return r2;
            unitsDone = true;
          } else {
            const r2 = this.skipValue(0);
            if (r2 !== 0) return r2;
          }
        } else if (key === K_LEVEL) {
          const s = this.p;
          const r2 = this.skipValue(0);
          if (r2 !== 0) return r2;
          if (levelBadAt < 0 && this.levelMantissa >= 0 && !(isDigit(b[s]!) && parseJsonNumberBytes(b, s, this.p, this.levelExp) === this.levelMantissa)) levelBadAt = s;
        } else {
          const r2 = this.skipValue(0);
          if (r2 !== 0) return r2;
        }
        this.ws();
        if (this.p >= len) return this.fail(SCAN_ERR_SYNTAX);
        const c = b[this.p++];
        if (c === RBRACE) break;
        if (c !== COMMA) return this.fail(SCAN_ERR_SYNTAX);
        this.ws();
      }
    }
    this.ws();
    if (this.p !== len) return this.fail(SCAN_ERR_SYNTAX);
    if (!isBook) {
      // One of our codes with order-book units and a type not "orderbook" (missing, null, garbled) is a book frame
      // gone wrong, not another kind of frame: ignored as one, its book stayed LIVE without the update it carried.
      if (this.entry >= 0 && unitsAt >= 0) {
        this.errorPos = typeAt;
        this.errorWhat = `"type" not "orderbook"`;
        return SCAN_ERR_FIELD;
      }
      return SCAN_NOT_BOOK;
    }
    if (this.entry === -2) return SCAN_UNKNOWN_CODE;
    if (this.entry === -1 || ts < 0 || unitsAt < 0) {
      this.errorWhat = this.entry === -1 ? "no code" : ts < 0 ? "no timestamp" : "no orderbook_units";
      return this.fail(SCAN_ERR_FIELD);
    }
    if (levelBadAt >= 0) {
      this.errorPos = levelBadAt; // the log names the key and its value (adapter.ts parseErrorWhere)
      return SCAN_ERR_LEVEL;
    }
    if (!unitsDone) {
      this.p = unitsAt;
      const r2 = this.units(table, u);
      if (r2 !== 0) return r2;
    }
    u.replace = true;
    this.tsUs = setTimestamp(u, ts, this.tsUnitUs);
    if (tsOutOfRange(u)) {
      this.errorPos = tsAt;
      return SCAN_ERR_TIMESTAMP;
    }
    return table.index[this.entry]!;
  }

  private fail(code: number): number {
    this.errorPos = this.p;
    return code;
  }

  private ws(): void {
    const b = this.b;
    while (this.p < this.end) {
      const c = b[this.p]!;
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return;
      this.p++;
    }
  }

  /** A string without escapes at p → [strStart, strEnd); 0 or an error. */
  private str(): number {
    const b = this.b;
    if (this.p >= this.end || b[this.p] !== QUOTE) return this.fail(SCAN_ERR_SYNTAX);
    const s = ++this.p;
    while (this.p < this.end) {
      const c = b[this.p]!;
      if (c === QUOTE) {
        this.strStart = s;
        this.strEnd = this.p++;
        return 0;
      }
      if (c === BACKSLASH) return this.fail(SCAN_FALLBACK);
      if (c < 32) return this.fail(SCAN_ERR_SYNTAX);
      this.p++;
    }
    return this.fail(SCAN_ERR_SYNTAX);
  }

  private strEquals(want: Uint8Array): boolean {
    if (this.strEnd - this.strStart !== want.length) return false;
    for (let j = 0; j < want.length; j++) if (this.b[this.strStart + j] !== want[j]) return false;
    return true;
  }

  /** An integer literal (no fraction, no exponent, no leading zero) ≤ 2^53 − 1; -1 otherwise. */
  private integer(): number {
    const b = this.b;
    const s = this.p;
    let v = 0;
    while (this.p < this.end && isDigit(b[this.p]!)) {
      v = v * 10 + (b[this.p]! - 48);
      if (v > MAX_MANTISSA) return -1;
      this.p++;
    }
    const n = this.p - s;
    if (n === 0 || (n > 1 && b[s] === 48)) return -1;
    const c = this.p < this.end ? b[this.p]! : 0;
    if (c === 46 || c === 101 || c === 69) return -1; // 1.0, 1e3: not an integer literal
    return v;
  }

  /**
   * The JSON number at p at exponent exp; p moves past it. One pass for plain decimals that fit; anything else (an
   * exponent, digits beyond exp, a long integer part) is read by parseJsonNumberBytes, exactly. -1 when it does not fit.
   */
  private num(exp: number): number {
    const b = this.b;
    const end = this.end;
    const start = this.p;
    let i = start;
    let c = b[i]!;
    let m = 0;
    let slow = false;
    if (c === 48) {
      c = ++i < end ? b[i]! : 0;
    } else {
      do {
        m = m * 10 + (c - 48);
        c = ++i < end ? b[i]! : 0;
      } while (c >= 48 && c <= 57);
      if (m > MAX_MANTISSA) slow = true;
    }
    let frac = 0;
    if (c === 46) {
      c = ++i < end ? b[i]! : 0;
      while (c >= 48 && c <= 57) {
        if (frac < exp) {
          m = m * 10 + (c - 48);
          frac++;
        } else if (c !== 48) slow = true;
        c = ++i < end ? b[i]! : 0;
      }
    }
    if (slow || c === 101 || c === 69 || c === 43 || c === 45 || c === 46 || (c >= 48 && c <= 57)) {
      this.p = start;
      const e = this.numberEnd();
      this.p = e;
      return parseJsonNumberBytes(b, start, e, exp);
    }
    if (b[i - 1] === 46) return -1; // "1."
    this.p = i;
    if (frac < exp) m *= POW10[exp - frac]!;
    return m > MAX_MANTISSA ? -1 : m;
  }

  /** End of the number token at p (its validity is parseJsonNumberBytes's or skipNumber's business). */
  private numberEnd(): number {
    const b = this.b;
    let i = this.p;
    while (i < this.end) {
      const c = b[i]!;
      if (isDigit(c) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45) i++;
      else break;
    }
    return i;
  }

  private units(table: CodeTable, u: BookUpdate): number {
    const b = this.b;
    const pe = table.priceExp[this.entry]!;
    const qe = table.qtyExp[this.entry]!;
    const depth = table.depth[this.entry]!;
    if (this.p >= this.end || b[this.p] !== LBRACKET) return this.fail(SCAN_ERR_FIELD);
    this.p++;
    this.ws();
    if (this.p < this.end && b[this.p] === RBRACKET) {
      this.p++;
      return 0;
    }
    // Units counted as sent (placeholders too): the venue's answer to `CODE.depth`, whatever it holds.
    for (let n = 0; ; n++) {
      if (n === depth) {
        this.errorWhat = `a unit beyond the ${depth} asked`;
        return this.fail(SCAN_ERR_DEPTH);
      }
      if (this.p >= this.end || b[this.p] !== LBRACE) return this.fail(SCAN_ERR_FIELD);
      this.p++;
      this.ws();
      let ap = -1;
      let bp = -1;
      let as = -1;
      let bs = -1;
      if (this.p < this.end && b[this.p] === RBRACE) return this.fail(SCAN_ERR_FIELD);
      for (;;) {
        const r = this.str();
        if (r !== 0) return r;
        const key = unitKeyOf(b, this.strStart, this.strEnd);
        this.ws();
        if (this.p >= this.end || b[this.p] !== COLON) return this.fail(SCAN_ERR_SYNTAX);
        this.p++;
        this.ws();
        if (key === K_OTHER) {
          const r2 = this.skipValue(0);
          if (r2 !== 0) return r2;
        } else {
          if (this.p >= this.end || !isDigit(b[this.p]!)) return this.fail(SCAN_ERR_FIELD);
          const isPrice = key === K_AP || key === K_BP;
          const m = this.num(isPrice ? pe : qe);
          if (m < 0) return this.fail(isPrice ? SCAN_ERR_PRICE : SCAN_ERR_QTY);
          if (key === K_AP) { if (ap >= 0) return this.fail(SCAN_ERR_FIELD); ap = m; }
          else if (key === K_BP) { if (bp >= 0) return this.fail(SCAN_ERR_FIELD); bp = m; }
          else if (key === K_AS) { if (as >= 0) return this.fail(SCAN_ERR_FIELD); as = m; }
          else { if (bs >= 0) return this.fail(SCAN_ERR_FIELD); bs = m; }
        }
        this.ws();
        if (this.p >= this.end) return this.fail(SCAN_ERR_SYNTAX);
        const c = b[this.p++];
        if (c === RBRACE) break;
        if (c !== COMMA) return this.fail(SCAN_ERR_SYNTAX);
        this.ws();
      }
      if (ap < 0 || bp < 0 || as < 0 || bs < 0) {
        this.errorWhat = "a unit without its ask_price, bid_price, ask_size or bid_size";
        return this.fail(SCAN_ERR_FIELD);
      }
      if (ap > 0 && as > 0) u.pushAsk(ap, as);
      if (bp > 0 && bs > 0) u.pushBid(bp, bs);
      this.ws();
      if (this.p >= this.end) return this.fail(SCAN_ERR_SYNTAX);
      const c = b[this.p++];
      if (c === RBRACKET) return 0;
      if (c !== COMMA) return this.fail(SCAN_ERR_SYNTAX);
      this.ws();
    }
  }

  /** Skips one JSON value at p, validating it (strings may hold escapes here). */
  private skipValue(depth: number): number {
    const b = this.b;
    if (this.p >= this.end || depth > 32) return this.fail(SCAN_ERR_SYNTAX);
    const c = b[this.p]!;
    if (c === QUOTE) {
      this.p++;
      while (this.p < this.end) {
        const d = b[this.p]!;
        if (d === QUOTE) {
          this.p++;
          return 0;
        }
        if (d < 32) return this.fail(SCAN_ERR_SYNTAX);
        if (d === BACKSLASH) return this.fail(SCAN_FALLBACK);
        this.p++;
      }
      return this.fail(SCAN_ERR_SYNTAX);
    }
    if (c === LBRACE || c === LBRACKET) {
      const close = c === LBRACE ? RBRACE : RBRACKET;
      this.p++;
      this.ws();
      if (this.p < this.end && b[this.p] === close) {
        this.p++;
        return 0;
      }
      for (;;) {
        if (c === LBRACE) {
          const r = this.str();
          if (r !== 0) return r;
          this.ws();
          if (this.p >= this.end || b[this.p] !== COLON) return this.fail(SCAN_ERR_SYNTAX);
          this.p++;
          this.ws();
        }
        const r = this.skipValue(depth + 1);
        if (r !== 0) return r;
        this.ws();
        if (this.p >= this.end) return this.fail(SCAN_ERR_SYNTAX);
        const d = b[this.p++];
        if (d === close) return 0;
        if (d !== COMMA) return this.fail(SCAN_ERR_SYNTAX);
        this.ws();
      }
    }
    if (c === 116) return this.literal(TRUE);
    if (c === 102) return this.literal(FALSE);
    if (c === 110) return this.literal(NULL);
    // A number, negative ones included (validated by its shape; its value is not needed).
    const s = c === 45 ? this.p + 1 : this.p;
    const e = this.numberEnd();
    if (e <= s || parseJsonNumberShape(b, s, e) < 0) return this.fail(SCAN_ERR_SYNTAX);
    this.p = e;
    return 0;
  }

  private literal(want: Uint8Array): number {
    if (this.end - this.p < want.length) return this.fail(SCAN_ERR_SYNTAX);
    for (let j = 0; j < want.length; j++) if (this.b[this.p + j] !== want[j]) return this.fail(SCAN_ERR_SYNTAX);
    this.p += want.length;
    return 0;
  }
}

const TRUE = ascii("true");
const FALSE = ascii("false");
const NULL = ascii("null");

/** 0 when b[s, e) is a JSON number without its sign (any magnitude), -1 otherwise. */
function parseJsonNumberShape(b: Uint8Array, s: number, e: number): number {
  let i = s;
  if (i >= e || !isDigit(b[i]!)) return -1;
  if (b[i] === 48 && i + 1 < e && isDigit(b[i + 1]!)) return -1;
  while (i < e && isDigit(b[i]!)) i++;
  if (i < e && b[i] === 46) {
    const f = ++i;
    while (i < e && isDigit(b[i]!)) i++;
    if (i === f) return -1;
  }
  if (i < e && (b[i] === 101 || b[i] === 69)) {
    i++;
    if (i < e && (b[i] === 43 || b[i] === 45)) i++;
    const f = i;
    while (i < e && isDigit(b[i]!)) i++;
    if (i === f) return -1;
  }
  return i === e ? 0 : -1;
}
