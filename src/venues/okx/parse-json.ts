/**
 * The JSON path for OKX frames the scanner did not take (cold): the same validation as scanner.ts through
 * JSON.parse, and the one that reports errors by code. Integer fields (seqId, prevSeqId, checksum) must be integer
 * literals in the source text: JSON.parse turns `100.99999999999999999` into 101, so the text is checked.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { parseFixed } from "../../core/fixed.ts";
import { isDecimalText } from "../common/decimal-text.ts";
import {
  ACTION_NONE,
  ACTION_SNAPSHOT,
  ACTION_UPDATE,
  MAX_TS_US,
  type OkxScanner,
  SCAN_ERR_FIELD,
  SCAN_ERR_PRICE,
  SCAN_ERR_QTY,
  SCAN_ERR_SHAPE,
  SCAN_UNKNOWN_TOPIC,
} from "./scanner.ts";
import type { OkxTopicTable } from "./topic-table.ts";

/** A push names its channel in `arg` and carries `data`; control frames carry `event`. */
export function isBookObject(msg: unknown): msg is { arg: { channel: string; instId: string }; data: unknown } {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return false;
  const m = msg as Record<string, unknown>;
  if (!("data" in m) || "event" in m) return false;
  const arg = m.arg as Record<string, unknown> | undefined;
  return typeof arg === "object" && arg !== null && typeof arg.channel === "string" && typeof arg.instId === "string";
}

/** The integer literal of `key` in the source text, or undefined when it is not one (fraction, exponent, absent). */
export function integerLiteral(text: string, key: string, value: unknown): boolean {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) return false;
  const re = new RegExp(`"${key}"\\s*:\\s*(-?(?:0|[1-9]\\d*))\\s*[,}]`, "g");
  for (const m of text.matchAll(re)) if (Number(m[1]) === value) return true;
  return false;
}

/**
 * Fills `u` (and out's action/seqId/prevSeqId/checksum) from a parsed push; returns the subscription index or a
 * SCAN_ERR_* / SCAN_UNKNOWN_TOPIC code; `entryOut.entry` is the topic's entry once known.
 */
export function parseBookObject(
  msg: { arg: { channel: string; instId: string }; data: unknown; action?: unknown },
  text: string,
  table: OkxTopicTable,
  u: BookUpdate,
  out: OkxScanner,
): number {
  out.entry = -1;
  out.action = ACTION_NONE;
  out.hasSeqId = false;
  out.hasPrevSeqId = false;
  out.seqId = 0;
  out.prevSeqId = 0;
  out.checksum = 0;
  const entry = table.entryOf(msg.arg.channel + ":" + msg.arg.instId);
  if (entry < 0) return SCAN_UNKNOWN_TOPIC;
  out.entry = entry;
  if (msg.action !== undefined) {
    if (msg.action === "snapshot") out.action = ACTION_SNAPSHOT;
    else if (msg.action === "update") out.action = ACTION_UPDATE;
    else return SCAN_ERR_FIELD;
  }
  if (!Array.isArray(msg.data) || msg.data.length !== 1 || typeof msg.data[0] !== "object" || msg.data[0] === null) return SCAN_ERR_SHAPE;
  const d = msg.data[0] as Record<string, unknown>;
  if (!Array.isArray(d.asks) || !Array.isArray(d.bids)) return SCAN_ERR_SHAPE;
  // books5 / bbo-tbt name the instrument in data too: another one's data under this arg is refused, never applied.
  if (d.instId !== undefined && d.instId !== msg.arg.instId) return SCAN_ERR_FIELD;
  u.reset();
  u.isSnapshot = out.action === ACTION_SNAPSHOT;
  const pe = table.priceExp[entry]!;
  const qe = table.qtyExp[entry]!;
  for (const [side, bid] of [[d.bids, true], [d.asks, false]] as const) {
    for (const level of side as unknown[]) {
      if (!Array.isArray(level) || level.length < 2 || !level.every((x) => typeof x === "string")) return SCAN_ERR_SHAPE;
      let px: number;
      let qty: number;
      // Only a decimal that does not fit (finer than the tick / lot, or past 2^53) is price / qty: the listing may have
      // changed, so parse-errors.ts re-checks it. No decimal ("abc", "-1", "1e3", "") is shape: says nothing of the
      // listing (until 2026-12-07 it was price / qty and reloaded the market's instruments for every such frame).
      try {
        px = parseFixed(level[0] as string, pe);
      } catch {
        return isDecimalText(level[0] as string) ? SCAN_ERR_PRICE : SCAN_ERR_SHAPE;
      }
      try {
        qty = parseFixed(level[1] as string, qe);
      } catch {
        return isDecimalText(level[1] as string) ? SCAN_ERR_QTY : SCAN_ERR_SHAPE;
      }
      if (bid) u.pushBid(px, qty);
      else u.pushAsk(px, qty);
    }
  }
  if (d.ts !== undefined) {
    if (typeof d.ts !== "string" || !/^\d{1,15}$/.test(d.ts) || Number(d.ts) * 1000 >= MAX_TS_US) return SCAN_ERR_FIELD;
    u.tsExchangeUs = Number(d.ts) * 1000;
  }
  if (d.checksum !== undefined) {
    if (!integerLiteral(text, "checksum", d.checksum) || (d.checksum as number) < -2147483648 || (d.checksum as number) > 2147483647) return SCAN_ERR_FIELD;
    out.checksum = d.checksum as number;
  }
  if (d.prevSeqId !== undefined) {
    if (!integerLiteral(text, "prevSeqId", d.prevSeqId)) return SCAN_ERR_FIELD;
    out.prevSeqId = d.prevSeqId as number;
    out.hasPrevSeqId = true;
  }
  if (d.seqId !== undefined) {
    // The wire's venueSeq is 0 … 2^53 − 1 (integerLiteral: a safe integer); a negative one would have every
    // subscriber refuse its datagram, other books' messages included.
    if (!integerLiteral(text, "seqId", d.seqId) || (d.seqId as number) < 0) return SCAN_ERR_FIELD;
    out.seqId = d.seqId as number;
    out.hasSeqId = true;
  }
  u.venueSeq = out.hasSeqId ? out.seqId : 0;
  return table.indexes[entry]!;
}
