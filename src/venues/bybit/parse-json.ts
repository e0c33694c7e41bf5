/**
 * The full JSON path for order-book frames: JSON.parse output → BookUpdate, with the same validation and the same
 * result codes as the scanner. Used for frames the scanner hands over (SCAN_NOT_BOOK, SCAN_FALLBACK) and to
 * confirm scanner rejections. Cold: allocation is fine here.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { parseFixedCodes } from "../../core/fixed.ts";
import { isDecimalText } from "../common/decimal-text.ts";
import {
  SCAN_ERR_DEPTH,
  SCAN_ERR_LEVEL,
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_PRICE,
  SCAN_ERR_QTY,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_TYPE,
  SCAN_NOT_BOOK,
  SCAN_UNKNOWN_TOPIC,
  type TopicTable,
} from "./scanner.ts";

const TWO_53 = 9007199254740992;

/** True for a parsed frame that claims to be an order-book push (`topic` starts with `orderbook.`). */
export function isBookObject(msg: unknown): msg is Record<string, unknown> {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return false;
  const topic = (msg as Record<string, unknown>).topic;
  return typeof topic === "string" && topic.startsWith("orderbook.");
}

const INTEGER_LITERAL = /^-?\d+$/;

/**
 * JSON.parse that also reports whether one of the frame's integer fields (its own `ts` and `cts`, its data's `u` and
 * `seq`: the sequence numbers and ms times parseBookObject reads) was written as something else than an integer
 * literal: `"u":100.99999999999999999` or `"u":1.01e2` parse to the integer 101, but a sequence number spelt so is a
 * malformed frame, not u = 101. Reads each number's source text (JSON.parse source access). The same keys anywhere
 * else (an unknown nested object, a top-level `u`) are nothing the frame is read by, as the scanner skips them: before
 * 2026-12-06 they failed the frame too. Cold.
 */
export function parseFrameJson(text: string): { msg: unknown; inexactInteger: boolean } {
  // Holders and keys of numbers not spelt as integers, only when the key is one of the four (rare: allocated then).
  let inexact: unknown[] | null = null;
  const msg: unknown = JSON.parse(text, function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === "number" && (key === "u" || key === "seq" || key === "ts" || key === "cts") && context?.source !== undefined && !INTEGER_LITERAL.test(context.source)) {
      (inexact ??= []).push(this, key);
    }
    return value;
  } as (key: string, value: unknown) => unknown);
  return { msg, inexactInteger: inexact !== null && frameFieldIn(msg, inexact) };
}

/** Whether a (holder, key) pair of `pairs` is the frame's own ts / cts or its data's u / seq. */
function frameFieldIn(msg: unknown, pairs: readonly unknown[]): boolean {
  if (typeof msg !== "object" || msg === null) return false;
  const data = (msg as Record<string, unknown>).data;
  for (let i = 0; i < pairs.length; i += 2) {
    const holder = pairs[i];
    const key = pairs[i + 1];
    if (holder === msg && (key === "ts" || key === "cts")) return true;
    if (holder === data && (key === "u" || key === "seq")) return true;
  }
  return false;
}

/**
 * Fills `out` from a parsed frame. Returns the subscription index (≥ 0) or a SCAN_* code; `entry` (if given)
 * receives the table entry of the topic, or -1. `inexactInteger` (from parseFrameJson) rejects the frame as
 * SCAN_ERR_NUMBER.
 */
export function parseBookObject(msg: unknown, table: TopicTable, out: BookUpdate, entryOut?: { entry: number }, inexactInteger = false): number {
  out.reset();
  if (entryOut) entryOut.entry = -1;
  if (!isBookObject(msg)) return SCAN_NOT_BOOK;
  const topic = msg.topic as string;
  const entry = table.entryOf(topic);
  if (entry < 0) return SCAN_UNKNOWN_TOPIC;
  if (entryOut) entryOut.entry = entry;
  if (inexactInteger) return SCAN_ERR_NUMBER;
  const type = msg.type;
  const data = msg.data;
  if (type === undefined || data === undefined) return SCAN_ERR_MISSING;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return SCAN_ERR_MISSING;
  const d = data as Record<string, unknown>;
  const priceExp = table.priceExp[entry]!;
  const qtyExp = table.qtyExp[entry]!;
  // Same order of checks as the scanner is not required: both reject, only the code may differ.
  if (type !== "snapshot" && type !== "delta") return SCAN_ERR_TYPE;
  const tsMs = optionalUint(msg.ts);
  const ctsMs = optionalUint(msg.cts);
  if (tsMs < 0 || ctsMs < 0 || tsMs * 1000 >= TWO_53 || ctsMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
  if (d.s !== undefined && d.s !== topic.slice(table.symbolStart[entry])) return SCAN_ERR_SYMBOL;
  if (d.seq !== undefined && optionalUint(d.seq) < 0) return SCAN_ERR_NUMBER;
  if (d.u === undefined || !Array.isArray(d.b) || !Array.isArray(d.a)) return SCAN_ERR_MISSING;
  const u = optionalUint(d.u);
  // Bybit's u starts at 1; 0 (and -0) is the adapter's "no sequence" (TopicState.lastSeq), as in the scanner.
  if (u <= 0) return SCAN_ERR_NUMBER;
  for (const level of d.b as unknown[]) {
    const r = level2(level, priceExp, qtyExp);
    if (r !== 0) return r;
    out.pushBid(lastPx, lastQty);
  }
  for (const level of d.a as unknown[]) {
    const r = level2(level, priceExp, qtyExp);
    if (r !== 0) return r;
    out.pushAsk(lastPx, lastQty);
  }
  // A snapshot deeper than its topic, as in the scanner (the sides stay in `out` for the adapter's log).
  const depth = table.depth[entry]!;
  if (type === "snapshot" && (out.bidCount > depth || out.askCount > depth)) return SCAN_ERR_DEPTH;
  out.isSnapshot = type === "snapshot";
  out.venueSeq = u;
  out.tsExchangeUs = tsMs * 1000;
  out.tsEventUs = ctsMs * 1000;
  return table.indexes[entry]!;
}

let lastPx = 0;
let lastQty = 0;

/**
 * One level → lastPx / lastQty: 0, SCAN_ERR_PRICE / SCAN_ERR_QTY for a decimal that does not fit the exponent (finer
 * than the tick or lot, or past 2^53 at it: the adapter re-checks the instrument), SCAN_ERR_LEVEL for any other shape,
 * a price or quantity that is no decimal string among them ("abc", "-1", "1e3", "": says nothing of the listing;
 * until 2026-12-07 it was bad_price / bad_qty and reloaded the market's instruments for every such frame).
 */
function level2(level: unknown, priceExp: number, qtyExp: number): number {
  if (!Array.isArray(level) || level.length !== 2) return SCAN_ERR_LEVEL;
  const [p, q] = level as unknown[];
  if (typeof p !== "string" || typeof q !== "string") return SCAN_ERR_LEVEL;
  lastPx = parseFixedCodes(p, 0, p.length, priceExp);
  if (lastPx < 0) return isDecimalText(p) ? SCAN_ERR_PRICE : SCAN_ERR_LEVEL;
  lastQty = parseFixedCodes(q, 0, q.length, qtyExp);
  if (lastQty < 0) return isDecimalText(q) ? SCAN_ERR_QTY : SCAN_ERR_LEVEL;
  return 0;
}

/** 0 when absent; the value when a safe non-negative integer; -1 otherwise. */
function optionalUint(v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return -1;
  return v;
}
