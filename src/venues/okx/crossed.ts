/**
 * Crossed books in a call auction (cold; docs/venues/okx.md, "Crossed books in a call auction"). OKX's own book may
 * be crossed before the open, and a fresh snapshot then is crossed too: resyncing at once would loop. The first
 * crossing resyncs at once (it may be a lost message). A crossing that continues the last one (the book was not
 * LIVE for CROSSED_RESYNC_MS since, and it came within the last wait + CROSSED_RESYNC_MS) waits before its fresh
 * snapshot: CROSSED_RESYNC_MS, doubling per continued crossing up to CROSSED_RESYNC_MAX_MS, so an hour-long auction
 * stays far within the connection's 480 requests per hour. The adapter's requestResync hands a crossed book to
 * onCrossed().
 * @module
 */
import { BookState, StatusReason } from "../../core/types.ts";
import type { TopicResync } from "../common/topic-resync.ts";
import type { OkxTopic } from "./connection.ts";
import type { OkxCounters } from "./stats.ts";

/** How long a crossed book waits before its fresh snapshot (call auctions update about once a second, and last minutes). */
export const CROSSED_RESYNC_MS = 10_000;
/**
 * Each further crossing of a book that keeps coming back crossed waits twice as long, up to this: a resubscribe is 2
 * of the connection's 480 requests per hour, and an auction may last an hour (every 5 min: 24 per hour).
 */
export const CROSSED_RESYNC_MAX_MS = 300_000;

/** What onCrossed acts through: the adapter's clock, counters, resync bookkeeping and budgeted restart. */
export interface CrossedDeps {
  now: () => number;
  c: OkxCounters;
  books: TopicResync;
  restart: (t: OkxTopic) => void;
}

export class CrossedBooks {
  /** Per subscription: when the last crossing was (0 = never). */
  private readonly lastMs: Float64Array;
  /** Per subscription: the wait before the fresh snapshot after the last crossing (0 = it resynced at once). */
  private readonly waitMs: Float64Array;

  constructor(
    n: number,
    private readonly deps: CrossedDeps,
  ) {
    this.lastMs = new Float64Array(n);
    this.waitMs = new Float64Array(n);
  }

  /** A crossed book: at once the first time, else after a growing wait, unsubscribed meanwhile. */
  onCrossed(t: OkxTopic): void {
    const { books } = this.deps;
    this.deps.c.crossedResyncs++;
    const now = this.deps.now();
    const liveForMs = t.book === BookState.LIVE && t.liveSinceMs >= 0 ? now - t.liveSinceMs : -1;
    const waitMs = this.next(t.index, now, liveForMs);
    if (waitMs === 0) {
      books.resync(t, BookState.RESYNCING, StatusReason.CROSSED_BOOK); // the first: maybe a lost message
      return;
    }
    books.invalidate(t, BookState.RESYNCING, StatusReason.CROSSED_BOOK);
    if (t.resyncDelayed || books.replaying) return;
    this.scheduled(t.index, waitMs);
    books.resyncs++;
    t.resyncs++;
    t.resyncDelayed = true;
    t.resyncDueMs = now + waitMs;
    t.resyncWaitMs = waitMs;
    this.deps.restart(t);
  }

  /** Book `i` is crossed at `nowMs`, LIVE for `liveForMs` (-1: not LIVE): 0 = resync at once, else the wait to schedule. */
  next(i: number, nowMs: number, liveForMs: number): number {
    const last = this.lastMs[i]!;
    const lastWaitMs = this.waitMs[i]!;
    this.lastMs[i] = nowMs;
    if (last === 0 || liveForMs >= CROSSED_RESYNC_MS || nowMs - last >= lastWaitMs + CROSSED_RESYNC_MS) {
      this.waitMs[i] = 0;
      return 0;
    }
    return lastWaitMs === 0 ? CROSSED_RESYNC_MS : Math.min(CROSSED_RESYNC_MAX_MS, lastWaitMs * 2);
  }

  /** The wait next() proposed for book `i` was scheduled. */
  scheduled(i: number, waitMs: number): void {
    this.waitMs[i] = waitMs;
  }
}
