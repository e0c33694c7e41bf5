// HOT PATH: no allocation (DeribitAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The Deribit venue adapter and its per-channel sequencing rule (docs/venues/deribit.md, "Sequencing"): the first
 * notification of a channel is a snapshot, and every `change` must carry `prev_change_id` equal to the last
 * `change_id` (ids are not consecutive); otherwise that channel alone is resynced by unsubscribe + subscribe. A
 * snapshot at any time replaces the book; one repeating its id changes nothing, one older than a live book changes
 * nothing when it answers a subscribe of ours (a make-before-break's second socket) and otherwise means the venue
 * reset the book (resynced). A change repeating the last id is a duplicate (ignored, counted); an older one is too
 * from a make-before-break's other socket (no sign of the channel being alive), and a venue reset (resynced) from
 * the socket that delivered the book's id (replay of a capture that does not record the sockets, which cannot tell
 * them apart: one chaining from no trailing stream seen, trailSeq; one that records them is judged as live). Grouped channels
 * (`book.X.none.N.100ms`) are whole books applied as replace (one older than a live book is taken as an older
 * snapshot is). Changes before the first snapshot are ignored and
 * counted. Connecting, keepalive (answering `test_request`), deadlines, requests, acks, pacing and resync
 * backoff are the common modules in ../common/.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, type BookSink, type CommonAdapterOptions, type RawFrameTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import { BehindResetMarks } from "../common/behind-reset.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, replayFrame, seqReached, seqRepeated, SUB_ACTIVE, SUB_IDLE, SUB_REJECTED, SUB_UNSUBSCRIBING, TopicState, type TopicState as CommonTopic, type VenueConnection } from "../common/connection.ts";
import { budgetedFetch, connectSplit, RestWeightBudget, splitBudget } from "../common/budgets.ts";
import { budgetLink } from "../common/budget-ledger.ts";
import { InstrumentWatch, resyncForNewInstrument, watchSettings } from "../common/instrument-watch.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import { connectionMetrics, connectionStates, connectionStats, counter, gauge } from "../common/metrics.ts";
import { staleAfterFromConfig } from "../common/staleness.ts";
import { SubscriptionControl } from "../common/subscription-control.ts";
import { TopicResync } from "../common/topic-resync.ts";
import { DeribitConnection, type DeribitTopic } from "./connection.ts";
import { deribitInstrumentSource } from "./instruments.ts";
import { expiryOfName } from "./name-expiry.ts";
import {
  bookChannel,
  CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW,
  DEFAULT_INTERVAL,
  DERIBIT_KEEPALIVE,
  DeribitRequests,
  ERR_RAW_NEEDS_AUTH,
  HEARTBEAT_RETRY_BASE_MS,
  HEARTBEAT_RETRY_MAX_MS,
  MAX_CHANNELS_PER_CONNECTION,
  REST_LIMITED_MS,
  REST_REQUESTS_PER_SECOND,
  type DeribitInterval,
} from "./protocol.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";

export interface DeribitAdapterOptions extends CommonAdapterOptions {
  /**
   * Book interval of every market, over the config's (`venues.deribit.<market>.interval`, default `100ms`): tests
   * ask for `raw`, which needs an authorised connection (13778) and which the config refuses.
   */
  interval?: DeribitInterval;
  ackTimeoutMs?: number;
  staleAfterMs?: (depth: number, market: MarketName) => number;
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  reconnectResetAfterMs?: number;
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  resyncBackoffResetMs?: number;
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Channels per connection (default MAX_CHANNELS_PER_CONNECTION; tests force several connections). */
  maxTopicsPerConnection?: number;
  maxArgsPerRequest?: number;
}

/** Default silence before a book is stale: its channel pushes only on change, so quiet books need room. */
export function defaultStaleAfterMs(_depth: number, market: MarketName): number {
  return market === "option" ? 600_000 : 120_000;
}

export class DeribitAdapter implements VenueAdapter {
  readonly venue = "deribit" as const;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for the instrument REST). */
  private readonly restStop: RestStop;
  /** The REST limit the instrument queries share (budgets.ts). */
  private readonly restBudget: RestWeightBudget;
  private readonly now: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  private readonly wallNow: () => number;
  readonly rawFrameTap: RawFrameTap | undefined;
  readonly requests = new DeribitRequests();
  private readonly topics: DeribitTopic[] = [];
  private readonly conns: DeribitConnection[] = [];
  private readonly control: SubscriptionControl;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly books: TopicResync;
  private instruments: (Instrument | undefined)[] | null = null;
  /** Loading, re-checks and symbols left out at start, on one schedule (common/instrument-watch.ts). */
  private readonly watch: InstrumentWatch<DeribitTopic>;
  private unattributedParseErrors = 0;
  private sink: BookSink | null = null;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;
  private readonly intervalOverride: DeribitInterval | undefined;

  // Counters (hot increments, cold reads).
  private snapshots = 0;
  private deltas = 0;
  private replaces = 0;
  private gaps = 0;
  private duplicates = 0;
  private ignoredBeforeSnapshot = 0;
  private ignoredWhileUnsubscribed = 0;
  private repeatedSnapshots = 0;
  private olderSnapshots = 0;
  private venueResets = 0;
  /** Per topic: 1 while a subscribe we sent (replay: a recorded answer naming it) has not had its snapshot yet (an older one is then the second socket's). */
  private readonly snapshotDue: Uint8Array;
  /**
   * Replay, per topic: the change_id a trailing stream (a make-before-break's other socket, which replay cannot tell
   * apart) has reached, -1 = none: the id of an older snapshot ignored as a replacement's, or the book's id before a
   * newer snapshot replaced a live book (the old socket's stream goes on from it). A change below the book chaining
   * from it is that stream's (a duplicate); one chaining from nothing seen is the venue's ids going back (onChainBreak).
   */
  private readonly trailSeq: Float64Array;
  /**
   * Per topic: the generation of an overlap's socket behind a venue reset the book took from the other one (-1 =
   * none): its frames are still of the run before the reset (TCP delivers its own copy of the reset later), and a
   * whole book or snapshot of it would set the resyncing book to that state, LIVE, or one above the book's id after it
   * move it back there. Ignored until the overlap is over (onOverlapOver) when it is the old socket; when it is the
   * replacement (the reset came on the old socket), until a subscribe of the book is written on it (live: encoded;
   * replay: its `ws:req`; RequestProtocol.requested, onSubscribeWritten), whose answer is of the new run. The common mark (common/behind-reset.ts), as
   * Bybit's, without its end at the socket's own reset (no u = 1 here to tell it by), so without carriedOn: its
   * array (behindMarks.socket), in a field of its own as it is read per frame.
   */
  private readonly behindReset: Int32Array;
  /** The owner of behindReset, for its end at a subscribe written (subscribeWritten). */
  private readonly behindMarks: BehindResetMarks;
  /**
   * Per topic: the generation of the socket that joined the book's change chain (-1 = none): set the book anew, or,
   * as the connection's socket (a planned reconnect's replacement), delivered its change_id. A `change` channel's
   * replacement that joined stays joined while it trails the old socket (joined): each of its later changes must link
   * to its own last id (seqAlsoAt), so a venue reset on it is a break, never its trail (onChainBreak). Cleared by a
   * snapshot it was asked for below the book (a new chain, onOlderSnapshot) or one of the other socket setting the book.
   */
  private readonly joinedBy: Int32Array;
  /**
   * Per topic: 1 while the book resyncs from a venue reset already counted (venueResets), until a book is taken: the
   * resync's answer below the old id is that reset's, not a second one.
   */
  private readonly resetCounted: Uint8Array;
  private readonly parseErrorsByCode = new Map<string, number>();

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    opts: DeribitAdapterOptions,
  ) {
    this.log = opts.log;
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    // Every instrument query spends this process's share of the REST limit and honours 429 / 10028 / Retry-After.
    this.restBudget = RestWeightBudget.split(splitBudget(REST_REQUESTS_PER_SECOND, 1_000, opts.budgetShare, opts.budgetIndex, this.now), REST_LIMITED_MS).track(budgetLink(opts.budgetLedger, "deribit:rest")).logTo(this.log, "deribit REST");
    this.restStop = new RestStop(config.venue);
    this.fetchFn = budgetedFetch(this.restStop.wrap(opts.fetch ?? fetch), this.restBudget, this.now, undefined, this.restStop.signal, this.wallNow);
    this.rawFrameTap = opts.onRawFrame;
    this.intervalOverride = opts.interval;
    const random = opts.random ?? Math.random;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "deribit: book frames rejected");
    this.gapLog = new RateLimitedLog(this.log, "warn", "deribit: change_id chain broken; channels resynced");
    this.plan(opts.maxTopicsPerConnection ?? MAX_CHANNELS_PER_CONNECTION);
    this.snapshotDue = new Uint8Array(this.topics.length);
    this.trailSeq = new Float64Array(this.topics.length).fill(-1);
    this.behindMarks = new BehindResetMarks(this.topics.length);
    this.behindReset = this.behindMarks.socket;
    this.joinedBy = new Int32Array(this.topics.length).fill(-1);
    this.resetCounted = new Uint8Array(this.topics.length);
    this.requests.requested = (op, topics, replay) => {
      if (op === "subscribe") this.onSubscribeWritten(topics, replay);
    };
    const invalidate = (t: CommonTopic, state: BookState, reason: StatusReason) => this.books.invalidate(t, state, reason);
    this.control = new SubscriptionControl(this.requests, this.log, this.now, opts.maxArgsPerRequest, invalidate, opts.budgetShare, opts.budgetIndex, opts.budgetLedger);
    this.books = new TopicResync({
      venue: "deribit",
      log: this.log,
      now: this.now,
      random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => this.control.restartTopic(t),
    });
    this.lifecycle = new ConnectionLifecycle(
      "deribit",
      this.conns,
      this.control,
      {
        invalidate,
        resync: (t, state, reason) => this.books.resync(t, state, reason),
        overlapOver: (conn, carrier, oldGen) => this.onOverlapOver(conn, carrier, oldGen),
        awaitingJoin: (conn) => this.awaitingJoin(conn),
        socketInUse: (conn) => this.askHeartbeat(conn as DeribitConnection),
        housekeeping: (conn, now) => this.heartbeatRetryDue(conn as DeribitConnection, now),
        // A frame whose handling threw: the rule for a frame refused (TopicResync.lost), no misfit.
        frameLost: (conn, t) => this.books.lost((conn as DeribitConnection).topics, t as DeribitTopic | undefined),
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random,
        keepalive: DERIBIT_KEEPALIVE,
        staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config, defaultStaleAfterMs),
        resyncBackoffBaseMs: this.books.baseMs,
        ...connectSplit(CONNECTS_PER_WINDOW, CONNECT_WINDOW_MS, opts, this.now),
      },
    );
    // No periodic reload: a price or size that does not fit asks for its market's (requestNow).
    this.watch = new InstrumentWatch<DeribitTopic>({
      ...{ venue: "deribit", log: this.log, now: this.now, wallNow: this.wallNow, random, config, subscriptions, topics: this.topics, ...watchSettings(opts) },
      ...{ source: deribitInstrumentSource(config, this.fetchFn, () => this.restBudget.onResponse(this.now(), 429, null)), intervalMs: 0, stop: this.restStop.signal },
      restHeldUntilMs: () => this.restBudget.heldUntilMs(this.now()), // a 429/10028 hold: when the late symbols are really asked
      ...{ instruments: () => this.instruments, sink: () => this.sink, lifecycle: () => this.lifecycle },
      addToTable: (t, x) => t.conn.table.add(t.topic, t.index, x.priceExp, x.qtyExp, t.depth > 0),
      apply: (t, inst) => this.applyInstrument(t, inst),
      nameExpiryMs: (_market, symbol) => expiryOfName(symbol), // an override's (no listing): futures' and options' names carry it
    });
  }

  /** The market's book interval: the adapter option, else the config's (validated there), else `100ms`. */
  intervalOf(market: MarketName): DeribitInterval {
    const configured = this.config.markets.find((m) => m.market === market)?.options?.interval;
    return this.intervalOverride ?? (configured as DeribitInterval | undefined) ?? DEFAULT_INTERVAL;
  }

  /** One run of connections per market (Deribit serves every market on one URL), each up to maxTopics channels. */
  private plan(maxTopics: number): void {
    const current = new Map<MarketName, DeribitConnection>();
    const seen = new Set<string>();
    this.subscriptions.forEach((s, index) => {
      const channel = bookChannel(s.symbol, s.depth, this.intervalOf(s.market));
      if (seen.has(channel)) throw new Error(`deribit: ${channel} is subscribed twice`);
      seen.add(channel);
      let conn = current.get(s.market);
      if (!conn || conn.topics.length >= maxTopics) {
        const url = this.config.markets.find((m) => m.market === s.market)?.wsUrl ?? this.config.wsUrl;
        conn = new DeribitConnection(this, this.conns.length, s.market, url);
        this.conns.push(conn);
        current.set(s.market, conn);
      }
      const t: DeribitTopic = new TopicState(index, s.market, s.symbol, s.depth, channel, conn);
      conn.topics.push(t);
      conn.byTopic.set(channel, t);
      this.topics.push(t);
    });
  }

  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.instruments = await this.watch.load();
    return this.instruments;
  }

  private attach(sink: BookSink, replay: boolean): void {
    if (this.sink) throw new Error("deribit: started twice");
    const bound = this.watch.bindTopics(replay);
    this.sink = sink;
    this.books.sink = sink;
    this.books.replaying = replay;
    if (!replay) return;
    for (const t of bound) {
      // A capture may hold another interval of the same book (e.g. an authorised recorder's `raw`).
      const inst = this.instruments![t.index]!;
      for (const iv of ["raw", "100ms", "agg2"] as const) t.conn.table.add(bookChannel(t.symbol, t.depth, iv), t.index, inst.priceExp, inst.qtyExp, t.depth > 0);
    }
  }

  start(sink: BookSink): void {
    this.attach(sink, false);
    this.lifecycle.start();
    this.watch.start(sink);
    const used = this.conns.filter((c) => c.used).length;
    const intervals = Object.fromEntries([...new Set(this.topics.map((t) => t.market))].map((m) => [m, this.intervalOf(m)]));
    this.log.info("deribit adapter started", { connections: used, topics: this.topics.length, intervals });
  }

  /** Replay: no connections; a resync waits for the capture's next snapshot. */
  startReplay(sink: BookSink): void {
    this.attach(sink, true);
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    return replayFrame(this.conns, market, connection, frame, tsRecvUs);
  }

  /**
   * Replay: a recorded connection close (`ws:close`) invalidates that connection's books as the live close did, and an
   * open (`ws:open`) a book still LIVE there (its socket's close not in the capture: replayOpened); each forgets the
   * connection's recorded requests still unanswered (DeribitRequests.dropSocket, as live's onSocketClosed); its socket events
   * (`ws:sockets`, `ws:state`, `ws:overlap`, `ws:swap`, `ws:old`, `ws:retired`, `ws:back`) make its sockets the live run's, so an
   * older snapshot or change is judged as live judged it (socketsKnown).
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    const conn = connectionNamed(this.conns, connection);
    if (conn === undefined) return false;
    if (url === CONNECTION_CLOSED_URL) {
      this.requests.dropSocket(conn, null); // its recorded requests (ws:req) are never answered, as live's onSocketClosed
      this.lifecycle.replayDisconnected(connection);
    } else if (url === CONNECTION_OPENED_URL) {
      // A new socket: the old one's close, if the capture lacks it (a recorder killed, or one before s-recstop
      // stopped: it recorded no close), dropped its requests live.
      this.requests.dropSocket(conn, null);
      this.lifecycle.replayOpened(connection);
    } else this.lifecycle.replaySocketEvent(connection, url, body);
    return true;
  }

  /** Replay: records were lost here; the requests still unanswered are forgotten (ConnectionLifecycle.replayCaptureGap), ids too. */
  replayCaptureGap(): void {
    for (const conn of this.conns) this.requests.dropSocket(conn, null);
    this.lifecycle.replayCaptureGap();
  }

  requestResync(index: number, reason: StatusReason): void {
    const t = this.topics[index];
    if (!t || t.sub === SUB_REJECTED) return;
    this.books.resync(t, BookState.RESYNCING, reason);
  }

  stop(): Promise<void> {
    this.restStop.stop();
    this.watch.stop();
    return this.lifecycle.stop();
  }

  /** Cold: the symbols still without an instrument (status page, /readyz). */
  unresolvedInstruments(limit?: number): UnresolvedInstrument[] {
    return this.watch.unresolved(limit);
  }

  countUnresolved(into: Map<string, number>): void {
    this.watch.countUnresolved(into); // /metrics
  }

  expiredInstruments(): ReadonlyMap<number, number> {
    return this.watch.expiredClosed();
  }

  /**
   * set_heartbeat on the connection's socket, once a socket (the lifecycle's socketInUse): at its open, or at a planned
   * reconnect's swap, before its subscribes, so it is the socket's first message and its server's heartbeat promise
   * holds before any book on it can be LIVE (the server then sends test_request, answered in classifyControl). Until
   * 2026-12-07 it went after the subscribes: under a worker's small share of the message budget the books were LIVE
   * while it waited, a dead server found only the wait + 7 s later. Before that, a replacement whose swap waited for
   * the old socket's requests never asked: no test_request and no heartbeat bound on it. Cold.
   */
  private askHeartbeat(conn: DeribitConnection): void {
    if (conn.ws === null || conn.heartbeatAskedOn === conn.ws) return;
    conn.heartbeatAskedOn = conn.ws;
    conn.heartbeatRefusedInRow = 0;
    conn.heartbeatRetryDueMs = -1;
    this.sendHeartbeat(conn);
  }

  /** set_heartbeat written (or queued for the message budget) on the connection's socket, its id kept. Cold. */
  private sendHeartbeat(conn: DeribitConnection): void {
    const text = this.requests.setHeartbeat();
    conn.heartbeatAskId = this.requests.lastHeartbeatId;
    this.control.send(conn, text, this.requests.heartbeatAskTag);
  }

  /**
   * Housekeeping: a refused set_heartbeat's backoff is over: asked again, paced as every message, if its socket is
   * still the connection's (a new socket asks its own: askHeartbeat). Until 2026-12-07 a refusal was never asked
   * again, the socket left without the heartbeat bound for its whole life. Cold.
   */
  private heartbeatRetryDue(conn: DeribitConnection, now: number): void {
    if (conn.heartbeatRetryDueMs < 0 || now < conn.heartbeatRetryDueMs) return;
    conn.heartbeatRetryDueMs = -1;
    if (conn.ws !== null && conn.ws === conn.heartbeatAskedOn) this.sendHeartbeat(conn);
  }

  /** A socket closed: forget the requests it never answered (they would stay in the id map for ever). Cold. */
  onSocketClosed(conn: DeribitConnection, ws: WebSocket): void {
    const n = this.requests.dropSocket(conn, ws);
    if (n > 0) this.log.debug("deribit: requests of a closed socket dropped", { conn: conn.id, requests: n });
  }

  private counterTable(): [string, string, string, number][] {
    return [
      ["snapshots", "snapshots_total", "Snapshots applied", this.snapshots],
      ["deltas", "deltas_total", "Changes applied", this.deltas],
      ["replaces", "replaces_total", "Grouped full books applied as replace", this.replaces],
      ["gaps", "sequence_gaps_total", "Changes whose prev_change_id did not match the last change_id (book resynced)", this.gaps],
      ["duplicates", "duplicates_total", "Messages at or below the book's change_id, the overlap's old socket's whole books below the one the replacement gave a book that left LIVE, and frames of a socket behind a venue reset (ignored)", this.duplicates],
      ["resyncs", "resyncs_total", "Book resyncs started", this.books.resyncs],
      ["resyncsDelayed", "resyncs_delayed_total", "Resyncs that waited out the per-channel backoff", this.books.resyncsDelayed],
      ["ignoredBeforeSnapshot", "ignored_before_snapshot_total", "Changes ignored because the book had no snapshot yet", this.ignoredBeforeSnapshot],
      ["ignoredWhileUnsubscribed", "ignored_while_unsubscribed_total", "Book frames in flight after an unsubscribe", this.ignoredWhileUnsubscribed],
      ["repeatedSnapshots", "repeated_snapshots_total", "Snapshots repeating the last change_id (no change)", this.repeatedSnapshots],
      ["olderSnapshots", "older_snapshots_total", "Snapshots older than the live book, answering a subscribe of ours (ignored)", this.olderSnapshots],
      ["venueResets", "venue_resets_total", "Snapshots (or grouped whole books) older than the live book that no subscribe asked for, or changes older than it on the socket that delivered it: the venue reset the book (resynced); also, during a planned reconnect's overlap, a resyncing book's taken below the id it left LIVE at from a socket already past it", this.venueResets],
      ["staleResyncs", "stale_resyncs_total", "Books resynced because their channel went silent", this.lifecycle.staleResyncs],
      ["subscribeRejected", "subscribe_rejected_total", "Channels the venue refused", this.control.subscribeRejected],
      ["subscribeRetries", "subscribe_retries_total", "Subscribe batches sent again after a refused batch", this.control.subscribeRetries],
      ["subscribeErrors", "subscribe_errors_total", "Single-topic subscribes refused for a reason that may pass: sent again after a backoff (1 s doubling to 60 s), never given up", this.control.subscribeErrors],
      ["rateLimited", "rate_limited_total", "Requests refused with 10028 too_many_requests (sent again after a backoff)", this.control.rateLimited],
      ["rawRefused", "raw_refused_total", "Requests refused with 13778 (raw channels need an authorised connection)", this.requests.rawRefused],
      ["unattributedParseErrors", "unattributed_parse_errors_total", "Malformed frames whose channel could not be read (every book of the connection resynced)", this.unattributedParseErrors],
      ["instrumentRestRateLimited", "instrument_rest_rate_limited_total", "Instrument REST limit answers (429, 418, or error 10028): every instrument query waits for Retry-After (or 5 s)", this.restBudget.rateLimited + this.restBudget.banned],
      ["instrumentRestRetryAfterOutOfRange", "instrument_rest_retry_after_out_of_range_total", "Instrument REST limit answers (429 or 418) whose Retry-After was not held as given: out of 1 s to 3 days (clamped) or unreadable (5 s held); each logged", this.restBudget.retryAfterOutOfRange],
      ["instrumentRestWaiting", "instrument_rest_waiting", "Instrument REST requests waiting for the REST budget", this.restBudget.waiting],
      ["topics", "topics", "Book channels configured", this.topics.length],
      ["topicsLive", "topics_live", "Book channels whose book is LIVE", this.topics.filter((t) => t.book === BookState.LIVE).length],
    ];
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = connectionStats(this.conns);
    for (const [key, , , value] of this.counterTable()) out[key] = value;
    out.heartbeatRefused = this.conns.reduce((n, c) => n + (c.used ? c.heartbeatRefused : 0), 0);
    for (const [code, n] of this.parseErrorsByCode) out[`parseErrors.${code}`] = n;
    Object.assign(out, this.watch.stats()); // instrument changes, re-checks, reloads, late symbols
    return out;
  }

  metrics(): VenueMetric[] {
    const out = connectionMetrics(this.conns, this.lifecycle.connectBudgets());
    // Per connection only (no unlabelled sum beside it: a sum over the name never double counts).
    const refusedHelp = "public/set_heartbeat answered with an error (the socket without the heartbeat bound until asked again and accepted)";
    for (const c of this.conns) if (c.used) out.push(counter("heartbeat_refused_total", refusedHelp, c.heartbeatRefused, { market: c.market, connection: c.name }));
    for (const [, name, help, value] of this.counterTable()) out.push(name.endsWith("_total") ? counter(name, help, value) : gauge(name, help, value));
    for (const [code, n] of this.parseErrorsByCode) out.push(counter("parse_errors_by_code_total", "Frames rejected, by result code (all connections)", n, { code }));
    out.push(...this.watch.metrics());
    return out;
  }

  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.books.replaying);
  }

  /** Cold: the adapter's view of one subscription, for tests and diagnostics. */
  topicInfo(index: number): { state: string; lastChangeId: number; subscribed: boolean; rejected: boolean; connection: number; channel: string } {
    const t = this.topics[index]!;
    return { state: BOOK_STATE_NAMES[t.book]!, lastChangeId: t.lastSeq, subscribed: t.sub === SUB_ACTIVE, rejected: t.sub === SUB_REJECTED, connection: t.conn.id, channel: t.topic };
  }

  // ───────────────────────── hot path ─────────────────────────

  // HOT PATH: one call per accepted book notification; prev = prev_change_id (-1 when absent).
  onBook(index: number, update: BookUpdate, prev: number): void {
    const t = this.topics[index]!;
    // Replay: also between a recorded unsubscribe and its subscribe (a grouped channel's whole book in flight there
    // made the book LIVE in replay alone until 2026-12-07).
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED || t.replayUnsubscribing) {
      this.ignoredWhileUnsubscribed++;
      return;
    }
    const cid = update.venueSeq;
    // The socket this came on: the connection's, or the old one of a planned reconnect's overlap.
    const conn = t.conn;
    const socket = conn.fromRetiring ? conn.retiringGeneration : conn.generation;
    if (socket === this.behindReset[index]) {
      this.duplicates++; // the run before a venue reset the book took from the replacement; no sign of life
      return;
    }
    if (update.isSnapshot || update.replace) {
      const now = this.now();
      if (t.book === BookState.LIVE && cid <= t.lastSeq) {
        // The same id: nothing changed (and the channel is alive): a snapshot comes only after a subscribe, and the id
        // names the state the verified chain reached (no re-sent correcting snapshot as on Bybit, which applies such
        // a one as a replace: docs/venues/deribit.md, "Sequencing"). An older one: the book is already past it, or
        // the venue started it again; no sign of life either way (a book whose channel sends only those must go stale).
        if (cid < t.lastSeq) {
          this.onOlderSnapshot(t, cid, update.replace, socket);
          return;
        }
        t.lastMsgMs = now;
        // This socket has reached the book's change_id too: a lower one on it from now on is a reset (a quiet book's
        // replacement may only ever repeat the old socket's before that one closes); the other stays known as there too.
        seqRepeated(t, socket);
        if (socket === conn.generation) this.joinedBy[index] = socket;
        if (!update.replace || t.conn.retiringGeneration < 0) this.snapshotDue[index] = 0;
        if (update.replace) this.duplicates++;
        else this.repeatedSnapshots++;
        return;
      }
      if (update.replace && t.book !== BookState.LIVE && cid < t.seqBeforeInvalid && this.oldSocketTrails(t, socket, cid)) {
        // The overlap's old socket behind the change_id the replacement gave the book before it left LIVE: its trail, as
        // onOlderSnapshot reads a LIVE book's (a resync restarts the replacement's channel only). Until 2026-12-07 taken,
        // the book LIVE at an older state than it had shown. No sign of life.
        this.duplicates++;
        this.trailed(t, socket, cid);
        return;
      }
      if (t.book !== BookState.LIVE && cid < t.seqBeforeInvalid && conn.retiringGeneration >= 0 && (socket === t.seqSocket || (socket === t.seqAlsoSocket && cid < t.seqAlsoAt))) {
        // Either socket of an overlap below the change_id it gave the book before it left LIVE, or below its own last
        // (TCP is ordered): the venue reset the book, and the other socket is behind it, as when a LIVE book takes it
        // (onOlderSnapshot). Until 2026-12-07 the other's next book of the run before, above the new ids, was taken:
        // LIVE at the state before the reset. A replacement so marked ends it at a subscribe written on it, or its
        // books are restarted when the overlap ends on it (onOverlapOver): never ignored past the overlap.
        const known = this.socketsKnown(conn);
        this.markBehindReset(t, socket, known);
        // Counted as a LIVE book's is (onOlderSnapshot), unless the resync came from that reset, counted then.
        if (known && this.resetCounted[index] === 0) this.countReset(t, `${update.replace ? "book" : "snapshot"} change_id ${cid} below the book's ${t.seqBeforeInvalid} before its resync, on a socket already past it`);
      }
      this.resetCounted[index] = 0;
      t.lastMsgMs = now;
      // A grouped channel's mark stays while a make-before-break's two sockets race (onOlderSnapshot).
      if (!update.replace || t.conn.retiringGeneration < 0) this.snapshotDue[index] = 0;
      if (update.replace && t.book === BookState.LIVE) this.replaces++;
      else this.snapshots++;
      if (this.books.replaying) this.trailSeq[index] = t.book === BookState.LIVE && !update.replace ? t.lastSeq : -1;
      if (t.book === BookState.LIVE && socket !== t.seqSocket) {
        // A live book moved on by the other socket's newer snapshot or whole book (a make-before-break's, ahead): ids
        // went up, so the one of record until now stays known at its own last (wentBack), as when a change moves it on.
        t.seqAlsoSocket = t.seqSocket;
        t.seqAlsoAt = t.lastSeq;
      } else {
        // The book is set anew: a socket kept as having reached a change_id (seqRepeated) reached an older book's, which
        // a venue reset's new ids may number the same (seqReached would take it for having reached this one).
        t.seqAlsoSocket = -1;
      }
      t.lastSeq = cid;
      t.seqSocket = socket;
      this.joinedBy[index] = socket;
      this.books.onLive(t, now);
      this.sink!.onBookUpdate(index, update);
      return;
    }
    if (t.book !== BookState.LIVE) {
      // Replay: a book just gone STALE whose next change links to its last change_id, on its socket, missed nothing.
      // A change below the STALE book's id (a venue rebuilt with lower ids, as onChainBreak reads a LIVE book's, or a
      // trail that cannot be told from one): its kept levels may be the old ids', and a new chain linking to that id
      // continues nothing.
      if (t.book === BookState.STALE && cid < t.seqBeforeInvalid) t.staleDueMs = -Infinity;
      if (!(t.book === BookState.STALE && prev === t.seqBeforeInvalid && socket === t.seqSocket && this.resumeStale(t))) {
        this.ignoredBeforeSnapshot++; // not liveness: a channel that only gets changes must still go stale
        return;
      }
    }
    // A change at its own prev_change_id (levelless: the JSON path refuses one with levels) names no new state: as any
    // change at the last id, a duplicate (onChainBreak), not an empty delta published.
    if (prev === t.lastSeq && cid !== prev) {
      t.lastMsgMs = this.now();
      this.deltas++;
      // The other socket of an overlap moved the book on: the one of record until now stays known at its id (a lower
      // frame on it later is a reset, wentBack). One compare, false but in an overlap.
      if (socket !== t.seqSocket) {
        if (socket === t.seqAlsoSocket && !seqReached(t, socket) && this.socketsKnown(conn)) {
          // On one TCP chain it would have delivered the book's id first: another run (a venue reset, its snapshot lost)
          // whose prev_change_id lands on the book's id. Before s-rd3k applied from any socket, LIVE on pre-reset levels.
          this.trailBreak(t, socket, `prev_change_id ${prev} (the book's change_id) after the socket's own ${t.seqAlsoAt}`);
          return;
        }
        t.seqAlsoSocket = t.seqSocket;
        t.seqAlsoAt = t.lastSeq;
        if (socket === conn.generation) this.joinedBy[index] = socket;
      }
      t.lastSeq = cid;
      t.seqSocket = socket;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    this.onChainBreak(t, cid, prev, socket);
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * Replay: the STALE book's next change links to its last change_id on the socket that delivered it (the caller
   * checked), with no make-before-break's second socket: LIVE again at its kept levels when live may have kept it LIVE
   * (ConnectionLifecycle.replayMayResume) and the sink took it; the change is then applied as on a LIVE book. Before,
   * it was ignored until the capture's next snapshot.
   */
  private resumeStale(t: DeribitTopic): boolean {
    if (!this.books.replaying || t.seqBeforeInvalid <= 0 || t.conn.retiringGeneration >= 0) return false;
    if (!this.lifecycle.replayMayResume(t) || this.sink!.onBookResumed?.(t.index) !== true) return false;
    t.lastSeq = t.seqBeforeInvalid;
    this.resetCounted[t.index] = 0;
    this.books.onLive(t, this.now());
    return true;
  }

  /**
   * A snapshot (or a grouped channel's whole book: `grouped`) below the live book's change_id. Answering a subscribe
   * of ours (a make-before-break's second socket, behind the old one; in replay, one whose subscribe answer was
   * recorded before it): ignored. Otherwise the venue rebuilt the book with lower ids, and ignoring it would ignore
   * every change (every grouped book) after it as a duplicate, the book frozen and LIVE until its channel went stale,
   * so the channel is resynced and its fresh snapshot decides. Live, one from a socket that delivered the book's
   * change_id (the one of record, or the other if it repeated it: seqReached; TCP is ordered) is always a reset: only
   * a make-before-break's socket that has not reached the book can be behind.
   */
  private onOlderSnapshot(t: DeribitTopic, cid: number, grouped: boolean, socket: number): void {
    const asked = this.snapshotDue[t.index] === 1;
    // Replay of a capture that does not record the sockets cannot tell an overlap's two sockets apart.
    const known = this.socketsKnown(t.conn);
    const sameSocket = known && this.wentBack(t, socket, cid);
    if (grouped) {
      // Whole books keep coming from both sockets of a make-before-break, either one behind the other: duplicates
      // while the old socket is open, and after it until the replacement's stream has caught up with the book (one
      // of its books taken or equal clears the mark); not the socket's that delivered the book's (it went back).
      if ((asked || t.conn.retiringGeneration >= 0) && !sameSocket) {
        this.duplicates++;
        if (known) this.trailed(t, socket, cid);
        return;
      }
    } else {
      this.snapshotDue[t.index] = 0;
      if (asked && !sameSocket) {
        this.olderSnapshots++;
        if (known) this.trailed(t, socket, cid);
        // A chain of its own from here, below the book: not proven the book's (a reset's snapshot looks the same).
        if (this.joinedBy[t.index] === socket) this.joinedBy[t.index] = -1;
        if (this.books.replaying) this.trailSeq[t.index] = cid; // the replacement's changes chain from it
        return;
      }
    }
    this.countReset(t, `${grouped ? "book" : "snapshot"} change_id ${cid} below the book's ${t.lastSeq}, not asked for`);
    this.resetCounted[t.index] = 1;
    this.markBehindReset(t, socket, known);
    this.books.resync(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
  }

  /**
   * A make-before-break is over. Gone back to the old socket (`old`): the replacement's subscribe marked every channel,
   * and those the old socket serves get no new subscribe, so a mark left by a snapshot that never came would take
   * the next venue reset for its answer (ignored, the book frozen and LIVE until stale). A grouped channel keeps its
   * mark until one of the old socket's books is taken (it may be behind the replacement's). The behind-reset marks
   * end here but a replacement's that carries on (onSubscribeWritten ends it); gone back to an old socket behind a reset,
   * its LIVE or STALE grouped books are restarted on it. Not carried to that socket as Bybit's and OKX's are
   * (BehindResetMarks.carriedOn): nothing on it would end the mark (no u = 1, no drop read per socket). Cold.
   */
  private onOverlapOver(conn: VenueConnection, carrier: OverlapCarrier, oldGen = -1): void {
    // Restarted together (SubscriptionControl.restartTopics): a reset is the venue's for many books at once, and one
    // by one they cost a request each of the message budget (until 2026-12-07: N unsubscribes, then N subscribes).
    const restart: (typeof conn.topics)[number][] = [];
    for (const t of conn.topics) {
      const behind = this.behindReset[t.index] === oldGen && carrier === "old";
      // The replacement carrying on has not joined a LIVE book's chain (joined: it never reached the book's change_id,
      // or its own chain since is a new one: the old socket died first, or the ack deadline passed, awaitingJoin): a
      // venue reset whose new ids fall between its own last id and the book's, or its subscribe snapshot of the new run,
      // cannot be told from its trail by the id, so the book cannot be proven current. Restarted as below (before
      // s-deritrail it stayed LIVE at its pre-reset levels until a change failed to link or the channel went stale).
      // One that joined and trails by a change or two stays LIVE: its changes must link to its own last (onChainBreak).
      if (carrier === "replacement" && t.book === BookState.LIVE && t.sub !== SUB_REJECTED && this.behindReset[t.index] !== conn.generation && !this.joined(t, conn.generation)) {
        this.behindReset[t.index] = -1;
        this.books.invalidate(t, BookState.RESYNCING, StatusReason.DISCONNECTED);
        restart.push(t);
        continue;
      }
      // The replacement carrying on behind a reset the old socket delivered: marked until its fresh subscribe (onSubscribeWritten).
      // A book LIVE (or STALE) by the old socket's new run has no resync left to bring one, every frame of it here
      // ignored: restarted on the replacement as below (before 2026-12-07 it stayed LIVE, frozen until stale).
      if (carrier === "replacement" && this.behindReset[t.index] === conn.generation) {
        if (t.book === BookState.LIVE || t.book === BookState.STALE) {
          this.books.invalidate(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
          restart.push(t);
        }
        continue;
      }
      this.behindReset[t.index] = -1;
      // Gone back to the socket behind the reset, a grouped book LIVE (or STALE) by the failed replacement's new run:
      // that socket's whole books are still of the run before it, each one above the book's id taken, so the channel
      // is restarted there (its answer is of the new run), at once as goBack's own restarts (no resync backoff: the
      // reset's resync was not the book failing again). A change of the old run fails to link to the new ids (a gap).
      if (behind && t.depth > 0 && (t.book === BookState.LIVE || t.book === BookState.STALE)) {
        this.books.invalidate(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
        restart.push(t);
      }
    }
    if (restart.length > 0) this.control.restartTopics(restart);
    if (carrier !== "old") return;
    for (const t of conn.topics) if (t.sub === SUB_ACTIVE && t.depth === 0) this.snapshotDue[t.index] = 0;
  }

  /**
   * A planned reconnect's old socket is still needed (PlannedHost.awaitingJoin, bounded by the ack deadline): a LIVE
   * book it served whose replacement has not joined its chain (joined: its own snapshot, whole book or change equal to
   * or past the book's change_id, once for a `change` channel, then linked to its own last; a grouped one's now). Closed
   * before that, the book could not be proven current (onOverlapOver resyncs it); the replacement normally catches up
   * within its first frames. Until s-derijoin a `change` channel's had to be at the book's id at the same round as
   * every other's: with many busy books the old socket was ahead of one at every round, kept to the ack deadline. Not a book whose replacement's frames are ignored
   * behind a reset (behindReset: restarted at the overlap's end) nor one waiting out a resync backoff (not asked there). Cold.
   */
  private awaitingJoin(conn: VenueConnection): boolean {
    for (const t of conn.topics) {
      if (!t.onRetiring || t.book !== BookState.LIVE || t.resyncDelayed || t.sub === SUB_REJECTED) continue;
      if (this.behindReset[t.index] === conn.generation) continue;
      if (!this.joined(t, conn.generation)) return true;
    }
    return false;
  }

  /**
   * A change not linked to the book's change_id. The last one again: a duplicate (the channel is alive), and its
   * socket has reached the book's id (seqRepeated: before 2026-12-06 only a snapshot counted, so the socket carrying on
   * after an overlap was not of record until its next new change). An older one from a socket that has not delivered
   * the book's id (a make-before-break's, trailing it): a duplicate, no sign of life. An older one from a socket that
   * has (seqReached; TCP is ordered: no trailing copy there) means the venue's ids went back
   * and the reset's snapshot was lost: every change after it would be ignored, the book LIVE and frozen until stale
   * (2 or 10 min), so it is resynced now, as an older snapshot is (onOlderSnapshot). Replay cannot tell a recorded
   * overlap's sockets apart: an older change there is a trailing stream's when it chains from what that stream reached
   * (trailSeq), else a venue reset as live (before, a duplicate: the book stayed LIVE with its old levels, and the
   * resubscribe's snapshot after it, below the old ids and answering a recorded subscribe, was ignored as a
   * replacement's). Anything newer is a break of the chain. Cold.
   */
  private onChainBreak(t: DeribitTopic, cid: number, prev: number, socket: number): void {
    const known = this.socketsKnown(t.conn);
    if (cid < t.lastSeq && (known ? this.wentBack(t, socket, cid) : !this.trails(t, cid, prev))) {
      this.countReset(t, `change_id ${cid} below the book's ${t.lastSeq} ${known ? "on the socket that delivered it" : "chaining from no stream seen"}`);
      this.resetCounted[t.index] = 1;
      this.markBehindReset(t, socket, known);
      this.books.resync(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
      return;
    }
    if (cid <= t.lastSeq && known && cid > t.seqAlsoAt && prev !== t.seqAlsoAt && socket === t.seqAlsoSocket && socket !== t.seqSocket) {
      // A socket trailing the book whose change does not link to its own last id: a reset on it (or a loss) whose ids
      // fall between its own and the book's, its run not the book's. The other socket, while open, is behind what this
      // one says (markBehindReset). Before s-derijoin taken for its trail; until s-rd3k only a joined replacement's
      // was checked, so an unjoined one's other run could carry it up to the book's id, join, and feed the book.
      this.trailBreak(t, socket, `prev_change_id ${prev} after the trailing socket's own change_id ${t.seqAlsoAt} (the book's ${t.lastSeq})`);
      return;
    }
    if (cid === t.lastSeq && known && socket !== t.seqSocket && !seqReached(t, socket)) {
      if (socket === t.seqAlsoSocket && prev !== t.seqAlsoAt) {
        // A trailing socket's change at the book's id not linking to its own last id: a reset on it (or a loss) whose
        // run lands on the book's id, not the book's run. Before s-derijoin2 a repeat: of record, the replacement joined.
        this.trailBreak(t, socket, `prev_change_id ${prev} at the book's change_id ${cid} after the trailing socket's own ${t.seqAlsoAt}`);
        return;
      }
      if (socket !== t.seqAlsoSocket && socket === t.conn.generation) {
        // The connection's socket with nothing of its own for this book (its subscribe's snapshot comes first on
        // Deribit): nothing chains it to the book, so not a join (before s-derijoin2 it joined). No sign of life.
        this.duplicates++;
        return;
      }
    }
    if (cid <= t.lastSeq) {
      this.duplicates++; // a change the book already has (repeated, or from the other socket of a make-before-break)
      if (cid === t.lastSeq) {
        // The last one again: the channel is alive, and this socket has reached the book's change_id (ids name one
        // change each): the one of record when it carries on after an overlap, a lower change on it then a reset.
        t.lastMsgMs = this.now();
        seqRepeated(t, socket);
        if (socket === t.conn.generation) this.joinedBy[t.index] = socket;
      } else if (known && (socket === t.seqAlsoSocket || socket !== t.conn.generation)) {
        // Not the connection's socket's first frame for the book: its subscribe's snapshot comes first, so a change
        // there starts no chain of its own (as one at the book's id, above). Until 2026-12-07 it set that socket's own
        // last id, and a reset run linked from it up to the book's id joined: LIVE past the old socket's close on it.
        this.trailed(t, socket, cid);
      }
      return;
    }
    this.gaps++;
    this.gapLog.hit(`${t.market} ${t.topic}: prev_change_id ${prev} after change_id ${t.lastSeq}`);
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /** The venue rebuilt the book with lower ids (`detail` says how it showed): counted and logged. Cold. */
  private countReset(t: DeribitTopic, detail: string): void {
    this.venueResets++;
    this.gapLog.hit(`${t.market} ${t.topic}: ${detail} (venue reset)`);
  }

  /**
   * A change from a socket known at its own last id (seqAlsoAt) that is not that socket's run carried on (`detail`
   * says how): a gap, the other socket behind it while open (markBehindReset), the book resynced. Cold.
   */
  private trailBreak(t: DeribitTopic, socket: number, detail: string): void {
    this.gaps++;
    this.gapLog.hit(`${t.market} ${t.topic}: ${detail}`);
    this.markBehindReset(t, socket, true);
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /**
   * A venue reset taken from one socket of an overlap (`socket`): the other is behind it (behindReset). Before
   * 2026-12-07 the other's next whole book, of the run before the reset, made the resyncing book that state, LIVE
   * (`replay-refusal.test.ts`, both ways). The replacement behind a reset the old socket delivered stays marked past
   * the overlap until the resync's subscribe is written on it (onSubscribeWritten): its answer is of the new run. Replay of
   * a capture without its sockets cannot tell them apart.
   */
  private markBehindReset(t: DeribitTopic, socket: number, known: boolean): void {
    const conn = t.conn;
    const other = BehindResetMarks.otherSocket(conn.generation, conn.retiringGeneration, socket);
    if (known && other >= 0) this.behindReset[t.index] = other;
  }

  /**
   * A subscribe of `topics` written on their connection's socket (RequestProtocol.requested; live: encoded; replay: its
   * `ws:req`): a replacement behind a venue reset the old socket delivered (behindReset) is no longer, as the
   * subscribe's answer is of the new run (the channel unsubscribed there and acked before it, or never subscribed).
   * Live, each one's next snapshot is one asked for (snapshotDue); replay marks that from the recorded answer instead
   * (markRecordedAnswer). Cold.
   */
  private onSubscribeWritten(topics: readonly TopicState[], replay: boolean): void {
    for (const t of topics) {
      if (!replay) this.snapshotDue[t.index] = 1;
      this.behindMarks.subscribeWritten(t.index, t.conn.generation);
    }
  }

  /**
   * Whether a frame at `cid`, below the book, on `socket` means the venue's ids went back: that socket delivered the
   * book's change_id (seqReached), or an id above `cid` (TopicState.seqAlsoAt: a trailing socket's own last, trailed).
   * TCP is ordered, so one socket's ids only go up. Before 2026-12-07 only the first counted: a replacement still
   * trailing when the old socket closed (or the old socket trailing when gone back to) had the venue's reset on it,
   * its snapshot lost, taken for its trail, and every change after it until its ids passed the book's, the book
   * LIVE at its old levels (`trailing-change-socket.test.ts`).
   */
  private wentBack(t: DeribitTopic, socket: number, cid: number): boolean {
    return seqReached(t, socket) || (socket === t.seqAlsoSocket && cid < t.seqAlsoAt);
  }

  /**
   * Whether the socket of generation `gen` has joined the book's chain: it delivered the book's change_id (seqReached),
   * or, a `change` channel's, it did once (joinedBy) and trails since, each change linked to its own last id
   * (onChainBreak), so it carries the book's run up to the book. Before s-derijoin only the first: a replacement
   * behind by a change at the moment the old socket went had its book resynced, and the old socket was kept to the
   * ack deadline unless every book was caught up at the same instant. Cold.
   */
  private joined(t: CommonTopic, gen: number): boolean {
    return seqReached(t, gen) || this.trailsJoined(t, gen);
  }

  /** `socket`, the connection's (a replacement), joined a `change` channel's chain and trails the book at seqAlsoAt. */
  private trailsJoined(t: CommonTopic, socket: number): boolean {
    return t.depth === 0 && socket === t.conn.generation && socket !== t.seqSocket && socket === t.seqAlsoSocket && this.joinedBy[t.index] === socket;
  }

  /**
   * `socket`, not the one of record, delivered `cid` (at most the book's change_id): kept as that socket's own last
   * (seqAlsoSocket / seqAlsoAt; one other socket at a time, as an overlap has), for wentBack. Cold but for the call
   * when the other socket moves the book on.
   */
  private trailed(t: DeribitTopic, socket: number, cid: number): void {
    if (socket === t.seqSocket) return;
    t.seqAlsoSocket = socket;
    t.seqAlsoAt = cid;
  }

  /**
   * Whether `socket` is the old socket of an overlap whose replacement delivered the change_id the book had when it
   * left LIVE (seqBeforeInvalid, from seqSocket), and `cid` is not below that socket's own last (wentBack's seqAlsoAt:
   * a venue reset). Cold.
   */
  private oldSocketTrails(t: DeribitTopic, socket: number, cid: number): boolean {
    const conn = t.conn;
    if (conn.retiringGeneration < 0 || socket !== conn.retiringGeneration || t.seqSocket !== conn.generation) return false;
    return !(socket === t.seqAlsoSocket && cid < t.seqAlsoAt);
  }

  /**
   * Whether the connection's sockets are known as live knows them: always live; in replay once the capture said it
   * records them (`ws:sockets`, ConnectionLifecycle.replaySocketEvent). Otherwise replay keeps its heuristics
   * (trailSeq; the recorded subscribe answers alone mark an asked-for snapshot).
   */
  private socketsKnown(conn: VenueConnection): boolean {
    return !this.books.replaying || conn.socketsRecorded;
  }

  /** Replay: a change below the book continuing the trailing stream (trailSeq), which it moves on. Cold. */
  private trails(t: DeribitTopic, cid: number, prev: number): boolean {
    const trail = this.trailSeq[t.index]!;
    if (trail < 0 || prev !== trail) return false;
    this.trailSeq[t.index] = cid;
    return true;
  }

  /**
   * A book notification for a channel this connection did not subscribe: garbled, so every book of it resyncs (replay:
   * also, unless a recorded request named it, a channel its config leaves out: VenueConnection.replayUnknownToLive). Counted once, in unknownTopic (unknown_topic_total): it is well-formed, so not a parse error too (until
   * s-rd19d also in parse_errors_total, parseErrors.unknown_topic and unattributedParseErrors).
   */
  onUnknownTopic(conn: DeribitConnection, frame: string): void {
    if (!conn.unknownTopicLost(frame, this.books.replaying)) return; // replay: a channel live asked for (left out of this config) or requests not known: not counted
    this.rejected(conn, -1, SCAN_UNKNOWN_TOPIC, frame, "");
  }

  /** `detail`: why, when the code alone does not say (the JSON parser's message). */
  onParseError(conn: DeribitConnection, entry: number, code: number, frame: string, detail = ""): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    if (!this.rejected(conn, entry, code, frame, detail)) this.unattributedParseErrors++;
  }

  /** A book frame refused (`code`): logged, and what it may have lost resynced (TopicResync.lost). Returns the book it names, if found. */
  private rejected(conn: DeribitConnection, entry: number, code: number, frame: string, detail: string): DeribitTopic | undefined {
    let t = entry >= 0 ? this.topics[conn.table.indexes[entry]!] : undefined;
    t ??= conn.topicOfFrame(frame);
    // No scanner offset: the scanner decides no refusal (it hands over, or names a channel not ours), and its errorPos,
    // set only by a handover, was an earlier frame's until s-small2. The JSON parser's own offset is in `detail`.
    this.parseErrorLog.hit(`${SCAN_RESULT_NAMES[-code] ?? String(code)}${detail === "" ? "" : ` (${detail})`} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    // A price or amount the exponents cannot hold: the tick or lot may have changed (tick_size_steps too).
    this.books.lost(conn.topics, t, code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY ? (x) => this.recheckInstrument(x) : undefined);
    return t;
  }

  /**
   * Replay: a capture holds no request of ours, but it holds their answers. A recorded `result` naming our channels
   * (a subscribe's, or an unsubscribe's, which a resync's subscribe follows) stands for the subscribe live sent: the
   * next snapshot of each is one asked for (onOlderSnapshot), as live's marker had it. Before, replay took every
   * older snapshot as asked for, and a venue reset in the capture left the book LIVE with its old levels for good.
   */
  private markRecordedAnswer(conn: DeribitConnection, msg: unknown): void {
    const result = typeof msg === "object" && msg !== null ? (msg as { result?: unknown }).result : undefined;
    if (!Array.isArray(result)) return;
    for (const ch of result) {
      const entry = typeof ch === "string" ? conn.table.entryOf(ch) : -1;
      if (entry >= 0) this.snapshotDue[conn.table.indexes[entry]!] = 1;
    }
  }

  /** A price or size that does not fit (or a venue reset): reload its market's instruments now (re-checks of a market coalesce). */
  private recheckInstrument(t: DeribitTopic): void {
    if (!this.config.overrides.has(`${t.market}:${t.symbol}`)) this.watch.requestNow(t.market);
  }

  /** A changed tick or lot (the watch's reload): new exponents in the table, the sink told, the book rebuilt. Cold. */
  private applyInstrument(t: DeribitTopic, inst: Instrument): void {
    t.conn.table.setExponents(t.index, inst.priceExp, inst.qtyExp);
    resyncForNewInstrument(this.books, t, inst, () => this.control.restartTopic(t));
  }

  /** A frame that is not a book notification (acks, errors, heartbeats). Cold. */
  onControl(conn: DeribitConnection, msg: unknown): void {
    if (this.books.replaying) this.markRecordedAnswer(conn, msg);
    const before = this.requests.rawRefused;
    const heartbeatBefore = this.requests.heartbeatRefused;
    this.control.onControl(conn, msg);
    if (this.requests.rawRefused !== before) {
      this.log.error(`deribit: config error: raw book channels need an authorised connection (error ${ERR_RAW_NEEDS_AUTH}); subscribe the 100ms interval instead`, { conn: conn.id, interval: this.intervalOf(conn.market) });
    }
    if (this.requests.heartbeatRefused !== heartbeatBefore) {
      conn.heartbeatRefused++;
      // The socket that asked has no heartbeat promise: judged by the probes and the 7 s rule, not its bound [D5].
      if (conn.fromRetiring) conn.retiringServerTested = false;
      else conn.serverTested = false;
      // The connection's socket's own ask refused: asked again after a backoff (1 s doubling to 30 s) until it is
      // accepted or the socket ends (heartbeatRetryDue). Not an old socket's (a planned reconnect's, going away).
      const retry = !conn.fromRetiring && conn.ws !== null && conn.ws === conn.heartbeatAskedOn && this.requests.heartbeatRefusedId === conn.heartbeatAskId;
      let retryInMs = -1;
      if (retry) {
        retryInMs = Math.min(HEARTBEAT_RETRY_MAX_MS, HEARTBEAT_RETRY_BASE_MS * 2 ** Math.min(conn.heartbeatRefusedInRow, 16));
        conn.heartbeatRefusedInRow++;
        conn.heartbeatRetryDueMs = this.now() + retryInMs;
      }
      this.log.error("deribit: public/set_heartbeat refused; this socket gets no heartbeat (test_request) until it is accepted, its liveness judged by probes meanwhile", { conn: conn.id, error: this.requests.heartbeatRefusal, retryInMs });
    }
  }
}
