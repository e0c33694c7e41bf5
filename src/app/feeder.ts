/**
 * The wiring: venue adapters → per-symbol book builders → publisher. Only this layer knows all three.
 *
 * Each subscription owns one BookBuilder, reached by index from the venue's sink (an array lookup, no shared
 * mutable map). A builder is only ever touched from its venue's message callback, strictly in order.
 * An exception while applying one symbol's message is contained: that book is marked invalid and resynced,
 * every other book goes on.
 * @module
 */
import { SymbolsUnusableError } from "../core/errors.ts";
import { errorText } from "../core/error-text.ts";
import { restBridgeBytesPerWorker, shardOfId, workerOfId } from "../config/share.ts";
import { ApplyResult, BookBuilder } from "../book/book-builder.ts";
import type { BookUpdate } from "../core/book-update.ts";
import { ChangeSet } from "../core/change-set.ts";
import { addWallStepHook, monoStampUs, wallClockSteps } from "../core/clock.ts";
import type { LatencyHistogram } from "../core/histogram.ts";
import type { BookView } from "../core/book-view.ts";
import { instrumentIdOf } from "../core/instrument-id.ts";
import { RateLimitedLog, type Logger } from "../core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type Instrument } from "../core/types.ts";
import type { FeederConfig, VenueConfig } from "../config/types.ts";
import { FeedPublisher } from "../net/feed-publisher.ts";
import type { BudgetLedger } from "../venues/common/budget-ledger.ts";
import { venueSpec, type VenueSpec } from "../venues/registry.ts";
import { instrumentSymbolOf, SOCKET_REQUEST_URL_PREFIX, type BookSink, type Subscription, type VenueAdapter, type VenueMetric } from "../venues/venue.ts";
import { detail, levelsWithin, refusedDetail, summarize, SYMBOL_UNRESOLVED, UNKNOWN_REASON, unreadableSummary, type BookCounts, type BookDetail, type BookLevels, type BookNotServed, type BookSummary, type CopyRefused } from "./book-json.ts";
import { collectInTurns, type Turn } from "./list-stream.ts";
import { ingestRecordedRest, type RecordedStopHalt } from "./recorded-rest.ts";
import { EventLoopLagMonitor, histogramData, PipelineLatency, type BookCount, type LatencySnapshot, type MetricsSnapshot } from "./metrics.ts";
import { heapUsedBytes } from "./process-metrics.ts";
import { isChosenBook, notLiveOf, READYZ_NAMED, type NotLiveBook, type ReadinessInput, type ReadinessSummary, type StatusRows } from "./readiness.ts";
import type { VenueStart } from "./venue-start.ts";
import { redactUrl } from "../core/redact-url.ts";
import { ReplayClock } from "./replay-clock.ts";

/** The error lines of VenuePipeline.contain, by where the book's exception came from. */
const APPLY_FAILED = "exception while applying a book message; book resyncs";
const REFRESH_FAILED = "exception while encoding a book's periodic refresh (not sent); book resyncs";
const RESUME_FAILED = "exception while encoding a resumed book's snapshot (replay; not sent); book resyncs";

export interface FeederOptions {
  readonly config: FeederConfig;
  readonly log: Logger;
  /** Added to `publish.source_id` for the packet header's source id: a worker passes its number (index + 1); default 0. */
  readonly sourceOffset?: number;
  /** publish.auth_key_file's key already read (a worker: the supervisor's copy); undefined: the publisher reads the file. */
  readonly authKey?: Uint8Array;
  /** The publisher's session start (µs since the epoch): a restarted worker's, after its predecessor's; now unless given. */
  readonly sessionStartUs?: number;
  /** Test hook passed to the publisher: drop chosen datagrams on purpose. */
  readonly dropFilter?: (channelId: number, seqNum: number, bytes: Uint8Array) => boolean;
  /** Adapter knobs for tests (short ping/stale intervals); merged into every adapter's options. */
  readonly adapterOptions?: Record<string, unknown>;
  /** Only these subscriptions (after sharding); used by workers to split one config. */
  readonly subscriptionFilter?: (venue: string, sub: Subscription) => boolean;
  /** Every raw frame received, before parsing (feeder record). */
  readonly onRawFrame?: (venue: string, market: string, connection: string, frame: string, tsRecvUs: number) => void;
  /** Every REST response a book depends on (feeder record; venues that bridge diffs to a REST snapshot). */
  readonly onRawRest?: (venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number) => void;
  /** Venue specs used instead of the registry's, by venue name (tests: a scripted venue). */
  readonly venues?: Readonly<Partial<Record<string, VenueSpec>>>;
  /** Replay: no venue connections; frames come from ingest() with their recorded receive times. */
  readonly replay?: boolean;
  /**
   * Share of each venue's per-IP budgets (connects per window, outgoing messages, REST weight) this Feeder may use:
   * workers on one host pass 1 / workers, so together they stay within the venue's limits; each also keeps 1 / workers
   * of a venue's rest_bridge_buffer_bytes (config/share.ts restBridgeBytesPerWorker). Default 1.
   */
  readonly connectBudgetShare?: number;
  /** This worker's index among those sharing the IP (VenueOptions.budgetIndex); default 0. */
  readonly budgetIndex?: number;
  /** A worker: its slot's budget usage, carried over from the slot's previous worker and reported to the supervisor. */
  readonly budgetLedger?: BudgetLedger;
  /**
   * A share of a larger config (a worker): start even if none of this share's symbols resolves. The supervisor
   * checks, over every worker's venueStarts(), that no venue's symbols are all answered as not listed (a
   * configuration error). A shard (`shard = "i/n"`, n > 1) starts empty the same way, with the error logged, rather
   * than exit and be restarted in a loop.
   */
  readonly partOfLargerConfig?: boolean;
}

/** Per-venue slice of the pipeline: its adapter and, by subscription index, builders and publisher handles. */
class VenuePipeline implements BookSink {
  readonly builders: BookBuilder[] = [];
  readonly handles: number[] = [];
  /** Exceptions contained while applying a message (per venue). */
  applyErrors = 0;
  /** Subscriptions left out at start because their instrument did not resolve; one leaves when it resolves late. */
  readonly unresolved: Subscription[] = [];
  /** attach() ran: the venue's instruments were answered (before, every symbol counts as unresolved, "resolving"). */
  attached = false;
  /** The adapter was started: the venue connects (or replays) and its books are this Feeder's to halt at stop. */
  running = false;
  /**
   * Feeder.stop() has halted its books: from then on nothing of the venue's changes them (the publisher sends nothing
   * after its END either). The adapters drop what comes after their stop; this holds the books HALTED in /books and
   * /status even for a callback that comes late (until 2026-12-06, instrument-watch.ts reopened a closed symbol after
   * a stop that came during its cache write: the HALTED book replaced by a RESYNCING one).
   */
  stopped = false;
  /**
   * Replay: the adapter is handling a recorded stop's `ws:close` (ingestRecordedRest has halted every book,
   * as live's stop): the invalidations of that close are not published over the halt.
   */
  replayStopping = false;
  /** What its instrument load at start found (set once loaded): a worker reports it for the supervisor's start check. */
  started: VenueStart | undefined;
  /**
   * By subscription index (cold: bumped only when a book is invalidated): gaps reported (none for a book whose
   * definition was refused: onBookInvalid), and the times the book stopped being LIVE (/books `invalidations`):
   * counted only when it was LIVE, so a crossed or refused snapshot of a book still resyncing, or a STALE book going
   * RESYNCING, is not another one.
   */
  private readonly gaps: number[] = [];
  private readonly invalidations: number[] = [];
  /**
   * By subscription index: the receipt of the update its book last applied, on the monotonic timeline (core/clock.ts
   * monoStampUs): its age (/books recvAgeUs, the status page) is read from it, so a step of the wall clock, which
   * tsRecvUs follows, does not put a quiet book's age off by the step until its next update. One store per update.
   */
  private readonly recvMonoUs: Float64Array;
  /** Books the adapter's verify() found different from the venue's by its checksum (per venue). */
  checksumMismatches = 0;
  /**
   * The adapter has an integrity hook (verify; read once: most venues have none and pay nothing). Called as the
   * adapter's method, not a bound copy: a call through bind() measured ~10–30 ns more per Binance diff (§10).
   */
  private readonly hasVerify: boolean;
  /**
   * One change set for all of this venue's builders: they are applied one at a time on this thread and the
   * publisher encodes the changes before the next apply, so sharing saves 8 KiB per symbol.
   */
  private readonly changes = new ChangeSet();
  /** contain(): a book refused again while it resyncs for an earlier refusal (one line per 5 s, with the count). */
  private readonly refusedAgainLog: RateLimitedLog;
  /** publishStatusContained: a book's status that could not be encoded (one line per 5 s, with the count). */
  private readonly statusFailedLog: RateLimitedLog;
  /** onRefreshFailed: a book's refresh that could not be encoded (one line per 5 s, with the count). */
  private readonly refreshFailedLog: RateLimitedLog;
  /** onRefreshFailed: a halted book's refresh that could not be encoded (one line per 5 s, with the count). */
  private readonly haltedRefreshFailedLog: RateLimitedLog;
  /** summaryOf: a book whose summary could not be read (one line per 5 s, with the count). */
  private readonly summaryFailedLog: RateLimitedLog;
  /**
   * Books whose last summary threw (summaryOf; /books, /status): /readyz reads such a book's summary again and, while
   * it still throws, does not count it live (summarizeInto). Empty but for a bug.
   */
  private readonly unreadable = new Set<number>();
  /**
   * Books whose changed instrument the publisher refused to register (onInstrumentChanged): their handle still holds
   * the old definition, so the venue's updates (at the new exponents) are dropped. By index, the refusal's error: /books
   * names it in the book's `detail` (summaryOf), so a book held resyncing for it says why. Empty but for a refused definition.
   */
  private readonly unregistered = new Map<number, string>();

  constructor(
    readonly adapter: VenueAdapter,
    readonly subscriptions: readonly Subscription[],
    private readonly publisher: FeedPublisher,
    private readonly log: Logger,
    private readonly exchangeToReceipt: LatencyHistogram,
  ) {
    this.hasVerify = adapter.verify !== undefined;
    this.refusedAgainLog = new RateLimitedLog(log, "error", "book messages refused again while the book resyncs (exceptions while applying)");
    this.statusFailedLog = new RateLimitedLog(log, "error", "exception while encoding a book's status; the book is marked, a bare status sent instead (no venueSeq, no times), the others go on");
    this.refreshFailedLog = new RateLimitedLog(log, "error", REFRESH_FAILED);
    this.haltedRefreshFailedLog = new RateLimitedLog(log, "error", "exception while encoding a halted book's periodic refresh (not sent); it stays halted");
    this.summaryFailedLog = new RateLimitedLog(log, "error", "exception while reading a book's summary (/books, /status); listed as unreadable, the others as usual");
    this.recvMonoUs = new Float64Array(subscriptions.length);
  }

  /** Notes what the start's load found: the books it resolved and the symbols left out, with the adapter's why. Cold. */
  noteLoaded(instruments: readonly (Instrument | undefined)[]): void {
    const books = instruments.filter((i) => i !== undefined).length;
    const fromAdapter = this.adapter.unresolvedInstruments?.();
    const unresolved =
      fromAdapter?.map((u) => ({ market: u.market, symbol: u.symbol, kind: u.kind, detail: u.detail })) ??
      this.subscriptions.filter((_, i) => instruments[i] === undefined).map((u) => ({ market: u.market, symbol: instrumentSymbolOf(u), kind: "" as const, detail: "" }));
    this.started = { venue: this.adapter.venue, books, unresolved };
  }

  /** Builders by subscription index; an unresolved instrument leaves a hole (the adapter never subscribes it). */
  attach(instruments: readonly (Instrument | undefined)[]): void {
    this.attached = true;
    instruments.forEach((instrument, index) => {
      this.gaps[index] = 0;
      this.invalidations[index] = 0;
      if (instrument === undefined) {
        this.unresolved.push(this.subscriptions[index]!);
        return;
      }
      const builder = new BookBuilder(instrument, { changes: this.changes });
      this.builders[index] = builder;
      this.handles[index] = this.publisher.register(instrument, builder);
    });
  }

  // HOT PATH: one call per venue book message.
  onBookUpdate(index: number, update: BookUpdate): void {
    if (this.stopped) return; // a snapshot would make a HALTED book LIVE again after the stop
    if (this.unregistered.size !== 0 && this.unregistered.has(index)) return this.onUnregisteredUpdate(index); // new exponents, old definition
    const builder = this.builders[index]!;
    // A snapshot's matching-engine time is the book's last match, minutes old on a quiet book: not an event's way here.
    if (update.tsEventUs > 0 && !update.isSnapshot) {
      const latencyUs = update.tsRecvUs - update.tsEventUs;
      this.exchangeToReceipt.observe(latencyUs > 0 ? latencyUs : 0);
    }
    const wasLive = builder.state === BookState.LIVE;
    try {
      // A replace on a book that is not LIVE is applied, and published, as a snapshot.
      const whole = update.replace ? !wasLive : update.isSnapshot;
      const result = update.replace ? builder.applyReplace(update) : update.isSnapshot ? builder.applySnapshot(update) : builder.applyDelta(update);
      // Applied or crossed: the builder took update.tsRecvUs (stamped this turn, or buffered by the adapter since: then
      // a wall-clock step between its receipt and now is in this age, until the book's next update).
      if (result !== ApplyResult.IGNORED_NOT_LIVE) this.recvMonoUs[index] = monoStampUs(update.tsRecvUs);
      if (result === ApplyResult.APPLIED) {
        if (this.hasVerify) {
          const why = this.adapter.verify!(index, builder);
          if (why !== StatusReason.NONE) return this.onRefusedByVenue(index, builder, why, wasLive);
        }
        if (whole) this.publisher.publishSnapshot(this.handles[index]!, builder);
        else this.publisher.publishDelta(this.handles[index]!, builder, builder.changes);
      } else if (result === ApplyResult.CROSSED) {
        // The crossing update is in the book (the venue sent it): publish it, so every subscriber's book stays the
        // publisher's. Its block already says RESYNCING / crossed_book (MAYBE_BAD_BOOK): nobody trades on it.
        if (wasLive) this.invalidations[index]!++;
        if (whole) this.publisher.publishSnapshot(this.handles[index]!, builder);
        else this.publisher.publishDelta(this.handles[index]!, builder, builder.changes);
        this.adapter.requestResync(index, StatusReason.CROSSED_BOOK);
      }
    } catch (err) {
      this.contain(index, err, wasLive, APPLY_FAILED);
    }
  }

  /**
   * The publisher's periodic refresh of this book threw (publisher-recovery.ts; nothing of it was sent): contained
   * as an exception while applying (contain), so subscribers and /books see the book RESYNCING / parse_error and it
   * is rebuilt from the venue's next snapshot. False when the view is none of this venue's books. Cold.
   */
  onRefreshFailed(view: BookView, err: unknown): boolean {
    const index = this.builders.indexOf(view as BookBuilder);
    if (index < 0 || this.stopped) return false;
    const builder = this.builders[index]!;
    if (builder.state === BookState.HALTED) {
      // Its instrument closed or expired: no snapshot will come. contain() would make it RESYNCING (subscribers told
      // it comes back) and ask the venue to resubscribe an instrument that is gone (until 2026-12-06 it did).
      this.applyErrors++;
      this.haltedRefreshFailedLog.hit(`${builder.instrument.market} ${builder.instrument.symbol}: ${errorText(err)}`);
      return true;
    }
    this.contain(index, err, builder.state === BookState.LIVE, REFRESH_FAILED, this.refreshFailedLog);
    return true;
  }

  /**
   * verify() refused the book (a checksum mismatch, a bounded side left empty): the applied update is not published;
   * the book is RESYNCING with the adapter's reason. A snapshot that fails made the book LIVE only unpublished: it
   * stopped being live only if it was before (`wasLive`). Cold.
   */
  private onRefusedByVenue(index: number, builder: BookBuilder, why: StatusReason, wasLive: boolean): void {
    if (why === StatusReason.CHECKSUM_MISMATCH) this.checksumMismatches++;
    if (builder.markInvalid(BookState.RESYNCING, why)) {
      if (wasLive) this.invalidations[index]!++;
      this.publisher.publishStatus(this.handles[index]!, builder);
    }
    this.adapter.requestResync(index, why);
  }

  /**
   * Replay: records of the capture were lost here (a file ended early, another follows). Every book LIVE or STALE
   * leaves it (RESYNCING / sequence_gap) and resyncs from the capture's next snapshot: whatever the lost records
   * held, the next frames need not show it. Cold.
   */
  captureGap(): void {
    if (this.stopped) return;
    this.adapter.replayCaptureGap?.(); // what it matched by the capture's order (answers naming no request) starts over
    for (let index = 0; index < this.builders.length; index++) {
      const builder = this.builders[index];
      if (builder === undefined || (builder.state !== BookState.LIVE && builder.state !== BookState.STALE)) continue;
      // The adapter's resync invalidates the book through onBookInvalid (the gap counted once); marked here only if not.
      this.adapter.requestResync(index, StatusReason.SEQUENCE_GAP);
      if (builder.state === BookState.LIVE || builder.state === BookState.STALE) this.onBookInvalid(index, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    }
  }

  /**
   * Replay: a STALE book continues its sequence exactly (BookSink.onBookResumed): LIVE again, published whole. A
   * snapshot that cannot be encoded is contained as an exception while applying (RESYNCING / parse_error, resync
   * asked) and the adapter told it was not resumed: until 2026-12-07 the exception went into the adapter's replay of
   * the frame, the book left LIVE (/books, /readyz) with nothing published after its STALE status. Cold.
   */
  onBookResumed(index: number): boolean {
    const builder = this.builders[index];
    if (this.stopped || builder === undefined || this.unregistered.has(index) || !builder.resumeStale()) return false;
    try {
      this.publisher.publishSnapshot(this.handles[index]!, builder);
    } catch (err) {
      this.contain(index, err, false, RESUME_FAILED); // LIVE only unpublished: not another invalidation
      return false;
    }
    return true;
  }

  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    if (this.stopped || this.replayStopping) return;
    const builder = this.builders[index];
    if (builder === undefined) return; // unresolved instrument: no book to mark
    // A refused definition's book: its updates are dropped, so the venue's view of it is not the book's. A closure
    // (HALTED) is news: true while it lasts. Anything else goes through onUnregisteredInvalid.
    if (state !== BookState.HALTED && this.unregistered.size !== 0 && this.unregistered.has(index)) return this.onUnregisteredInvalid(index, state, reason);
    // Counted once a gap resyncs a book whose updates are applied (a refused book's gaps are in its sequence, not its
    // book: feeder_venue_sequence_gaps_total counts them, once; until 2026-12-07 /books `gaps` counted them too).
    if (reason === StatusReason.SEQUENCE_GAP) this.gaps[index]!++;
    const wasLive = builder.state === BookState.LIVE;
    if (builder.markInvalid(state, reason)) {
      if (wasLive) this.invalidations[index]!++;
      this.publishStatusContained(index, builder);
    } else if (state === BookState.HALTED && builder.restate(state, reason)) {
      // A halted book's reason is news (refused, then closed by its listing; closed, then refused): until s-rdstatus it
      // kept the first, on the wire, /books and /readyz (an expired one refused first stayed not ready).
      this.publishStatusContained(index, builder);
    }
  }

  /**
   * A venue update for a book whose changed definition was refused: dropped. One HALTED (its instrument closed since)
   * or STALE that the venue sends again was listed as trading again at the refused definition (no change to tell):
   * RESYNCING / instrument_changed, a status of its own; until 2026-12-07 it showed instrument_closed while the venue
   * traded it. Cold.
   */
  private onUnregisteredUpdate(index: number): void {
    this.markRefused(index, this.builders[index]!);
  }

  /**
   * The venue marks a refused definition's book invalid, but for a closure (onBookInvalid). STALE is shown only over
   * HALTED (the venue trades it again, and now says it is silent); over RESYNCING / instrument_changed it would be
   * better than the truth (its levels never follow the venue while the definition is refused) and name the wrong
   * cause (until 2026-12-07 a stale check replaced the reason, and a refresh failure then made it parse_error).
   * Anything else (a gap, a disconnect, a reset: the venue resubscribes it) is RESYNCING / instrument_changed: the
   * resync's snapshot will be dropped here like every update. Until 2026-12-07 a HALTED one ignored both,
   * showing instrument_closed until its first update. Cold.
   */
  private onUnregisteredInvalid(index: number, state: BookState, reason: StatusReason): void {
    const builder = this.builders[index]!;
    if (state !== BookState.STALE) return this.markRefused(index, builder);
    if (builder.state === BookState.HALTED && builder.markInvalid(BookState.STALE, reason)) this.publishStatusContained(index, builder);
  }

  /** A refused definition's book: RESYNCING / instrument_changed (a status when that changed its state or reason). Cold. */
  private markRefused(index: number, builder: BookBuilder): void {
    if (builder.markInvalid(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED) || builder.restate(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED)) {
      this.publishStatusContained(index, builder);
    }
  }

  /**
   * publishStatus for a venue's cold paths (a stale check in its housekeeping timer, a resync after a request): the
   * book is already marked (/books shows it); a status that cannot be encoded is that book's alone, logged, never
   * thrown into the venue's loop over its books (which would skip the rest, leave this one unresubscribed and, from a
   * timer, end the process). Cold.
   */
  publishStatusContained(index: number, builder: BookBuilder): void {
    try {
      this.publisher.publishStatus(this.handles[index]!, builder);
    } catch (err) {
      this.applyErrors++;
      // namesOf: the instrument itself may be what threw (until s-smallleft this line threw again, out of stop() too).
      const { market, symbol } = this.namesOf(index);
      this.statusFailedLog.hit(`${market} ${symbol}: ${errorText(err)}`);
      // A status that reads only state, reason and instrSeq: without it subscribers kept showing the book usable
      // until the venue's next snapshot (until 2026-12-06, nothing was sent).
      try {
        this.publisher.publishBareStatus(this.handles[index]!, builder.state, builder.reason, builder.instrSeq);
      } catch (inner) {
        this.statusFailedLog.hit(`${market} ${symbol}: bare status too: ${errorText(inner)}`);
      }
    }
  }

  /** A symbol left out at start resolved while running: its book is built and announced (definition, status) before the adapter subscribes it. */
  onInstrumentResolved(index: number, instrument: Instrument): void {
    if (this.stopped || this.builders[index] !== undefined) return;
    const sub = this.subscriptions[index];
    const builder = new BookBuilder(instrument, { changes: this.changes });
    // Registered before it is stored: a register that throws leaves no half-added book (the adapter retries the join).
    const handle = this.publisher.register(instrument, builder);
    this.builders[index] = builder;
    this.handles[index] = handle;
    // Out of the list before its status: a status that cannot be encoded is contained (logged, a bare one sent), the
    // book stays added. Until 2026-12-07 it threw here: the symbol stayed listed unresolved and the adapter's retry
    // found the builder stored and returned without a word.
    const at = sub === undefined ? -1 : this.unresolved.indexOf(sub);
    if (at >= 0) this.unresolved.splice(at, 1);
    this.publishStatusContained(index, builder);
    this.log.info("instrument resolved after start; book added", { symbol: instrument.symbol, market: instrument.market, instrumentId: instrument.instrumentId });
  }

  /**
   * The configured symbols still without a book, with why when the adapter says (it retries them). Cold, but read
   * whole in one turn of a /readyz, /status or /books (20,000 of them when a venue's REST is down at start): each
   * entry is made once, with its venue (before, a copy of each was copied again to add it).
   */
  unresolvedNow(limit = Infinity): { venue: string; market: string; symbol: string; reason: string; detail: string; nextAttemptMs: number }[] {
    const venue = this.adapter.venue;
    if (!this.attached) {
      const detail = `${venue}: instrument REST not answered yet (start-up); the venue connects once it is`;
      return this.subscriptions.slice(0, limit).map((u) => ({ venue, market: u.market, symbol: instrumentSymbolOf(u), reason: "resolving", detail, nextAttemptMs: 0 }));
    }
    // The first `limit` only (/readyz): the adapter lists no more (an adapter that ignores the limit is cut here).
    // A reason always: "" read as none in /books while /books/{…} said "unknown" (until s-leftops).
    const fromAdapter = this.adapter.unresolvedInstruments?.(limit);
    if (fromAdapter !== undefined) return fromAdapter.slice(0, limit).map((u) => ({ venue, market: u.market, symbol: u.symbol, reason: u.kind || UNKNOWN_REASON, detail: u.detail, nextAttemptMs: u.nextAttemptMs }));
    const detail = `${venue} left it out at start and gives no reason`;
    return this.unresolved.slice(0, limit).map((u) => ({ venue, market: u.market, symbol: instrumentSymbolOf(u), reason: UNKNOWN_REASON, detail, nextAttemptMs: 0 }));
  }

  /**
   * Adds how many unresolvedNow() lists per market to `into`, without building that list: /metrics counts them on
   * every scrape (until 2026-12-06 it built the list, 20,000 entries when a venue's REST is down at start, to count it).
   */
  countUnresolved(into: Map<string, number>): void {
    const add = (market: string) => into.set(market, (into.get(market) ?? 0) + 1);
    if (!this.attached) {
      for (const u of this.subscriptions) add(u.market);
      return;
    }
    if (this.adapter.countUnresolved !== undefined) return this.adapter.countUnresolved(into);
    const fromAdapter = this.adapter.unresolvedInstruments?.();
    for (const u of fromAdapter ?? this.unresolved) add(u.market);
  }

  /**
   * The venue changed a book's tick, lot or exponents: a new builder behind the same handle (the publisher announces
   * the new definition first), RESYNCING / instrument_changed until the next snapshot. A definition the publisher
   * refuses (register throws: a name too long for the wire) leaves the handle with the old one: the old book is
   * marked RESYNCING / instrument_changed, its status sent if that changed its state or reason, the error logged naming the symbol, and the venue's
   * updates for it dropped (`unregistered`) until a later change registers: applied, they would be published at the
   * old definition's exponents (until 2026-12-07 the new builder was stored before register and did just that). Cold.
   */
  onInstrumentChanged(index: number, instrument: Instrument): void {
    const old = this.builders[index];
    if (old === undefined || this.stopped) return;
    const wasLive = old.state === BookState.LIVE;
    const builder = new BookBuilder(instrument, { changes: this.changes });
    let handle: number;
    try {
      handle = this.publisher.register(instrument, builder);
    } catch (err) {
      const error = errorText(err);
      this.applyErrors++;
      this.unregistered.set(index, error);
      if (old.markInvalid(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED)) {
        if (wasLive) this.invalidations[index]!++;
        this.publishStatusContained(index, old);
      } else if (old.restate(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED)) {
        // Already resyncing (a gap, a crossed book): markInvalid keeps the reason, and its resync's snapshot is dropped
        // now, so /books showed the gap for good (until 2026-12-07). The reason is the refusal, a status of its own.
        this.publishStatusContained(index, old);
      }
      // Else already resyncing / instrument_changed (an earlier change refused or not yet snapshotted): nothing changed,
      // no status (until 2026-12-07 the last one was sent again at the same instrSeq).
      // What was refused (the new definition) and what to do: the venue's new definition cannot be carried on the wire,
      // so nothing here brings the book back; until s-httpops the line did not say the book is unusable nor what to do.
      this.log.error(
        "instrument changed but the publisher refused its new definition: the book stays resyncing / instrument_changed, not usable (its updates dropped) until the venue changes the instrument again; nothing to configure (to be ready without it, remove the symbol from the config)",
        { symbol: instrument.symbol, market: instrument.market, tickSize: instrument.tickSize, lotSize: instrument.lotSize, priceExp: instrument.priceExp, qtyExp: instrument.qtyExp, error },
      );
      return;
    }
    this.unregistered.delete(index);
    // Keep the per-instrument sequence going: the new exponents are announced by a fresh definition and the book
    // stays invalid until the snapshot that follows. The new book is empty and no event says so, so one instrSeq is
    // skipped for it: with unchanged exponents (a tick of 0.5 becoming 0.1) nothing else empties a subscriber's copy,
    // which stayed `valid` with the old levels (test/app/instrument-changed-valid.test.ts).
    builder.instrSeq = old.instrSeq + 1;
    builder.markInvalid(BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
    if (wasLive) this.invalidations[index]!++;
    this.builders[index] = builder;
    this.handles[index] = handle;
    this.publisher.publishStatus(handle, builder);
    this.log.warn("instrument changed; book rebuilt from the next snapshot", {
      symbol: instrument.symbol,
      market: instrument.market,
      priceExp: instrument.priceExp,
      qtyExp: instrument.qtyExp,
    });
  }

  /**
   * Adds this venue's books to /readyz's summary (Feeder.readinessSummary): one pass over the builders' states,
   * counting as readiness.ts countsAsNotLive does; only the first `named` not live get an entry. The expired closed
   * books are asked of the adapter only when a book is halted / instrument_closed; a LIVE book's summary only when
   * one of it threw before (`unreadable`): reading every LIVE book's summary here would make each poll format them all.
   * A LIVE book whose levels throw when read is found by the periodic refresh instead (onRefreshFailed: RESYNCING);
   * only a fault of the summary's own formatting waits for /books or /status. Cold.
   */
  summarizeInto(s: ReadinessSummary, named: number): void {
    const venue = this.adapter.venue;
    let expired: ReadonlyMap<number, number> | undefined;
    for (let index = 0; index < this.builders.length; index++) {
      const b = this.builders[index];
      if (b === undefined) continue; // unresolved: counted as such
      s.books++;
      if (b.state === BookState.LIVE) {
        // One found unreadable is read again: while it throws it may differ from the venue's, never counted live.
        const unreadable = this.unreadable.size > 0 && this.unreadable.has(index) ? this.summaryOf(index) : undefined;
        if (unreadable === undefined || unreadable.valid) {
          s.live++;
          continue;
        }
        if (s.notLive++ < named) s.notLiveFirst.push(notLiveOf(unreadable));
        continue;
      }
      if (b.state === BookState.HALTED && b.reason === StatusReason.INSTRUMENT_CLOSED) {
        expired ??= this.adapter.expiredInstruments?.() ?? new Map<number, number>();
        if (expired.has(index)) continue;
      }
      if (s.notLive++ < named) {
        const state = BOOK_STATE_NAMES[b.state] ?? String(b.state);
        const names = this.lookupNamesOf(index); // an instrument that throws (a bug) must not take /readyz with it
        const entry: NotLiveBook = { venue, market: names.market, symbol: names.symbol, state, reason: STATUS_REASON_NAMES[b.reason] ?? String(b.reason) };
        const refused = this.unregistered.size > 0 ? this.unregistered.get(index) : undefined;
        if (refused !== undefined) entry.refused = refused; // /readyz names why, as /books does
        s.notLiveFirst.push(entry);
      }
    }
    const missing = new Map<string, number>();
    this.countUnresolved(missing);
    for (const n of missing.values()) s.unresolved += n;
    if (s.unresolvedFirst.length < named) for (const u of this.unresolvedNow(named - s.unresolvedFirst.length)) s.unresolvedFirst.push(u);
    for (const c of this.adapter.connections()) {
      if (!c.up && s.connectionsDown++ < named) s.connectionsDownFirst.push({ ...c, venue });
    }
  }

  /**
   * Book `index`'s /books summary. One whose builder throws when read (a bug) is that book's alone: listed as
   * unreadable (its state and reason, never usable, the error in `detail`; logged at most a line per 5 s), the
   * others as usual. Until 2026-12-06 the exception left the whole list: /books, /status and a worker's start failed.
   */
  summaryOf(index: number): BookSummary {
    const b = this.builders[index]!;
    try {
      const s = summarize(b, b.state === BookState.LIVE, this.countsOf(index));
      if (this.unreadable.size > 0) this.unreadable.delete(index);
      const at = b.state === BookState.HALTED ? this.adapter.expiredInstruments?.().get(index) : undefined;
      if (at !== undefined) return { ...s, expiredAtMs: at, detail: `expired at ${new Date(at).toISOString()}: no longer traded` };
      const refused = this.unregistered.size > 0 ? this.unregistered.get(index) : undefined;
      return refused === undefined ? s : { ...s, refused, detail: refusedDetail(refused) };
    } catch (err) {
      const why = errorText(err);
      const { market, symbol, state, reason } = this.namesOf(index);
      this.summaryFailedLog.hit(`${market} ${symbol}: ${why}`);
      this.unreadable.add(index);
      return unreadableSummary({ venue: this.adapter.venue, market, symbol, state, reason, why }, this.countsOf(index));
    }
  }

  /**
   * Book `index`'s levels for /books/{…} (book-json.ts levelsOf); one whose levels throw when copied (a bug) is
   * BookNotServed `unreadable`, naming the error, its state and reason: until s-httpops the exception was HTTP's
   * 500 "internal error" (with workers: the worker's reply missing, a 503 "worker not answering"), and until 2026-12-07
   * so was a throw with no string form (String(err) threw in this catch: errorText never throws). Cold.
   */
  levelsOf(index: number, depth: number, maxBytes = Infinity): BookLevels | BookNotServed | CopyRefused {
    const b = this.builders[index]!;
    try {
      return levelsWithin(b, b.state === BookState.LIVE, depth, this.countsOf(index), maxBytes);
    } catch (err) {
      const why = errorText(err);
      const { market, symbol, state, reason } = this.namesOf(index);
      return { notServed: "unreadable", venue: this.adapter.venue, market, symbol, state, reason, error: `book ${this.adapter.venue}/${market}/${symbol} cannot be read: ${why}` };
    }
  }

  /**
   * The index of the book of `market` / `symbol`, or -1: by its instrument's names, a book whose instrument throws (a
   * bug) by its subscription's, so it is answered as unreadable and the books after it as usual (until s-frb the throw
   * failed the lookup: a 500 "internal error" for every book of the venue after it). Cold.
   */
  indexOfBook(market: string, symbol: string): number {
    for (let i = 0; i < this.builders.length; i++) {
      if (this.builders[i] === undefined) continue;
      const names = this.lookupNamesOf(i);
      if (names.market === market && names.symbol === symbol) return i;
    }
    return -1;
  }

  /** Built book `index`'s names to look it up by: its instrument's, the subscription's where that throws (a bug). Cold. */
  lookupNamesOf(index: number): { readonly market: string; readonly symbol: string } {
    try {
      return this.builders[index]!.instrument;
    } catch {
      const sub = this.subscriptions[index]!;
      return { market: sub.market, symbol: instrumentSymbolOf(sub) };
    }
  }

  /** Book `index`'s names, state and reason for a book that throws when read: the subscription's and "unknown" for what throws too. Cold. */
  private namesOf(index: number): { market: string; symbol: string; state: string; reason: string } {
    const b = this.builders[index]!;
    const sub = this.subscriptions[index]!;
    let market = sub.market;
    let symbol = instrumentSymbolOf(sub);
    let state = "unknown";
    let reason = "unknown";
    try {
      ({ market, symbol } = b.instrument);
    } catch {
      // Its instrument unreadable too: the subscription's names.
    }
    try {
      // Apart from the names: an instrument that throws no longer hides a state that reads (until s-frb "unknown").
      state = BOOK_STATE_NAMES[b.state] ?? String(b.state);
      reason = STATUS_REASON_NAMES[b.reason] ?? String(b.reason);
    } catch {
      // Those unreadable too: "unknown".
    }
    return { market, symbol, state, reason };
  }

  /**
   * The book at `index` is LIVE but its summary threw when last read (/books, /status) and still does: /books lists it
   * `valid: false` and /readyz not live, so /metrics does not count it live either (Feeder.metricsSnapshot). Read again
   * only for a book found unreadable before (`unreadable`: empty but for a bug). Cold.
   */
  unreadableLive(index: number): boolean {
    if (this.unreadable.size === 0 || !this.unreadable.has(index) || this.builders[index]?.state !== BookState.LIVE) return false;
    return !this.summaryOf(index).valid;
  }

  /**
   * Book `index`'s row in feeder_books: its state, or BOOK_STATE_NAMES.length (`unreadable`) for a LIVE book whose
   * summary throws (as /books says valid: false and /readyz not live; until s-livecount counted live) or one whose
   * state cannot be read at all (a bug: until s-httpops its exception failed the whole scrape, a 500, and a state
   * outside the names counted nowhere), so the states' counts sum to the books. Cold.
   */
  metricsStateOf(index: number): number {
    const unreadable = BOOK_STATE_NAMES.length;
    try {
      const state = this.builders[index]!.state;
      if (BOOK_STATE_NAMES[state] === undefined) return unreadable;
      return state === BookState.LIVE && this.unreadableLive(index) ? unreadable : state;
    } catch {
      return unreadable;
    }
  }

  /** How many of its books are LIVE and readable (what /readyz counts live). Cold. */
  liveBooks(): number {
    let live = 0;
    for (let i = 0; i < this.builders.length; i++) if (this.builders[i]?.state === BookState.LIVE && !this.unreadableLive(i)) live++;
    return live;
  }

  /** The adapter's counters (stats()), its `topicsLive` bounded as /metrics' topics_live (boundTopicsLive). Cold. */
  venueStats(): Record<string, number> {
    const s = this.adapter.stats();
    if (s.topicsLive !== undefined) s.topicsLive = boundTopicsLive(s.topicsLive, this.liveBooks());
    return s;
  }

  /**
   * The adapter's metrics (/metrics), its `topics_live` bounded by `booksLive` (boundTopicsLive): what liveBooks()
   * counts, given by metricsSnapshot, which counts it in the same pass as feeder_books.
   */
  venueMetrics(booksLive: number): VenueMetric[] {
    return this.adapter.metrics().map((m) => (m.name === "topics_live" ? { ...m, value: boundTopicsLive(m.value, booksLive) } : m));
  }

  countsOf(index: number): BookCounts {
    return { gaps: this.gaps[index] ?? 0, invalidations: this.invalidations[index] ?? 0, recvMonoUs: this.recvMonoUs[index] ?? 0 };
  }

  /** `wasLive`: the book was LIVE before the message (and is still, unless the message's apply already said otherwise). */
  /**
   * `limited`: the error line at most once per 5 s (a refresh: the book is LIVE again at each failure once resynced, so
   * "refused again" never holds, and a bug common to many books would write a line per book per refresh interval).
   */
  private contain(index: number, err: unknown, wasLive: boolean, what: string, limited?: RateLimitedLog): void {
    this.applyErrors++;
    const builder = this.builders[index]!;
    const error = errorText(err);
    // A book already resyncing for a refused message is refused again message after message when the venue keeps
    // sending the bad level in full books (each applied as a snapshot while not LIVE: Upbit, Deribit's grouped books,
    // OKX's books5): the first is logged in full, the rest rate-limited (the counter has them all).
    const again = builder.state === BookState.RESYNCING && builder.reason === StatusReason.PARSE_ERROR;
    if (again) this.refusedAgainLog.hit(`${builder.instrument.market} ${builder.instrument.symbol}: ${error}`);
    else if (limited !== undefined) limited.hit(`${builder.instrument.market} ${builder.instrument.symbol}: ${error}`);
    else this.log.error(what, { symbol: builder.instrument.symbol, market: builder.instrument.market, error });
    try {
      // The message may have changed the book before it threw (the price-0 check runs after the apply; a snapshot's
      // bids are loaded before its asks are refused), and no event says so. One instrSeq is skipped for it, as for an
      // update whose checksum failed, and a status follows even when the state was not LIVE: subscribers see the jump
      // and stop calling their copy the publisher's (`valid`) until the next snapshot. Before, the status came next in
      // sequence (or, already RESYNCING, nothing came) and their copy stayed `valid` without the refused update.
      // At most one status per venue message, as a LIVE book's deltas: a book that is not LIVE ignores deltas, but a
      // full book (replace) is applied to it as a snapshot, so a venue repeating a bad level in each gets one each.
      builder.instrSeq++;
      const stillLive = wasLive && builder.state === BookState.LIVE; // not when a crossed update was counted already
      if (!builder.markInvalid(BookState.RESYNCING, StatusReason.PARSE_ERROR)) builder.instrSeq++; // the status below is an event of its own
      else if (stillLive) this.invalidations[index]!++;
      // Contained on its own: a status that cannot be encoded either must not keep the resync from being asked for
      // (until 2026-12-06 it did, and the book stayed RESYNCING for good).
      this.publishStatusContained(index, builder);
      this.adapter.requestResync(index, StatusReason.PARSE_ERROR);
    } catch (inner) {
      this.log.error("could not resync after an exception", { error: errorText(inner) });
    }
  }
}

export class Feeder {
  readonly publisher: FeedPublisher;
  /**
   * feeder_datagrams_sent_total and feeder_sent_bytes_total as last shown: the publisher's counts are less the
   * datagrams (and their bytes) that came back (a unicast receiver's port closed), which can come after a scrape
   * counted them; a counter shown lower reads as a reset.
   */
  private readonly sentShown = { datagrams: 0, bytes: 0 };
  readonly latency = new PipelineLatency();
  readonly lag = new EventLoopLagMonitor();
  private readonly pipelines: VenuePipeline[] = [];
  private started = false;
  /** The start-up under way (stop() waits for it), and whether stop() was asked for (start-up goes no further). */
  private starting: Promise<void> | null = null;
  private stopRequested = false;
  /** stop() was called: the adapters and the publisher are closed for good, so start() refuses (a new Feeder starts). */
  private stopCalled = false;
  /** Ends the warning logged at each step of the host's wall clock (registered by start(), removed by stop()). */
  private unhookWallSteps: (() => void) | undefined;
  /** Replay: the adapters' clock, the capture's receive times (replayClockAt). */
  private readonly replayClock: ReplayClock | undefined;

  constructor(private readonly opts: FeederOptions) {
    this.replayClock = opts.replay === true ? new ReplayClock() : undefined;
    this.publisher = new FeedPublisher({
      publish: opts.config.publish,
      sourceId: opts.sourceOffset ?? 0,
      authKey: opts.authKey,
      sessionStartUs: opts.sessionStartUs,
      log: opts.log.child({ part: "publisher" }),
      dropFilter: opts.dropFilter,
      receiptToSend: this.latency.receiptToSend,
      onRefreshFailed: (view, err) => {
        for (const p of this.pipelines) if (p.onRefreshFailed(view, err)) return;
      },
    });
  }

  /**
   * Resolves every instrument (REST, cache, overrides) without connecting or opening sockets; undefined where a
   * symbol cannot be resolved (the adapter logs which and why), and a clear error when a venue's symbols are all
   * answered as not listed or unusable (unless partOfLargerConfig; REST unreachable is no error: they are retried).
   * Every venue together, for tools and tests (start() resolves and starts each venue on its own).
   */
  async resolveInstruments(): Promise<(Instrument | undefined)[][]> {
    this.createPipelines();
    const instrumentsPerVenue = await Promise.all(this.pipelines.map((p) => p.adapter.loadInstruments()));
    checkIdCollisions(instrumentsPerVenue.flat().filter((i): i is Instrument => i !== undefined));
    return instrumentsPerVenue;
  }

  /** One pipeline per venue with subscriptions (once); throws when two configured symbols share an instrument id. */
  private createPipelines(): void {
    const { config, log } = this.opts;
    if (this.pipelines.length === 0) {
      for (const venueConfig of config.venues) {
        const subs = this.subscriptionsOf(venueConfig);
        if (subs.length === 0) continue;
        const adapter = this.createAdapter(venueConfig, subs);
        const pipeline = new VenuePipeline(adapter, subs, this.publisher, log.child({ venue: venueConfig.venue }), this.latency.forVenue(venueConfig.venue));
        this.pipelines.push(pipeline);
      }
    }
    // Every configured symbol, resolved or not: one left out now may join while running (ids depend on names only).
    checkIdCollisions(
      this.pipelines.flatMap((p) =>
        p.subscriptions.map((sub) => {
          const symbol = instrumentSymbolOf(sub);
          return { instrumentId: instrumentIdOf(p.adapter.venue, sub.market, symbol), venue: p.adapter.venue, market: sub.market, symbol };
        }),
      ),
    );
  }

  /**
   * Resolves each venue's instruments and connects each venue as soon as its own resolved (the publisher's sockets
   * are bound before any venue is asked, its sending started once, before the first venue starts): one venue's slow instrument REST holds no other venue. A symbol that does
   * not resolve is left out and retried by its adapter while running (venues/common/late-instruments.ts): it joins
   * through onInstrumentResolved; a venue whose REST could not be answered at all (no cache) starts that way with
   * none. Resolves once every venue has started; throws, naming them, when a venue's symbols are all answered as
   * not listed or unusable (a configuration error; unless partOfLargerConfig): the venues started by then are
   * running, and the caller's stop() halts them. Replay starts every venue at once, in config order, once all
   * resolved (startInOrder).
   * Once only: a second call, or a call after stop(), throws before opening anything (stopped adapters and a stopped
   * publisher do not run again; a new Feeder does).
   */
  async start(): Promise<void> {
    if (this.stopCalled) throw new Error("feeder: start() after stop(): a stopped Feeder does not start again; create a new one");
    if (this.started || this.starting || this.pipelines.some((p) => p.running)) throw new Error("feeder: start() called twice");
    this.stopRequested = false;
    // The published timestamps jump with such a step (core/clock.ts checkWallClock): an operator sees why, once per step.
    this.unhookWallSteps = addWallStepHook((stepUs) =>
      this.opts.log.warn("host wall clock stepped; timestamps moved to it", { direction: stepUs >= 0 ? "ahead" : "back", stepMs: Math.abs(stepUs) / 1000 }),
    );
    const starting = this.startOnce();
    this.starting = starting;
    try {
      await starting;
    } finally {
      this.starting = null;
    }
  }

  private async startOnce(): Promise<void> {
    const { log } = this.opts;
    this.createPipelines();
    // Sockets bound before any venue is asked: a start that cannot bind (a worker restarted while its replaced
    // thread still holds its retransmission port, retried every ≤ 10 s) costs no REST. Nothing is sent until the
    // first venue's books are registered (openPublisher).
    await this.publisher.open();
    if (this.stopRequested) return this.stoppedDuringStart();
    let opening: Promise<void> | null = null;
    const openPublisher = () => (opening ??= this.publisher.start());
    const results: PromiseSettledResult<unknown>[] = this.opts.replay ? await this.startInOrder(openPublisher) : await Promise.allSettled(this.pipelines.map((p) => this.startVenue(p, openPublisher)));
    // stop() came during start-up: it stopped the adapters still resolving, which ended their REST requests; not a failure.
    if (this.stopRequested) return this.stoppedDuringStart();
    // One failure (the publisher's, shared by every venue, counts once) is thrown as it is; several, named together.
    const failed = new Map<string, unknown>();
    for (const r of results) if (r.status === "rejected") failed.set(errorText(r.reason), r.reason);
    if (failed.size === 1) throw [...failed.values()][0];
    // Several venues refusing their symbols stay a configuration error (exit 2); with any other failure, retryable.
    const allUnusable = [...failed.values()].every((e) => e instanceof SymbolsUnusableError);
    if (failed.size > 1) throw allUnusable ? new SymbolsUnusableError([...failed.keys()].join("; ")) : new Error([...failed.keys()].join("; "));
    // A worker or shard given no symbol at all still opens its publisher: its heartbeats say its source is alive.
    if (opening === null) await this.publisher.start();
    if (this.stopRequested) return this.stoppedDuringStart();
    this.started = true;
    log.info("feeder started", {
      books: this.books().length,
      venues: this.pipelines.map((p) => p.adapter.venue),
      sessionId: this.publisher.sessionId,
    });
  }

  /** One venue: its instruments, then (the publisher open) its books and its connections. Nothing after stop(). */
  private async startVenue(p: VenuePipeline, openPublisher: () => Promise<void>): Promise<void> {
    const instruments = await p.adapter.loadInstruments();
    if (this.stopRequested) return;
    p.noteLoaded(instruments);
    await openPublisher();
    if (this.stopRequested) return;
    this.launch(p, instruments);
  }

  /**
   * Replay: every venue's instruments first, then every venue's books registered and started in config order, in
   * one turn; none when a venue failed (nothing published, as before per-venue start-up). There is no connection to
   * hurry, and the definitions (and every handle) must not depend on whose instruments came first: a capture
   * replayed twice gives the same datagrams (registered as they came, their order and packing followed REST and
   * cache timing).
   */
  private async startInOrder(openPublisher: () => Promise<void>): Promise<PromiseSettledResult<unknown>[]> {
    const loaded = await Promise.allSettled(this.pipelines.map((p) => p.adapter.loadInstruments()));
    if (this.stopRequested || loaded.some((r) => r.status === "rejected")) return loaded;
    await openPublisher();
    if (this.stopRequested) return loaded;
    loaded.forEach((r, i) => r.status === "fulfilled" && this.launch(this.pipelines[i]!, r.value));
    return loaded;
  }

  /** A venue whose instruments resolved (the publisher open): its books registered, its adapter started. */
  private launch(p: VenuePipeline, instruments: (Instrument | undefined)[]): void {
    const resolved = instruments.filter((i): i is Instrument => i !== undefined);
    checkIdCollisions([...this.pipelines.flatMap((x) => x.builders.filter((b) => b !== undefined).map((b) => b.instrument)), ...resolved]);
    p.attach(instruments);
    p.running = true;
    if (this.opts.replay) p.adapter.startReplay(p);
    else {
      p.adapter.start(p);
      this.lag.start(); // with the first venue; later calls do nothing
    }
    if (this.pipelines.length > 1) this.opts.log.info("venue started", { venue: p.adapter.venue, books: resolved.length, unresolved: instruments.length - resolved.length });
  }

  private stoppedDuringStart(): void {
    const running = this.pipelines.filter((p) => p.running).map((p) => p.adapter.venue);
    if (running.length === 0) this.opts.log.info("stopped during start-up: no venue connected, nothing published");
    else this.opts.log.info("stopped during start-up: the venues connected by then are halted", { venues: running });
  }

  /**
   * Publishes HALTED for every book, flushes, tells the venues to stop, sends the END_OF_SESSION and closes the
   * publisher, then waits for the venues' connections to close. During start-up (a signal
   * while instruments resolve) it stops the adapters first, which ends their REST requests at once (venues/common/
   * rest-stop.ts); start() then goes no further and this closes what it opened.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.stopCalled = true;
    this.unhookWallSteps?.();
    this.unhookWallSteps = undefined;
    if (this.starting) {
      // The venues still resolving: their REST requests end at once. Those running are halted below.
      await Promise.all(this.pipelines.filter((p) => !p.running).map((p) => p.adapter.stop().catch(() => undefined)));
      await this.starting.catch(() => undefined);
    }
    if (!this.started && !this.pipelines.some((p) => p.running)) {
      const closing = Promise.all(this.pipelines.map((p) => p.adapter.stop().catch(() => undefined)));
      try {
        await this.publisher.stop(); // opened by a start-up that stopped or failed after it
      } finally {
        await closing;
      }
      return;
    }
    this.started = false;
    this.lag.stop();
    for (const p of this.pipelines) {
      p.stopped = true;
      // A status that cannot be encoded is that book's (logged): the others' HALTED still go out, the stop goes on.
      p.builders.forEach((b, i) => {
        if (b.markInvalid(BookState.HALTED, StatusReason.SHUTDOWN)) p.publishStatusContained(i, b);
      });
    }
    this.publisher.flush();
    // The venues are told to stop (no frame of theirs is applied from here), then the stream ends at once: the END
    // does not wait for their sockets to close (up to 1 s each), which a caller's bounded wait (`feeder run`'s
    // 1.5 s, a worker's failed start) cut off before, leaving the books HALTED but the stream not ended.
    const closing = Promise.all(this.pipelines.map((p) => p.adapter.stop().catch((err) => this.opts.log.warn("adapter stop failed", { error: errorText(err) }))));
    try {
      await this.publisher.stop();
    } finally {
      await closing; // also when the publisher's stop throws: its caller exits once this settles, the sockets closed
    }
  }

  /**
   * Replay: feeds one recorded frame through the same pipeline (scanner → sequencing → builder → publisher) and
   * sends what it produced right away, so the datagrams do not depend on event-loop timing: replaying a capture
   * twice gives the same bytes apart from session id and send times. False when no subscription matches.
   */
  ingest(venue: string, market: string, connection: string, frame: string, tsRecvUs: number): boolean {
    this.advanceReplay(tsRecvUs);
    const p = this.pipelineOf(venue);
    if (!p) return false;
    const ok = p.adapter.ingestFrame(market as Subscription["market"], connection, frame, tsRecvUs);
    this.publisher.flush();
    return ok;
  }

  /** Replay: feeds one recorded REST response (a depth snapshot) to its venue, like ingest(). False when none takes it. */
  ingestRest(venue: string, market: string, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    this.advanceReplay(tsRecvUs);
    const p = this.pipelineOf(venue);
    if (!p) return false;
    // A recorded connection open/close (same record shape): the adapter does what the live run did, or ignores it.
    // What it published is sent at this record, as live sends it in the event's turn (until s-repleft a ws:close's
    // or ws:closed's statuses waited for the next record's flush: sent later than live's, with that record's changes).
    const ok = ingestRecordedRest(p.adapter, p, this.recordedStopHalt, market, connection, url, body, tsRecvUs);
    this.publisher.flush();
    return ok;
  }

  /**
   * Replay: the recorder stopped here (ingestRecordedRest): every book goes HALTED / shutdown, as live's stop
   * published it (a second such record finds them halted: no news), until the next run's snapshots bring it back.
   */
  private readonly recordedStopHalt: RecordedStopHalt = {
    haltForRecordedStop: (): void => {
      for (const p of this.pipelines) {
        if (p.stopped) continue;
        p.builders.forEach((b, i) => {
          if (b.markInvalid(BookState.HALTED, StatusReason.SHUTDOWN)) p.publishStatusContained(i, b);
        });
      }
    },
  };

  /**
   * Replay: records of the capture were lost before what comes next (a file that ended early, with another after
   * it; one that begins before the previous one ends: replay.ts outOfOrder; a new run after a killed one: unstopped): every book LIVE or STALE goes RESYNCING / sequence_gap and resyncs from the capture's next snapshot
   * (VenuePipeline.captureGap). Until 2026-12-06 they stayed LIVE at their levels from before the loss.
   */
  captureGap(): void {
    for (const p of this.pipelines) if (p.running) p.captureGap();
    this.publisher.flush();
  }

  /**
   * Replay: a time jump (replay-clock.ts MAX_RECORD_STEP_US) before the record received at `tsRecvUs`: the books leave
   * LIVE as at a capture gap, and the adapters' clock starts again at that time (no housekeeping for the time jumped
   * over: a forged time 30 days ahead ran a stale round every few seconds of it).
   */
  replayTimeJump(tsRecvUs: number): void {
    for (const p of this.pipelines) if (p.running) p.captureGap();
    if (this.replayClock !== undefined) {
      const nowMs = this.replayClock.rebase(tsRecvUs);
      for (const p of this.pipelines) if (p.running) p.adapter.replayClockAt?.(nowMs, true);
    }
    this.publisher.flush();
  }

  /**
   * Replay: the capture's time has reached `tsRecvUs` (a record's receive time, or a `--pace recorded` wait's point):
   * every venue's housekeeping due by then runs on that clock (a book silent past its stale time goes STALE, as live),
   * and what it published is sent. ingest() and ingestRest() do it before each record.
   */
  replayClockAt(tsRecvUs: number): void {
    this.advanceReplay(tsRecvUs);
    this.publisher.flush();
  }

  /** Replay: the clock to `tsRecvUs` and each started venue's housekeeping due by then (cold unless one is due). */
  private advanceReplay(tsRecvUs: number): void {
    if (this.replayClock === undefined) return;
    const nowMs = this.replayClock.advance(tsRecvUs);
    for (let i = 0; i < this.pipelines.length; i++) {
      const p = this.pipelines[i]!;
      if (p.running) p.adapter.replayClockAt?.(nowMs);
    }
  }

  /** Replay: the venue's pipeline, by a loop (per replayed frame: find() made a closure each time). */
  private pipelineOf(venue: string): VenuePipeline | undefined {
    for (let i = 0; i < this.pipelines.length; i++) if (this.pipelines[i]!.adapter.venue === venue) return this.pipelines[i];
    return undefined;
  }

  /** Every book this instance builds, for HTTP and metrics. */
  books(): BookView[] {
    return this.pipelines.flatMap((p) => p.builders);
  }

  /** Cold: counters of every part (tests and tools; /metrics reads metricsSnapshot()). */
  stats(): { venues: Record<string, Record<string, number>>; publisher: Record<string, number>; applyErrors: number } {
    const venues: Record<string, Record<string, number>> = {};
    let applyErrors = 0;
    for (const p of this.pipelines) {
      venues[p.adapter.venue] = p.venueStats();
      applyErrors += p.applyErrors;
    }
    return { venues, publisher: { ...this.publisher.counters }, applyErrors };
  }

  bookSummaries(): BookSummary[] {
    const out: BookSummary[] = [];
    for (const p of this.pipelines) p.builders.forEach((_, i) => out.push(summaryOf(p, i)));
    return out;
  }

  /**
   * bookSummaries(), LIST_ITEMS_PER_TURN books per event-loop turn (`turn` between chunks: HTTP shares this thread
   * with the pipeline). The books are those of the first turn; each is summarized whole in its chunk's turn.
   */
  bookSummariesInTurns(turn: Turn): Promise<BookSummary[]> {
    const pipelines: VenuePipeline[] = [];
    const indexes: number[] = [];
    for (const p of this.pipelines) p.builders.forEach((_, i) => void (pipelines.push(p), indexes.push(i)));
    return collectInTurns(indexes.length, (k) => summaryOf(pipelines[k]!, indexes[k]!), turn);
  }

  bookDetail(venue: string, market: string, symbol: string, depth: number): BookDetail | undefined {
    for (const p of this.pipelines) {
      if (p.adapter.venue !== venue) continue;
      const i = p.indexOfBook(market, symbol); // not by every book's instrument: one that throws (a bug) failed the lookup
      if (i >= 0) return detail(p.builders[i]!, p.builders[i]!.state === BookState.LIVE, depth, p.countsOf(i));
    }
    return undefined;
  }

  /**
   * The book's levels copied as mantissas, for HTTP (formatted there a chunk at a time: book-stream.ts); a book whose
   * levels throw, or a configured symbol without a book (until s-httpops: undefined, a 404 "no book"), BookNotServed;
   * CopyRefused (nothing copied) when the copy would take more than `maxBytes` (what HTTP reserved for it).
   */
  bookLevels(venue: string, market: string, symbol: string, depth: number, maxBytes = Infinity): BookLevels | BookNotServed | CopyRefused | undefined {
    for (const p of this.pipelines) {
      if (p.adapter.venue !== venue) continue;
      const i = p.indexOfBook(market, symbol);
      if (i >= 0) return p.levelsOf(i, depth, maxBytes);
    }
    for (const p of this.pipelines) {
      if (p.adapter.venue !== venue) continue;
      const u = p.unresolvedNow().find((x) => x.market === market && x.symbol === symbol);
      if (u === undefined) continue;
      // "unknown" beside a detail is the detail's "no reason" said twice (until 2026-12-07: "(unknown): … gives no reason").
      const code = u.reason === UNKNOWN_REASON && u.detail !== "" ? "" : ` (${u.reason})`;
      const why = u.detail !== "" ? `: ${u.detail}` : "";
      const error = `${venue}/${market}/${symbol} has no book: its instrument is not resolved${code}${why}`;
      return { notServed: SYMBOL_UNRESOLVED, venue, market, symbol, state: SYMBOL_UNRESOLVED, reason: u.reason, error };
    }
    return undefined;
  }

  /** What each venue's start found, for the venues whose instruments have loaded (a worker posts it when started). */
  venueStarts(): VenueStart[] {
    return this.pipelines.flatMap((p) => (p.started === undefined ? [] : [p.started]));
  }

  /** What /readyz judges (plain data: a worker posts it to the supervisor). */
  readinessInput(): ReadinessInput {
    return this.readinessWith(this.bookSummaries());
  }

  /**
   * readinessInput(), its books summarized in turns (bookSummariesInTurns); the unresolved symbols read in the same
   * turn as the list of books (the first), the rest in the last. Before, the unresolved symbols were read in the
   * last turn: a venue attached or a symbol resolved during the turns was in neither list, so /readyz could be 200
   * with its books not live yet, and /books left them out.
   */
  async readinessInputInTurns(turn: Turn): Promise<ReadinessInput> {
    const unresolved = this.unresolvedSymbols();
    return this.readinessWith(await this.bookSummariesInTurns(turn), unresolved);
  }

  /**
   * What /readyz judges (readiness.ts evaluateSummary): every book's state and every unresolved symbol counted, the
   * first `named` of each named, in one turn (a pass over the builders' states, no summary of a book that is live)
   * and one small message from a worker, however many books. The full lists stay readinessInput()'s (/status, /books).
   */
  readinessSummary(named = READYZ_NAMED): ReadinessSummary {
    const s: ReadinessSummary = { books: 0, live: 0, notLive: 0, notLiveFirst: [], unresolved: 0, unresolvedFirst: [], connectionsDown: 0, connectionsDownFirst: [], workersDown: [] };
    for (const p of this.pipelines) p.summarizeInto(s, named);
    s.sendFailures = this.publisher.sendFailures();
    return s;
  }

  /**
   * /status?books=N (StatusRows): its rows picked in one pass over the builders' states (usable: LIVE, and readable
   * when found unreadable before, as /readyz counts it), only those summarized (`turn` between chunks of them), then
   * /readyz's summary with N named, after them: a book among the rows whose summary throws (a bug) is counted not live.
   * Before, every book was summarized (40 turns, ~16 ms at 20,000 books) per poll. A worker's reply to "status"
   * (Supervisor.statusRows merges them). A book picked usable that turns
   * out unreadable is listed not usable (http-server.ts pickBooks orders by `valid`): the same rows as picked again.
   */
  async statusRows(limit: number, chosen: string | null, turn: Turn): Promise<StatusRows> {
    const { rows, unresolved } = this.pickRows(limit, chosen);
    const books = await collectInTurns(rows.length, (k) => rows[k]!.p.summaryOf(rows[k]!.index), turn);
    return { summary: this.readinessSummary(limit), books, unresolved };
  }

  /**
   * The rows of /status?books=N as http-server.ts pickBooks takes them from every book and symbol: the one named
   * `chosen`, then the first not usable (books, then symbols), then the first usable, `limit` in all. Cold.
   */
  private pickRows(limit: number, chosen: string | null): { rows: { p: VenuePipeline; index: number; at: number }[]; unresolved: ReadinessInput["unresolved"] } {
    type Row = { p: VenuePipeline; index: number; at: number };
    let chosenRow: Row | undefined;
    const notUsable: Row[] = [];
    const usable: Row[] = [];
    const isChosen = (venue: string, market: string, symbol: string) => isChosenBook(chosen, venue, market, symbol);
    const isChosenOf = (p: VenuePipeline, index: number) => {
      const names = p.lookupNamesOf(index);
      return isChosen(p.adapter.venue, names.market, names.symbol);
    };
    let at = 0;
    for (const p of this.pipelines) {
      for (let index = 0; index < p.builders.length; index++, at++) {
        const b = p.builders[index];
        if (b === undefined) continue; // unresolved: listed below
        const ok = b.state === BookState.LIVE && !p.unreadableLive(index);
        // Not b.instrument: one that throws (a bug) failed every /status?book= (until s-lookup).
        if (chosen !== null && isChosenOf(p, index)) {
          chosenRow ??= { p, index, at };
          continue;
        }
        const into = ok ? usable : notUsable;
        if (into.length < limit) into.push({ p, index, at });
      }
    }
    // The symbols without a book: the first `limit` (and the chosen one, wherever it is), not every one.
    let symbols: ReadinessInput["unresolved"] = this.pipelines.flatMap((p) => p.unresolvedNow(limit + 1));
    if (chosen !== null && chosenRow === undefined && !symbols.some((u) => isChosen(u.venue, u.market, u.symbol))) symbols = this.unresolvedSymbols();
    const chosenSymbol = chosenRow === undefined ? symbols.find((u) => isChosen(u.venue, u.market, u.symbol)) : undefined;
    let left = limit - (chosenRow !== undefined || chosenSymbol !== undefined ? 1 : 0);
    const rows: Row[] = chosenRow !== undefined ? [chosenRow] : [];
    for (const r of notUsable) if (left > 0) rows.push(r), left--;
    const unresolved: ReadinessInput["unresolved"] = chosenSymbol !== undefined ? [chosenSymbol] : [];
    for (const u of symbols) if (left > 0 && !isChosen(u.venue, u.market, u.symbol)) unresolved.push(u), left--;
    for (const r of usable) if (left > 0) rows.push(r), left--;
    // In the books' order: a book picked usable whose summary then throws (a bug) is listed among those not usable
    // where the answer from every book lists it (pickBooks keeps the order within each kind).
    rows.sort((x, y) => x.at - y.at);
    return { rows, unresolved };
  }

  private unresolvedSymbols(): ReadinessInput["unresolved"] {
    return this.pipelines.flatMap((p) => p.unresolvedNow());
  }

  private readinessWith(books: BookSummary[], unresolved = this.unresolvedSymbols()): ReadinessInput {
    return {
      books,
      unresolved,
      connections: this.pipelines.flatMap((p) => p.adapter.connections().map((c) => ({ ...c, venue: p.adapter.venue }))),
      workersDown: [],
      sendFailures: this.publisher.sendFailures(),
    };
  }

  latencySnapshot(): LatencySnapshot {
    const exchangeToReceipt: LatencySnapshot["exchangeToReceipt"] = {};
    for (const [venue, h] of this.latency.exchangeToReceipt) exchangeToReceipt[venue] = histogramData(h);
    return { receiptToSend: histogramData(this.latency.receiptToSend), exchangeToReceipt };
  }

  metricsSnapshot(labels: Record<string, string> = {}): MetricsSnapshot {
    const venues: MetricsSnapshot["venues"] = {};
    const applyErrors: Record<string, number> = {};
    const books: BookCount[] = [];
    const unresolved: MetricsSnapshot["unresolved"] = [];
    for (const p of this.pipelines) {
      const venue = p.adapter.venue;
      applyErrors[venue] = (applyErrors[venue] ?? 0) + p.applyErrors;
      // Per market: a count per state, then `unreadable` (UNREADABLE_STATE), zeros included: every book in exactly one.
      const byMarket = new Map<string, number[]>();
      for (const sub of p.subscriptions) if (!byMarket.has(sub.market)) byMarket.set(sub.market, [...BOOK_STATE_NAMES.map(() => 0), 0]);
      let live = 0;
      for (let i = 0; i < p.builders.length; i++) {
        if (p.builders[i] === undefined) continue;
        byMarket.get(p.subscriptions[i]!.market)![p.metricsStateOf(i)]!++;
      }
      for (const counts of byMarket.values()) live += counts[BookState.LIVE]!;
      for (const [market, counts] of byMarket) counts.forEach((count, state) => books.push({ venue, market, state: BOOK_STATE_NAMES[state] ?? "unreadable", count }));
      venues[venue] = p.venueMetrics(live);
      const missing = new Map<string, number>();
      p.countUnresolved(missing);
      for (const market of byMarket.keys()) unresolved.push({ venue, market, count: missing.get(market) ?? 0 });
    }
    const { exchangeToReceipt, receiptToSend } = this.latencySnapshot();
    const c = this.publisher.counters;
    const shown = this.sentShown;
    return {
      labels,
      venues,
      books,
      unresolved,
      publisher: { datagrams: (shown.datagrams = Math.max(shown.datagrams, c.datagrams)), bytes: (shown.bytes = Math.max(shown.bytes, c.bytes)), sendErrors: c.sendErrors, messages: c.messages },
      destinations: this.publisher.destinationSendErrors(),
      retransmit: this.publisher.retransmitCounters && { ...this.publisher.retransmitCounters },
      retransmitHistory: this.publisher.retransmitHistory(),
      applyErrors,
      exchangeToReceipt,
      receiptToSend,
      eventLoopLag: this.opts.replay ? undefined : histogramData(this.lag.histogram),
      heapUsedBytes: heapUsedBytes(),
      wallClockSteps: { ...wallClockSteps },
    };
  }

  private subscriptionsOf(venueConfig: VenueConfig): Subscription[] {
    return configuredSubscriptions(this.opts.config, venueConfig, this.opts.subscriptionFilter);
  }

  private createAdapter(configured: VenueConfig, subs: Subscription[]): VenueAdapter {
    // A worker (share 1 / workers) keeps its part of the REST bridges' byte budget: the key bounds the process's books.
    const workers = Math.round(1 / (this.opts.connectBudgetShare ?? 1));
    const venueConfig = configured.restBridgeBufferBytes === undefined || workers <= 1 ? configured : { ...configured, restBridgeBufferBytes: restBridgeBytesPerWorker(configured.restBridgeBufferBytes, workers) };
    const spec = this.opts.venues?.[venueConfig.venue] ?? venueSpec(venueConfig.venue);
    if (!spec) throw new Error(`venue ${venueConfig.venue} has no adapter`);
    const venue = venueConfig.venue;
    const frameTap = this.opts.onRawFrame;
    const restTap = this.opts.onRawRest;
    return spec.create(venueConfig, subs, {
      log: this.opts.log.child({ venue }),
      onRawFrame: frameTap && ((market, connection, frame, tsRecvUs) => frameTap(venue, market, connection, frame, tsRecvUs)),
      // A REST URL is kept in the capture without its credentials (user:pw@ of a rest_url); replay reads its path and query.
      // A written request's record is no URL (its topics hold an "@": Binance's btcusdt@depth@100ms), kept as it is.
      onRawRest: restTap && ((market, connection, url, body, tsRecvUs) => restTap(venue, market, connection, url.startsWith(SOCKET_REQUEST_URL_PREFIX) ? url : redactUrl(url), body, tsRecvUs)),
      recheckInstruments: !this.opts.replay,
      // Replay: deadlines (a book's stale time) on the capture's receive times; the wall clock stays the host's.
      ...(this.replayClock !== undefined ? { now: this.replayClock.now, wallNow: Date.now } : {}),
      budgetShare: this.opts.connectBudgetShare ?? 1,
      budgetIndex: this.opts.budgetIndex ?? 0,
      ...(this.opts.budgetLedger !== undefined ? { budgetLedger: this.opts.budgetLedger } : {}),
      ...(venueConfig.deadConnectionMs !== undefined ? { deadConnectionMs: venueConfig.deadConnectionMs } : {}),
      allowNoInstruments: (this.opts.partOfLargerConfig ?? false) || this.opts.config.shard.count > 1,
      ...this.opts.adapterOptions,
    });
  }
}

/** A stable share of the symbols: the instrument id decides, so every host computes the same split. */
export function inShard(venue: string, sub: Subscription, index: number, count: number): boolean {
  return count <= 1 || shardOfId(instrumentIdOf(venue, sub.market, instrumentSymbolOf(sub)), count) === index;
}

/** A venue's configured subscriptions in this shard (and in `filter`: a worker's share), in config order. */
export function configuredSubscriptions(config: FeederConfig, venueConfig: VenueConfig, filter?: (venue: string, sub: Subscription) => boolean): Subscription[] {
  const { shard } = config;
  const subs: Subscription[] = [];
  for (const m of venueConfig.markets) {
    for (const symbol of m.symbols) {
      // "SYMBOL@depth" is a further depth of SYMBOL beside the market's, published as its own instrument.
      const at = symbol.indexOf("@");
      const sub: Subscription =
        at > 0 ? { market: m.market, symbol: symbol.slice(0, at), depth: Number(symbol.slice(at + 1)), extraDepth: true } : { market: m.market, symbol, depth: m.depth };
      if (!inShard(venueConfig.venue, sub, shard.index, shard.count)) continue;
      if (filter && !filter(venueConfig.venue, sub)) continue;
      subs.push(sub);
    }
  }
  return subs;
}

/** A worker's share within this instance: other bits of the id than the shard uses, so both splits stay even. */
export function inWorkerShare(venue: string, sub: Subscription, workerIndex: number, workerCount: number): boolean {
  return workerCount <= 1 || workerOfId(instrumentIdOf(venue, sub.market, instrumentSymbolOf(sub)), workerCount) === workerIndex;
}

function checkIdCollisions(instruments: readonly Pick<Instrument, "instrumentId" | "venue" | "market" | "symbol">[]): void {
  const seen = new Map<number, Pick<Instrument, "instrumentId" | "venue" | "market" | "symbol">>();
  for (const i of instruments) {
    const other = seen.get(i.instrumentId);
    if (other && (other.venue !== i.venue || other.market !== i.market || other.symbol !== i.symbol)) {
      throw new Error(
        `instrument id ${i.instrumentId} is shared by ${other.venue}:${other.market}:${other.symbol} and ${i.venue}:${i.market}:${i.symbol}; remove one of them from the config`,
      );
    }
    seen.set(i.instrumentId, i);
  }
}

/**
 * The venue's `topics_live` (its channels whose book is LIVE by the adapter's own state) bounded by the books this
 * Feeder holds LIVE: a book the Feeder holds not usable (a changed definition the publisher refused: the venue's
 * updates are dropped and its book stays RESYNCING / instrument_changed) is never counted live here while the
 * adapter's channel, its snapshot applied, says LIVE. Until s-livecount the adapter's count was passed as it was.
 * The one rule for both readers: stats() (VenuePipeline.venueStats) and /metrics (venueMetrics).
 */
function boundTopicsLive(topicsLive: number, booksLive: number): number {
  return Math.min(topicsLive, booksLive);
}

/** The summary of the pipeline's book at `index` (a builder there), with its expiry when it closed past it. Cold. */
function summaryOf(p: VenuePipeline, index: number): BookSummary {
  return p.summaryOf(index);
}
