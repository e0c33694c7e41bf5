// HOT PATH: no allocation (OkxAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The OKX v5 venue adapter and its per-topic sequencing rule (docs/venues/okx.md, "Sequencing"): a snapshot has
 * prevSeqId -1 and resets the book; each next message must carry prevSeqId = the last seqId; prevSeqId == seqId with
 * empty sides is a keepalive (no-op, counts as liveness); seqId < prevSeqId with prevSeqId = the last seqId is a
 * maintenance reset (accepted). A message not chaining on the book is a repeat (ignored, counted) only when it
 * provably is one: the message applied last, delivered again; or, during a planned reconnect, when two sockets
 * deliver the instId, a message of the one behind, chaining on its own stream, known from where it started
 * (lagging-stream.ts has the exact rule). Anything else, e.g. the messages after a lost maintenance reset whose seqIds
 * the book has passed through, resyncs that instId alone (unsubscribe, ack, subscribe). When `books` starts with an
 * update instead of a snapshot, a REST snapshot (`/api/v5/market/books`) is bridged to the buffered updates by seqId
 * (rest-bridge.ts). books5 and bbo-tbt are full books (replace; a lower seqId: see onFullBook).
 * The checksum (deprecated, 0 in production) is kept per book and verified by verify() (checksum.ts). Cold helpers in
 * book-hooks.ts and instrument-wiring.ts read the fields not marked `private`.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import type { BookView } from "../../core/book-view.ts";
import { nowUs } from "../../core/clock.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, isRecordedStop, type BookSink, type RawFrameTap, type RawRestTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { connectionStates } from "../common/metrics.ts";
import { connectSplit } from "../common/budgets.ts";
import { budgetLink } from "../common/budget-ledger.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, replayConnection, replayFrame, seqReached, seqRepeated, SUB_ACTIVE, SUB_IDLE, SUB_REJECTED, SUB_UNSUBSCRIBING, topicsNamed, type TopicState as CommonTopic } from "../common/connection.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import type { InstrumentWatch } from "../common/instrument-watch.ts";
import { staleAfterFromConfig } from "../common/staleness.ts";
import { SubscriptionControl } from "../common/subscription-control.ts";
import { TopicResync } from "../common/topic-resync.ts";
import { applyBridgedSnapshot, resetOnBridgedSnapshot, updateBeforeBridgedSnapshot, verifyChecksum } from "./book-hooks.ts";
import { OkxConnection, type OkxTopic } from "./connection.ts";
import { InstrumentRequestPacer, type UpcomingChange } from "./instruments.ts";
import { announceUpcoming } from "./instrument-watch.ts";
import type { InstrumentReloader } from "../common/instrument-reload.ts";
import { okxInstrumentWatch } from "./instrument-wiring.ts";
import { planConnections } from "./connection-plan.ts";
import { CONNECT_WINDOW_MS, CONNECTS_PER_WINDOW, MAX_TOPICS_PER_CONNECTION, OKX_DEPTHS, OKX_KEEPALIVE, REQUESTS_PER_HOUR, isSnapshotOnly } from "./protocol.ts";
import { CrossedBooks } from "./crossed.ts";
import { HOUR_MS, OkxRequestBudget } from "./request-budget.ts";
import { BUDGET_WAIT_SET_URL, BUDGET_WAIT_URL, BUDGET_WAITED_URL, BudgetWaits, budgetedRequests } from "./budget-wait.ts";
import { FullBookSockets, shownSeq } from "./full-book-sockets.ts";
import { BehindResetMarks } from "../common/behind-reset.ts";
import { ShownLevels } from "./shown-levels.ts";
import { LaggingStreams } from "./lagging-stream.ts";
import { ParseErrors } from "./parse-errors.ts";
import { refusalDropsBridge } from "../common/rest-bridge.ts";
import { RestBridge } from "./rest-bridge.ts";
import type { OkxAdapterOptions } from "./options.ts";
export type { OkxAdapterOptions } from "./options.ts";
import { OkxCounters, okxMetrics, okxStats } from "./stats.ts";
import { ACTION_SNAPSHOT, ACTION_UPDATE, SCAN_ERR_FIELD, type OkxScanner } from "./scanner.ts";
import { defaultStaleAfterMs } from "./staleness.ts";

/** The `field` parse errors of a `books` push the scanner reads but the adapter refuses (onBook), named in the warning. */
const NO_ACTION = "books push without action";
const NEGATIVE_PREV = "update at a negative prevSeqId, a snapshot's";
const SNAPSHOT_PREV = "snapshot at a prevSeqId other than -1";

export class OkxAdapter implements VenueAdapter {
  readonly venue;
  readonly log: Logger;
  readonly fetchFn: typeof fetch;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for the instrument REST). */
  readonly restStop: RestStop;
  readonly now: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  readonly wallNow: () => number;
  readonly random: () => number;
  private readonly recheck: boolean;
  readonly rawFrameTap: RawFrameTap | undefined;
  readonly rawRestTap: RawRestTap | undefined;
  private readonly requestBudget: OkxRequestBudget;

  readonly topics: OkxTopic[];
  private readonly conns: OkxConnection[];
  private readonly control: SubscriptionControl;
  readonly lifecycle: ConnectionLifecycle;
  readonly books: TopicResync;
  readonly bridge: RestBridge;
  instruments: (Instrument | undefined)[] | null = null;
  readonly upcoming: UpcomingChange[] = [];
  /** When the start listing was asked for (wall ms): its upcChg already in effect then are not announced (start). */
  private listedAtMs = 0;
  readonly instrumentPacer: InstrumentRequestPacer;
  /** Loading, reloads (periodic, announced upcChg, asked for) and symbols left out at start: one schedule (instrument-wiring.ts). */
  readonly watch: InstrumentWatch<OkxTopic>;
  /** The watch's schedule (tests read its announced times). */
  readonly reloader: InstrumentReloader;
  sink: BookSink | null = null;
  /** Per subscription: full-book channel (books5, bbo-tbt). */
  private readonly fullBook: boolean[];
  /**
   * Full books: each overlap socket's last book (seqId, venue time), and the socket still behind a reset the book took
   * (full-book-sockets.ts). At an overlap's end, whether the socket carrying on vouches for the book (onOverlapOver).
   */
  private readonly fullSockets: FullBookSockets;
  /** fullSockets.behind.socket (hot path). */
  private readonly behindReset: Int32Array;
  /** Per subscription (full books): the venue time (µs, 0: none) of the book shown (the last one taken). */
  private readonly shownTsUs: Float64Array;
  /**
   * Per subscription (full books): an overlap ended with the carrier behind the book shown, or with nothing of it yet
   * (onOverlapOver); until the book is next taken, the carrier's books are ordered by the venue's time (onFullBook).
   */
  private readonly carrierTrail: Uint8Array;
  /**
   * Per subscription (full books): held RESYNCING because two sockets' books in one millisecond could not be ordered
   * (onFullBook); only a book later than the one shown (`shownTsUs`, kept) is taken, later than any either socket
   * delivered.
   */
  private readonly sameMsHeld: Uint8Array;
  /**
   * Per subscription, replay: restarted during an overlap while the old socket served it, as live's restartTopic sets
   * restartWanted (replay sends no request, so never sets it): a go-back (ws:back) redoes the restart as live's goBack
   * does, which ends a mark on the old socket (restart). Before 2026-12-07 the mark stayed in replay only, and a book
   * RESYNCING at the go-back ignored its resubscribe's answer there (not below that socket's last), live's LIVE.
   */
  private readonly replayRestartWanted: Uint8Array;
  /** budgetWaits.replaying (hot path): a recorded budget wait (replay). */
  private readonly replayBudgetWait: Uint8Array;
  /** Per subscription (full books): the levels of the book shown (its seqId again with other levels is another book). */
  private readonly shownLevels: ShownLevels;
  /** Per subscription: the checksum of the last applied message (0 = none to verify). */
  readonly checksums: Int32Array;
  /** Per subscription: the book came from a REST snapshot and the next update may straddle its seqId (a reset may not chain on it: resetOnBridgedSnapshot). */
  readonly bridgeOpen: boolean[];
  /**
   * Per subscription: a REST-bridged book's snapshot time (µs) and seqId, until it takes an update stamped at or after
   * it (0: no check): one stamped before it contradicts the bridge, and the book resyncs (updateBeforeBridgedSnapshot).
   */
  readonly bridgeTsUs: Float64Array;
  readonly bridgeSeqId: Float64Array;
  /**
   * Per subscription: the seqId the book's current run of seqIds starts at (the snapshot that made it LIVE, or a
   * maintenance reset's). Live, during a planned reconnect, a first message of the new socket inside the run starts
   * its lagging stream (lagging-stream.ts).
   */
  readonly runStartSeq: Float64Array;
  /**
   * Per subscription: the socket generation that last delivered a message the book took while its connection had one
   * socket. Another generation (live) means the current socket, a planned reconnect's replacement, has not shown where
   * its stream is: its first message inside the book's run starts its lagging stream, also once the old socket closed.
   */
  readonly soloGen: Int32Array;
  /** The lagging stream of a planned reconnect per subscription: which messages are provably repeats. */
  readonly lag: LaggingStreams;
  /** lag.open and lag.lastPrev (hot path). */
  private readonly lagOpen: Uint8Array;
  readonly lastPrevSeq: Float64Array;
  /** Per subscription: the book's messages carry seqId (false for captures from before seqId existed). */
  readonly sequenced: boolean[];
  /** Resyncs waiting for the connection's hourly request budget (budget-wait.ts). */
  private readonly budgetWaits: BudgetWaits;
  /** Per subscription: a resync waits for the request budget (budgetWaits.waiting, read on the hot path). */
  private readonly budgetWait: boolean[];
  /** Crossed books in a call auction: when their fresh snapshot is asked for (crossed.ts). */
  private readonly crossed: CrossedBooks;
  private readonly parseErrors: ParseErrors;
  /** Sequence breaks' warning (book-hooks.ts's reset on a bridged book too). */
  readonly gapLog: RateLimitedLog;

  /** Counters (hot increments, cold reads by stats() / metrics(): stats.ts). */
  readonly c = new OkxCounters();

  constructor(
    readonly config: VenueConfig,
    readonly subscriptions: readonly Subscription[],
    opts: OkxAdapterOptions,
  ) {
    this.venue = config.venue;
    this.log = opts.log;
    this.restStop = new RestStop(config.venue);
    this.fetchFn = this.restStop.wrap(opts.fetch ?? fetch);
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    this.random = opts.random ?? Math.random;
    this.recheck = opts.recheckInstruments ?? true;
    this.rawFrameTap = opts.onRawFrame;
    this.rawRestTap = opts.onRawRest;
    this.requestBudget = new OkxRequestBudget(this.now, opts.requestsPerHour ?? REQUESTS_PER_HOUR, opts.requestWindowMs ?? HOUR_MS, opts.maxArgsPerRequest);
    this.gapLog = new RateLimitedLog(this.log, "warn", "okx: sequence breaks; books resynced");
    const plan = planConnections(this, config, subscriptions, opts.maxTopicsPerConnection ?? MAX_TOPICS_PER_CONNECTION);
    this.conns = plan.conns;
    this.topics = plan.topics;
    const n = subscriptions.length;
    this.fullBook = subscriptions.map((s) => isSnapshotOnly(s.depth));
    this.fullSockets = new FullBookSockets(n);
    this.behindReset = this.fullSockets.behind.socket;
    this.shownTsUs = new Float64Array(n);
    this.carrierTrail = new Uint8Array(n);
    this.sameMsHeld = new Uint8Array(n);
    this.replayRestartWanted = new Uint8Array(n);
    this.shownLevels = new ShownLevels(n);
    this.checksums = new Int32Array(n);
    this.bridgeOpen = new Array<boolean>(n).fill(false);
    this.bridgeTsUs = new Float64Array(n);
    this.bridgeSeqId = new Float64Array(n);
    this.sequenced = new Array<boolean>(n).fill(false);
    this.runStartSeq = new Float64Array(n);
    this.soloGen = new Int32Array(n).fill(-1);
    this.lag = new LaggingStreams(n);
    this.lagOpen = this.lag.open;
    this.lastPrevSeq = this.lag.lastPrev;
    const tap = this.rawRestTap;
    this.budgetWaits = new BudgetWaits(
      n,
      this.requestBudget,
      this.log,
      this.c,
      (t) => {
        if (!this.lifecycle.stopping && t.book !== BookState.LIVE) this.restart(t);
      },
      tap && ((t, waiting) => tap(t.market, t.conn.name, waiting ? BUDGET_WAIT_URL : BUDGET_WAITED_URL, t.topic, nowUs())),
    );
    this.budgetWait = this.budgetWaits.waiting;
    this.replayBudgetWait = this.budgetWaits.replaying;
    // A refused book waits for no REST snapshot (common/rest-bridge.ts): its answer is dropped unrecorded.
    const invalidate = refusalDropsBridge(
      (t) => this.bridge.drop(t.index),
      (t, state, reason) => this.books.invalidate(t, state, reason),
    );
    const budgeted = budgetedRequests(this.requestBudget, this.budgetWaits);
    const requests = {
      ...budgeted,
      // A subscribe written (live and replay alike) starts its socket's stream of the topic over (onSubscribeWritten).
      requested: (op: "subscribe" | "unsubscribe", topics: readonly CommonTopic[], replay: boolean) => {
        budgeted.requested?.(op, topics, replay);
        if (op === "subscribe") this.onSubscribeWritten(topics as readonly OkxTopic[]);
      },
      // Replay: a recorded unsubscribe holds the topic until its recorded subscribe (common: TopicState.replayUnsubscribing).
      replayHoldsUnsubscribed: true,
    };
    this.control = new SubscriptionControl(requests, this.log, this.now, opts.maxArgsPerRequest, invalidate);
    // Requests held for the hour go first held, first sent: the count reserves their room for every newer one.
    this.requestBudget.waitingOf = (conn) => this.control.waitingOn(conn);
    // Resyncs waiting for the hour are in that line too (one numbering): each counts only those ahead of it.
    this.budgetWaits.line = this.control;
    this.requestBudget.resyncLine = { placeOf: (index) => this.budgetWaits.placeOf(index), askingPlace: () => this.control.askingPlace };
    this.books = new TopicResync({
      venue: "okx",
      log: this.log,
      now: this.now,
      random: this.random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => this.restart(t as OkxTopic),
    });
    this.bridge = new RestBridge(this, n, opts.budgetShare, opts.budgetIndex, budgetLink(opts.budgetLedger, "okx:rest"), opts.maxBufferedBytes ?? config.restBridgeBufferBytes);
    this.crossed = new CrossedBooks(n, { now: this.now, c: this.c, books: this.books, restart: (t) => this.restart(t) });
    this.instrumentPacer = new InstrumentRequestPacer(this.now, opts.budgetShare, budgetLink(opts.budgetLedger, "okx:instruments"), this.restStop.signal, this.wallNow, opts.budgetIndex, this.log);
    this.watch = okxInstrumentWatch(this, opts); // instrument-wiring.ts
    this.reloader = this.watch.reloader;
    this.parseErrors = new ParseErrors({ log: this.log, c: this.c, books: this.books, recheck: this.recheck, overrides: config.overrides, watch: this.watch, budgetWait: this.budgetWait, replayBudgetWait: this.replayBudgetWait });
    this.lifecycle = new ConnectionLifecycle(
      "okx",
      this.conns,
      this.control,
      {
        invalidate,
        resync: (t, state, reason) => this.books.resync(t, state, reason),
        overlapOver: (conn, carrier, oldGen) => this.onOverlapOver(conn as OkxConnection, carrier, oldGen),
        // A resync whose backoff is over goes through the hourly request budget too.
        restartAfterBackoff: (t) => this.restart(t as OkxTopic),
        // A go-back's restarts: batched, the budget counted per message.
        restartManyAfterBackoff: (ts) => this.restartMany(ts as readonly OkxTopic[]),
        // An id-less refusal's subscribes: resynced together, batched as a go-back's.
        resyncMany: (ts, reason) => this.books.resyncMany(ts, reason, (due) => this.restartMany(due as readonly OkxTopic[])),
        // A frame whose handling threw: the rule for a frame refused (ParseErrors.lost), no misfit.
        frameLost: (conn, t) => this.parseErrors.lost(conn as OkxConnection, t as OkxTopic | undefined, 0),
        // A REST bridge ends with its connection: the new connection's first update starts a new one (and a new REST book).
        disconnected: (t) => {
          this.bridge.drop(t.index);
          this.bridgeOpen[t.index] = false;
          this.bridgeTsUs[t.index] = 0;
          this.fullSockets.clear(t.index);
          this.carrierTrail[t.index] = 0;
          this.sameMsHeld[t.index] = 0;
          this.replayRestartWanted[t.index] = 0;
          // A recorded wait ends with the socket (the next one's subscribe ends live's), not with the book's closure
          // (retireAll calls this too, the book SUB_REJECTED): live's wait runs on (its timer, ws:waited) and a book
          // reopened meanwhile (ws:reopened, no request) keeps its frames ignored. Until s-rd29b the closure ended it and
          // replay took them, LIVE where live's waited.
          if (t.sub !== SUB_REJECTED) this.budgetWaits.replayEnd(t.index);
        },
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random: this.random,
        keepalive: OKX_KEEPALIVE,
        staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config, (depth) => defaultStaleAfterMs(depth)),
        resyncBackoffBaseMs: this.books.baseMs,
        ...connectSplit(CONNECTS_PER_WINDOW, CONNECT_WINDOW_MS, opts, this.now),
      },
    );
  }

  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.listedAtMs = this.wallNow();
    this.instruments = await this.watch.load();
    return this.instruments;
  }

  private bind(sink: BookSink, replay: boolean): void {
    if (this.sink) throw new Error("okx: started twice");
    const bound = this.watch.bindTopics(replay);
    this.sink = sink;
    this.books.sink = sink;
    this.books.replaying = replay;
    // The config refuses such a depth; an adapter built directly gets `books` (channelOf), which OKX serves: until
    // s-okxts the warning said OKX would reject it.
    for (const t of bound) {
      if (!replay && !OKX_DEPTHS.includes(t.depth)) this.log.warn("okx: depth not one of 400, 5, 1: subscribed to books (400 levels); its REST bridge asks for sz=depth levels, and replay bridges no recorded REST answer to it", { topic: t.topic, depth: t.depth });
    }
  }

  start(sink: BookSink): void {
    this.bind(sink, false);
    this.lifecycle.start();
    // The start listing's upcChg as a reload's (announceUpcoming): of the subscribed instIds only (a listing names
    // every instId of its instType, and another's change would reload the market for nothing), and not one already in
    // effect when the listing was asked for (what it showed, or OKX late: the next periodic reload looks again; before,
    // it reloaded the market at once). One whose effTime has passed since still reloads at once: that listing is out of date.
    for (const market of new Set(this.subscriptions.map((s) => s.market))) {
      const symbols = this.subscriptions.filter((s) => s.market === market).map((s) => s.symbol);
      announceUpcoming(this.upcoming, market, symbols, this.listedAtMs, (m, atMs) => this.watch.announce(m, atMs), this.log);
    }
    this.upcoming.length = 0;
    this.watch.start(sink);
    const used = this.conns.filter((c) => c.used).length;
    this.log.info("okx adapter started", { connections: used, topics: this.topics.length });
  }

  /** Replay: no connections; a resync waits for the capture's next snapshot, or bridges to a recorded REST answer (ingestRest). */
  startReplay(sink: BookSink): void {
    this.bind(sink, true);
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    return replayFrame(this.conns, market, connection, frame, tsRecvUs);
  }

  ingestRest(market: MarketName, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    const conn = replayConnection(this.conns, connection, market);
    if (!conn) return false;
    // A replacement's refusal held (ws:back would have come before it, live's go-back being a microtask): the venue's.
    conn.replayRefusalHeld?.();
    return this.bridge.ingest(conn, url, body, tsRecvUs);
  }

  /**
   * Replay: a recorded connection close (`ws:close`) invalidates that connection's books as the live close did, and an
   * open (`ws:open`) a book still LIVE there (its socket's close not in the capture: replayOpened); its socket events
   * (`ws:sockets`, `ws:state`, `ws:overlap`, `ws:swap`, `ws:old`, `ws:retired`, `ws:back`) make its sockets the live run's, so an
   * older snapshot is judged as live judged it (onBook: `socketsKnown`).
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    const conn = connectionNamed(this.conns, connection);
    if (conn === undefined) return false;
    if (url === BUDGET_WAIT_URL || url === BUDGET_WAITED_URL) {
      // Not a socket event: a refusal held is decided as by any other record after it (ingestRest).
      conn.replayRefusalHeld?.();
      const t = conn.topics.find((x) => x.topic === body); // by TopicState.topic, as ws:req names them
      if (t === undefined) return false;
      this.budgetWaits.replayRecorded(t.index, url === BUDGET_WAIT_URL);
      return true;
    }
    if (url === BUDGET_WAIT_SET_URL) {
      // A file head's (budget-wait.ts): no refusal held is decided there, as by the head's other records.
      for (const t of topicsNamed(conn, body)) this.budgetWaits.replayRecorded(t.index, true);
      return true;
    }
    if (url === CONNECTION_CLOSED_URL) {
      this.lifecycle.replayDisconnected(connection);
      // The recorder's stop: live's waits ended with its process, a closed book's too (which a lost socket's close
      // leaves running: `disconnected`); until s-smallfr its mark carried into the next run's records.
      if (isRecordedStop(url, body)) for (const t of conn.topics) this.budgetWaits.replayEnd(t.index);
    } else if (url === CONNECTION_OPENED_URL) this.lifecycle.replayOpened(connection);
    else this.lifecycle.replaySocketEvent(connection, url, body);
    return true;
  }

  /**
   * Replay: records were lost here (app Feeder.captureGap): the requests still unanswered are forgotten, a book refused
   * for now takes its frames again, and a book held by a recorded unsubscribe (ConnectionLifecycle.replayCaptureGap).
   * A budget wait may have ended there too: its mark (budgetWaits.replaying) ends, and the book is taken from the capture's
   * next snapshot as every book after a gap. Until 2026-12-07 the marks stayed: the book's frames ignored until the
   * connection's close, RESYNCING where live's was LIVE from the resubscribe's snapshot.
   */
  replayCaptureGap(): void {
    this.lifecycle.replayCaptureGap();
    this.budgetWaits.replayGap();
  }

  requestResync(index: number, reason: StatusReason): void {
    const t = this.topics[index];
    if (!t || t.sub === SUB_REJECTED) return;
    if (reason === StatusReason.CROSSED_BOOK) {
      this.crossed.onCrossed(t); // crossed.ts
      return;
    }
    this.books.resync(t, BookState.RESYNCING, reason);
  }

  /** Integrity hook after each applied message. Production's checksum 0 is answered here, on the app's hot path. */
  verify(index: number, book: BookView): StatusReason {
    // The top 25 against it (book-hooks.ts).
    return this.checksums[index] === 0 || verifyChecksum(this, index, book) ? StatusReason.NONE : StatusReason.CHECKSUM_MISMATCH;
  }

  stop(): Promise<void> {
    this.restStop.stop(); // instrument queries and the bridges' REST snapshots under way end now
    this.budgetWaits.stop();
    this.watch.stop();
    this.bridge.stop();
    return this.lifecycle.stop();
  }

  unresolvedInstruments(limit?: number): UnresolvedInstrument[] {
    return this.watch.unresolved(limit); // status page, /readyz
  }

  countUnresolved(into: Map<string, number>): void {
    this.watch.countUnresolved(into); // /metrics
  }

  expiredInstruments(): ReadonlyMap<number, number> {
    return this.watch.expiredClosed();
  }

  // ───────────────────────── hot path ─────────────────────────

  // HOT PATH: one call per accepted order-book frame; the scanner's fields describe it.
  onBook(conn: OkxConnection, index: number, update: BookUpdate, frame: string): void {
    const t = this.topics[index]!;
    const replayWait = this.replayBudgetWait[index] === 1;
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED || this.budgetWait[index] || t.refusedUntilAck || t.replayUnsubscribing || replayWait) {
      // Still subscribed while its resync waits for the request budget, or pushed though its subscribe was refused
      // for now (ignored until one is accepted again: no REST bridge meanwhile): the stream is alive, not stale.
      // Replay: between a recorded unsubscribe and the next subscribe, as live while unsubscribing; a recorded budget wait.
      if (this.budgetWait[index] || t.refusedUntilAck || replayWait) t.lastMsgMs = this.now();
      this.c.ignoredWhileUnsubscribed++;
      return;
    }
    const sc = conn.scanner;
    if (this.fullBook[index]) {
      this.onFullBook(t, update, sc);
      return;
    }
    // `books` always says snapshot or update, and prevSeqId -1 is a snapshot's. Either taken as an update, one at -1
    // straddled any REST book (-1 ≤ its seqId < seqId): a whole book applied as changes on it, LIVE at levels the
    // venue no longer had. The frame is refused by name (a `field` parse error): its book alone resyncs. Named: an
    // update's prevSeqId comes after its levels, past the logged head of the frame.
    if (sc.action !== ACTION_SNAPSHOT && (sc.action !== ACTION_UPDATE || (sc.hasPrevSeqId && sc.prevSeqId < 0))) {
      this.onParseError(conn, sc.entry, SCAN_ERR_FIELD, frame, sc.action === ACTION_UPDATE ? NEGATIVE_PREV : NO_ACTION);
      return;
    }
    // OKX documents a snapshot's prevSeqId as -1; another is no book we know how to place (taken, it reset the book
    // whatever it said). Refused by name, its book alone resyncs. Without prevSeqId (captures before it existed): taken.
    if (sc.action === ACTION_SNAPSHOT && sc.hasPrevSeqId && sc.prevSeqId !== -1) {
      this.onParseError(conn, sc.entry, SCAN_ERR_FIELD, frame, SNAPSHOT_PREV);
      return;
    }
    if (sc.action === ACTION_SNAPSHOT) {
      const now = this.now();
      t.lastMsgMs = now;
      // A LIVE book without seqIds has none to order this one against: taken afresh, a whole book of the venue's; a
      // socket whose updates do not chain on it then resyncs it (docs/venues/okx.md, Sequencing).
      let continues = t.book === BookState.LIVE && sc.hasSeqId && this.sequenced[index]!;
      // One socket, the one the book's messages came from (live, or a replay whose capture records the sockets): no
      // stream can lag behind it, so a snapshot older than the book is the venue's book starting over (a reset), as
      // Bybit's older snapshot on its socket of record. Ignored as a replacement's, it left the book LIVE at levels
      // the venue had replaced (and so did replay, which took every older snapshot for a replacement's).
      const oneStream = this.socketsKnown(t.conn) && t.conn.retiringGeneration < 0 && this.soloGen[index] === t.conn.generation;
      if (t.conn.retiringGeneration < 0) this.soloGen[index] = t.conn.generation;
      if (continues && sc.seqId < t.lastSeq && oneStream) {
        this.c.maintenanceResets++;
        continues = false;
      } else if (continues && sc.seqId <= t.lastSeq) {
        // The book is already past it: the replacement socket's snapshot during a make-before-break. That socket's
        // stream starts here, behind the book.
        this.c.olderSnapshots++;
        this.lag.start(index, sc.seqId);
        return;
      }
      this.bridge.drop(index);
      this.bridgeOpen[index] = false;
      this.bridgeTsUs[index] = 0;
      this.c.snapshots++;
      // A fresh book starts a run. A LIVE book's newer snapshot (a planned reconnect's new socket, ahead of the old
      // one) continues it, and the old socket's stream lags from the book's last seqId.
      if (continues) this.lag.start(index, t.lastSeq);
      else {
        this.runStartSeq[index] = sc.seqId;
        this.lag.close(index);
      }
      t.lastSeq = sc.seqId;
      t.hasSeq = sc.hasSeqId;
      this.lastPrevSeq[index] = NaN;
      this.sequenced[index] = sc.hasSeqId;
      this.checksums[index] = sc.checksum;
      this.books.onLive(t, now);
      this.sink!.onBookUpdate(index, update);
      return;
    }
    if (t.book !== BookState.LIVE) {
      // Replay: a book just gone STALE whose next update chains on its last seqId, on its one stream, missed nothing.
      // (The ~60 s keepalive, prevSeqId = seqId with empty sides, too: nothing changed.) seqBeforeInvalid may be 0 (a
      // maintenance reset's seqId): resumeStale takes only a book gone STALE from LIVE, sequenced, which kept its seqId.
      const keepalive = sc.seqId === sc.prevSeqId;
      if (t.book === BookState.STALE && sc.hasSeqId && sc.hasPrevSeqId && sc.prevSeqId === t.seqBeforeInvalid && (!keepalive || (update.bidCount === 0 && update.askCount === 0)) && this.resumeStale(t, keepalive, sc.seqId < sc.prevSeqId, keepalive ? 0 : update.tsExchangeUs)) {
        t.lastMsgMs = this.now();
        t.hasSeq = true;
        if (keepalive) {
          t.lastSeq = sc.seqId;
          this.c.keepalives++;
          return;
        }
        t.lastSeq = sc.seqId;
        this.lastPrevSeq[index] = sc.prevSeqId;
        if (sc.seqId < sc.prevSeqId) {
          this.c.maintenanceResets++; // accepted: prevSeqId still chains
          this.runStartSeq[index] = sc.seqId;
        }
        this.c.deltas++;
        this.checksums[index] = sc.checksum;
        this.sink!.onBookUpdate(index, update);
        return;
      }
      // A STALE book's update not chaining on its seqId (a gap, as on a LIVE book, which live resynced): a later one
      // chaining on it (a maintenance reset's lower run passing it) continues nothing.
      if (t.book === BookState.STALE && sc.hasPrevSeqId && sc.prevSeqId !== t.seqBeforeInvalid) t.staleDueMs = -Infinity;
      // No snapshot first: bridge a REST snapshot by seqId (replay: the capture's recorded answer; not without seqIds).
      if (!sc.hasSeqId || !sc.hasPrevSeqId) {
        this.c.ignoredBeforeSnapshot++;
        return;
      }
      this.bridge.buffer(t, frame);
      return;
    }
    if (!sc.hasSeqId || !sc.hasPrevSeqId) {
      if (this.sequenced[index]) {
        this.onSequenceBreak(t, NaN, NaN); // no seqIds (NaN: no literal reads as it)
        return;
      }
      // A capture from before seqId existed: nothing to chain; the checksum guards the book.
      t.lastMsgMs = this.now();
      this.c.deltas++;
      this.checksums[index] = sc.checksum;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    // A book from a snapshot without seqId has none to chain on (its lastSeq 0 is no seqId): before s-rdokx an update
    // at prevSeqId 0 chained on it and was applied.
    if (!this.sequenced[index]) {
      this.onSequenceBreak(t, sc.prevSeqId, sc.seqId);
      return;
    }
    const prev = sc.prevSeqId;
    const seq = sc.seqId;
    const last = t.lastSeq;
    if (prev === last || (this.bridgeOpen[index] && prev < last && seq > last)) {
      if (seq === prev) {
        if (update.bidCount === 0 && update.askCount === 0) {
          if (t.conn.retiringGeneration < 0) this.soloGen[index] = t.conn.generation;
          t.lastMsgMs = this.now(); // the ~60 s keepalive: liveness, nothing to apply
          this.c.keepalives++;
          return;
        }
        this.onSequenceBreak(t, prev, seq);
        return;
      }
      if (this.lagOpen[index] === 1 && !this.lag.applied(index, this.socketsKnown(t.conn) && t.conn.retiringGeneration < 0, seq < prev, prev, seq)) {
        this.onSequenceBreak(t, prev, seq); // chains on the lagging stream's pre-reset seqIds too: cannot be placed
        return;
      }
      if (seq < prev && this.bridgeOpen[index]) {
        resetOnBridgedSnapshot(this, t, prev, seq); // the REST book may be from after it: resynced
        return;
      }
      // A REST-bridged book's updates describe states after the REST book's: one stamped before it (both times known)
      // contradicts the bridge (the REST book may be from after a reset the socket has not delivered yet, a seqId of
      // its pre-reset run straddling it). Checked until one is stamped at or after it.
      const bridgeTsUs = this.bridgeTsUs[index]!;
      if (bridgeTsUs !== 0) {
        const tsUs = update.tsExchangeUs;
        if (tsUs !== 0 && tsUs < bridgeTsUs) {
          updateBeforeBridgedSnapshot(this, t, this.bridgeSeqId[index]!, bridgeTsUs, seq, tsUs);
          return;
        }
        if (tsUs >= bridgeTsUs) this.bridgeTsUs[index] = 0;
      }
      if (seq < prev) {
        this.c.maintenanceResets++; // accepted: prevSeqId still chains
        this.runStartSeq[index] = seq;
      }
      const conn = t.conn;
      if (conn.retiringGeneration < 0) this.soloGen[index] = conn.generation;
      t.lastMsgMs = this.now();
      t.lastSeq = seq;
      t.hasSeq = true; // a seqId, even 0 (as every place that sets lastSeq from one)
      this.lastPrevSeq[index] = prev;
      this.bridgeOpen[index] = false;
      this.c.deltas++;
      this.checksums[index] = sc.checksum;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    // Bridged from a REST book at seqId `last`, nothing chained since: an update that book already holds, delivered
    // only now (the REST answer overtook it on its way), is one the book has, as the buffered ones it covered were.
    if (this.bridgeOpen[index] && prev < last && seq <= last) {
      this.c.duplicates++;
      return;
    }
    // Provably one the book has (lagging-stream.ts). `overlap`: sockets known (live, or recorded), a planned
    // reconnect's second socket open, or its replacement (the old socket closed) yet to deliver a message the book took.
    const overlap = this.socketsKnown(t.conn) && (t.conn.retiringGeneration >= 0 || this.soloGen[index] !== t.conn.generation);
    if (this.lag.isRepeat(index, prev, seq, update.bidCount === 0 && update.askCount === 0, last, overlap, this.runStartSeq[index]!)) {
      this.c.duplicates++;
      return;
    }
    this.onSequenceBreak(t, prev, seq);
  }

  /**
   * books5 / bbo-tbt: each message is the whole top N, applied as a replace. One socket delivers seqIds in order, so
   * a lower one there is a maintenance reset, applied; only while a planned reconnect has two sockets delivering is
   * a full book at or below the last one ignored: the book's seqId again from the other socket (its copy: that
   * socket has reached it too, seqRepeated), or a lower one from a socket that has not delivered the book's seqId
   * (the lagging socket's). A lower one from a socket that has (the one of record, or the other that repeated it:
   * seqReached; TCP is ordered) is still a reset. Before 2026-12-06 only the socket of record counted: once both had
   * delivered the seqId, the other's reset was ignored, and so was every book after it until its seqIds passed the old
   * ones or the socket of record delivered the reset too, the book LIVE at its pre-reset levels. After a reset taken
   * during the overlap, the other socket's books are of the run before it until it delivers the reset (below its own
   * last seqId): ignored (fullSockets.behind; before 2026-12-06 its higher seqIds were applied, the book LIVE at a
   * state the venue had left). Those seqId rules apply where the venue's times do not order the books: while two
   * sockets' books interleave, a book whose venue time differs from the book shown's is taken when later, ignored when
   * earlier (byTime); one in its millisecond from a socket not at the book holds it RESYNCING until a later one
   * (sameMsHeld); a book without a time leaves the seqId rules. When the overlap ends, a book the carrier has not
   * delivered last is held unless the times place the carrier behind it (onOverlapOver).
   */
  private onFullBook(t: OkxTopic, update: BookUpdate, sc: OkxScanner): void {
    const conn = t.conn;
    const index = t.index;
    const socket = conn.fromRetiring ? conn.retiringGeneration : conn.generation;
    const tsUs = update.tsExchangeUs;
    const shownTsUs = this.shownTsUs[index]!;
    // Two sockets' books interleave (an overlap, or its carrier still behind the book shown): the venue's time orders
    // books across runs, where seqIds order one run's. Before 2026-12-07 seqIds alone decided here, and a later book
    // below the book's seqId from a socket that had not delivered it (a reset; a subscribe book after one) was ignored
    // as a trail, the book LIVE at one the venue had left; and a carrier's earlier book after the overlap was taken.
    // The book's seqId again is its copy whatever the time (a subscribe book may be stamped when sent).
    const interleave = conn.retiringGeneration >= 0 || this.carrierTrail[index] === 1;
    // The venue's clock may go back at a maintenance reset (OKX documents `ts` as the generation time, no more). A
    // socket marked behind a reset stamped earlier than the book before it: its books of the run before may be stamped
    // later than the reset; the mark orders those (fullSockets.ignore), not the time (one earlier than the book shown
    // is still older: of the run before, or of the book's run behind it). A socket not at the book whose
    // book is below its own last in seqId and time: it passed such a reset (its stream is in order), which the time
    // would place before the book shown: taken as a reset, the other socket marked behind it. Before 2026-12-07
    // ordered by the time: the lagging socket's pre-reset books taken, or the reset ignored, the book LIVE at a book
    // the venue had left.
    const behind = this.behindReset[index]!;
    const untimed = socket === behind && this.fullSockets.timeBack[index] === 1 && !(tsUs > 0 && tsUs < shownTsUs);
    const back =
      interleave && sc.hasSeqId && socket !== behind && t.book === BookState.LIVE && !seqReached(t, socket) && this.fullSockets.wentBack(index, socket, sc.seqId, tsUs);
    if (this.sameMsHeld[index] === 1) {
      // Held for books in one millisecond that could not be ordered: one later than that millisecond is later than any
      // either socket delivered (a later one would have been taken); the rest cannot be placed.
      if (!sc.hasSeqId || !(tsUs > shownTsUs)) {
        this.fullSockets.note(index, socket, sc.hasSeqId ? sc.seqId : NaN, tsUs);
        this.c.duplicates++;
        return;
      }
      this.sameMsHeld[index] = 0;
    }
    // Not the socket at the book (it delivered the book's seqId): its next book is later (TCP is ordered) whatever its
    // time; OKX documents `ts` as the book's generation time, not that it never goes back (a reset served from another
    // machine). Before 2026-12-07 its reset stamped before the book shown was ignored as a trail, the book LIVE there.
    // The book's seqId again with other levels while two sockets interleave: not its copy but another book, after a
    // maintenance reset numbering it again (before 2026-12-07 ignored as the copy from a socket not of record, the book
    // LIVE at levels the venue had left); ordered as a book with another seqId would be.
    const again = interleave && t.book === BookState.LIVE && sc.hasSeqId && sc.seqId === t.lastSeq && !this.shownLevels.same(index, update.bidCount, update.bidPx, update.bidQty, update.askCount, update.askPx, update.askQty);
    const byTime = sc.hasSeqId && (sc.seqId !== t.lastSeq || again) && tsUs > 0 && shownTsUs > 0 && tsUs !== shownTsUs && interleave && !untimed && !seqReached(t, socket);
    // In the book's millisecond, another seqId from a socket that has not delivered the book's (not the same socket
    // after it: TCP is ordered), while two sockets' books interleave: neither the time nor the seqIds order it (a
    // trail, or after a maintenance reset within the millisecond, the run going on; a reset the book never saw as one
    // when its seqIds went up across it). Before 2026-12-07 the seqId rules decided: the book LIVE at a book the venue
    // had left. Held RESYNCING until a later millisecond (sameMsHeld); but a socket marked behind a reset, known to be
    // before it and with no drop since, is still behind it: ignored.
    // A book not LIVE (a resync during the overlap: resubscribed on the replacement, the old socket's stream goes on)
    // takes no such book either: before 2026-12-07 it took the old socket's, maybe before the book shown.
    if (interleave && sc.hasSeqId && (sc.seqId !== t.lastSeq || again) && tsUs > 0 && tsUs === shownTsUs && !untimed && !seqReached(t, socket)) {
      const live = t.book === BookState.LIVE;
      if (socket === this.behindReset[index]) {
        const drop = sc.seqId < this.fullSockets.lastOf(index, socket);
        if (this.fullSockets.ignore(index, socket, sc.seqId, tsUs, shownSeq(t)) && this.fullSockets.unsure[index] === 0 && !drop) {
          this.c.duplicates++;
          return;
        }
      } else this.fullSockets.note(index, socket, sc.seqId, tsUs);
      if (live) this.holdSameMs(t);
      else this.c.duplicates++;
      return;
    }
    let reset = false;
    if (byTime) {
      // Recorded as the seqId rules record it (a marked socket's mark ends at its reset, as there).
      if (socket === this.behindReset[index]) this.fullSockets.ignore(index, socket, sc.seqId, tsUs, shownSeq(t));
      else this.fullSockets.note(index, socket, sc.seqId, tsUs);
      if (tsUs < shownTsUs && !back) {
        // Earlier than the book shown: a trail, or a book of a run the book has left.
        this.c.duplicates++;
        return;
      }
      // Later (or past a reset stamped back): past any reset the book shows; not above its seqId, a reset (the other
      // socket is behind it).
      if (socket === behind) this.fullSockets.clear(index);
      if (t.book === BookState.LIVE && (sc.seqId < t.lastSeq || again || back)) {
        reset = true;
        this.c.maintenanceResets++;
        if (conn.retiringGeneration >= 0) this.fullSockets.resetTaken(index, BehindResetMarks.otherSocket(conn.generation, conn.retiringGeneration, socket), back, sc.seqId);
      }
    }
    // Each socket's last book, taken or not, with its venue time (at an overlap's end, whether the carrier vouches);
    // a marked socket's is recorded by ignore.
    else if (!sc.hasSeqId || socket !== this.behindReset[index]) this.fullSockets.note(index, socket, sc.hasSeqId ? sc.seqId : NaN, tsUs);
    else if (this.fullSockets.ignore(index, socket, sc.seqId, tsUs, shownSeq(t))) {
      // Not a sign of life (staleness), as any other book the book cannot use.
      this.c.duplicates++;
      return;
    }
    // t.hasSeq: a book without seqIds (an old capture) has none to be at or below; its 0 is not seqId 0 (s-seqnone:
    // `sc.seqId > 0` here took a lagging socket's seqId 0 for a newer book, replacing the book).
    if (!byTime && t.book === BookState.LIVE && sc.hasSeqId && t.hasSeq && sc.seqId <= t.lastSeq) {
      // Its seqId again with other levels from a socket that has delivered the book's (in order after it): a reset.
      if (conn.retiringGeneration >= 0 && (sc.seqId === t.lastSeq ? socket !== t.seqSocket && !(again && seqReached(t, socket)) : !seqReached(t, socket))) {
        if (sc.seqId === t.lastSeq) {
          seqRepeated(t, socket);
          this.fullSockets.took(index, socket);
        }
        this.c.duplicates++;
        return;
      }
      if (sc.seqId < t.lastSeq || again) {
        reset = true;
        this.c.maintenanceResets++;
        const stampedBack = tsUs > 0 && tsUs < shownTsUs;
        if (conn.retiringGeneration >= 0) this.fullSockets.resetTaken(index, BehindResetMarks.otherSocket(conn.generation, conn.retiringGeneration, socket), stampedBack, sc.seqId);
      }
    }
    const now = this.now();
    t.lastMsgMs = now;
    update.replace = true;
    // A socket kept as having reached the book's seqId reached an older book's, which a maintenance reset's run may
    // number the same (seqReached would take it for having reached this one).
    if (sc.seqId !== t.lastSeq || again) t.seqAlsoSocket = -1;
    // A reset, or a book not LIVE taking its first: a run starts (the sockets' drops before it are forgotten).
    this.fullSockets.took(index, socket, t.book !== BookState.LIVE || reset);
    t.lastSeq = sc.seqId;
    t.hasSeq = sc.hasSeqId;
    t.seqSocket = socket;
    this.shownTsUs[index] = tsUs;
    this.shownLevels.keep(index, update.bidCount, update.bidPx, update.bidQty, update.askCount, update.askPx, update.askQty);
    this.carrierTrail[index] = 0;
    this.c.fullBooks++;
    this.checksums[index] = 0;
    this.books.onLive(t, now);
    this.sink!.onBookUpdate(index, update);
  }

  /** Two sockets' books in one millisecond that cannot be ordered: RESYNCING until a later one (sameMsHeld). */
  private holdSameMs(t: OkxTopic): void {
    this.sameMsHeld[t.index] = 1;
    this.c.sameMsHolds++;
    this.books.invalidate(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /**
   * Whether the connection's sockets are known as live knows them: always live; in replay once the capture said it
   * records them (`ws:sockets`, ConnectionLifecycle.replaySocketEvent). Otherwise replay keeps its heuristics: an
   * older snapshot is a replacement's, a message behind the book starts no lagging stream.
   */
  private socketsKnown(conn: OkxConnection): boolean {
    return !this.books.replaying || conn.socketsRecorded;
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * A planned reconnect's overlap is over (live, or replay's recorded ws:retired / ws:back / ws:state): a full book
   * (books5, bbo-tbt) LIVE at a book the socket that carries on has not delivered last may differ from the venue's.
   * During the overlap the seqIds could not tell a maintenance reset from the lagging socket's trail: a reset taken
   * from one socket may have been followed by the other's pre-reset book (higher seqId, applied), or a socket's reset
   * ignored as its trail; the book then stayed LIVE at pre-reset levels until the carrier's next push, on a quiet
   * instrument a long time. Made RESYNCING (sequence_gap): the carrier's next full book later than the one shown
   * (sameMsHeld), whatever its seqId, makes it LIVE (one socket: every such book is taken), and one silent past the
   * stale time is resubscribed by the stale rule. No request here: the usual case is a carrier one push behind on a busy book. Not held: a carrier that has
   * delivered the book's seqId (its last book is the book: seqReached; TCP is ordered); a carrier that has delivered
   * none of this book yet, or whose last book has an earlier venue time than the book shown (behind it, in its run or
   * before a reset: a maintenance reset's books have later times than the run before it): its books are then ordered
   * by the venue's time until one is taken (carrierTrail: earlier ones ignored). Before 2026-12-07 held too: in the simulator
   * (60 books, 15 planned reconnects) about 1 in 5 books5 and 1 in 14 bbo-tbt books flapped RESYNCING each time.
   */
  private onOverlapOver(conn: OkxConnection, carrier: OverlapCarrier, oldGen = -1): void {
    for (const t of conn.topics) {
      const i = t.index;
      // Replay: live's goBack restarted it (on the old socket, before this; replayRestartWanted). It forgot the
      // replacement's requests, so replay its holds (ConnectionLifecycle, ws:back); a budget wait goes on (its redo waits).
      const redo = this.replayRestartWanted[i] === 1;
      this.replayRestartWanted[i] = 0;
      if (redo && carrier === "old" && t.book !== BookState.LIVE && t.book !== BookState.HALTED) this.restart(t);
      // A socket behind a reset stays so if it carries on (gone back to: under its new generation), but a replacement
      // that has delivered nothing of the book: its books are ordered by the venue's time (carrierTrail below).
      // One not known to be before the reset (fullSockets.unsure: its last book not taken, maybe of the new run, ahead)
      // leaves nothing to tell its next books apart once the other socket is gone, unless the venue's time does (its
      // last book earlier than the one shown: carrierTrail below): the book is resubscribed (the answer is of the run
      // the venue is in). Rare: a reset during the overlap, that socket neither at the book nor silent.
      if (carrier === "old") this.fullSockets.renamed(i, oldGen, conn.generation);
      if (!this.fullSockets.behind.carriedOn(i, carrier, oldGen, conn.generation) || Number.isNaN(this.fullSockets.lastOf(i, conn.generation))) this.fullSockets.clear(i);
      // A reset stamped back: neither its last book's time nor its seqIds (its pushes need not carry every one, so its
      // reset may not drop below its last) tell the carrier's books of the run before from the venue's run: resubscribed
      // even when known to be before the reset. Before 2026-12-07 such a carrier stayed marked, every book of it
      // ignored, the book LIVE at the reset's book while the venue moved on, until the stale rule (120 s).
      else if (t.book === BookState.LIVE && (this.fullSockets.timeBack[i] === 1 || (this.fullSockets.unsure[i] === 1 && !this.fullSockets.earlierThan(i, conn.generation, this.shownTsUs[i]!)))) {
        this.c.overlapEndHolds++;
        this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
      }
    }
    if (carrier === "none") return; // recycled or stopped: its books are invalidated anyway
    for (const t of conn.topics) {
      const i = t.index;
      if (!this.fullBook[i] || t.book !== BookState.LIVE || seqReached(t, conn.generation)) continue;
      // A carrier that delivered nothing of the book yet: its first book may be its subscribe book, older than the one
      // shown (the other socket's later ones came first): ordered by time too (before 2026-12-07 a replacement's was
      // taken whatever, and an old socket gone back to was held).
      if (!this.fullSockets.delivered(i, conn.generation)) {
        this.carrierTrail[i] = 1;
        continue;
      }
      // Its last book earlier than the one shown (in the book's run or before a reset): LIVE, its next books ordered
      // by the venue's time until one is taken (onFullBook: earlier ones ignored, later ones taken).
      if (this.fullSockets.earlierThan(i, conn.generation, this.shownTsUs[i]!)) {
        this.carrierTrail[i] = 1;
        continue;
      }
      // Until a book later than the one shown: the carrier's next one in the shown one's millisecond may be before it
      // (before 2026-12-07 taken whatever: LIVE at a book the venue had left; without a time, its next is taken).
      this.c.overlapEndHolds++;
      if (this.shownTsUs[i]! > 0) this.sameMsHeld[i] = 1;
      this.books.invalidate(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
    }
  }

  /**
   * Replay: the STALE book's next update chains on its last seqId (the caller checked): LIVE again at its kept levels
   * when it came from the book's one stream (no planned reconnect's second socket, no lagging stream), live may have
   * kept it LIVE (ConnectionLifecycle.replayMayResume) and the sink took it. The checksum still checks the result.
   * `keepalive`: the ~60 s keepalive (nothing applied); `reset`: a maintenance reset (seqId below prevSeqId).
   */
  private resumeStale(t: OkxTopic, keepalive: boolean, reset: boolean, tsUs: number): boolean {
    const index = t.index;
    const oneStream = t.conn.retiringGeneration < 0 && this.soloGen[index] === t.conn.generation && this.lagOpen[index] !== 1 && this.sequenced[index] === true;
    // A reset chaining on a REST book nothing chained on since: live resyncs that book (resetOnBridgedSnapshot); until
    // s-sr2 resumed here, LIVE with the reset applied to a REST book that may be from after it.
    if (reset && this.bridgeOpen[index]) return false;
    // An update stamped before the REST book the book was bridged from contradicts it, as on a LIVE book (bridgeTsUs):
    // not resumed (until s-okxts resumed unchecked, LIVE with it applied).
    const bridgeTsUs = this.bridgeTsUs[index]!;
    if (bridgeTsUs !== 0 && tsUs !== 0 && tsUs < bridgeTsUs) return false;
    if (!this.books.replaying || !oneStream || !this.lifecycle.replayMayResume(t) || this.sink!.onBookResumed?.(index) !== true) return false;
    if (tsUs >= bridgeTsUs) this.bridgeTsUs[index] = 0;
    this.bridge.drop(index);
    // A keepalive leaves the REST book open to a straddle or a reset, as live's does (until s-sr2 closed here).
    if (!keepalive) this.bridgeOpen[index] = false;
    this.books.onLive(t, this.now());
    return true;
  }

  private onSequenceBreak(t: OkxTopic, prev: number, seq: number): void {
    this.c.gaps++;
    this.lag.close(t.index);
    // What broke it: NaN is an update without seqIds; a book from a snapshot without one has no seqId to follow (its
    // lastSeq 0 is none). Until 2026-12-07 both read as seqIds: "prevSeqId 0 seqId 5 after seqId 0", "prevSeqId -2 …".
    const update = Number.isNaN(prev) ? "an update without seqId" : `prevSeqId ${prev} seqId ${seq}`;
    const book = this.sequenced[t.index] ? `after seqId ${t.lastSeq}` : "on a book from a snapshot without seqId";
    this.gapLog.hit(`${t.market} ${t.topic}: ${update} ${book}`);
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /**
   * TopicResync's restart (and the lifecycle's once a backoff is over): drops a REST bridge, then resubscribes
   * within the connection's hourly request budget. A topic already waiting for the budget sends nothing more; when
   * its wait is over the budget is checked again at its place in line (BudgetWaits.restart), so topics that waited
   * together go one after another.
   */
  restart(t: OkxTopic): void {
    if (this.prepareRestart(t)) this.budgetWaits.restart(t, () => this.control.restartTopic(t));
  }

  /**
   * restart for many topics of one connection at once (a planned reconnect's go-back redoing the books restarted
   * during its overlap): each prepared as restart, their requests batched (SubscriptionControl.restartTopics: ⌈N/k⌉
   * unsubscribes, then ⌈N/k⌉ subscribes), the hourly budget asked once for the batch's messages. Until 2026-12-07
   * each went alone: 2N of the 480 requests an hour for N books. A batch the budget cannot take now goes as restart
   * does, each topic waiting for the budget on its own.
   */
  restartMany(ts: readonly OkxTopic[]): void {
    const batch: OkxTopic[] = [];
    for (const t of ts) if (this.prepareRestart(t) && !this.budgetWait[t.index]) batch.push(t);
    if (batch.length === 0) return;
    if (this.requestBudget.restartManyWaitMs(batch) > 0) {
      for (const t of batch) this.budgetWaits.restart(t, () => this.control.restartTopic(t));
      return;
    }
    this.control.restartTopics(batch);
  }

  /**
   * A subscribe of these topics is written on their connection's socket (RequestProtocol.requested, live and replay;
   * during an overlap the replacement, after a go-back the old one): its answer is of whichever run the venue is in now,
   * so a mark behind a reset on that socket ends (a mark on an overlap's old socket stays: its stream goes on), as
   * Bybit's and Deribit's onSubscribeWritten. Until s-okxmark only a restart (prepareRestart), a closure or the
   * connection's end did: a replacement marked while its resubscribe was out (the other socket's reset taken
   * meanwhile), that subscribe refused for a reason that may pass and sent again after the old socket closed, had the
   * retry's answer and every book after it ignored while not below the socket's last pre-reset seqId (no sign of
   * life), the book not LIVE until the stale rule resubscribed it. Cold.
   */
  private onSubscribeWritten(topics: readonly OkxTopic[]): void {
    for (const t of topics) if (this.fullSockets.behind.subscribeWritten(t.index, t.conn.generation)) this.fullSockets.clear(t.index);
  }

  /** restart's book-side part, live and replay alike; true when a request is to follow (live). */
  private prepareRestart(t: OkxTopic): boolean {
    this.bridge.drop(t.index);
    // bridgeOpen and bridgeTsUs stay (read only while LIVE): a replayed STALE book resumed (resumeStale) is still the
    // REST book's, open to a straddle and not to a reset as live's; the next snapshot or bridge replaces them. Until
    // s-sr2 bridgeOpen was cleared here, and a resumed book took a reset on its REST book that live resynced.
    // The resubscribe goes on the connection's socket: a mark on the overlap's old socket stays, its stream goes on
    // behind the reset (before 2026-12-06 cleared, and the book, not LIVE, took its next pre-reset book: LIVE there).
    if (t.conn.retiringGeneration < 0 || this.behindReset[t.index] !== t.conn.retiringGeneration) this.fullSockets.clear(t.index);
    if (this.books.replaying && t.conn.retiringGeneration >= 0 && t.onRetiring) this.replayRestartWanted[t.index] = 1;
    // A resubscribe's answer is taken as it comes (a venue time gone back would leave the book held until the next).
    this.carrierTrail[t.index] = 0;
    this.sameMsHeld[t.index] = 0;
    return !this.books.replaying;
  }

  /** Rejected frames: counted, logged, pinned to their book, which resyncs (parse-errors.ts). */
  onUnknownTopic(conn: OkxConnection, frame: string): void {
    this.parseErrors.onUnknownTopic(conn, frame);
  }

  onParseError(conn: OkxConnection, entry: number, code: number, frame: string, detail?: string): void {
    this.parseErrors.onParseError(conn, entry, code, frame, detail);
  }

  /** A REST book whose price or size does not fit the exponents: re-checked as a frame's would be (rest-bridge.ts). */
  recheckInstrument(t: OkxTopic): void {
    this.parseErrors.recheckInstrument(t);
  }

  onText(conn: OkxConnection, text: string): boolean {
    return this.control.onText(conn, text);
  }

  onControl(conn: OkxConnection, msg: unknown): void {
    // 64008 (service upgrade): make-before-break now, or once there is connect budget (3 per second: the notice reaches
    // every connection at once) or the overlap under way is over (a notice on its replacement: that server is upgraded
    // too); the lifecycle keeps it and starts it then. On the retiring socket: being replaced already.
    if (this.control.onControl(conn, msg) === "planned_close" && !conn.fromRetiring) this.lifecycle.onPlannedClose(conn, "notice 64008 (service upgrade)");
  }

  configOf(): VenueConfig {
    return this.config;
  }

  instrumentOf(index: number): Instrument {
    return this.instruments![index]!;
  }

  /** A REST snapshot bridged to the stream (rest-bridge.ts): the book is LIVE; the next update may straddle it (book-hooks.ts). */
  applyRestSnapshot(t: OkxTopic, u: BookUpdate): void {
    applyBridgedSnapshot(this, t, u);
  }

  topicOf(index: number): OkxTopic | undefined {
    return this.topics[index];
  }

  stats(): Record<string, number> {
    return okxStats(this.c, this.conns, this.topics, { lifecycle: this.lifecycle, control: this.control, books: this.books, bridge: this.bridge, watch: this.watch, pacer: this.instrumentPacer });
  }

  /** Cold: every connection (none when replaying), so /readyz can say which venue is down and why. */
  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.books.replaying);
  }

  metrics(): VenueMetric[] {
    return [...okxMetrics(this.stats(), this.c, this.conns, this.lifecycle.connectBudgets()), ...this.watch.metrics()];
  }

  /** Cold: one topic's state for tests and status. */
  topicInfo(index: number): Record<string, unknown> {
    const t = this.topics[index]!;
    return { topic: t.topic, state: BOOK_STATE_NAMES[t.book]!, seqId: t.lastSeq, subscribed: t.sub === SUB_ACTIVE, rejected: t.sub === SUB_REJECTED, connection: t.conn.name, resyncs: t.resyncs, resyncAttempt: t.resyncAttempt };
  }
}
