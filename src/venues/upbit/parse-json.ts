/**
 * The cold JSON path for frames the scanner leaves (a string with an escape, control frames): a small strict JSON
 * reader that keeps every number as its source text (RawNumber), so a book read here gets exactly the values the
 * scanner would give (core/fixed.ts parseJsonNumber), never a double's. Duplicate keys are refused, as the scanner
 * refuses them.
 * @module
 */
import { MAX_MANTISSA, parseJsonNumber } from "../../core/fixed.ts";
import type { BookUpdate } from "../../core/book-update.ts";
import type { CodeTable } from "./scanner.ts";
import { SCAN_ERR_DEPTH, SCAN_ERR_FIELD, SCAN_ERR_LEVEL, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_NOT_BOOK, SCAN_UNKNOWN_CODE, SCAN_ERR_TIMESTAMP, setTimestamp, tsOutOfRange } from "./scanner.ts";

export class RawNumber {
  constructor(readonly raw: string) {}
}

export type RawJson = null | boolean | string | RawNumber | RawJson[] | { [k: string]: RawJson };

/** `s` cut to `max` characters ("…" after), for the log: a frame's values are the venue's, any length. */
export function cut(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Parses JSON text, numbers kept as RawNumber; throws SyntaxError naming the offset (and a duplicate key, cut). */
export function parseRawJson(text: string): RawJson {
  let p = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${p}`);
  };
  const ws = () => {
    while (p < text.length && " \t\r\n".includes(text[p]!)) p++;
  };
  const value = (depth: number): RawJson => {
    if (depth > 64) fail("too deep");
    ws();
    const c = text[p];
    if (c === "{") {
      p++;
      const out: { [k: string]: RawJson } = {};
      ws();
      if (text[p] === "}") {
        p++;
        return out;
      }
      for (;;) {
        ws();
        if (text[p] !== '"') fail("expected a key");
        const k = string();
        if (Object.hasOwn(out, k)) fail(`duplicate key ${JSON.stringify(cut(k))}`);
        ws();
        if (text[p++] !== ":") fail("expected ':'");
        out[k] = value(depth + 1);
        ws();
        const d = text[p++];
        if (d === "}") return out;
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      p++;
      const out: RawJson[] = [];
      ws();
      if (text[p] === "]") {
        p++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        const d = text[p++];
        if (d === "]") return out;
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(lit, p)) {
        p += lit.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(p));
    if (!m) return fail("unexpected character");
    p += m[0].length;
    return new RawNumber(m[0]);
  };
  const string = (): string => {
    const start = p;
    p++;
    while (p < text.length && text[p] !== '"') {
      if (text.charCodeAt(p) < 32) fail("control character in a string");
      p += text[p] === "\\" ? 2 : 1;
    }
    if (p >= text.length) fail("unterminated string");
    p++;
    return JSON.parse(text.slice(start, p)) as string; // escapes decoded exactly as JSON defines them
  };
  const v = value(0);
  ws();
  if (p !== text.length) fail("trailing characters");
  return v;
}

function pick(o: { [k: string]: RawJson }, a: string, b: string): RawJson | undefined {
  if (Object.hasOwn(o, a) && Object.hasOwn(o, b)) return undefined;
  return Object.hasOwn(o, a) ? o[a] : o[b];
}

/** True when the object is an order-book message (`type`/`ty` "orderbook"). */
export function isBookObject(msg: RawJson): msg is { [k: string]: RawJson } {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg) || msg instanceof RawNumber) return false;
  return pick(msg, "type", "ty") === "orderbook";
}

/**
 * The entry of a subscribed code named by an object with order-book units that is not a book (its type missing, null
 * or garbled): a book frame gone wrong (the scanner's SCAN_ERR_FIELD), not another kind of frame; -1 otherwise. Cold.
 */
export function garbledBookEntry(msg: RawJson, table: CodeTable): number {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg) || msg instanceof RawNumber) return -1;
  if (!Object.hasOwn(msg, "orderbook_units") && !Object.hasOwn(msg, "obu")) return -1;
  const code = pick(msg, "code", "cd");
  if (typeof code !== "string") return -1;
  const bytes = new TextEncoder().encode(code);
  return table.find(bytes, 0, bytes.length);
}

/** The book message → u, by the scanner's rules; returns the subscription index or a SCAN_* code. Cold. */
/**
 * `entryOut`: the code's entry once read, (a book read) whether its timestamp was a µs value (setTimestamp), and (an
 * error) the field at fault with its value, for the log. `level`: the level subscribed, as the scanner holds it
 * (SCAN_ERR_LEVEL; levelMantissa -1 or none: not checked).
 */
export function parseBookObject(o: { [k: string]: RawJson }, table: CodeTable, u: BookUpdate, tsUnitUs: number, entryOut: { entry: number; tsUs?: boolean; field?: string }, level?: { level: number; levelExp: number; levelMantissa: number }): number {
  u.reset();
  const bad = (field: string, v: RawJson | undefined, r = SCAN_ERR_FIELD): number => {
    entryOut.field = `"${field}": ${v === undefined ? "missing (or both names)" : v instanceof RawNumber ? cut(v.raw) : cut(JSON.stringify(v) ?? "")}`;
    return r;
  };
  const code = pick(o, "code", "cd");
  if (typeof code !== "string") return bad("code", code);
  const bytes = new TextEncoder().encode(code);
  const entry = table.find(bytes, 0, bytes.length);
  if (entry < 0) return SCAN_UNKNOWN_CODE;
  entryOut.entry = entry;
  const ts = pick(o, "timestamp", "tms");
  if (!(ts instanceof RawNumber) || !/^(0|[1-9]\d*)$/.test(ts.raw) || Number(ts.raw) > MAX_MANTISSA) return bad("timestamp", ts);
  const units = pick(o, "orderbook_units", "obu");
  if (!Array.isArray(units)) return bad("orderbook_units", units);
  if (level !== undefined && level.levelMantissa >= 0) {
    for (const k of ["level", "lv"]) {
      const v = o[k];
      if (!Object.hasOwn(o, k) || (v instanceof RawNumber && !v.raw.startsWith("-") && levelOf(v.raw, level.levelExp) === level.levelMantissa)) continue;
      bad(k, v);
      entryOut.field += `, not the level subscribed (${level.level})`;
      return SCAN_ERR_LEVEL;
    }
  }
  const pe = table.priceExp[entry]!;
  const qe = table.qtyExp[entry]!;
  const names = ["ask_price", "bid_price", "ask_size", "bid_size"];
  const depth = table.depth[entry]!;
  for (let n = 0; n < units.length; n++) {
    // As the scanner: refused at the first unit beyond the depth asked, before that unit is read.
    if (n === depth) {
      entryOut.field = `"orderbook_units": ${units.length} units, ${depth} asked`;
      return SCAN_ERR_DEPTH;
    }
    const unit = units[n]!;
    if (unit === null || typeof unit !== "object" || Array.isArray(unit) || unit instanceof RawNumber) return bad("orderbook_units", unit);
    const f = [pick(unit, "ask_price", "ap"), pick(unit, "bid_price", "bp"), pick(unit, "ask_size", "as"), pick(unit, "bid_size", "bs")];
    const m: number[] = [];
    for (let i = 0; i < 4; i++) {
      const v = f[i];
      if (!(v instanceof RawNumber)) return bad(names[i]!, v);
      try {
        m.push(parseJsonNumber(v.raw, i < 2 ? pe : qe));
      } catch {
        // Only a number that does not fit (finer than the tick / lot, or past 2^53) re-checks the instrument; a negative
        // one is a field error, as the scanner says (no listing makes it fit; until 2026-12-07 price / qty here).
        return bad(names[i]!, v, v.raw.startsWith("-") ? SCAN_ERR_FIELD : i < 2 ? SCAN_ERR_PRICE : SCAN_ERR_QTY);
      }
    }
    if (m[0]! > 0 && m[2]! > 0) u.pushAsk(m[0]!, m[2]!);
    if (m[1]! > 0 && m[3]! > 0) u.pushBid(m[1]!, m[3]!);
  }
  u.replace = true;
  entryOut.tsUs = setTimestamp(u, Number(ts.raw), tsUnitUs);
  if (tsOutOfRange(u)) return bad("timestamp", ts, SCAN_ERR_TIMESTAMP);
  return table.index[entry]!;
}

/** A level's text at `exp` decimals; -1 when it does not fit (finer than the level subscribed). */
function levelOf(raw: string, exp: number): number {
  try {
    return parseJsonNumber(raw, exp);
  } catch {
    return -1;
  }
}

/**
 * Cold: the timestamp of a book of a subscribed code refused only for numbers that do not fit its exponents (SCAN_ERR_PRICE
 * / SCAN_ERR_QTY) or for more units than its depth (SCAN_ERR_DEPTH): every field present and of its type, no number
 * negative, the timestamp an integer literal. Such a book is the venue's, at that stamp, so it orders the books after
 * it (adapter.ts onMisfitStamp); -1 for any other.
 */
export function misfitTimestamp(o: { [k: string]: RawJson }, table: CodeTable, entry: number): number {
  const code = pick(o, "code", "cd");
  if (entry < 0 || typeof code !== "string" || code !== table.codes[entry]) return -1;
  const ts = pick(o, "timestamp", "tms");
  if (!(ts instanceof RawNumber) || !/^(0|[1-9]\d*)$/.test(ts.raw) || Number(ts.raw) > MAX_MANTISSA) return -1;
  const units = pick(o, "orderbook_units", "obu");
  if (!Array.isArray(units)) return -1;
  for (const unit of units) {
    if (unit === null || typeof unit !== "object" || Array.isArray(unit) || unit instanceof RawNumber) return -1;
    for (const [a, b] of [["ask_price", "ap"], ["bid_price", "bp"], ["ask_size", "as"], ["bid_size", "bs"]] as const) {
      const v = pick(unit, a, b);
      if (!(v instanceof RawNumber) || v.raw.startsWith("-")) return -1;
    }
  }
  return Number(ts.raw);
}

export { SCAN_NOT_BOOK };
