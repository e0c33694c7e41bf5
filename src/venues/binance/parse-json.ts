/**
 * The JSON path for Binance frames the scanner hands over (SCAN_NOT_BOOK, SCAN_FALLBACK, and every rejection, which
 * it confirms): JSON.parse output → BookUpdate with the same validation and result codes, and REST depth snapshots
 * (`{"lastUpdateId":…,"bids":[…],"asks":[…]}`) → BookUpdate. Cold: allocation is fine here.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { parseFixedCodes } from "../../core/fixed.ts";
import { isDecimalText } from "../common/decimal-text.ts";
import {
  SCAN_ERR_LEVEL,
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_PRICE,
  SCAN_ERR_QTY,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_TYPE,
  SCAN_NOT_BOOK,
  SCAN_UNKNOWN_TOPIC,
} from "./scanner.ts";
import { diffFirstAfterLast, SCAN_ERR_FIRST_AFTER_LAST } from "./scan-codes.ts";
import type { StreamTable } from "./topic-table.ts";
import { boundedText } from "../../core/terminal-text.ts";

const TWO_53 = 9007199254740992;
/** Keys that may be one of the integer fields read (ids and ms times): a number under one is looked at after the parse. */
const INTEGER_KEYS = new Set(["E", "T", "U", "u", "pu", "lastUpdateId"]);
/** A diff frame's integer fields, in its `data`. */
const DIFF_INTEGER_KEYS = new Set(["E", "T", "U", "u", "pu"]);
/** A REST depth snapshot's integer fields, at its top level. */
const SNAPSHOT_INTEGER_KEYS = new Set(["lastUpdateId", "E", "T"]);
const INTEGER_LITERAL = /^-?\d+$/;

/**
 * JSON.parse that also reports where a number under one of INTEGER_KEYS was written as something else than an
 * integer literal (`"u":100.99999999999999999` parses to 101; a sequence id spelt so is malformed), or as an integer
 * literal past 2^53 (its value is not what was written: kept for the error's text only): its holder, key and source
 * text, in threes (null when none; allocated only then). Reads each number's source text. Cold.
 */
function parseNoting(text: string): { msg: unknown; inexact: unknown[] | null } {
  let inexact: unknown[] | null = null;
  const msg: unknown = JSON.parse(text, function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === "number" && INTEGER_KEYS.has(key) && context?.source !== undefined && (!Number.isSafeInteger(value) || !INTEGER_LITERAL.test(context.source))) {
      (inexact ??= []).push(this, key, context.source);
    }
    return value;
  } as (key: string, value: unknown) => unknown);
  return { msg, inexact };
}

/**
 * The first noted (holder, key, source) whose holder is `holder`, key one of `keys` and source no integer literal
 * (`anySource`: or any, an unsafe integer's too): "key source", or "" if none.
 */
function inexactField(inexact: unknown[] | null, holder: unknown, keys: ReadonlySet<string>, anySource = false): string {
  if (inexact === null || typeof holder !== "object" || holder === null) return "";
  for (let i = 0; i < inexact.length; i += 3) {
    if (inexact[i] !== holder || !keys.has(inexact[i + 1] as string)) continue;
    if (anySource || !INTEGER_LITERAL.test(inexact[i + 2] as string)) return `${inexact[i + 1] as string} ${inexact[i + 2] as string}`;
  }
  return "";
}

/**
 * `holder[key]` for an error, bounded: its source text when noted (`5.0`, not the 5 it parses to; `9007199254740993`,
 * not …992), else its JSON (a string quoted, an object as written, not "[object Object]"), or "undefined" when
 * absent. Cold.
 */
function writtenAs(inexact: unknown[] | null, holder: Record<string, unknown>, key: string): string {
  const noted = inexactField(inexact, holder, new Set([key]), true);
  const v = holder[key];
  // -0 as written (JSON.stringify prints 0, which the operator would not find in the body).
  return boundedText(noted !== "" ? noted.slice(key.length + 1) : Object.is(v, -0) ? "-0" : (JSON.stringify(v) ?? "undefined"));
}

/**
 * JSON.parse that also reports whether one of the diff frame's integer fields (its data's E, T, U, u, pu: the ids and
 * ms times parseDiffObject reads) was written as something else than an integer literal. The same keys anywhere else
 * (an unknown nested object, the top level) are nothing the frame is read by, as the scanner skips them: before
 * 2026-12-06 they failed the frame too (bad_number), so a frame the JSON path read reached no book.
 */
export function parseFrameJson(text: string): { msg: unknown; inexactInteger: boolean } {
  const { msg, inexact } = parseNoting(text);
  const data = inexact !== null && typeof msg === "object" && msg !== null ? (msg as Record<string, unknown>).data : undefined;
  return { msg, inexactInteger: inexactField(inexact, data, DIFF_INTEGER_KEYS) !== "" };
}

/** A combined-stream frame whose stream is a depth stream (`…@depth…`). */
export function isDiffObject(msg: unknown): msg is { stream: string; data: unknown } {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return false;
  const stream = (msg as Record<string, unknown>).stream;
  return typeof stream === "string" && stream.includes("@depth");
}

/**
 * A depth update (`e` "depthUpdate", in `data` or unwrapped) in a frame isDiffObject refused: a diff whose stream is
 * garbled past a depth name, not a string or absent. It is lost, not a control frame: the stream it names as a string
 * (`"stream"`), else null.
 */
export function strayDiffStream(msg: unknown): { stream: string | null } | null {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return null;
  const m = msg as Record<string, unknown>;
  const data = typeof m.data === "object" && m.data !== null ? (m.data as Record<string, unknown>) : m;
  if (data.e !== "depthUpdate") return null;
  return { stream: typeof m.stream === "string" ? m.stream : null };
}

export interface DiffIds {
  first: number;
  /** -1 when absent. */
  prev: number;
  entry: number;
  /** Whether the diff had a `pu` (USD-M's chain id; -1 included); set by parseDiffObject. */
  puGiven?: boolean;
}

/** Fills `out` from a parsed diff frame: the subscription index (≥ 0) or a SCAN_* code; ids into `ids`. */
export function parseDiffObject(msg: unknown, table: StreamTable, out: BookUpdate, ids: DiffIds, inexactInteger = false): number {
  out.reset();
  ids.entry = -1;
  ids.prev = -1;
  ids.puGiven = false;
  if (!isDiffObject(msg)) return SCAN_NOT_BOOK;
  const entry = table.entryOf(msg.stream);
  if (entry < 0) return SCAN_UNKNOWN_TOPIC;
  ids.entry = entry;
  if (inexactInteger) return SCAN_ERR_NUMBER;
  const data = msg.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return SCAN_ERR_MISSING;
  const d = data as Record<string, unknown>;
  if (d.e === undefined || d.U === undefined || d.u === undefined || d.b === undefined || d.a === undefined) return SCAN_ERR_MISSING;
  if (d.e !== "depthUpdate") return SCAN_ERR_TYPE;
  if (d.s !== undefined && d.s !== table.symbols[entry]) return SCAN_ERR_SYMBOL;
  const eMs = optionalUint(d.E);
  const tMs = optionalUint(d.T);
  const first = optionalUint(d.U);
  const last = optionalUint(d.u);
  // u ≤ 0 (0 and -0): no id Binance sends, and TopicState.lastSeq's "none" (as in the scanner).
  if (eMs < 0 || tMs < 0 || first < 0 || last <= 0 || eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
  let prev = -1;
  ids.puGiven = d.pu !== undefined;
  if (d.pu !== undefined) {
    // -1 is what a stream's first event may carry; anything else must be an id.
    if (d.pu !== -1) {
      prev = optionalUint(d.pu);
      if (prev < 0) return SCAN_ERR_NUMBER;
    }
  }
  if (!Array.isArray(d.b) || !Array.isArray(d.a)) return SCAN_ERR_MISSING;
  const r = readSides(d.b, d.a, table.priceExp[entry]!, table.qtyExp[entry]!, out);
  if (r < 0) return r;
  out.isSnapshot = false;
  out.venueSeq = last;
  out.tsExchangeUs = eMs * 1000;
  out.tsEventUs = tMs * 1000;
  ids.first = first;
  ids.prev = prev;
  // After every other check, as the scanner: U and u (in ids.first, out.venueSeq) let the caller name them.
  if (diffFirstAfterLast(first, last)) return SCAN_ERR_FIRST_AFTER_LAST;
  return table.indexes[entry]!;
}

/**
 * A REST depth snapshot → `out` (isSnapshot, venueSeq = lastUpdateId, E/T when USD-M sends them). Returns
 * lastUpdateId, or throws naming what was wrong (the caller fails the bridging attempt).
 */
export function parseDepthSnapshot(body: string, priceExp: number, qtyExp: number, out: BookUpdate): number {
  const { msg, inexact } = parseNoting(body);
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) throw new Error("depth snapshot is not a JSON object");
  const m = msg as Record<string, unknown>;
  // Binance's error answer ({"code":-1121,"msg":…}); the scanner hands any body with a `code` key here (snapshot-reader.ts).
  if (typeof m.code === "number") throw new Error(`depth snapshot refused: code ${m.code}${m.msg === undefined ? "" : " " + boundedText(String(m.msg))}`);
  // Its own lastUpdateId, E and T only (the same keys nested elsewhere are skipped, as the scanner skips them).
  const bad = inexactField(inexact, m, SNAPSHOT_INTEGER_KEYS);
  const id = optionalUint(m.lastUpdateId);
  if (bad.startsWith("lastUpdateId ") || m.lastUpdateId === undefined || id <= 0) throw new Error(`depth snapshot: lastUpdateId ${writtenAs(inexact, m, "lastUpdateId")} is not an id`);
  if (bad !== "") throw new Error(`depth snapshot: ${boundedText(bad)} is not an integer`);
  // E and T as a diff's (parseDiffObject): absent is unknown; anything but a ms time whose µs fit below 2^53 is refused.
  // Before, -1 or a string was taken as unknown and a far-future E kept, which the wire's ns field turned negative.
  const eMs = optionalUint(m.E);
  const tMs = optionalUint(m.T);
  if (eMs < 0 || eMs * 1000 >= TWO_53) throw new Error(`depth snapshot: E ${writtenAs(inexact, m, "E")} is not a time in ms`);
  if (tMs < 0 || tMs * 1000 >= TWO_53) throw new Error(`depth snapshot: T ${writtenAs(inexact, m, "T")} is not a time in ms`);
  if (!Array.isArray(m.bids) || !Array.isArray(m.asks)) throw new Error("depth snapshot without bids and asks arrays");
  out.reset();
  const r = readSides(m.bids, m.asks, priceExp, qtyExp, out);
  // Only a decimal that does not fit the exponents is a misfit (SnapshotMisfitError: the snapshot fetch reloads
  // exchangeInfo for it); a level of another shape, or a price or quantity that is no decimal, is named as what it is.
  if (r === SCAN_ERR_LEVEL) throw new Error(`depth snapshot: ${badLevel} ${badWhy}`);
  if (r < 0) throw new SnapshotMisfitError(`depth snapshot: ${r === SCAN_ERR_PRICE ? "a price" : "a quantity"} does not fit the instrument (tick ${priceExp} / lot ${qtyExp} decimals): ${badLevel}`);
  out.isSnapshot = true;
  out.venueSeq = id;
  out.tsExchangeUs = eMs * 1000;
  out.tsEventUs = tMs * 1000;
  return id;
}

function readSides(bids: unknown[], asks: unknown[], priceExp: number, qtyExp: number, out: BookUpdate): number {
  for (let i = 0; i < bids.length; i++) {
    const r = level2(bids[i], priceExp, qtyExp);
    if (r !== 0) return noteLevel(r, "bid", i, bids[i]);
    out.pushBid(lastPx, lastQty);
  }
  for (let i = 0; i < asks.length; i++) {
    const r = level2(asks[i], priceExp, qtyExp);
    if (r !== 0) return noteLevel(r, "ask", i, asks[i]);
    out.pushAsk(lastPx, lastQty);
  }
  return 0;
}

let lastPx = 0;
let lastQty = 0;
/** The level readSides refused last (`bid 2 ["1.00"]`, 1-based), and why when of another shape, for the error. */
let badLevel = "";
let badWhy = "";

function noteLevel(r: number, side: string, i: number, level: unknown): number {
  badLevel = `${side} ${i + 1} ${boundedText(JSON.stringify(level) ?? String(level))}`;
  return r;
}

/**
 * One level → lastPx / lastQty: 0, SCAN_ERR_PRICE / SCAN_ERR_QTY for a decimal that does not fit the exponent (finer
 * than the tick or step, or past 2^53 at it: the listing may have changed), SCAN_ERR_LEVEL for any other shape, a
 * price or quantity that is no decimal string among them (`"abc"`, `"-1"`, `"1e3"`, `""`: says nothing of the listing).
 */
function level2(level: unknown, priceExp: number, qtyExp: number): number {
  badWhy = "is not [price string, quantity string]";
  if (!Array.isArray(level) || level.length !== 2) return SCAN_ERR_LEVEL;
  const [p, q] = level as unknown[];
  if (typeof p !== "string" || typeof q !== "string") return SCAN_ERR_LEVEL;
  lastPx = parseFixedCodes(p, 0, p.length, priceExp);
  if (lastPx < 0) return notDecimal(p, "price") ? SCAN_ERR_LEVEL : SCAN_ERR_PRICE;
  lastQty = parseFixedCodes(q, 0, q.length, qtyExp);
  if (lastQty < 0) return notDecimal(q, "quantity") ? SCAN_ERR_LEVEL : SCAN_ERR_QTY;
  return 0;
}

/** Whether `v` is no decimal at all (not a misfit); if so, says so in badWhy. */
function notDecimal(v: string, what: string): boolean {
  if (isDecimalText(v)) return false;
  badWhy = `has a ${what} that is not a decimal`;
  return true;
}

/**
 * A snapshot level whose price or quantity is a decimal that does not fit the instrument's exponents: its tick or
 * step may have changed, so the snapshot fetch reloads exchangeInfo. Told by its class, never by its text (the text
 * carries the level, which may say anything).
 */
export class SnapshotMisfitError extends Error {
  override readonly name = "SnapshotMisfitError";
}

/** 0 when absent; the value when a safe non-negative integer; -1 otherwise. */
function optionalUint(v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return -1;
  return v + 0; // -0 (a sign the scanner hands here) is 0, as the scanner reads "0"; until 2026-12-07 it stayed -0
}
