/**
 * The OKX adapter's cold per-book hooks, moved out of adapter.ts as they were: the checksum check after an applied
 * message (verify) and a REST snapshot bridged to the stream (rest-bridge.ts). They read and write the adapter's
 * per-subscription state, which its hot path (OkxAdapter.onBook) keeps.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import type { BookView } from "../../core/book-view.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import type { OkxAdapter } from "./adapter.ts";
import { bookChecksum } from "./checksum.ts";
import type { OkxTopic } from "./connection.ts";

/**
 * Integrity hook: after each applied message, the book's top 25 against the message's checksum. 0 (every
 * production message since 23 June 2026) never fails.
 */
export function verifyChecksum(a: OkxAdapter, index: number, book: BookView): boolean {
  const expected = a.checksums[index]!;
  if (expected === 0) return true;
  const inst = a.instruments![index]!;
  a.c.checksumsVerified++;
  if (bookChecksum(book, inst.priceExp, inst.qtyExp) === expected) return true;
  a.c.checksumMismatches++;
  a.checksums[index] = 0;
  // The app marks the book RESYNCING / CHECKSUM_MISMATCH and calls requestResync: no second notice from us. That
  // resync then sees a book not LIVE, so a book LIVE long enough starts its backoff over here (else every later
  // mismatch, hours apart, waited as if it followed the last one: up to 30 s not usable).
  const t = a.topics[index]!;
  if (t.book === BookState.LIVE && t.liveSinceMs >= 0 && a.now() - t.liveSinceMs >= a.books.resetMs) t.resyncAttempt = 0;
  t.book = BookState.RESYNCING;
  return false;
}

/** A REST snapshot bridged to the stream (rest-bridge.ts): the book is LIVE; the next update may straddle it. */
export function applyBridgedSnapshot(a: OkxAdapter, t: OkxTopic, u: BookUpdate): void {
  a.c.snapshots++;
  t.lastSeq = u.venueSeq;
  t.hasSeq = true;
  a.lastPrevSeq[t.index] = NaN;
  a.runStartSeq[t.index] = u.venueSeq;
  if (t.conn.retiringGeneration < 0) a.soloGen[t.index] = t.conn.generation;
  a.lag.close(t.index);
  a.sequenced[t.index] = true;
  a.bridgeOpen[t.index] = true;
  a.bridgeTsUs[t.index] = u.tsExchangeUs;
  a.bridgeSeqId[t.index] = u.venueSeq;
  a.checksums[t.index] = 0;
  const now = a.now();
  t.lastMsgMs = now;
  a.books.onLive(t, now);
  a.sink!.onBookUpdate(t.index, u);
}

/**
 * A maintenance reset chaining on a REST book bridged at its prevSeqId, nothing chained since: that REST book may be
 * from after the reset (the socket delivering the reset late, the post-reset run at the same seqId by chance), as
 * when a buffered reset's range holds the REST seqId (rest-bridge.ts onBody). Applied, it put the reset's changes on
 * the post-reset book, LIVE at levels the venue never had; the book resyncs instead.
 */
export function resetOnBridgedSnapshot(a: OkxAdapter, t: OkxTopic, prev: number, seq: number): void {
  a.c.gaps++;
  a.lag.close(t.index);
  // Rate-limited with the sequence breaks' (one line per 5 s): a venue-wide reset may hit every book bridged at once.
  a.gapLog.hit(`${t.market} ${t.topic}: a maintenance reset (prevSeqId ${prev} seqId ${seq}) right after a REST snapshot bridged at seqId ${t.lastSeq}, which may be from either side of it`);
  a.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
}

/**
 * An update a REST-bridged book would take (buffered or after the bridge) stamped before the REST book, both times
 * known: the REST book is not from before it, as the bridge assumes (e.g. from after a maintenance reset the socket
 * has not delivered, its seqId inside the pre-reset run). Applied, the book went LIVE at levels the venue never had;
 * it resyncs instead (counted in gaps and restTsContradicted; warned of with the sequence breaks, rate-limited).
 */
export function updateBeforeBridgedSnapshot(a: OkxAdapter, t: OkxTopic, restSeqId: number, restTsUs: number, seq: number, tsUs: number): void {
  a.c.gaps++;
  a.c.restTsContradicted++;
  a.lag.close(t.index);
  a.gapLog.hit(`${t.market} ${t.topic}: update seqId ${seq} stamped ${tsUs / 1000} ms, before the REST snapshot it bridges on (seqId ${restSeqId}, ts ${restTsUs / 1000} ms)`);
  a.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
}
