/**
 * The full JSON path for Deribit frames the scanner hands over: a strict JSON reader that keeps every number as
 * its source text (RawNumber), so prices and amounts are converted exactly (parseJsonNumberCodes) and never pass
 * through a double, then the same validation and result codes as the scanner. Cold: allocation is fine here.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { parseJsonNumberCodes } from "../../core/fixed.ts";
import type { ChannelTable } from "./channel-table.ts";
import { SCAN_ERR_CHANGE_ID, SCAN_ERR_CHANGE_ID_SAME, SCAN_ERR_INSTRUMENT, SCAN_ERR_LEVEL, SCAN_ERR_MISSING, SCAN_ERR_NUMBER, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SNAPSHOT_ACTION, SCAN_ERR_TYPE, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC, TS_MS_LIMIT } from "./scanner.ts";

/** A JSON number as written. */
export class RawNumber {
  constructor(readonly text: string) {}
}
export type RawJson = null | boolean | string | RawNumber | RawJson[] | { [key: string]: RawJson };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MINUS = 45;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * End (after the closing quote) of the JSON string opening at `i`, or -1 if it is not one (a control character,
 * a bad escape, no closing quote). A loop, not a regular expression: JSC's gave up on strings of some megabytes,
 * so a valid frame with a long string was refused as a syntax error.
 */
function stringEnd(text: string, i: number): number {
  if (text.charCodeAt(i) !== 34) return -1;
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 34) return j + 1;
    if (c < 0x20) return -1;
    if (c !== 92) continue;
    const e = text[j + 1];
    if (e === "u") {
      if (!HEX4.test(text.slice(j + 2, j + 6))) return -1;
      j += 5;
    } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j++;
    else return -1;
  }
  return -1;
}
const WS = /[ \t\n\r]*/y;

/** Parses JSON text exactly as JSON.parse would accept it (same grammar), numbers kept as RawNumber. Throws SyntaxError. */
export function parseJsonRaw(text: string): RawJson {
  let i = 0;
  const ws = () => {
    WS.lastIndex = i;
    WS.exec(text);
    i = WS.lastIndex;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${i}`);
  };
  const value = (depth: number): RawJson => {
    if (depth > 64) fail("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: { [key: string]: RawJson } = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const end = stringEnd(text, i);
        if (end < 0) fail("expected a key");
        const key = JSON.parse(text.slice(i, end)) as string;
        i = end;
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        Object.defineProperty(obj, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr: RawJson[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end < 0) fail("bad string");
      const str = JSON.parse(text.slice(i, end)) as string;
      i = end;
      return str;
    }
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail("unexpected character");
    i = NUMBER.lastIndex;
    return new RawNumber(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

function isObject(v: RawJson | undefined): v is { [key: string]: RawJson } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof RawNumber);
}

/** True for a parsed frame that is a subscription notification of a `book.` channel. */
export function isBookObject(msg: RawJson): boolean {
  if (!isObject(msg) || msg.method !== "subscription" || !isObject(msg.params)) return false;
  const ch = msg.params.channel;
  return typeof ch === "string" && ch.startsWith("book.");
}

const INTEGER = /^(?:0|[1-9]\d*)$/;
const TWO_53 = 9007199254740992;

/** An integer field (ids, times): an integer literal below 2^53, else -1. */
function intOf(v: RawJson | undefined): number {
  if (!(v instanceof RawNumber) || !INTEGER.test(v.text)) return -1;
  const n = Number(v.text);
  return n < TWO_53 ? n : -1;
}

/**
 * Fills `out` from a parsed frame. Returns the subscription index (≥ 0) or a SCAN_* code; `info.entry` gets the
 * channel's table entry (-1 when unknown), `info.prev` the prev_change_id (-1 when absent) and `info.detail` what a
 * refusal names beyond its code ("" when nothing).
 */
export function parseBookObject(msg: RawJson, table: ChannelTable, out: BookUpdate, info: { entry: number; prev: number; detail: string }): number {
  out.reset();
  info.entry = -1;
  info.prev = -1;
  info.detail = "";
  if (!isBookObject(msg)) return SCAN_NOT_BOOK;
  const params = (msg as { params: { [key: string]: RawJson } }).params;
  const entry = table.entryOf(params.channel as string);
  if (entry < 0) return SCAN_UNKNOWN_TOPIC;
  info.entry = entry;
  const data = params.data;
  if (!isObject(data)) return SCAN_ERR_MISSING;
  // The channel names the book; data naming another instrument is not this book's (the scanner leaves it to us).
  if (data.instrument_name !== undefined && data.instrument_name !== table.symbols[entry]) return SCAN_ERR_INSTRUMENT;
  const grouped = table.grouped[entry]!;
  out.replace = grouped;
  if (!grouped) {
    if (data.type === undefined) return SCAN_ERR_MISSING;
    if (data.type !== "snapshot" && data.type !== "change") return SCAN_ERR_TYPE;
    out.isSnapshot = data.type === "snapshot";
  }
  if (data.change_id === undefined) return SCAN_ERR_MISSING;
  const cid = intOf(data.change_id);
  // Deribit's ids are large and never 0, which is the adapter's "no id" (TopicState.lastSeq): a book LIVE at 0 was
  // invalidated without its id kept (seqBeforeInvalid), so a later chain read against an older one.
  if (cid <= 0) return SCAN_ERR_NUMBER;
  if (!grouped && !out.isSnapshot) {
    if (data.prev_change_id === undefined) return SCAN_ERR_MISSING;
    info.prev = intOf(data.prev_change_id);
    if (info.prev < 0) return SCAN_ERR_NUMBER;
    if (cid < info.prev) return SCAN_ERR_CHANGE_ID;
  }
  if (data.timestamp !== undefined) {
    const ts = intOf(data.timestamp);
    if (ts < 0 || ts >= TS_MS_LIMIT) return SCAN_ERR_NUMBER; // µs ≥ 2^53: inexact, past the wire's ns
    out.tsExchangeUs = ts * 1000;
  }
  if (!Array.isArray(data.bids) || !Array.isArray(data.asks)) return SCAN_ERR_MISSING;
  // change_id names the book's state, and this one says it is its prev's: levels with it cannot be placed in the chain
  // (applied, before 2026-12-07). Without levels it changes nothing: the adapter takes it as a duplicate.
  if (!grouped && !out.isSnapshot && cid === info.prev && data.bids.length + data.asks.length > 0) return SCAN_ERR_CHANGE_ID_SAME;
  const pExp = table.priceExp[entry]!;
  const qExp = table.qtyExp[entry]!;
  for (const bid of [true, false]) {
    for (const level of (bid ? data.bids : data.asks) as RawJson[]) {
      if (!Array.isArray(level) || level.length !== (grouped ? 2 : 3)) return SCAN_ERR_LEVEL;
      const action = grouped ? "new" : level[0];
      if (action !== "new" && action !== "change" && action !== "delete") return SCAN_ERR_LEVEL;
      const p = level[grouped ? 0 : 1];
      const q = level[grouped ? 1 : 2];
      if (!(p instanceof RawNumber) || !(q instanceof RawNumber)) return SCAN_ERR_LEVEL;
      if (out.isSnapshot && action !== "new") {
        info.detail = `a snapshot's ${bid ? "bid" : "ask"} entry "${action}" at price ${p.text}: a snapshot lists "new" levels only`;
        return SCAN_ERR_SNAPSHOT_ACTION;
      }
      // Only a number that does not fit (finer than the tick / lot, or past 2^53) is price / qty: the adapter re-checks
      // the instrument. A negative one is a bad level: no listing makes it fit (until 2026-12-07 it re-checked too).
      const px = parseJsonNumberCodes(p.text, 0, p.text.length, pExp);
      if (px < 0) return p.text.charCodeAt(0) === MINUS ? SCAN_ERR_LEVEL : SCAN_ERR_PRICE;
      const qty = parseJsonNumberCodes(q.text, 0, q.text.length, qExp);
      if (qty < 0) return q.text.charCodeAt(0) === MINUS ? SCAN_ERR_LEVEL : SCAN_ERR_QTY;
      if (bid) out.pushBid(px, action === "delete" ? 0 : qty);
      else out.pushAsk(px, action === "delete" ? 0 : qty);
    }
  }
  out.venueSeq = cid;
  return table.indexes[entry]!;
}
