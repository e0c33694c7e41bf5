/**
 * A topic's book leaving LIVE and getting a fresh start, for every venue (cold): invalidate (tell the sink once
 * per state change) and resync with a per-topic backoff. The first resync goes out at once; while the topic keeps
 * failing (not live for resetMs in between) each further one waits min(max, base · 2^(n-1)) with equal jitter, so
 * a broken symbol cannot flood the venue with requests. How the fresh start is had is the venue's ResyncKind: the
 * `restart` callback (resubscribe: subscription-control.ts restartTopic) or nothing for `next_full_book`.
 * @module
 */
import { errorText } from "../../core/error-text.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason } from "../../core/types.ts";
import type { BookSink } from "../venue.ts";
import { equalJitterMs } from "./backoff.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState } from "./connection.ts";

export const RESYNC_BACKOFF_BASE_MS = 250;
export const RESYNC_BACKOFF_MAX_MS = 30_000;
export const RESYNC_BACKOFF_RESET_MS = 10_000;

export interface TopicResyncOptions {
  venue: string;
  log: Logger;
  now: () => number;
  random: () => number;
  baseMs?: number;
  maxMs?: number;
  resetMs?: number;
  /** Gets the topic a fresh start (after the backoff when t.resyncDelayed). */
  restart: (t: TopicState) => void;
}

/**
 * A book a lost message of its connection may have cost: subscribed, not halted, not one replay holds as live's
 * unsubscribing one (TopicState.replayUnsubscribing), not one refused for now (TopicState.refusedUntilAck: its frames
 * feed no book). One waiting out its backoff is one too (not resynced again: Binance drops its buffer, which may hold
 * the hole, binance/adapter.ts lost).
 */
export function lossMayCost(t: TopicState): boolean {
  return (t.sub === SUB_ACTIVE || t.sub === SUB_PENDING) && t.book !== BookState.HALTED && !t.replayUnsubscribing && !t.refusedUntilAck;
}

/**
 * A book a lost message of its connection may have cost (lossMayCost), which resyncs (TopicResync.resyncAll; the
 * lifecycle's frameLost default): one not already waiting for its resync.
 */
export function resyncsOnLoss(t: TopicState): boolean {
  return !t.resyncDelayed && lossMayCost(t);
}

export class TopicResync {
  sink: BookSink | null = null;
  /** Replay asks no server: a resync just waits for the capture's next snapshot, so there is nothing to back off. */
  replaying = false;
  readonly baseMs: number;
  private readonly maxMs: number;
  /** A book LIVE this long before it fails starts its backoff over (its next resync goes at once). */
  readonly resetMs: number;
  private readonly delayLog: RateLimitedLog;
  private readonly sinkFailedLog: RateLimitedLog;
  // Counters (cold reads).
  resyncs = 0;
  resyncsDelayed = 0;

  constructor(private readonly o: TopicResyncOptions) {
    this.baseMs = o.baseMs ?? RESYNC_BACKOFF_BASE_MS;
    this.maxMs = o.maxMs ?? RESYNC_BACKOFF_MAX_MS;
    this.resetMs = o.resetMs ?? RESYNC_BACKOFF_RESET_MS;
    this.delayLog = new RateLimitedLog(o.log, "warn", `${o.venue}: topic keeps failing; its resync waits (backoff)`);
    this.sinkFailedLog = new RateLimitedLog(o.log, "error", `${o.venue}: exception while a book was marked invalid; its resync goes on`);
  }

  /**
   * Marks the book untrusted: the sink hears of it once per state change (a never-live book's disconnect is no news),
   * and of a halted book halted for another reason (refused, then closed by its listing): what comes of it differs.
   */
  invalidate(t: TopicState, state: BookState, reason: StatusReason): void {
    // Until s-seqnone OKX's seqId 0 (a maintenance reset's) was "none" here: the seqId kept from an older
    // invalidation stayed, and a STALE book resumed at an update chaining on it (replay: LIVE without the updates between).
    if (t.lastSeq > 0 || t.hasSeq) t.seqBeforeInvalid = t.lastSeq;
    t.lastSeq = 0;
    t.hasSeq = false;
    t.liveSinceMs = -1;
    if (t.book === state && (state !== BookState.HALTED || t.haltedFor === reason)) return;
    if (state === BookState.HALTED) t.haltedFor = reason;
    // Replay: a STALE book leaving it without a message (a recorded close, a capture gap, a refused book) counts its
    // silence from here, as live's did from its last round's re-verdict; not from replay's last re-verdict, which the
    // bounded rounds (ConnectionLifecycle.replayUntil) skip where nothing else changes.
    if (this.replaying && t.book === BookState.STALE) t.lastMsgMs = this.o.now();
    const wasNeverLive = t.book === BookState.AWAITING_SNAPSHOT && state !== BookState.HALTED;
    t.book = state;
    if (wasNeverLive && reason === StatusReason.DISCONNECTED) return;
    this.o.log.debug(`${this.o.venue}: book invalid`, { market: t.market, topic: t.topic, state: BOOK_STATE_NAMES[state], reason: STATUS_REASON_NAMES[reason] });
    // The sink's exception (a bug) must not stop the resync below: the topic would stay marked and never be
    // subscribed again; from housekeeping's timer it would skip the other topics and end the process.
    try {
      this.sink?.onBookInvalid(t.index, state, reason);
    } catch (err) {
      this.sinkFailedLog.hit(`${t.market} ${t.topic}: ${errorText(err)}`);
    }
  }

  /** Invalidates and asks for a fresh start, after the topic's backoff when it keeps failing. */
  resync(t: TopicState, state: BookState, reason: StatusReason): void {
    if (this.counted(t, state, reason)) this.o.restart(t);
  }

  /**
   * resync for several topics, each left in its own state: the fresh starts due go to `restartMany` together, so their
   * requests can go batched (OKX: two requests for a connection's books, not two a book; SubscriptionControl
   * unmatchedRefusal). Cold.
   */
  resyncMany(ts: readonly TopicState[], reason: StatusReason, restartMany: (ts: readonly TopicState[]) => void): void {
    const due: TopicState[] = [];
    for (const t of ts) if (this.counted(t, t.book, reason)) due.push(t);
    if (due.length > 0) restartMany(due);
  }

  /** resync's invalidation and backoff; true when a fresh start is to be asked for now (after the backoff's wait when delayed). */
  private counted(t: TopicState, state: BookState, reason: StatusReason): boolean {
    const now = this.o.now();
    const liveForMs = t.liveSinceMs >= 0 && t.book === BookState.LIVE ? now - t.liveSinceMs : -1;
    this.invalidate(t, state, reason);
    if (t.resyncDelayed) return false; // one resync is already waiting: the book stays invalid until it is done
    this.resyncs++;
    t.resyncs++;
    if (liveForMs >= this.resetMs) t.resyncAttempt = 0;
    const attempt = t.resyncAttempt++;
    if (attempt > 0 && !this.replaying) {
      const delay = equalJitterMs(attempt - 1, this.baseMs, this.maxMs, this.o.random);
      t.resyncDelayed = true;
      t.resyncDueMs = now + delay;
      t.resyncWaitMs = delay;
      this.resyncsDelayed++;
      this.delayLog.hit(`${t.market} ${t.topic}: ${STATUS_REASON_NAMES[reason]}, resync ${attempt + 1} in a row, next subscribe in ${Math.round(delay)} ms`);
    }
    return true;
  }

  /** A frame unreadable down to its topic: the lost message may be any book's of that connection (resyncsOnLoss). */
  resyncAll(topics: readonly TopicState[], reason: StatusReason): void {
    for (const t of topics) if (resyncsOnLoss(t)) this.resync(t, BookState.RESYNCING, reason);
  }

  /**
   * The books a frame lost may have cost (Bybit, Deribit): `t`, the one it names, or, none named (unreadable down to
   * its topic), every subscribed book of its connection, `topics` (resyncAll). One rule for a frame refused and one
   * whose handling threw (the lifecycle's frameLost hook): until s-faulthook2 a thrown frame naming a book replay holds
   * (TopicState.replayUnsubscribing) resynced it. A named one given up, being unsubscribed, idle, waiting out its
   * resync's backoff or held by replay's unsubscribe loses nothing new (its frames are in flight from before a resync
   * already under way). `recheck`, given for a misfit (a price or size its exponents cannot hold: the tick or lot may
   * have changed), re-checks its instrument first. The other venues keep their own rule, as they have more to it: OKX
   * (okx/parse-errors.ts) also spares books waiting for the hourly request budget, refused for now or held for it;
   * Binance restarts a book waiting out its backoff (its buffered diffs hold the hole) and spares one refused for now;
   * Upbit, when the frame names no book, resyncs only the connection's LIVE ones (each of its frames is a whole book;
   * the one a frame names resyncs unless given up or idle); Coinbase, when it names no single product, resyncs the
   * connection (one sequence for all its books). Cold.
   */
  lost<T extends TopicState>(topics: readonly T[], t: T | undefined, recheck?: (t: T) => void): void {
    if (!t) {
      // The lost message may have been an update of any book on the connection, or the snapshot a subscribed one
      // waits for (just subscribed, or mid-resync), after which only deltas would come.
      this.resyncAll(topics, StatusReason.PARSE_ERROR);
      return;
    }
    if (t.sub === SUB_REJECTED || t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.resyncDelayed || t.replayUnsubscribing) return;
    recheck?.(t);
    this.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /** A snapshot made the book LIVE: the backoff ends (a waiting resync would otherwise resubscribe a live book). */
  onLive(t: TopicState, now: number): void {
    if (t.book !== BookState.LIVE) t.liveSinceMs = now;
    t.book = BookState.LIVE;
    t.resyncDelayed = false;
    t.resyncDueMs = 0;
  }
}
