/**
 * The JSON path beside the scanner (cold): every frame the scanner does not take in its canonical layout is parsed
 * here with JSON.parse and validated exactly as the scanner would: the same fields, the same exact conversion of
 * prices and quantities (core/fixed.ts on the strings), integer literals read from the source text. l2_data and
 * heartbeats frames fill the same EventPool / fields; anything else is a control frame for the adapter. An event of a
 * known product that cannot be read (its type, updates or a level) does not fail the frame: it is marked in the pool
 * (`bad`), so its book alone resyncs and the frame's sequence_num and other events are taken.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { parseFixedCodes } from "../../core/fixed.ts";
import { isDecimalText } from "../common/decimal-text.ts";
import { CB_HEARTBEAT, CB_L2, type EventPool, rfc3339Us, TS_PAST_RANGE } from "./scanner.ts";
import type { ProductTable } from "./product-table.ts";
import { HEARTBEATS_CHANNEL, L2_DATA_CHANNEL } from "./protocol.ts";

/** A control frame (subscriptions, error, another channel): `out.msg`, `out.seq` when it carries one (else -1), `out.tsUs`. */
export const CB_CONTROL = 3;
export const CB_ERR_SYNTAX = -1;
export const CB_ERR_SHAPE = -2;
export const CB_ERR_SEQUENCE = -3;
export const CB_ERR_UNKNOWN_PRODUCT = -4;
export const CB_ERR_SIDE = -5;
/** A price_level / new_quantity decimal that does not fit the instrument (finer than its tick or lot, or past 2^53 there). */
export const CB_ERR_PRICE = -6;
export const CB_ERR_QTY = -7;
/** A heartbeat readable down to its sequence_num, not its heartbeat_counter (adapter.ts onHeartbeat: counted, no resync). */
export const CB_ERR_HEARTBEAT = -8;
/** A subscriptions event whose product lists cannot be read (adapter.ts onSubscriptions: answers, rejects nothing). */
export const CB_ERR_SUBSCRIPTIONS = -9;
/** A price_level / new_quantity that is no decimal string (another JSON type, missing, empty, signed, exponent form). */
export const CB_ERR_PRICE_LEVEL = -10;
export const CB_ERR_NEW_QUANTITY = -11;
/** An answer (error frame, subscriptions event) whose handling threw after it was matched to its request (adapter.ts answerLost). */
export const CB_ERR_ANSWER = -12;
/** A frame of a channel the adapter does not read whose events name products of the connection (adapter.ts onOtherChannel). */
export const CB_ERR_CHANNEL = -13;
/**
 * A frame's timestamp past 2^53 µs (the year 2255), or there but not a time (malformed, before 1970): read as unknown
 * (0), the frame taken (adapter.ts onTimestampPastRange, onTimestampUnreadable).
 */
export const CB_ERR_TIMESTAMP = -14;
/** Index = -code. */
export const CB_ERROR_NAMES: readonly string[] = ["", "syntax", "shape", "sequence_num", "unknown_product", "side", "price", "qty", "heartbeat", "subscriptions", "price_level", "new_quantity", "answer", "channel", "timestamp"];

/**
 * Whether an event unreadable for `code` may mean the product's listing changed (its tick or lot: a decimal that does
 * not fit them), so its market's products are asked for again; a field of another type or no decimal says nothing
 * of the listing (adapter.ts onBadEvent).
 */
export function misfitCode(code: number): boolean {
  return code === CB_ERR_PRICE || code === CB_ERR_QTY;
}


export interface SlowFrame {
  seq: number;
  tsUs: number;
  /** Its timestamp past 2^53 µs (scanner.ts TS_PAST_RANGE): tsUs 0. */
  tsPastRange: boolean;
  /** Its timestamp there but not a time (malformed, before 1970: rfc3339Us -1): tsUs 0. A missing one is not counted. */
  tsUnreadable: boolean;
  heartbeatCounter: number;
  msg: unknown;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The integer value of `"key":<literal>` in the source text, when the key occurs exactly once and its value is an
 * unsigned integer literal (JSON.parse would round `1.00000000000000001` to 1); -1 otherwise.
 */
export function integerField(text: string, key: string): number {
  const re = new RegExp(`"${key}"\\s*:\\s*("?)([^,}\\s"]*)\\1`, "g");
  const all = [...text.matchAll(re)];
  if (all.length !== 1) return -1;
  const lit = all[0]![2]!;
  if (!/^(0|[1-9][0-9]*)$/.test(lit)) return -1;
  const n = Number(lit);
  return Number.isSafeInteger(n) ? n : -1;
}

/**
 * Replay (`replaying`) skips the event of a product this table lacks when live asked for it (a replay's config may
 * leave out products live had): when `asked` (VenueConnection.replayAsked) names it; while the connection's requests
 * are not known (`asked` null), a snapshot event (only a subscribe brings one: its product is taken as one live asked
 * for) and an update of a product whose snapshot came on this socket (`seen`: leftOut). Live, or a
 * product no known request named, or an update of one without its snapshot while the requests are not known (a
 * garbled product_id, or a left-out product whose snapshot came before the replay began), such an
 * event makes the frame unreadable (CB_ERR_UNKNOWN_PRODUCT): the connection's one sequence would not show the update
 * lost, so the book it was for would stay LIVE where live resynced it (until s-coinerr every event was skipped there,
 * as the other venues ignore such a frame: their books' own sequences catch what it lost).
 */
export function parseSlowFrame(
  text: string,
  table: ProductTable,
  pool: EventPool,
  out: SlowFrame,
  replaying = false,
  asked: ReadonlySet<string> | null = null,
  seen: ReadonlySet<string> | null = null,
  noted: string[] | null = null,
): number {
  pool.count = 0;
  pool.badEvents = 0;
  out.seq = -1;
  out.tsUs = 0;
  out.tsPastRange = false;
  out.tsUnreadable = false;
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return CB_ERR_SYNTAX;
  }
  out.msg = msg;
  if (!isObj(msg)) return CB_ERR_SHAPE;
  const channel = msg.channel;
  const ts = typeof msg.timestamp === "string" ? rfc3339Us(msg.timestamp, 0, msg.timestamp.length) : -1;
  out.tsUs = ts < 0 ? 0 : ts;
  out.tsPastRange = ts === TS_PAST_RANGE;
  out.tsUnreadable = ts === -1 && "timestamp" in msg;
  if (channel !== L2_DATA_CHANNEL && channel !== HEARTBEATS_CHANNEL) {
    if ("sequence_num" in msg) {
      out.seq = integerField(text, "sequence_num");
      if (out.seq < 0 || msg.sequence_num !== out.seq) return CB_ERR_SEQUENCE;
    }
    return CB_CONTROL;
  }
  const seq = integerField(text, "sequence_num");
  if (seq < 0 || msg.sequence_num !== seq) return CB_ERR_SEQUENCE;
  out.seq = seq;
  const events = msg.events;
  if (channel === HEARTBEATS_CHANNEL) {
    // Its sequence_num is known and it carries no book: a counter that cannot be read is -1 (unknown), not a frame
    // lost (before, every book of the connection resynced on each such heartbeat).
    const e = Array.isArray(events) && events.length === 1 ? events[0] : undefined;
    const n = isObj(e) ? integerField(text, "heartbeat_counter") : -1;
    out.heartbeatCounter = n >= 0 && (e!.heartbeat_counter === n || e!.heartbeat_counter === String(n)) ? n : -1;
    return CB_HEARTBEAT;
  }
  if (!Array.isArray(events)) return CB_ERR_SHAPE;
  let n = 0; // the events taken into the pool
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    // An event that names no product of this connection cannot be attributed: the frame is unreadable (every book of
    // the connection resyncs). One of a known product that cannot be read is that book's alone (pool.bad).
    if (!isObj(e) || typeof e.product_id !== "string") return CB_ERR_SHAPE;
    const entry = table.entryOf(e.product_id);
    if (entry < 0) {
      // Replay: a product live had (a recorded request of the connection named it, or, its requests not known, its
      // snapshot came on this socket) that this config leaves out. The frame is one of the connection's sequence; its
      // event touches no book here. Until s-rd21a the frame was unreadable, every book of the connection resynced on
      // each one; from s-unkcount to s-coinerr every such event was skipped while the requests were not known.
      if (replaying && leftOut(e, e.product_id, asked, seen, noted)) continue;
      return CB_ERR_UNKNOWN_PRODUCT;
    }
    const u = pool.take(n);
    pool.entries[n] = entry;
    pool.count = n + 1;
    u.isSnapshot = e.type === "snapshot";
    u.venueSeq = seq;
    u.tsExchangeUs = out.tsUs;
    const bad = readEvent(e, u, table.priceExp[entry]!, table.qtyExp[entry]!, pool, n);
    pool.bad[n] = bad;
    if (bad !== 0) pool.badEvents++;
    n++;
  }
  return CB_L2;
}

/**
 * Replay: whether an event of `product`, not on the connection, is of a product live asked for (left out by this
 * config). With the connection's requests known (`asked`), when one named it; not known, a snapshot event (only a
 * subscribe brings one) and an update of a product whose snapshot came on this socket (`seen`, kept across a capture
 * gap: the socket's subscribes still hold; or earlier in this frame: `noted`). A left-out product's snapshot is noted in
 * `noted` either way, which the connection adds to `seen` once the frame is handled (a frame numbered 0 again begins
 * the next socket, emptying `seen`: the snapshot is that socket's; until s-rd26a it was added at once, so forgotten
 * with the old socket's, its updates then taken for a garbled product's, every book of the connection resynced). A garbled
 * product_id in a snapshot event while the requests are not known is taken for a left-out product's too: the book it
 * was for awaits its snapshot still, unless the venue sent it unasked to a LIVE book (not documented for level2 [F5]),
 * which then stays LIVE where live resynced. Cold.
 */
function leftOut(e: Obj, product: string, asked: ReadonlySet<string> | null, seen: ReadonlySet<string> | null, noted: string[] | null): boolean {
  const snapshot = e.type === "snapshot";
  const left = asked !== null ? asked.has(product) : snapshot ? seen !== null : seen !== null && (seen.has(product) || noted?.includes(product) === true);
  if (left && snapshot) noted?.push(product);
  return left;
}

/** One event's type and levels into u: 0, or the CB_ERR_* code of what cannot be read (its text in pool.badText[i]). */
function readEvent(e: Obj, u: BookUpdate, pe: number, qe: number, pool: EventPool, i: number): number {
  const fail = (code: number, what: unknown, why = ""): number => {
    pool.badText[i] = (why + (JSON.stringify(what) ?? String(what))).slice(0, 160);
    return code;
  };
  // A price or size that cannot be read, named by its field: a decimal that does not fit, or no decimal string at all.
  const bad = (l: Obj, key: "price_level" | "new_quantity", exp: number): number => {
    const v = l[key];
    if (typeof v === "string" && isDecimalText(v)) return fail(key === "price_level" ? CB_ERR_PRICE : CB_ERR_QTY, l, `${key} ${v} does not fit exponent ${exp} (its tick or lot): `);
    const type = v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`;
    const kind = v === undefined ? "missing" : typeof v === "string" ? `${JSON.stringify(v.slice(0, 24))}, not a decimal` : `${type}, not a string`;
    return fail(key === "price_level" ? CB_ERR_PRICE_LEVEL : CB_ERR_NEW_QUANTITY, l, `${key} is ${kind}: `);
  };
  if (e.type !== "snapshot" && e.type !== "update") return fail(CB_ERR_SHAPE, { type: e.type });
  if (!Array.isArray(e.updates)) return fail(CB_ERR_SHAPE, { updates: e.updates });
  for (const l of e.updates as unknown[]) {
    if (!isObj(l)) return fail(CB_ERR_SHAPE, l);
    if (l.side !== "bid" && l.side !== "offer") return fail(CB_ERR_SIDE, l);
    const px = typeof l.price_level === "string" ? parseFixedCodes(l.price_level, 0, l.price_level.length, pe) : -1;
    if (px < 0) return bad(l, "price_level", pe);
    const qty = typeof l.new_quantity === "string" ? parseFixedCodes(l.new_quantity, 0, l.new_quantity.length, qe) : -1;
    if (qty < 0) return bad(l, "new_quantity", qe);
    if (l.side === "bid") u.pushBid(px, qty);
    else u.pushAsk(px, qty);
  }
  return 0;
}
