/**
 * What lets a subscriber recover without asking: heartbeats on idle channels (so a silent channel is told from a
 * lost one, and its next sequence number is known) and the periodic refresh (definition + snapshot of every book,
 * each book once per snapshot_interval_ms, spread evenly: refresh-schedule.ts) for late joiners and subscribers
 * that lost datagrams. Apart from feed-publisher.ts because it runs from timers, not from the live path; it only
 * appends to the channels' packers and asks the publisher to flush.
 * @module
 */
import { errorText } from "../core/error-text.ts";
import { monoMs } from "../core/clock.ts";
import type { BookView } from "../core/book-view.ts";
import { RateLimitedLog, type Logger } from "../core/log.ts";
import type { PublishConfig } from "../config/types.ts";
import { packBookSnapshot, packInstrumentDefinition, type EncodedDefinition } from "../wire/encoder.ts";
import type { PublishChannel } from "./publish-channel.ts";
import { RefreshSchedule } from "./refresh-schedule.ts";

/**
 * The refresh is spread over its interval in ticks of at most this length, so a large universe does not send
 * all its snapshots in one burst (which would delay live deltas behind thousands of datagrams).
 */
export const REFRESH_TICK_MS = 50;
/** Heartbeat check runs this many times per heartbeat interval, so an idle channel beats within 1.25 intervals. */
const HEARTBEAT_TICKS_PER_INTERVAL = 4;

/** The publisher's registered books by handle: view, destinations and definition (FeedPublisher.register). */
export interface PublishedBooks {
  readonly views: BookView[];
  readonly channels: PublishChannel[][];
  readonly defs: EncodedDefinition[];
}

export class PublisherRecovery {
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private refreshSchedule: RefreshSchedule | undefined;
  private readonly refreshBound = (h: number) => this.refreshBook(h);
  private readonly refreshTickBound = () => this.refreshTick();
  private readonly heartbeatBound = () => this.heartbeatTick();

  constructor(
    private readonly publish: PublishConfig,
    private readonly channels: readonly PublishChannel[],
    private readonly books: PublishedBooks,
    /** The publisher's message count (each definition and snapshot message counts). */
    private readonly counters: { messages: number },
    private readonly flush: () => void,
    log: Logger,
    /** A book's refresh threw (FeedPublisherOptions.onRefreshFailed); undefined: only logged. */
    private readonly onRefreshFailed?: (view: BookView, error: unknown) => void,
  ) {
    this.refreshFailedLog = new RateLimitedLog(log, "error", "book refresh failed (its definition or snapshot could not be encoded); not sent, the other books' go on");
    this.timerFailedLog = new RateLimitedLog(log, "error", "publisher timer failed; the next tick tries again");
  }

  /** Books whose refresh threw (without onRefreshFailed, which logs), and the timers' own exceptions: at most a line per 5 s each. */
  private readonly refreshFailedLog: RateLimitedLog;
  private readonly timerFailedLog: RateLimitedLog;

  /** Refreshes that threw (a book's definition or snapshot could not be encoded), for tests and diagnostics. */
  refreshFailures = 0;

  /** Starts the heartbeat and refresh timers (the intervals from publish; 0 = off). */
  start(): void {
    const hbMs = this.publish.heartbeatIntervalMs;
    if (hbMs > 0) {
      // Nothing may throw out of a timer: under Bun an uncaught exception there ends the process.
      this.heartbeatTimer = setInterval(() => this.guarded(this.heartbeatBound), Math.max(1, Math.floor(hbMs / HEARTBEAT_TICKS_PER_INTERVAL)));
      this.heartbeatTimer.unref?.();
    }
    if (this.publish.snapshotIntervalMs > 0) {
      this.refreshSchedule = new RefreshSchedule(this.publish.snapshotIntervalMs);
      this.refreshTimer = setInterval(() => this.guarded(this.refreshTickBound), Math.min(REFRESH_TICK_MS, this.publish.snapshotIntervalMs));
      this.refreshTimer.unref?.();
    }
  }

  stop(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.heartbeatTimer = undefined;
    this.refreshTimer = undefined;
  }

  /** Definitions and refresh snapshots of every registered book now, flushed (tests, operator request). */
  refreshAll(): void {
    for (let h = 0; h < this.books.views.length; h++) this.refreshBook(h);
    this.flush();
  }

  /** One refresh tick: the books that came due (each book once per interval, spread evenly: RefreshSchedule). */
  private refreshTick(): void {
    if (this.refreshSchedule === undefined) return;
    // Monotonic, as the heartbeats: on Date.now a wall clock stepped back an hour stopped every refresh for the hour
    // (a subscriber that lost a datagram, or joined late, got no usable book back).
    if (this.refreshSchedule.tick(monoMs(), this.books.views.length, this.refreshBound) > 0) this.flush();
  }

  /**
   * One book's definition and snapshot on each of its channels. One that throws (its view or definition cannot be
   * encoded) is this book's alone: what it packed is dropped from every channel (ChannelPacker.rewind: a half-written
   * message would go out), the failure is logged and handed to onRefreshFailed, and the tick goes on with the next
   * book. Until 2026-12-06 the exception left the timer: the books after it were skipped and the process ended.
   */
  private refreshBook(h: number): void {
    const view = this.books.views[h];
    const chans = this.books.channels[h];
    const def = this.books.defs[h];
    const depth = this.publish.snapshotDepth;
    for (let i = 0; i < chans.length; i++) chans[i].packer.mark();
    let messages = 0;
    try {
      for (let i = 0; i < chans.length; i++) {
        packInstrumentDefinition(chans[i].packer, def, true);
        messages += 1 + packBookSnapshot(chans[i].packer, view, depth, true);
      }
    } catch (err) {
      for (let i = 0; i < chans.length; i++) chans[i].packer.rewind();
      this.refreshFailed(view, err);
      return;
    }
    this.counters.messages += messages;
  }

  /** Cold: a book's refresh threw. The handler's own exception is logged too, never thrown into the tick. */
  private refreshFailed(view: BookView, err: unknown): void {
    const instrument = view.instrument;
    this.refreshFailures++;
    if (this.onRefreshFailed === undefined) {
      this.refreshFailedLog.hit(`${instrument.venue} ${instrument.market} ${instrument.symbol}: ${errorText(err)}`);
      return;
    }
    try {
      this.onRefreshFailed(view, err);
    } catch (inner) {
      this.timerFailedLog.hit(`after a failed refresh of ${instrument.symbol}: ${errorText(inner)}`);
    }
  }

  /** A timer's callback, its exception logged (rate-limited) instead of ending the process. */
  private guarded(tick: () => void): void {
    try {
      tick();
    } catch (err) {
      this.timerFailedLog.hit(errorText(err));
    }
  }

  private heartbeatTick(): void {
    const nowMs = monoMs(); // as PublishChannel.lastSendMs
    const intervalMs = this.publish.heartbeatIntervalMs;
    let any = false;
    for (const ch of this.channels) {
      if (ch.packer.count === 0 && nowMs - ch.lastSendMs >= intervalMs) {
        ch.packer.appendHeartbeat(0);
        any = true;
      }
    }
    if (any) this.flush();
  }
}
