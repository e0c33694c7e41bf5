// HOT PATH: no allocation
/**
 * The Coinbase Advanced Trade frame scanner: one `l2_data` frame (events[] may hold several products, each a
 * `snapshot` or an `update` with absolute `new_quantity`) → one reused BookUpdate per event in an EventPool, or a
 * `heartbeats` frame → its sequence_num and heartbeat_counter; no JSON.parse, no substring, numbers exact through
 * core/fixed.ts. It accepts only the canonical layout (docs/venues/coinbase.md, "Frames"): key order as Coinbase
 * sends it (client_id optional), strings without escapes, integer literals. Anything else returns CB_NOT_FAST and goes to parse-json.ts,
 * which validates it the same way from JSON.parse: whatever this accepts, that accepts with the same result.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { parseFixedCodes } from "../../core/fixed.ts";
import { FNV_OFFSET, fnvStep, type ProductTable } from "./product-table.ts";

/** Not the canonical shape (a control frame, another key order, an error): parse-json.ts decides. */
export const CB_NOT_FAST = 0;
/** An l2_data frame: `scanner.seq`, `pool.count` events in the pool. */
export const CB_L2 = 1;
/** A heartbeats frame: `scanner.seq`, `scanner.heartbeatCounter`. */
export const CB_HEARTBEAT = 2;

/** Per-event BookUpdates of one frame, reused; grows (cold) only when a frame has more events than ever before. */
export class EventPool {
  readonly updates: BookUpdate[] = [new BookUpdate()];
  /** The product table entry of each event. */
  readonly entries: number[] = [0];
  count = 0;
  /**
   * Events of a known product that could not be read (a level's side, price or size; the event's type or updates),
   * in a frame read otherwise: only parse-json.ts finds them (the scanner hands any such frame over). Their books
   * resync alone; `bad[i]` (read only when badEvents > 0) is 0 or the event's CB_ERR_* code, `badText[i]` what failed.
   */
  badEvents = 0;
  readonly bad: number[] = [0];
  readonly badText: string[] = [""];

  /** The update for event i, reset. */
  take(i: number): BookUpdate {
    if (i === this.updates.length) {
      this.updates.push(new BookUpdate());
      this.entries.push(0);
      this.bad.push(0);
      this.badText.push("");
    }
    const u = this.updates[i]!;
    u.reset();
    return u;
  }
}

const Q = 34; // "
const BACKSLASH = 92;
const COMMA = 44;
const RBRACKET = 93;

export class CoinbaseScanner {
  /** sequence_num of the last frame scanned. */
  seq = 0;
  /** The envelope timestamp in µs since the epoch (0 when it is not RFC 3339 UTC). */
  tsUs = 0;
  /** The last frame's timestamp was past 2^53 µs (rfc3339Us TS_PAST_RANGE): tsUs 0, the adapter told (connection.ts). */
  tsPastRange = false;
  /** The last frame's timestamp was not a time (rfc3339Us -1: malformed, before 1970): tsUs 0, the adapter told. */
  tsUnreadable = false;
  heartbeatCounter = 0;

  scan(s: string, table: ProductTable, pool: EventPool): number {
    pool.count = 0;
    pool.badEvents = 0;
    let p = lit(s, 0, '{"channel":"');
    if (p < 0) return CB_NOT_FAST;
    let heartbeat = false;
    let q = lit(s, p, 'l2_data"');
    if (q < 0) {
      q = lit(s, p, 'heartbeats"');
      if (q < 0) return CB_NOT_FAST;
      heartbeat = true;
    }
    // client_id: in the prose docs' frames, absent from the production feed's (the AsyncAPI, verified against it).
    p = lit(s, q, ',"client_id":"');
    if (p >= 0) {
      p = skipString(s, p);
      if (p < 0) return CB_NOT_FAST;
    } else p = q;
    p = lit(s, p, ',"timestamp":"');
    if (p < 0) return CB_NOT_FAST;
    const tsStart = p;
    p = skipString(s, p);
    if (p < 0) return CB_NOT_FAST;
    const tsUs = rfc3339Us(s, tsStart, p - 1);
    p = lit(s, p, ',"sequence_num":');
    if (p < 0) return CB_NOT_FAST;
    const seqStart = p;
    p = skipUint(s, p);
    if (p < 0) return CB_NOT_FAST;
    const seq = uintAt(s, seqStart, p);
    if (seq < 0) return CB_NOT_FAST;
    p = lit(s, p, ',"events":[');
    if (p < 0) return CB_NOT_FAST;
    this.seq = seq;
    this.tsUs = tsUs < 0 ? 0 : tsUs;
    this.tsPastRange = tsUs === TS_PAST_RANGE;
    this.tsUnreadable = tsUs === -1;
    return heartbeat ? this.heartbeat(s, p) : this.events(s, p, table, pool);
  }

  private heartbeat(s: string, p: number): number {
    p = lit(s, p, '{"current_time":"');
    if (p < 0) return CB_NOT_FAST;
    p = skipString(s, p);
    if (p < 0) return CB_NOT_FAST;
    p = lit(s, p, ',"heartbeat_counter":');
    if (p < 0) return CB_NOT_FAST;
    const start = p;
    p = skipUint(s, p);
    if (p < 0) return CB_NOT_FAST;
    const n = uintAt(s, start, p);
    if (n < 0) return CB_NOT_FAST;
    p = lit(s, p, "}]}");
    if (p !== s.length) return CB_NOT_FAST;
    this.heartbeatCounter = n;
    return CB_HEARTBEAT;
  }

  private events(s: string, p: number, table: ProductTable, pool: EventPool): number {
    if (s.charCodeAt(p) === RBRACKET) return lit(s, p, "]}") === s.length ? CB_L2 : CB_NOT_FAST;
    let n = 0;
    for (;;) {
      p = lit(s, p, '{"type":"');
      if (p < 0) return CB_NOT_FAST;
      let snapshot = true;
      let q = lit(s, p, 'snapshot"');
      if (q < 0) {
        q = lit(s, p, 'update"');
        if (q < 0) return CB_NOT_FAST;
        snapshot = false;
      }
      p = lit(s, q, ',"product_id":"');
      if (p < 0) return CB_NOT_FAST;
      const idStart = p;
      let h = FNV_OFFSET;
      let c = s.charCodeAt(p);
      while (c !== Q) {
        if (c !== c || c === BACKSLASH || c < 0x20) return CB_NOT_FAST; // end of text (NaN), escape, control char
        h = fnvStep(h, c);
        c = s.charCodeAt(++p);
      }
      const entry = table.find(s, idStart, p, h);
      if (entry < 0) return CB_NOT_FAST; // parse-json.ts names the unknown product
      p = lit(s, p + 1, ',"updates":[');
      if (p < 0) return CB_NOT_FAST;
      const u = pool.take(n);
      pool.entries[n] = entry;
      n++;
      pool.count = n;
      u.isSnapshot = snapshot;
      u.venueSeq = this.seq;
      u.tsExchangeUs = this.tsUs;
      const pe = table.priceExp[entry]!;
      const qe = table.qtyExp[entry]!;
      if (s.charCodeAt(p) !== RBRACKET) {
        for (;;) {
          p = lit(s, p, '{"side":"');
          if (p < 0) return CB_NOT_FAST;
          let bid = true;
          q = lit(s, p, 'bid"');
          if (q < 0) {
            q = lit(s, p, 'offer"');
            if (q < 0) return CB_NOT_FAST;
            bid = false;
          }
          p = lit(s, q, ',"event_time":"');
          if (p < 0) return CB_NOT_FAST;
          p = skipString(s, p);
          if (p < 0) return CB_NOT_FAST;
          p = lit(s, p, ',"price_level":"');
          if (p < 0) return CB_NOT_FAST;
          const pxStart = p;
          p = s.indexOf('"', p);
          if (p < 0) return CB_NOT_FAST;
          const px = parseFixedCodes(s, pxStart, p, pe);
          if (px < 0) return CB_NOT_FAST;
          p = lit(s, p + 1, ',"new_quantity":"');
          if (p < 0) return CB_NOT_FAST;
          const qtyStart = p;
          p = s.indexOf('"', p);
          if (p < 0) return CB_NOT_FAST;
          const qty = parseFixedCodes(s, qtyStart, p, qe);
          if (qty < 0) return CB_NOT_FAST;
          p = lit(s, p + 1, "}");
          if (p < 0) return CB_NOT_FAST;
          if (bid) u.pushBid(px, qty);
          else u.pushAsk(px, qty);
          c = s.charCodeAt(p);
          if (c === COMMA) p++;
          else if (c === RBRACKET) break;
          else return CB_NOT_FAST;
        }
      }
      p = lit(s, p, "]}");
      if (p < 0) return CB_NOT_FAST;
      c = s.charCodeAt(p);
      if (c === COMMA) {
        p++;
        continue;
      }
      if (c !== RBRACKET) return CB_NOT_FAST;
      return lit(s, p, "]}") === s.length ? CB_L2 : CB_NOT_FAST;
    }
  }
}

/** p after `text` when s continues with it at p, else -1. */
function lit(s: string, p: number, text: string): number {
  if (p < 0 || !s.startsWith(text, p)) return -1;
  return p + text.length;
}

/** p after the closing quote of a string whose first char is at p; -1 on an escape, a control char or the end. */
function skipString(s: string, p: number): number {
  for (let c = s.charCodeAt(p); c !== Q; c = s.charCodeAt(++p)) {
    if (c !== c || c === BACKSLASH || c < 0x20) return -1;
  }
  return p + 1;
}

/** p after an unsigned integer literal at p (no leading zero unless it is "0"), -1 when there is none. */
function skipUint(s: string, p: number): number {
  const start = p;
  let c = s.charCodeAt(p);
  while (c >= 48 && c <= 57) c = s.charCodeAt(++p);
  if (p === start || (s.charCodeAt(start) === 48 && p - start > 1)) return -1;
  // A fraction or exponent makes it no integer literal (JSON.parse would round 1.0000000000000001 to 1).
  if (c === 46 || c === 101 || c === 69) return -1;
  return p;
}

/** The integer s[start, end) (digits only); -1 above 2^53 − 1. */
export function uintAt(s: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n > Number.MAX_SAFE_INTEGER) return -1;
  }
  return n;
}

function digits(s: string, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(p + i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Days of each month (1-based; February's leap day checked apart). */
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * rfc3339Us's answer for a well-formed time at or past 2^53 µs (2255-06-05): no longer exact as µs, nor an i64 of ns
 * on the wire (the book builder refuses it: the whole book resynced). Read as unknown (0), counted and logged.
 */
export const TS_PAST_RANGE = -2;
const TS_US_LIMIT = 9007199254740992; // 2^53

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (RFC 3339 in UTC, as Coinbase prints it with up to ns) → µs since the epoch,
 * fraction truncated to µs; TS_PAST_RANGE at or past 2^53 µs; -1 for anything else (a time before 1970, a day the
 * month does not have too, and second 60: Coinbase's servers, Go by the heartbeats' current_time [F14], never print a leap second, and µs
 * since the epoch has none). No allocation.
 */
export function rfc3339Us(s: string, start: number, end: number): number {
  if (end - start < 20 || s.charCodeAt(end - 1) !== 90 /* Z */) return -1;
  const y = digits(s, start, 4);
  const mo = digits(s, start + 5, 2);
  const d = digits(s, start + 8, 2);
  const h = digits(s, start + 11, 2);
  const mi = digits(s, start + 14, 2);
  const se = digits(s, start + 17, 2);
  if (s.charCodeAt(start + 4) !== 45 || s.charCodeAt(start + 7) !== 45 || s.charCodeAt(start + 10) !== 84 || s.charCodeAt(start + 13) !== 58 || s.charCodeAt(start + 16) !== 58) return -1;
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) return -1;
  // A day the month does not have is malformed, not the next month's (2026-02-31 read as March 3).
  if (d > (mo === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : DAYS_IN_MONTH[mo]!)) return -1;
  let us = 0;
  let p = start + 19;
  if (p < end - 1) {
    if (s.charCodeAt(p) !== 46) return -1;
    p++;
    let scale = 100_000;
    if (p >= end - 1) return -1;
    for (; p < end - 1; p++) {
      const c = s.charCodeAt(p) - 48;
      if (!(c >= 0 && c <= 9)) return -1;
      us += c * scale;
      scale = (scale / 10) | 0;
    }
  }
  // Days from the civil date (H. Hinnant's algorithm).
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  const tsUs = (days * 86400 + h * 3600 + mi * 60 + se) * 1_000_000 + us;
  // Before the epoch is no time either: its negative µs would be taken for the markers (2 µs before, -2, was
  // TS_PAST_RANGE, counted as past the year 2255, until s-sr18).
  if (tsUs < 0) return -1;
  return tsUs < TS_US_LIMIT ? tsUs : TS_PAST_RANGE;
}
