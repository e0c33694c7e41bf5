// HOT PATH: no allocation (BinanceAdapter.onDiff on a live book, called by connection.ts per frame; the rest is cold)
/**
 * The Binance spot and USD-M adapter (docs/venues/binance.md): combined diff streams kept subscribed, and per
 * stream a REST depth snapshot (snapshot-fetch.ts) bridged to the buffered diffs (../common/rest-bridge.ts) by the
 * market's rule:
 * - spot: drop u ≤ lastUpdateId; the first applied diff has U ≤ lastUpdateId + 1 ≤ u; then U = previous u + 1;
 * - USD-M: drop u < lastUpdateId; the first has U ≤ lastUpdateId ≤ u, or pu = lastUpdateId; then pu = previous u
 *   (never the spot rule).
 * A break resyncs that stream alone: its book goes RESYNCING and the next diff starts a new bridge (a new snapshot
 * once one diff is buffered), with the per-topic backoff when it keeps failing; a diff at or below the book's u is a
 * repeat (make-before-break reconnects deliver each diff twice) and is ignored. Levels beyond the snapshot's depth
 * are unknown: diff levels past the worst price of a full snapshot side are dropped (BinanceTopic.bidFloor); such a
 * side that runs low is refreshed while LIVE, and one left empty resyncs the book (depth-band.ts, through verify()).
 * Connections, keepalive, requests, pacing, backoff and instruments are the common modules in ../common/.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import type { BookView } from "../../core/book-view.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, type BookSink, type RawFrameTap, type RawRestTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { connectionStates } from "../common/metrics.ts";
import { connectSplit } from "../common/budgets.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, replayFrame, type TopicState } from "../common/connection.ts";
import { INSTRUMENT_RELOAD_MS, type InstrumentReloader } from "../common/instrument-reload.ts";
import { InstrumentWatch, watchSettings } from "../common/instrument-watch.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import { DEFAULT_MAX_BUFFERED_BYTES, type DiffRange, refusalDropsBridge } from "../common/rest-bridge.ts";
import { staleAfterFromConfig } from "../common/staleness.ts";
import { SubscriptionControl } from "../common/subscription-control.ts";
import { lossMayCost, TopicResync } from "../common/topic-resync.ts";
import { type BinanceConnection, BinanceTopic, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING } from "./connection.ts";
import { planConnections } from "./connection-plan.ts";
import { DepthBand } from "./depth-band.ts";
import { binanceInstrumentSource } from "./instruments.ts";
import { bridgesSnapshot, type ChainedRange, coveredBySnapshot, MarketBridges, splitByMarket, streamsByMarket } from "./market-bridges.ts";
import { binanceMetrics } from "./metrics.ts";
import { defaultStaleAfterMs, splitBufferBudget, type BinanceAdapterOptions } from "./options.ts";
import { BinanceRest } from "./rest.ts";
import { BINANCE_KEEPALIVE, BINANCE_REQUESTS, CONNECT_WINDOW_MS, CONNECTS_PER_WINDOW, MAX_CONNECTION_AGE_MS, PLANNED_STREAMS_PER_CONNECTION } from "./protocol.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import { OverlapHold } from "./overlap-hold.ts";
import { abandonFetch, BinanceSnapshotFetch } from "./snapshot-fetch.ts";
import { binanceStats } from "./stats.ts";

export { defaultStaleAfterMs, type BinanceAdapterOptions } from "./options.ts";

/**
 * A resyncing book's diffs are buffered only from this long before its market's REST hold ends: the bridge's
 * snapshot is asked for then and goes out as the hold ends, and the diffs it needs are the ones of the last moments.
 */
export const BUFFER_LEAD_MS = 5_000;

/** A diff buffered by a bridge, as it arrived: U (first) to u (last), pu (prev; -1 on spot), its socket, and whether the overlap held it first. */
interface BufferedDiff extends ChainedRange {
  /** The delivering socket's generation. */
  readonly gen: number;
  /** Held by the overlap (counted in overlapHeld) before it was buffered. */
  readonly held: boolean;
}

export class BinanceAdapter implements VenueAdapter {
  readonly venue = "binance" as const;
  private readonly log: Logger;
  private readonly now: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  private readonly wallNow: () => number;
  readonly rawFrameTap: RawFrameTap | undefined;
  private readonly rawRestTap: RawRestTap | undefined;
  private readonly topics: BinanceTopic[];
  private readonly conns: BinanceConnection[];
  private readonly control: SubscriptionControl;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly books: TopicResync;
  /** Per market (spot and USD-M wait in different REST queues): each its part of the bytes, its own rank order. */
  private readonly bridge: MarketBridges<BufferedDiff>;
  /** The bridges' REST depth snapshots (snapshot-fetch.ts). */
  private readonly snapshotFetch: BinanceSnapshotFetch;
  /** Sides bounded by their snapshot's depth: refreshed while LIVE when they run low, resynced when empty. */
  private readonly band: DepthBand;
  /** Per market REST weight budgets and their fetches (rest.ts). */
  private readonly rest: BinanceRest;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for exchangeInfo). */
  private readonly restStop: RestStop;
  private instruments: (Instrument | undefined)[] | null = null;
  /**
   * Loading, each market's exchangeInfo reloaded every instrument_reload_ms and when a number does not fit, and the
   * symbols left out at start: one schedule, one query per market run (common/instrument-watch.ts).
   */
  private readonly watch: InstrumentWatch<BinanceTopic>;
  readonly reloader: InstrumentReloader;
  private sink: BookSink | null = null;
  private replaying = false;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;
  private readonly parseErrorsByCode = new Map<string, number>();
  // Counters (hot increments, cold reads).
  private snapshots = 0;
  private deltas = 0;
  private gaps = 0;
  private duplicates = 0;
  private ignoredWhileUnsubscribed = 0;
  private bridgesFailed = 0;
  private unattributedParseErrors = 0;
  private restInReplay = 0;
  /** Diffs of resyncing books not buffered because their market's REST was held (429 / 418) past BUFFER_LEAD_MS. */
  private diffsNotBufferedWhileHeld = 0;
  /** Bridges whose buffer was dropped when their market's REST hold was found to last past BUFFER_LEAD_MS. */
  private buffersDroppedWhileHeld = 0;
  /** Diffs ahead of the book during a planned reconnect's overlap, and the replacement's join (overlap-hold.ts). */
  private readonly overlap: OverlapHold;
  /** Set while a refused snapshot's resync is booked: the bridge keeps its buffer. */
  private keepBuffer = false;

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    opts: BinanceAdapterOptions,
  ) {
    this.log = opts.log;
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    this.rawFrameTap = opts.onRawFrame;
    this.rawRestTap = opts.onRawRest;
    const random = opts.random ?? Math.random;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "binance: diff frames rejected");
    this.gapLog = new RateLimitedLog(this.log, "warn", "binance: diff chain breaks; books resynced");
    this.restStop = new RestStop(config.venue);
    this.rest = new BinanceRest(this.restStop.wrap(opts.fetch ?? fetch), this.now, opts.budgetShare, opts.budgetLedger, this.restStop.signal, this.wallNow, opts.log);
    const plan = planConnections(this, config, subscriptions, opts.maxStreamsPerConnection ?? PLANNED_STREAMS_PER_CONNECTION);
    this.conns = plan.conns;
    this.topics = plan.topics;
    // A refused stream waits for no REST snapshot (common/rest-bridge.ts): restart() aborts its fetch unrecorded.
    const invalidate = refusalDropsBridge(
      (t) => this.restart(t as BinanceTopic),
      (t, state, reason) => this.books.invalidate(t, state, reason),
    );
    this.control = new SubscriptionControl(BINANCE_REQUESTS, this.log, this.now, opts.maxArgsPerRequest, invalidate, opts.budgetShare, opts.budgetIndex, opts.budgetLedger);
    this.books = new TopicResync({
      venue: "binance",
      log: this.log,
      now: this.now,
      random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => this.restart(t as BinanceTopic),
    });
    // The market's rule (market-bridges.ts): the resync bridges' and the depth refreshes' alike.
    const bridges = (seq: number, d: ChainedRange, t: TopicState) => bridgesSnapshot(seq, d, t.market);
    const covered = (seq: number, d: DiffRange, t: TopicState) => coveredBySnapshot(seq, d, t.market);
    // One byte budget (config, else 256 MiB) split three ways: the resync bridges' buffers, the depth refreshes', the
    // overlap hold's (options.ts maxBufferedBytes); each part again per market (market-bridges.ts splitByMarket).
    const budget = splitBufferBudget(opts.maxBufferedBytes ?? config.restBridgeBufferBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    const streams = streamsByMarket(this.topics);
    this.overlap = new OverlapHold(
      {
        apply: (t, u, first, prev) => this.apply(t, u, first, prev),
        breakStream: (t, first, prev, u) => this.onBreak(t, first, prev, u),
        repeat: () => void this.duplicates++,
        // Through onDiff: the first held diff handed over may complete the bridge, and the ones after it are live diffs.
        rebuffer: (t, u, first, prev) => this.overlap.asFrom(null, true, () => this.onHeldDiff(t, u, first, prev)),
      },
      splitByMarket(budget.holdBytes, streams),
    );
    this.bridge = new MarketBridges<BufferedDiff>({
      // Never called: every bridge begins without a fetch and gets its snapshot through supply() (startFetch, replay).
      fetchSnapshot: () => Promise.reject(new Error("binance: snapshots are supplied")),
      bridges,
      covered,
      deliver: (t, u, d) => this.onDelivered(t as BinanceTopic, u, d),
      fail: (t, why, detail) => (why === "no_bridge" ? this.onOlderSnapshot(t as BinanceTopic, detail) : this.onBridgeFailed(t as BinanceTopic, why, detail)),
    }, splitByMarket(budget.resyncBytes, streams));
    this.snapshotFetch = new BinanceSnapshotFetch({
      config,
      rest: this.rest,
      now: this.now,
      rawRestTap: this.rawRestTap,
      bridge: this.bridge,
      instrumentOf: (t) => this.instruments?.[t.index],
      stopping: () => this.lifecycle.stopping,
      misfit: (t) => this.recheckInstrument(t),
      refused: (t, detail) => {
        // No request out until it asks again (after the backoff, at the queue's end): over the byte budget its buffer
        // gives way before those of the bridges with one (common/rest-bridge.ts makeRoom, WAITING_RANK).
        this.bridge.waits(t);
        this.keepBuffer = true; // restart() keeps the buffer: the diffs wait for the next snapshot
        try {
          this.onBridgeFailed(t, "refused", detail);
        } finally {
          this.keepBuffer = false;
        }
      },
    });
    this.band = new DepthBand(
      {
        log: this.log,
        now: this.now,
        replaying: () => this.replaying,
        stopping: () => this.lifecycle.stopping,
        bridges,
        covered,
        fetch: (t) => this.fetchRefresh(t),
        publish: (t, book) => {
          this.snapshots++;
          t.lastMsgMs = this.now();
          this.sink!.onBookUpdate(t.index, book);
        },
      },
      opts.depthRefreshFraction,
      splitByMarket(budget.refreshBytes, streams),
    );
    this.lifecycle = new ConnectionLifecycle(
      "binance",
      this.conns,
      this.control,
      {
        invalidate,
        resync: (t, state, reason) => this.books.resync(t, state, reason),
        // The stream stays subscribed: diffs buffered during the backoff get their snapshot now, else the next diff starts the bridge.
        restartAfterBackoff: (t) => this.onBackoffOver(t as BinanceTopic),
        // So a stream whose subscribe may have been refused (an answer naming no request) is subscribed again for real.
        resyncKeepsSubscription: true,
        // A bridge ends with its connection: the new connection's first diff starts a new one (and a new snapshot).
        disconnected: (t) => this.restart(t as BinanceTopic),
        // A frame whose handling threw: the rule for a frame refused (lost), no misfit.
        frameLost: (conn, t) => this.lost(conn as BinanceConnection, t as BinanceTopic | undefined, 0),
        awaitingJoin: (conn) => this.overlap.awaitingJoin(conn),
        overlapOver: (conn, carrier) => this.overlap.overlapOver(conn, carrier),
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random,
        keepalive: BINANCE_KEEPALIVE,
        maxConnectionAgeMs: opts.maxConnectionAgeMs ?? MAX_CONNECTION_AGE_MS,
        staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config, defaultStaleAfterMs),
        resyncBackoffBaseMs: this.books.baseMs,
        ...connectSplit(CONNECTS_PER_WINDOW, CONNECT_WINDOW_MS, opts, this.now),
        connectsPerMarket: true, // spot and USD-M: two hosts, each its own connect limit (protocol.ts CONNECTS_PER_WINDOW)
      },
    );
    this.watch = new InstrumentWatch<BinanceTopic>({
      ...{ venue: "binance", log: this.log, now: this.now, wallNow: this.wallNow, random, config, subscriptions, topics: this.topics, ...watchSettings(opts) },
      // Each exchangeInfo spends the market's REST weight (rest.ts) and keeps its weight limit current.
      source: binanceInstrumentSource(config, (m) => this.rest.fetchOf(m), (m, info) => this.rest.takeLimits(m, info)),
      intervalMs: config.instrumentReloadMs ?? INSTRUMENT_RELOAD_MS,
      stop: this.restStop.signal,
      restHeldUntilMs: (m) => this.rest.heldUntilMs(m), // a 429/418 hold: when the late symbols are really asked
      ...{ instruments: () => this.instruments, sink: () => this.sink, lifecycle: () => this.lifecycle },
      addToTable: (t, x) => t.conn.table.addStream(t.topic, t.symbol, t.index, x.priceExp, x.qtyExp),
      apply: (t, inst) => this.applyInstrument(t, inst),
    });
    this.reloader = this.watch.reloader;
  }

  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.instruments = await this.watch.load();
    return this.instruments;
  }

  private prepare(sink: BookSink, replaying: boolean): void {
    if (this.sink) throw new Error("binance: started twice");
    this.watch.bindTopics(replaying);
    this.sink = sink;
    this.books.sink = sink;
    this.replaying = replaying;
    this.books.replaying = replaying;
  }

  start(sink: BookSink): void {
    this.prepare(sink, false);
    this.lifecycle.start();
    this.watch.start(sink);
    this.log.info("binance adapter started", { connections: this.conns.filter((c) => c.used).length, topics: this.topics.length });
  }

  /** Replay: no connections; diffs come through ingestFrame, the snapshots they bridge to through ingestRest. */
  startReplay(sink: BookSink): void {
    this.prepare(sink, true);
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  /** Replay: a frame recorded as the old socket's during a planned reconnect's overlap (`ws:old`) is handled as the old socket's. */
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    return replayFrame(this.conns, market, connection, frame, tsRecvUs);
  }

  /**
   * A recorded REST depth snapshot (`…/depth?symbol=X&limit=N`): handed to that stream's bridge synchronously, so
   * replay bridges exactly as the live run did. Frames and snapshots must come in receive-time order.
   */
  ingestRest(market: MarketName, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    // A replacement's refusal held (ws:back would have come before it, live's go-back being a microtask): the venue's.
    connectionNamed(this.conns, connection)?.replayRefusalHeld?.();
    const m = /\/depth\?(?:.*&)?symbol=([^&]+)(?:&.*)?$/.exec(url);
    if (!m) return false;
    let symbol: string;
    try {
      symbol = decodeURIComponent(m[1]!);
    } catch {
      return false; // not well-formed percent-encoding (a damaged capture): skipped, as a record naming no stream of ours
    }
    const limit = Number(/[?&]limit=(\d+)/.exec(url)?.[1] ?? NaN);
    const t = this.topics.find((x) => x.market === market && x.symbol === symbol && x.sub !== SUB_REJECTED && (Number.isNaN(limit) || x.depth === limit));
    const inst = t ? this.instruments?.[t.index] : undefined;
    if (!t || !inst) return false;
    this.restInReplay++;
    const into = new BookUpdate();
    let seq: number;
    try {
      seq = this.snapshotFetch.read(body, inst.priceExp, inst.qtyExp, into);
    } catch (err) {
      this.log.warn("binance: recorded depth snapshot unusable", { market, symbol, error: String(err) });
      return true;
    }
    into.tsRecvUs = tsRecvUs;
    // Live, the run asked for it to refresh the book (depth-band.ts), or for a resync this replay did not need.
    if (t.book === BookState.LIVE) {
      this.band.supplyRecorded(t, into, seq);
      return true;
    }
    if (!this.bridge.isBridging(t)) this.beginBridge(t);
    this.bridge.supply(t, into, seq);
    return true;
  }

  /**
   * A recorded connection close: that connection's books go RESYNCING / DISCONNECTED as live; an open does the same to
   * a book still LIVE there (its socket's close not in the capture: ConnectionLifecycle.replayOpened). Its socket
   * events (`ws:sockets`, `ws:state`, `ws:overlap`, `ws:swap`, `ws:old`, `ws:retired`, `ws:back`) make a planned
   * reconnect's overlap the live run's, so a diff ahead of the book waits for the other socket's as live's did
   * (overlap-hold.ts), and a `ws:retired` sends the books it names (the old socket was their only feed) RESYNCING as
   * live did. Until 2026-12-06 they were ignored: the replacement's first diff ahead was a break in replay, and
   * the book waited RESYNCING for a REST snapshot the capture does not hold, where live kept it LIVE.
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    if (connectionNamed(this.conns, connection) === undefined) return false;
    if (url === CONNECTION_CLOSED_URL) this.lifecycle.replayDisconnected(connection);
    else if (url === CONNECTION_OPENED_URL) this.lifecycle.replayOpened(connection);
    else this.lifecycle.replaySocketEvent(connection, url, body);
    return true;
  }

  /**
   * Replay: records were lost here (app Feeder.captureGap): the requests still unanswered are forgotten and a book
   * refused for now takes its frames again (ConnectionLifecycle.replayCaptureGap).
   */
  replayCaptureGap(): void {
    this.lifecycle.replayCaptureGap();
  }

  requestResync(index: number, reason: StatusReason): void {
    const t = this.topics[index];
    if (!t || t.sub === SUB_REJECTED) return;
    this.books.resync(t, BookState.RESYNCING, reason);
  }

  stop(): Promise<void> {
    this.restStop.stop(); // exchangeInfo, snapshots and budget waits under way end now
    for (const t of this.topics) {
      this.bridge.cancel(t);
      this.band.cancel(t);
      abandonFetch(t);
    }
    this.watch.stop();
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

  // HOT PATH: one call per accepted diff. first = U, prev = pu (-1 on spot).
  onDiff(index: number, update: BookUpdate, first: number, prev: number): void {
    const t = this.topics[index]!;
    if ((t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) || t.refusedUntilAck) {
      // Refused for now, it waits for its subscribe to be accepted again: no bridge (and no snapshot) meanwhile.
      if (t.refusedUntilAck) t.lastMsgMs = this.now(); // pushed all the same: the stream is alive, not stale
      this.ignoredWhileUnsubscribed++;
      return;
    }
    if (t.book !== BookState.LIVE) {
      // Replay: a book just gone STALE whose next diff continues its last u (spot U, USD-M pu) missed nothing.
      if (t.book === BookState.STALE && this.resumeStale(t, update.venueSeq, first, prev)) this.apply(t, update, first, prev);
      else this.onDiffWhileSyncing(t, update, first, prev);
      return;
    }
    const u = update.venueSeq;
    if (u <= t.lastSeq) {
      // Already applied: the other socket of a make-before-break, or a repeat. Spot drops u ≤ the book's id, USD-M
      // u < it; u = the book's id is the diff just applied on USD-M too.
      this.duplicates++;
      if (t.conn.retiringGeneration >= 0) this.overlap.afterDiff(t); // a planned reconnect's overlap (cold)
      return;
    }
    if (t.market === "spot" ? first !== t.lastSeq + 1 : prev !== t.lastSeq) {
      // During a planned reconnect's overlap a diff ahead of the book waits for the other socket's (overlap-hold.ts).
      if (t.conn.retiringGeneration >= 0 && OverlapHold.ahead(t, first, prev) && this.overlap.hold(t, update, first, prev)) return;
      this.onBreak(t, first, prev, u);
      return;
    }
    this.apply(t, update, first, prev);
    if (t.conn.retiringGeneration >= 0) this.overlap.afterDiff(t);
  }

  /** Applies a continuing diff (the depth rule, then the sink). HOT PATH. */
  private apply(t: BinanceTopic, update: BookUpdate, first: number, prev: number): void {
    t.lastMsgMs = this.now();
    t.lastSeq = update.venueSeq;
    // A refresh of the bounded book runs (cold): the diff is buffered for its snapshot first, and one that completes
    // it is in the refreshed book, published as a snapshot.
    if (t.refreshing && this.band.buffer(t, update, first, prev)) return;
    if (t.bidFloor >= 0 || t.askCeiling !== Infinity) this.clipBeyondDepth(t, update);
    this.deltas++;
    this.sink!.onBookUpdate(t.index, update);
  }

  /** Drops diff levels past a full snapshot side's worst price: the book does not know what lies there. */
  private clipBeyondDepth(t: BinanceTopic, u: BookUpdate): void {
    let n = 0;
    for (let i = 0; i < u.bidCount; i++) {
      if (u.bidPx[i]! < t.bidFloor) continue;
      u.bidPx[n] = u.bidPx[i]!;
      u.bidQty[n++] = u.bidQty[i]!;
    }
    t.beyondDepth += u.bidCount - n;
    u.bidCount = n;
    n = 0;
    for (let i = 0; i < u.askCount; i++) {
      if (u.askPx[i]! > t.askCeiling) continue;
      u.askPx[n] = u.askPx[i]!;
      u.askQty[n++] = u.askQty[i]!;
    }
    t.beyondDepth += u.askCount - n;
    u.askCount = n;
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * Replay: the STALE book's next diff continues its last u by the market's rule (spot U = u + 1, USD-M pu = u), with
   * no planned reconnect's overlap, bridge or depth refresh under way: LIVE again at its kept levels when live may have
   * kept it LIVE (ConnectionLifecycle.replayMayResume) and the sink took it; the caller applies the diff. Before, it
   * was buffered for a bridge to the next REST snapshot the capture holds.
   */
  private resumeStale(t: BinanceTopic, u: number, first: number, prev: number): boolean {
    const last = t.seqBeforeInvalid;
    const continues = last > 0 && u > last && (t.market === "spot" ? first === last + 1 : prev === last);
    if (!continues || !this.replaying || t.conn.retiringGeneration >= 0 || t.refreshing || this.bridge.isBridging(t)) return false;
    if (!this.lifecycle.replayMayResume(t) || this.sink!.onBookResumed?.(t.index) !== true) return false;
    this.books.onLive(t, this.now());
    return true;
  }

  /** A diff for a book that is not live: buffer it for the bridge, starting one (and its snapshot) if none runs. */
  private onDiffWhileSyncing(t: BinanceTopic, update: BookUpdate, first: number, prev: number): void {
    // The stream is not silent: a snapshot queued behind the REST weight budget (a reconnect of 200 symbols waits
    // minutes for it) must not be taken for a stale stream, whose resync would queue yet another snapshot.
    t.lastMsgMs = this.now();
    if (t.refreshing) this.band.cancel(t); // left LIVE without a resync (halted, stale): a refresh has no book to refresh
    if (t.resyncDelayed && this.now() >= t.resyncDueMs) t.resyncDelayed = false; // the backoff is over
    const sent = t.fetchAbort !== null && this.rest.wasSent(t.fetchAbort.signal);
    if (!this.replaying && !sent && !this.bridge.hasSnapshot(t) && this.rest.heldUntilMs(t.market) - this.now() > BUFFER_LEAD_MS) {
      // REST is held (a 429's Retry-After, a 418 ban of up to hours): no snapshot can come before the hold ends, and
      // buffering all the while is memory for nothing. The book stays RESYNCING; buffering starts again (and its
      // snapshot is asked for, queued behind the hold) with the first diff within BUFFER_LEAD_MS of the hold's end.
      // A snapshot already in hand waits only for this diff, one already sent may answer: both kept (the answer that
      // reached 80 % of the weight holds REST to the minute's end; before, the bridges of its own snapshot and of the
      // requests on the wire with it were dropped, their weight spent, and the books waited out the hold).
      this.diffsNotBufferedWhileHeld++;
      if (this.bridge.isBridging(t)) {
        this.buffersDroppedWhileHeld++;
        this.restart(t);
      }
      return;
    }
    // During a planned reconnect's overlap the old socket's diffs fill the bridge; the replacement's wait (overlap-hold.ts).
    if (t.conn.retiringGeneration >= 0 && this.overlap.holdForBridge(t, update, first, prev)) return;
    if (!this.bridge.isBridging(t)) this.beginBridge(t);
    // During a backoff the diffs are buffered and the snapshot waits (onBackoffOver asks for it).
    if (!t.fetching && !t.resyncDelayed && !this.replaying) this.snapshotFetch.start(t);
    // The socket's generation, not "old or not": a bridge can outlive the overlap that buffered it (a go-back and the
    // next planned reconnect; the old socket closed): what is not the current socket's is never a replacement's join.
    const gen = t.conn.retiringGeneration >= 0 && this.overlap.fromOld(t) ? t.conn.retiringGeneration : t.conn.generation;
    this.bridge.buffer(t, update, { first, last: update.venueSeq, prev, gen, held: this.overlap.handing });
  }

  /**
   * Starts buffering a stream's diffs. The snapshot is asked for separately (startFetch) and handed to the bridge
   * with supply(), as replay hands over the capture's own snapshot (ingestRest).
   */
  private beginBridge(t: BinanceTopic): void {
    t.awaitingFirst = false;
    t.fetching = false;
    abandonFetch(t);
    t.bridgeSeq++;
    this.bridge.begin(t, false);
  }

  private onBackoffOver(t: BinanceTopic): void {
    // A (re)connect during the wait subscribed only the topics not waiting: this stream is not subscribed now. Nor is
    // one unsubscribed to be subscribed again after the wait (SubscriptionControl.unmatchedRefusal): its subscribe
    // follows the unsubscribe's answer (restartTopic), else it would go nowhere.
    if (t.sub === SUB_IDLE || t.sub === SUB_UNSUBSCRIBING) return this.control.restartTopic(t);
    if (this.bridge.isBridging(t) && !t.fetching && !this.replaying) this.snapshotFetch.start(t);
  }

  /** The bridge hands over the snapshot (d null), then each remaining buffered diff, in order. */
  private onDelivered(t: BinanceTopic, u: BookUpdate, d: BufferedDiff | null): void {
    if (u.isSnapshot) {
      this.snapshots++;
      t.lastSeq = u.venueSeq;
      t.lastMsgMs = this.now();
      t.awaitingFirst = true;
      // A full side (as many levels as asked for) ends somewhere: past its worst price the book is unknown.
      t.bidFloor = u.bidCount >= t.depth && u.bidCount > 0 ? minOf(u.bidPx, u.bidCount) : -1;
      t.askCeiling = u.askCount >= t.depth && u.askCount > 0 ? maxOf(u.askPx, u.askCount) : Infinity;
      this.books.onLive(t, this.now());
      this.sink!.onBookUpdate(t.index, u);
      return;
    }
    if (t.book !== BookState.LIVE) return; // a break among the buffered diffs resynced it already
    if (!d) return;
    if (t.awaitingFirst) {
      t.awaitingFirst = false; // the bridge checked this one against the snapshot
      this.apply(t, u, d.first, d.prev);
      if (d.held) this.overlap.heldApplied++;
      if (t.conn.retiringGeneration >= 0) this.overlap.settle(t); // what the overlap held for the bridge
      return;
    }
    // The later buffered diffs go through the ordinary chain rule, with the U / pu (and socket) they arrived with.
    this.overlap.asFrom(d.gen !== t.conn.generation, d.held, () => (d.held ? this.onHeldDiff(t, u, d.first, d.prev) : this.onDiff(t.index, u, d.first, d.prev)));
  }

  /**
   * A diff the overlap held (counted in overlapHeld), handed back: by the hold at the overlap's end, or by the bridge
   * it was handed to. Counted in overlapHeldApplied when the chain rule applies it now; held again (the next overlap),
   * it is counted when that hold applies it; buffered by a bridge, when the bridge hands it over. Cold.
   */
  private onHeldDiff(t: BinanceTopic, u: BookUpdate, first: number, prev: number): void {
    const before = t.book === BookState.LIVE ? t.lastSeq : Infinity;
    this.onDiff(t.index, u, first, prev);
    // Applied: the book took it (and maybe held diffs after it). A repeat was at or below the book already; held
    // again, buffered or a break leave lastSeq below it.
    if (u.venueSeq > before && t.book === BookState.LIVE && t.lastSeq >= u.venueSeq) this.overlap.heldApplied++;
  }

  private onBridgeFailed(t: BinanceTopic, why: string, detail: string): void {
    this.bridgesFailed++;
    this.log.warn("binance: snapshot did not bridge; trying again", { market: t.market, symbol: t.symbol, why, detail });
    if (this.lifecycle.stopping) return;
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /**
   * The snapshot is older than the buffered diffs (spot step 4: lastUpdateId below the first U; "go back to step 3"):
   * they stay buffered and the next snapshot is asked for after the resync backoff, as for a refused one. Before, the
   * buffer was dropped and the next bridge started at the newest diff, so a REST answer that keeps lagging the
   * stream (a cached or replica book) never bridged.
   */
  private onOlderSnapshot(t: BinanceTopic, detail: string): void {
    t.fetching = false;
    this.keepBuffer = true; // restart() keeps the buffer
    try {
      this.onBridgeFailed(t, "no_bridge", detail);
    } finally {
      this.keepBuffer = false;
    }
    if (!t.resyncDelayed && this.bridge.isBridging(t) && !this.replaying && !this.lifecycle.stopping) this.snapshotFetch.start(t);
  }

  private onBreak(t: BinanceTopic, first: number, prev: number, u: number): void {
    this.gaps++;
    this.gapLog.hit(`${t.market} ${t.symbol}: U ${first} pu ${prev} u ${u} after ${t.lastSeq}`);
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /** A fresh start for one stream: drop its bridge; the next diff (after any backoff) starts a new one. */
  private restart(t: BinanceTopic): void {
    if (this.keepBuffer) return; // a refused snapshot: the same buffer waits for the next one
    this.overlap.drop(t);
    this.bridge.cancel(t);
    this.band.cancel(t);
    abandonFetch(t);
    t.bridgeSeq++;
    t.fetching = false;
    t.awaitingFirst = false;
  }

  /**
   * The app's check after each applied update, before it is published: a side bounded by its snapshot's depth and
   * left empty is DEPTH_EXHAUSTED (not published; the book resyncs); one that runs low is refreshed (depth-band.ts).
   */
  verify(index: number, book: BookView): StatusReason {
    const t = this.topics[index]!;
    if (t.bidFloor < 0 && t.askCeiling === Infinity) return StatusReason.NONE; // both sides whole: nothing to run out
    return this.band.check(t, book);
  }

  /** A LIVE book's refresh snapshot, asked for only while the REST budget has half of it spare (depth-band.ts). */
  private fetchRefresh(t: BinanceTopic): boolean {
    if (!this.rest.spareRoomFor(t.market, this.snapshotFetch.urlOf(t))) return false;
    this.snapshotFetch.start(t, this.refreshTarget);
    return true;
  }

  private readonly refreshTarget = {
    isBridging: (t: BinanceTopic) => this.band.isRefreshing(t),
    supply: (t: BinanceTopic, u: BookUpdate, seq: number) => this.band.supply(t, u, seq),
    refused: (t: BinanceTopic, detail: string) => this.band.refused(t, detail),
    retry: false,
  };

  /**
   * A diff frame of a stream not in the connection's table (a garbled name: the connection carries only what we asked
   * for): counted once, in unknownTopic (unknown_topic_total: well-formed, for a stream not subscribed), and lost as a
   * frame unreadable down to its stream. Until s-binleft it was counted as a parse error too (parse_errors_total,
   * parseErrors.unknown_topic, unattributedParseErrors). Replay does the same when no recorded request of the connection
   * named the stream (VenueConnection.replayUnknownToLive), and ignores one it named: a stream its config leaves out.
   */
  onUnknownTopic(conn: BinanceConnection, frame: string, scanPos = -1): void {
    if (!conn.unknownTopicLost(frame, this.replaying)) return; // replay: a stream live asked for (left out of this config) or requests not known: not counted
    this.rejected(conn, -1, SCAN_UNKNOWN_TOPIC, frame, scanPos);
  }

  /**
   * `scanPos`: where in this frame the scanner stopped, when the scanner decided `code`; -1 (none shown) when the JSON
   * path decided it. `detail`: what was wrong, where the code and the frame's head may not say it (the values of a
   * refused id range).
   */
  onParseError(conn: BinanceConnection, entry: number, code: number, frame: string, scanPos = -1, detail?: string): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    if (!this.rejected(conn, entry, code, frame, scanPos, detail)) this.unattributedParseErrors++;
  }

  /** A diff frame refused (`code`): logged, and what it may have lost resynced (lost()). Returns the stream it names, if found. */
  private rejected(conn: BinanceConnection, entry: number, code: number, frame: string, scanPos: number, detail?: string): BinanceTopic | undefined {
    let t = entry >= 0 ? conn.byTopic.get(conn.table.names[entry]!) : undefined;
    t ??= conn.topicOfFrame(frame);
    const what = detail === undefined ? "" : ` ${detail}`;
    // Until s-small2 the scanner's offset was shown whichever reader decided: where it handed the frame to the JSON
    // path (an escape), nothing to do with the error the JSON path found.
    const at = scanPos < 0 ? "" : ` at ${scanPos}`;
    this.parseErrorLog.hit(`${SCAN_RESULT_NAMES[-code] ?? String(code)}${what}${at} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    this.lost(conn, t as BinanceTopic | undefined, code);
    return t as BinanceTopic | undefined;
  }

  /**
   * The books a diff lost may have cost: `t`, the one its frame names (`code`: why it was refused; 0 for none, as a
   * frame whose handling threw: the lifecycle's frameLost hook), or, none named, every book of the connection. One
   * rule for both: until s-faulthook a thrown frame skipped a book waiting out its backoff, its buffer kept (a hole).
   */
  private lost(conn: BinanceConnection, t: BinanceTopic | undefined, code: number): void {
    if (!t) {
      // Unreadable down to its stream: the lost diff may be any book's of this connection, but one refused for now is
      // fed by none (resyncAll spares it, the unsubscribed and the waiting). Until s-rd16b it was resynced too.
      // One waiting out its backoff is spared the resync (resyncAll) but its buffer may hold the hole (below). Until
      // s-rd18c only a frame naming its stream dropped it: one naming none kept it (LIVE up to the hole, then a gap).
      for (const x of conn.topics) if (x.resyncDelayed && lossMayCost(x)) this.restart(x as BinanceTopic);
      this.books.resyncAll(conn.topics, StatusReason.PARSE_ERROR);
      return;
    }
    // Not subscribed (idle, being unsubscribed, given up) or refused for now, the stream feeds no book: its diffs are
    // ignored (onDiff), so a bad frame of it loses nothing. Until s-rdbin10 (refused for now) and s-rd16b (idle, being
    // unsubscribed) each was a resync, from the second on booking a backoff that held the book's subscribe or snapshot
    // back (halted-bridge.test.ts).
    if ((t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) || t.refusedUntilAck) return;
    // A misfit reloads exchangeInfo at once, a backoff or not: each diff after it misfits too, dropping the buffer
    // below, so no snapshot (nor its misfit) comes before the backoff ends. Until s-rd18c a backoff held the reload.
    if (code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY) this.recheckInstrument(t as BinanceTopic);
    if (t.resyncDelayed) {
      // Waiting out its backoff (no second resync), the stream still buffers for its bridge: the lost diff is a hole no
      // snapshot older than it can bridge past, and one newer covers what came before it. So the buffer goes now and
      // the next diff begins a new one. Until s-binmisfit it stayed: such a snapshot made the book LIVE up to the hole,
      // published, then broke there (a gap, the buffer kept to no use meanwhile).
      this.restart(t as BinanceTopic);
      return;
    }
    this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  onText(conn: BinanceConnection, text: string): boolean {
    return this.control.onText(conn, text);
  }

  onControl(conn: BinanceConnection, msg: unknown): void {
    if (this.control.onControl(conn, msg) === "planned_close") this.lifecycle.onPlannedClose(conn, "serverShutdown");
  }

  /** A price or size that does not fit: reload the market's exchangeInfo now (the watch; re-checks coalesce). */
  private recheckInstrument(t: BinanceTopic): void {
    if (!this.config.overrides.has(`${t.market}:${t.symbol}`)) this.watch.requestNow(t.market);
  }

  /**
   * A new tick or step from a reload: swap the exponents, tell the app, resync the book, ending any resync backoff
   * (new exponents are worth a snapshot now). Cold.
   */
  private applyInstrument(t: BinanceTopic, inst: Instrument): void {
    t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
    this.restart(t);
    this.books.invalidate(t, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
    this.sink?.onInstrumentChanged(t.index, inst);
    const waited = t.resyncDelayed;
    t.resyncDelayed = false;
    // The wait's end subscribes a stream a (re)connect left out during it (onBackoffOver); ended here, nothing else
    // would: until 2026-12-07 its book stayed RESYNCING, never subscribed (instrument-backoff.test.ts).
    if (waited && (t.sub === SUB_IDLE || t.sub === SUB_UNSUBSCRIBING)) this.control.restartTopic(t);
  }

  stats(): Record<string, number> {
    // The counters stay fields here (the hot path increments them); stats.ts lays them out with the parts' ones.
    const { snapshots, deltas, gaps, duplicates, ignoredWhileUnsubscribed, bridgesFailed } = this;
    const { unattributedParseErrors, diffsNotBufferedWhileHeld, buffersDroppedWhileHeld } = this;
    const counters = { snapshots, deltas, gaps, duplicates, ignoredWhileUnsubscribed, bridgesFailed, unattributedParseErrors, diffsNotBufferedWhileHeld, buffersDroppedWhileHeld };
    const { conns, topics, books, bridge, snapshotFetch, rest, lifecycle, control, parseErrorsByCode, overlap, band } = this;
    // The instrument counters (changes, re-checks, reloads, late symbols) are the watch's.
    return { ...binanceStats(counters, { conns, topics, books, bridge, snapshotFetch, rest, lifecycle, control, parseErrorsByCode, overlap, band }), ...this.watch.stats() };
  }

  /** Cold: every connection (none when replaying), so /readyz can say which venue is down and why. */
  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.replaying);
  }

  metrics(): VenueMetric[] {
    return [...binanceMetrics(this.stats(), this.conns, this.lifecycle.connectBudgets()), ...this.watch.metrics()];
  }

  /** Cold: the adapter's view of one subscription, for tests and diagnostics. */
  topicInfo(index: number): { state: string; lastU: number; bridging: boolean; refreshing: boolean; refreshBuffered: number; resyncs: number; connection: number } {
    const t = this.topics[index]!;
    return { state: BOOK_STATE_NAMES[t.book]!, lastU: t.lastSeq, bridging: this.bridge.isBridging(t), refreshing: t.refreshing, refreshBuffered: this.band.buffered(t), resyncs: t.resyncs, connection: t.conn.id };
  }
}

function minOf(a: Float64Array, n: number): number {
  let m = a[0]!;
  for (let i = 1; i < n; i++) if (a[i]! < m) m = a[i]!;
  return m;
}

function maxOf(a: Float64Array, n: number): number {
  let m = a[0]!;
  for (let i = 1; i < n; i++) if (a[i]! > m) m = a[i]!;
  return m;
}
