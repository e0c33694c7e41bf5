// HOT PATH: no allocation (CoinbaseAdapter.onL2 and onBook, called by connection.ts per frame; the rest is cold)
/**
 * The Coinbase Advanced Trade venue adapter (docs/venues/coinbase.md). Its sequence is the connection's:
 * `sequence_num` counts every message on a socket (l2_data, heartbeats, subscriptions), next = last + 1; lower or
 * equal is ignored and counted when it is the frame taken with that number (a repeat), else (a heartbeat past the
 * last counter, any other frame) the sequence went back: handled as a gap; a gap
 * (or a frame that cannot be read, whose number is unknown) marks every book of that connection RESYNCING and
 * reconnects it (ConnectionLifecycle.recycle), which resubscribes them all with fresh snapshots. One book found bad
 * (requestResync, stale, an event of its product that cannot be read in a frame taken in sequence) is unsubscribed and
 * subscribed alone: the connection's sequence is intact. A snapshot event
 * replaces its book; an update applies absolute sizes ("0" deletes); updates before the snapshot are ignored and
 * counted. Snapshots are taken whenever they come, before or after the
 * `subscriptions` event; a product missing from that event is HALTED / SUBSCRIBE_REJECTED alone, and so is a product
 * an error frame refuses (named, or found by splitting its batch: onErrorFrame).
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, INSTRUMENTS_CLOSED_SET_URL, INSTRUMENTS_CLOSED_URL, INSTRUMENTS_REOPENED_URL, SOCKET_ASKED_URL, SOCKET_REQUEST_URL_PREFIX, SOCKET_UNDECODABLE_URL, type BookSink, type CommonAdapterOptions, type RawFrameTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { equalJitterMs } from "../common/backoff.ts";
import { budgetedFetch, connectSplit, RestWeightBudget, splitBudget } from "../common/budgets.ts";
import { budgetLink } from "../common/budget-ledger.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, type PendingRequest, replayConnection, replayFrameAt, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, TopicState, type TopicState as CommonTopic } from "../common/connection.ts";
import { InstrumentWatch, resyncForNewInstrument, watchSettings } from "../common/instrument-watch.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import { connectionMetrics, connectionStates, connectionStats, counter, gauge } from "../common/metrics.ts";
import { staleAfterFromConfig } from "../common/staleness.ts";
import { RATE_LIMIT_BACKOFF_BASE_MS, RATE_LIMIT_BACKOFF_MAX_MS, SubscriptionControl } from "../common/subscription-control.ts";
import { resyncsOnLoss, TopicResync } from "../common/topic-resync.ts";
import { type CoinbaseConnection as Conn, CoinbaseConnection, type CoinbaseTopic, HEARTBEATS_ACK } from "./connection.ts";
import { coinbaseInstrumentSource } from "./instruments.ts";
import { carriesSequence, productIdOf } from "./raw-frame.ts";
import { CB_ERR_ANSWER, CB_ERR_CHANNEL, CB_ERR_HEARTBEAT, CB_ERR_SUBSCRIPTIONS, CB_ERR_TIMESTAMP, CB_ERR_UNKNOWN_PRODUCT, CB_ERROR_NAMES, misfitCode } from "./parse-json.ts";
import {
  COINBASE_KEEPALIVE,
  connectBudget,
  DEFAULT_PRODUCTS_PER_CONNECTION,
  HEARTBEATS_CHANNEL,
  REST_LIMITED_MS,
  REST_REQUESTS_PER_SECOND,
  SUBSCRIPTIONS_CHANNEL,
  answersRequest,
  coinbaseRequests,
  encodeChannelRequest,
  errorAnswers,
  errorText,
  isErrorFrame,
  parseAckError,
  refusedProduct,
} from "./protocol.ts";

export type { RawFrameTap } from "../venue.ts";

/** Default silence before a product's book is stale: level2 pushes only on change (heartbeats prove the socket). */
export function defaultStaleAfterMs(): number {
  return 60_000;
}

/**
 * A LIVE book whose socket took a heartbeat in sequence in each stale period of its silence is quiet, not stale, for
 * up to this many stale times of silence (5 min at the default 60 s; adapter.ts quiet): then resynced all the same, which
 * bounds how long a product the venue stopped sending, unseen by any sequence, stays LIVE. 5, not more: that window is
 * one where a LIVE book may differ from the venue's; 240 quiet products then cost 2 messages each per 5 min (1.6/s of
 * the 8/s budget).
 */
export const QUIET_MAX_STALE_TIMES = 5;

export interface CoinbaseAdapterOptions extends CommonAdapterOptions {
  ackTimeoutMs?: number;
  staleAfterMs?: (depth: number, market: MarketName) => number;
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  reconnectResetAfterMs?: number;
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  resyncBackoffResetMs?: number;
  /** Connects per connectWindowMs for this process; default protocol.ts connectBudget (4 a second × budgetShare). */
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Products per connection (default 20): a sequence gap resyncs every book of its connection, so this bounds it. */
  maxProductsPerConnection?: number;
}

type Topic = CoinbaseTopic;

/** Times a closed product still listed in the answer to its unsubscribe is unsubscribed again before a warning gives it up. */
export const UNSUBSCRIBE_AGAIN_MAX = 3;

export class CoinbaseAdapter implements VenueAdapter {
  readonly venue = "coinbase" as const;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for the instrument REST). */
  private readonly restStop: RestStop;
  /** The public REST limit the instrument queries share (budgets.ts). */
  private readonly restBudget: RestWeightBudget;
  private readonly now: () => number;
  /** Jitter in [0, 1) (CommonAdapterOptions.random). */
  private readonly random: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  private readonly wallNow: () => number;
  readonly rawFrameTap: RawFrameTap | undefined;
  private readonly topics: Topic[] = [];
  private readonly conns: Conn[] = [];
  private readonly control: SubscriptionControl;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly books: TopicResync;
  /** True once startReplay bound it (a capture's frames fed): the connection's frame reading asks (parseSlowFrame). */
  get replaying(): boolean {
    return this.books.replaying;
  }
  private instruments: (Instrument | undefined)[] | null = null;
  /** Loading, re-checks and symbols left out at start, on one schedule (common/instrument-watch.ts). */
  private readonly watch: InstrumentWatch<Topic>;
  private sink: BookSink | null = null;
  private readonly parseErrorLog: RateLimitedLog;
  /** A heartbeat or subscriptions event read only down to its sequence_num: its own line, as it resyncs nothing. */
  private readonly controlErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;
  /** Answers whose handling threw (answerLost): their own line, as parseErrorLog's words claim a resync none had. */
  private readonly answerLostLog: RateLimitedLog;
  private readonly errorLog: RateLimitedLog;
  private readonly heartbeatLog: RateLimitedLog;
  /** Timestamps past 2^53 µs (onTimestampPastRange): their own line, as they resync nothing. */
  private readonly timestampLog: RateLimitedLog;
  private readonly timestampUnreadableLog: RateLimitedLog;
  /** Unsubscribes answered by an event still listing some of their products (stillListed). */
  private readonly stillListedLog: RateLimitedLog;
  /** Products subscribed and answered that a later subscriptions event no longer lists (unlisted). */
  private readonly unlistedLog: RateLimitedLog;
  /** Closed products unsubscribed again on a socket (generation `gen`), `sent` times so far (stillListed). */
  private readonly unsubscribedAgain = new Map<Topic, { gen: number; sent: number }>();
  // Counters (hot increments, cold reads).
  private snapshots = 0;
  private deltas = 0;
  private ignoredBeforeSnapshot = 0;
  private ignoredWhileUnsubscribed = 0;
  private connectionResyncs = 0;
  /** The products of each written, unanswered subscribe whose snapshot has come (answerComing); gone with the request. */
  private readonly snapshotted = new WeakMap<PendingRequest, Set<Topic>>();
  private readonly parseErrorsByCode = new Map<string, number>();
  /**
   * The answer being handled (onErrorFrame, onSubscriptions): its connection, the request it was matched to (taken off
   * expectedAcks, so no later frame answers it) and that request's topics then; null when none. Should its handling
   * throw, frameLost settles the request (answerLost). Cold.
   */
  private answering: { conn: Conn; req: PendingRequest; topics: Topic[]; taken: boolean } | null = null;

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    opts: CoinbaseAdapterOptions,
  ) {
    this.log = opts.log;
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    // Every instrument query spends this process's share of the public REST limit and honours 429 / Retry-After.
    this.restBudget = RestWeightBudget.split(splitBudget(REST_REQUESTS_PER_SECOND, 1_000, opts.budgetShare, opts.budgetIndex, this.now), REST_LIMITED_MS).track(budgetLink(opts.budgetLedger, "coinbase:rest")).logTo(this.log, "coinbase REST");
    this.restStop = new RestStop(config.venue);
    this.fetchFn = budgetedFetch(this.restStop.wrap(opts.fetch ?? fetch), this.restBudget, this.now, undefined, this.restStop.signal, this.wallNow);
    this.rawFrameTap = opts.onRawFrame;
    const random = (this.random = opts.random ?? Math.random);
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "coinbase: unreadable frames (every book of the connection resynced) or events (that product's book resynced)");
    // Apart from parseErrorLog: under its words ("resynced") a heartbeat's line claimed a resync that never was, and
    // shared, its 5 s limit made a real resync just after only a count in a later line.
    this.controlErrorLog = new RateLimitedLog(this.log, "warn", "coinbase: heartbeats or subscriptions events readable only down to their sequence_num (taken; no book touched, no product rejected)");
    this.answerLostLog = new RateLimitedLog(this.log, "warn", "coinbase: answers whose handling threw (each request settled at once: an error frame's as refused for no stated reason, a subscriptions event's as accepted; no book resynced)");
    this.gapLog = new RateLimitedLog(this.log, "warn", "coinbase: sequence_num gaps; every book of the connection resynced");
    this.errorLog = new RateLimitedLog(this.log, "warn", "coinbase: error frames from the venue");
    this.heartbeatLog = new RateLimitedLog(this.log, "warn", "coinbase: heartbeat_counter did not advance by 1");
    this.timestampLog = new RateLimitedLog(this.log, "warn", "coinbase: frame timestamps past the year 2255 (2^53 µs), read as unknown (0); the frame taken, no book resynced");
    this.timestampUnreadableLog = new RateLimitedLog(this.log, "warn", "coinbase: frame timestamps not a time (malformed or before 1970), read as unknown (0); the frame taken, no book resynced");
    this.unlistedLog = new RateLimitedLog(this.log, "warn", "coinbase: products a subscriptions event no longer lists (dropped by the venue); resubscribed");
    this.stillListedLog = new RateLimitedLog(this.log, "warn", `coinbase: unsubscribes answered by a subscriptions event still listing their products (closed products unsubscribed again, at most ${UNSUBSCRIBE_AGAIN_MAX} times; others taken as unsubscribed)`);
    // Config (`venues.coinbase.spot.symbols_per_connection`) first, then the option, then the default.
    const perConnection = config.markets.find((m) => m.symbolsPerConnection !== undefined)?.symbolsPerConnection;
    this.planConnections(perConnection ?? opts.maxProductsPerConnection ?? DEFAULT_PRODUCTS_PER_CONNECTION);
    const invalidate = (t: CommonTopic, state: BookState, reason: StatusReason) => this.books.invalidate(t, state, reason);
    // Replay queues an answer for a recorded request only while the capture holds every answer of its socket
    // (VenueConnection.replayAcksKnown): before, an earlier request's answer, carrying no id, would be taken for it.
    const requests = coinbaseRequests((conn, reqId) => {
      if (!this.books.replaying || conn.replayAcksKnown) (conn as Conn).expectedAcks.push(reqId);
    });
    this.control = new SubscriptionControl(requests, this.log, this.now, undefined, invalidate, opts.budgetShare, opts.budgetIndex, opts.budgetLedger);
    this.books = new TopicResync({
      venue: "coinbase",
      log: this.log,
      now: this.now,
      random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => this.control.restartTopic(t),
    });
    const connects = connectBudget(opts.budgetShare, opts.budgetIndex, this.now);
    this.lifecycle = new ConnectionLifecycle(
      "coinbase",
      this.conns,
      this.control,
      {
        ...{ invalidate, resync: (t, state, reason) => this.books.resync(t, state, reason), housekeeping: (c, now) => this.heartbeatsDue(c as Conn, now) },
        quiet: (t, now, staleAfterMs) => this.quiet(t as Topic, now, staleAfterMs),
        socketInUse: (c) => this.onOpen(c as Conn), // before the level2 subscribe (onOpen)
        frameLost: (c, t, frame, why) => this.frameLost(c as Conn, t as Topic | undefined, frame, why),
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random,
        keepalive: COINBASE_KEEPALIVE,
        staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config, defaultStaleAfterMs),
        resyncBackoffBaseMs: this.books.baseMs,
        // Its share of 8 connects/s, no faster than the sockets' two subscribes fit 8 messages/s (protocol.ts connectBudget).
        ...(opts.maxConnectsPerWindow !== undefined || opts.connectWindowMs !== undefined
          ? { maxConnectsPerWindow: opts.maxConnectsPerWindow ?? connects.maxConnectsPerWindow, connectWindowMs: opts.connectWindowMs ?? 1_000 }
          : connects),
        // Never make-before-break: two sockets have two sequences, and a new socket restarts the connection's.
        maxConnectionAgeMs: Infinity,
      },
    );
    // No periodic reload: a price or size that does not fit asks for its market's (requestNow).
    this.watch = new InstrumentWatch<Topic>({
      ...{ venue: "coinbase", log: this.log, now: this.now, wallNow: this.wallNow, random, config, subscriptions, topics: this.topics, ...watchSettings(opts) },
      ...{ source: coinbaseInstrumentSource(config, this.fetchFn, this.log), intervalMs: 0, stop: this.restStop.signal },
      restHeldUntilMs: () => this.restBudget.heldUntilMs(this.now()), // a 429 hold: when the late symbols are really asked
      ...{ instruments: () => this.instruments, sink: () => this.sink, lifecycle: () => this.lifecycle },
      addToTable: (t, x) => t.conn.table.add(t.symbol, t.index, x.priceExp, x.qtyExp),
      apply: (t, inst) => this.applyInstrument(t, inst),
    });
  }

  /** Products in subscription order, at most `perConn` per connection, one market's products per connection. */
  private planConnections(perConn: number): void {
    if (!(perConn >= 1)) throw new Error(`coinbase: maxProductsPerConnection must be at least 1, got ${perConn}`);
    const seen = new Set<string>();
    const current = new Map<MarketName, Conn>();
    const urlOf = (m: MarketName) => this.config.markets.find((x) => x.market === m)?.wsUrl ?? this.config.wsUrl;
    this.subscriptions.forEach((s, index) => {
      const key = `${s.market}|${s.symbol}`;
      if (seen.has(key)) throw new Error(`coinbase: ${s.market} ${s.symbol} is subscribed twice (level2 has one depth: the full book)`);
      // check-config refuses it too; a config built in code is refused here (before, every frame resynced its connection).
      const refused = refusedProduct(s.symbol);
      if (refused !== undefined) throw new Error(`coinbase: ${s.market} ${s.symbol} is not ${refused}`);
      seen.add(key);
      let conn = current.get(s.market);
      if (!conn || conn.topics.length >= perConn) {
        conn = new CoinbaseConnection(this, this.conns.length, s.market, urlOf(s.market));
        this.conns.push(conn);
        current.set(s.market, conn);
      }
      const t: Topic = new TopicState(index, s.market, s.symbol, s.depth, s.symbol, conn);
      conn.topics.push(t);
      conn.byTopic.set(s.symbol, t);
      this.topics.push(t);
    });
  }

  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.instruments = await this.watch.load();
    return this.instruments;
  }

  private bind(sink: BookSink, replaying: boolean): void {
    if (this.sink) throw new Error("coinbase: started twice");
    this.watch.bindTopics(replaying);
    this.sink = sink;
    this.books.sink = sink;
    this.books.replaying = replaying;
  }

  start(sink: BookSink): void {
    this.bind(sink, false);
    this.lifecycle.start();
    this.watch.start(sink);
    this.log.info("coinbase adapter started", { connections: this.conns.filter((c) => c.used).length, products: this.topics.length });
  }

  /** Replay: no connections; frames come from ingestFrame; a resync waits for the capture's next snapshot. */
  startReplay(sink: BookSink): void {
    this.bind(sink, true);
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    const conn = replayConnection(this.conns, connection, market);
    if (!conn) return false;
    replayFrameAt(conn, frame, tsRecvUs);
    return true;
  }

  /**
   * Replay: a recorded connection close (`ws:close`) invalidates that connection's books as the live close did, and
   * the next socket's sequence starts afresh (its first sequence_num is taken as is, as live does on a new socket); an
   * open (`ws:open`) does both too (a book still LIVE there lost its socket's close from the capture: replayOpened),
   * and each forgets the requests still unanswered. A written request (`ws:req`, the heartbeats subscribe's too) is
   * pending and queued for its answer in live's order (SubscriptionControl.replayRecorded), so a refusal halts the
   * product as live did; before the connection's first `ws:open` or `ws:close` and after a capture gap, it is pending
   * but its answer not queued (replayAcksKnown). The other socket events (`ws:sockets`, `ws:state`, a file's head) change nothing: a Coinbase
   * connection never has two sockets (no make-before-break, maxConnectionAgeMs Infinity, no close notice).
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    const conn = connectionNamed(this.conns, connection);
    if (!conn) return false;
    // Products live closed as no longer listed as trading (common ConnectionLifecycle.replayClosed), or reopened while
    // their subscribe was out (replayReopened), or closed when a capture file began (its head: replayClosedSet), or
    // the products asked on the socket when it began (its head's ws:asked: VenueConnection.replayAsked). One
    // naming none of this config's products (a replay of fewer) is taken all the same, as a ws:req naming none: not a
    // skipped record.
    if (url === INSTRUMENTS_CLOSED_URL || url === INSTRUMENTS_REOPENED_URL || url === INSTRUMENTS_CLOSED_SET_URL || url === SOCKET_ASKED_URL || url === SOCKET_UNDECODABLE_URL) {
      this.lifecycle.replaySocketEvent(connection, url, body);
      return true;
    }
    if (url.startsWith(SOCKET_REQUEST_URL_PREFIX)) {
      // Begun mid-socket (a later file, its head ws:state) or past a capture gap: an earlier request may be unanswered
      // still, and its answer would be taken for this one's (products missing from it halted where live kept them):
      // its answer is not queued (the coinbaseRequests callback). The request is read all the same: one subscribing a halted
      // product again (its listing found it trading) brings it back, as live (until 2026-12-07 it stayed halted).
      this.lifecycle.replaySocketEvent(connection, url, body);
      return true;
    }
    // Both forget the requests still unanswered and make the answers known again (common VenueConnection.replayAcksKnown).
    if (url === CONNECTION_CLOSED_URL) this.lifecycle.replayDisconnected(connection);
    else if (url === CONNECTION_OPENED_URL) this.lifecycle.replayOpened(connection);
    else return true;
    // A new socket (live: bindMessages) starts its own sequence and answers none of the old one's requests.
    conn.replaySocketBegins();
    conn.lastHeartbeat = -1;
    conn.expectedAcks.length = 0;
    return true;
  }

  /**
   * Replay: records were lost here (app Feeder.captureGap). Their subscriptions events answered requests queued before
   * them, and the next ones need not show which: an answer after the gap would be taken for an older request's (a
   * subscribe whose products missing from it were halted where live kept them). So the queue is forgotten, and none
   * is queued until the connection's next `ws:open` or `ws:close`, as in a replay begun mid-socket (replayAcksKnown);
   * refusals until then are ignored. Until 2026-12-07 the queue was kept across the gap. The pending requests and the
   * flag are every venue's (ConnectionLifecycle.replayCaptureGap); the answer queue is Coinbase's own.
   */
  replayCaptureGap(): void {
    this.lifecycle.replayCaptureGap();
    for (const conn of this.conns) conn.expectedAcks.length = 0;
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

  /** The name of the connection carrying a subscription (tests; sequence scope is the connection). */
  connectionOf(index: number): string {
    return this.topics[index]!.conn.name;
  }

  // ───────────────────────── hot path ─────────────────────────

  /** HOT PATH: an l2_data frame scanned into conn.pool: check the connection's sequence, then each event in order. */
  onL2(conn: Conn, seq: number, tsUs: number, recvUs: number): void {
    if (!this.sequenceOk(conn, seq, tsUs)) return;
    const pool = conn.pool;
    const indexes = conn.table.indexes;
    const withBad = pool.badEvents !== 0; // only frames of the JSON path (cold)
    for (let i = 0; i < pool.count; i++) {
      if (withBad && pool.bad[i] !== 0) {
        this.onBadEvent(conn, i);
        continue;
      }
      const u = pool.updates[i]!;
      u.tsRecvUs = recvUs;
      this.onBook(indexes[pool.entries[i]!]!, u);
    }
  }

  /**
   * HOT PATH: next = last + 1 on this socket (taken: conn.take); lower or equal is a repeat (ignored, counted) only
   * when it is the frame taken with that number (the same envelope time, tsUs, and length: conn.isRepeat), else the
   * socket's numbering went back; higher is a gap. Nothing is assumed about a repeat's time but that it is the same
   * frame: a repeat stamped anew, or older than the ring, resyncs (safe), and a restarted numbering is never ignored.
   */
  private sequenceOk(conn: Conn, seq: number, tsUs: number): boolean {
    const last = conn.lastSeq;
    if (seq === last + 1 || last < 0) {
      conn.take(seq, tsUs);
      return true;
    }
    if (seq <= last) {
      // A repeat first: replay's "sequence_num 0 again is the next socket" must not take a repeated frame 0 (live ignored it).
      if (conn.isRepeat(seq, tsUs)) {
        conn.duplicates++;
        return false;
      }
      if (seq === 0 && this.books.replaying) return this.onReplayedSocket(conn, tsUs);
      this.onSequenceBack(conn, seq, `a frame that is not the one taken with that number (stamped ${tsUs} µs, ${conn.frameLen} chars)`);
      return false;
    }
    conn.gaps++;
    this.gapLog.hit(`${conn.name}: sequence_num ${seq} after ${last}`);
    this.resyncConnection(conn, StatusReason.SEQUENCE_GAP, `sequence_num ${seq} after ${last}`);
    if (this.books.replaying) conn.lastSeq = seq;
    return false;
  }

  private onBook(index: number, u: BookUpdate): void {
    const t = this.topics[index]!;
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED) {
      this.ignoredWhileUnsubscribed++; // in flight before an unsubscribe took effect
      if (u.isSnapshot && t.sub === SUB_REJECTED) this.snapshotIgnored(t);
      return;
    }
    const now = this.now();
    if (u.isSnapshot) {
      if (t.sub === SUB_PENDING) this.answerComing(t, now);
      t.lastMsgMs = now;
      this.snapshots++;
      t.lastSeq = u.venueSeq;
      this.books.onLive(t, now);
      this.sink!.onBookUpdate(index, u);
      return;
    }
    // Replay: a book just gone STALE missed nothing while its connection's sequence held (a break makes it RESYNCING).
    if (t.book !== BookState.LIVE && !(t.book === BookState.STALE && this.resumeStale(t))) {
      this.ignoredBeforeSnapshot++; // not liveness: a product without its snapshot must still go stale
      return;
    }
    t.lastMsgMs = now;
    this.deltas++;
    t.lastSeq = u.venueSeq;
    this.sink!.onBookUpdate(index, u);
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * Replay: an update of a STALE book, in a frame taken in its connection's sequence. Every frame of the connection
   * since the book's last update was taken in sequence (a gap, a sequence going back, the next socket or an unreadable
   * event of it would have made the book RESYNCING, not left it STALE), so none of its updates was missed: LIVE again
   * at its kept levels when live may have kept it LIVE (ConnectionLifecycle.replayMayResume) and the sink took it; the
   * update is then applied as on a LIVE book. Before, it was ignored until the capture's next snapshot.
   */
  private resumeStale(t: CoinbaseTopic): boolean {
    if (!this.books.replaying || !this.lifecycle.replayMayResume(t) || this.sink!.onBookResumed?.(t.index) !== true) return false;
    this.books.onLive(t, this.now());
    return true;
  }

  /**
   * A snapshot of a product whose subscribe is written and unanswered: Coinbase sends a subscribe's snapshots before
   * its subscriptions event [F2], so it is still answering, and the request's ack deadline counts from that product's
   * first snapshot (its later ones restart nothing: a venue repeating snapshots and never answering would hold the
   * subscribe unanswered for ever; so the deadline ends at most one per product after the write). Before, it counted
   * from the write alone: a subscribe whose snapshots took longer than ackTimeoutMs to arrive (many deep books, a
   * slow link) was failed while they came, its connection reconnected and the same subscribe sent again, never
   * answered (test/venues/coinbase/slow-answer.test.ts). Cold: a subscribe's snapshots only.
   */
  private answerComing(t: Topic, now: number): void {
    for (const p of t.conn.pending.values()) {
      if (p.op !== "subscribe" || p.sentMs === Infinity || p.sentMs >= now || !p.topics.includes(t)) continue;
      let seen = this.snapshotted.get(p);
      if (seen === undefined) this.snapshotted.set(p, (seen = new Set()));
      if (seen.has(t)) continue;
      seen.add(t);
      p.sentMs = now;
    }
  }

  /**
   * A snapshot of a closed product (SUB_REJECTED), ignored: noted for each written subscribe of it still unanswered
   * (`snapshotted`), as answerComing notes one taken, so that subscribe's answer finds it came (onAnswer). Cold.
   */
  private snapshotIgnored(t: Topic): void {
    for (const p of t.conn.pending.values()) {
      if (p.op !== "subscribe" || p.sentMs === Infinity || !p.topics.includes(t)) continue;
      let seen = this.snapshotted.get(p);
      if (seen === undefined) this.snapshotted.set(p, (seen = new Set()));
      seen.add(t);
    }
  }

  /** Every book of the connection RESYNCING (reason), then a reconnect that resubscribes them all. */
  private resyncConnection(conn: Conn, reason: StatusReason, why: string): void {
    this.connectionResyncs++;
    for (const t of conn.topics) if (t.sub !== SUB_REJECTED) this.books.invalidate(t, BookState.RESYNCING, reason);
    if (!this.books.replaying) this.lifecycle.recycle(conn, why);
  }

  /** Replay: sequence_num 0 again, not a repeat, is the recording's next socket: its books wait for that socket's snapshots. */
  private onReplayedSocket(conn: Conn, tsUs: number): boolean {
    for (const t of conn.topics) if (t.sub !== SUB_REJECTED) this.books.invalidate(t, BookState.RESYNCING, StatusReason.DISCONNECTED);
    conn.replaySocketBegins();
    conn.take(0, tsUs);
    conn.lastHeartbeat = -1;
    return true;
  }

  /**
   * The lifecycle's quiet hook, for a book silent past its stale time: until when it is quiet, not stale (0: stale
   * now). `sequence_num` counts every message of the socket, and any break of it, or the socket's end, takes every book
   * of the connection out of LIVE: so a book still LIVE lost nothing up to the socket's last frame, and a heartbeat
   * taken in sequence after the book's last message proves its product sent nothing since (a quiet product, not a lost
   * one). Such a book stays LIVE, judged at each stale time of silence: a heartbeat taken in the stale period just
   * ended keeps it for the next (the dead-connection rule, 7 s, ends a socket whose heartbeats stop), up to
   * QUIET_MAX_STALE_TIMES stale times of silence, and its market's listing is asked as for a stale book (at most once a
   * minute per market), so a product that stopped trading still halts; a book not LIVE, not subscribed, or without
   * such a heartbeat is stale at its stale time. Until 2026-12-07 every product silent for 60 s was resubscribed
   * every 60 s: 240 quiet products spent the IP's whole 8-a-second message budget churning correct books
   * (test/venues/coinbase/quiet-product.test.ts). Cold.
   */
  private quiet(t: Topic, now: number, staleAfterMs: number): number {
    if (t.book !== BookState.LIVE || t.sub !== SUB_ACTIVE || !(staleAfterMs > 0)) return 0;
    // Judged per stale period of silence, each by the heartbeats of the period just ended (not by the round's time,
    // which trails it by up to a housekeeping interval): replay, judging at the period's end, gives live's verdict.
    const periods = Math.floor((now - t.lastMsgMs) / staleAfterMs);
    if (periods < 1 || periods >= QUIET_MAX_STALE_TIMES) return 0;
    const endMs = t.lastMsgMs + periods * staleAfterMs;
    if (!t.conn.heardHeartbeat(endMs - staleAfterMs, endMs)) return 0;
    this.lifecycle.onTopicStale?.(t); // a product that stopped trading is silent too: its listing is asked as a stale book's
    return endMs + staleAfterMs;
  }

  /**
   * A frame whose envelope `timestamp` is well formed but at or past 2^53 µs (2255-06-05; scanner.ts TS_PAST_RANGE):
   * bad input naming the time alone. It is read as unknown (0) and the frame handled as any other; counted as parse
   * error `timestamp` and logged naming it. Before 2026-12-07 its µs went to the book, whose builder refuses a time
   * the wire's i64 of ns cannot carry: the book was marked parse_error and resynced whole, on every such frame
   * (test/venues/coinbase/far-timestamp.test.ts). Cold.
   */
  onTimestampPastRange(conn: Conn, frame: string): void {
    const at = frame.indexOf('"timestamp"');
    this.countParseError(conn, CB_ERR_TIMESTAMP, `${conn.name}: ${frame.slice(Math.max(0, at), Math.max(0, at) + 60)}`, this.timestampLog);
  }

  /**
   * A frame whose envelope `timestamp` is there but not a time (malformed, a day its month lacks, second 60, before
   * 1970: rfc3339Us -1): read as unknown (0), the frame handled as any other (an unknown time is no reason to resync);
   * counted as parse error `timestamp` and logged naming the product and the text. Until 2026-12-08 neither
   * (test/venues/coinbase/far-timestamp.test.ts). Cold.
   */
  onTimestampUnreadable(conn: Conn, frame: string): void {
    const at = Math.max(0, frame.indexOf('"timestamp"'));
    const product = /"product_id"\s*:\s*"([^"]{1,40})"/.exec(frame)?.[1] ?? "(no product_id)";
    this.countParseError(conn, CB_ERR_TIMESTAMP, `${conn.name} ${product}: ${frame.slice(at, at + 60)}`, this.timestampUnreadableLog);
  }

  /** A heartbeats frame; `counter` -1: its heartbeat_counter (or events) could not be read, `frame` its text. */
  onHeartbeat(conn: Conn, seq: number, counter: number, tsUs: number, frame?: string): void {
    if (counter < 0) {
      // Its sequence_num is known and it carries no book: taken, nothing resynced (before, every book of the connection
      // was, on each such heartbeat). The counter's count starts again at the next one read.
      this.countParseError(conn, CB_ERR_HEARTBEAT, `${conn.name}: ${(frame ?? "").slice(0, 160)}`, this.controlErrorLog);
      if (!this.sequenceOk(conn, seq, tsUs)) return;
      conn.heartbeats++;
      conn.heartbeatTaken(this.now());
      conn.lastHeartbeat = -1;
      return;
    }
    // A heartbeat newer than the last (its counter past it) with a sequence_num not past the last is no repeat: the
    // socket's sequence went back, and every frame after it would be ignored as one (the books frozen and LIVE).
    if (seq <= conn.lastSeq && conn.lastHeartbeat >= 0 && counter > conn.lastHeartbeat && !(seq === 0 && this.books.replaying)) {
      this.onSequenceBack(conn, seq, `a new heartbeat (heartbeat_counter ${counter} after ${conn.lastHeartbeat})`);
      return;
    }
    if (!this.sequenceOk(conn, seq, tsUs)) return;
    conn.heartbeats++;
    conn.heartbeatTaken(this.now());
    if (conn.lastHeartbeat >= 0 && counter !== conn.lastHeartbeat + 1) {
      conn.heartbeatCounterBreaks++;
      this.heartbeatLog.hit(`${conn.name}: ${counter} after ${conn.lastHeartbeat}`);
    }
    conn.lastHeartbeat = counter;
  }

  /**
   * sequence_num went back on a socket (`on`: the new frame that shows it): every book of the connection resyncs, as
   * on a gap; replay follows the new sequence from there. Cold.
   */
  private onSequenceBack(conn: Conn, seq: number, on: string): void {
    conn.gaps++;
    const why = `sequence_num ${seq} after ${conn.lastSeq} on ${on}: the sequence went back`;
    this.gapLog.hit(`${conn.name}: ${why}`);
    this.resyncConnection(conn, StatusReason.SEQUENCE_GAP, why);
    if (!this.books.replaying) return;
    conn.resetTaken();
    conn.take(seq, 0);
    conn.lastHeartbeat = -1;
  }

  /**
   * A socket open (the lifecycle's socketInUse, before it queues the level2 subscribe), or the heartbeats subscribe
   * due again (heartbeatsDue): subscribe heartbeats, naming no product (it needs none [F4]), so a product Coinbase
   * refuses cannot take the socket's heartbeats with it. First on a new socket: heartbeats then prove it alive
   * while the level2 subscribe waits for the message budget, and no book is LIVE before they come. Until 2026-12-07
   * (s-coinrd) it went second: one of more than 56 workers sends one message per more than 7 s (8 a second per IP),
   * a backlog of resyncs on a worker's connections delays the next message too, so a socket whose books were quiet
   * after their snapshots was failed as dead (nothing for 7 s) before it had asked for heartbeats, its books
   * resynced, on every new socket (test/venues/coinbase/slow-answer.test.ts, "message budget").
   */
  onOpen(conn: Conn): void {
    conn.expectedAcks.push(HEARTBEATS_ACK);
    // Tagged in the outbox, so that while it waits for the pacing budget nothing is taken as its answer (writtenAcks).
    this.control.send(conn, encodeChannelRequest("subscribe", HEARTBEATS_CHANNEL, []), HEARTBEATS_ACK);
  }

  /**
   * How many of `expectedAcks` (oldest first) have been written to the socket: the rest wait in the outbox for the
   * pacing budget, in the same order, and nothing the venue sends can answer them. Until 2026-12-07 an error frame
   * naming a product matched a queued subscribe: taken off `expectedAcks` while the common layer ignored the answer
   * (not written), so once it went its own answer was read as the next request's (products missing from that
   * rejected for good) and it was never answered itself. Cold.
   */
  private writtenAcks(conn: Conn): number {
    let queued = 0;
    for (const m of conn.outbox) if (m.reqId === HEARTBEATS_ACK || (m.reqId !== undefined && conn.pending.has(m.reqId))) queued++;
    return Math.max(0, conn.expectedAcks.length - queued);
  }

  /** A frame that is not l2_data or heartbeats; it counts in the connection's sequence when it carries one. */
  onControl(conn: Conn, seq: number, msg: unknown, tsUs: number): void {
    this.answering = null;
    const m = msg as Record<string, unknown>;
    if (seq < 0) conn.takeNone(); // none to lose: a throw below names its product's book alone (frameLost)
    else {
      const duplicates = conn.duplicates;
      if (!this.sequenceOk(conn, seq, tsUs)) {
        // An error frame out of sequence (its connection resynced by sequenceOk) is still the venue's word: counted
        // and logged, answering nothing (its place among the answers is unknown); a repeat is not counted again.
        // Until s-sr18 it was neither (test/venues/coinbase/error-frame-sequence.test.ts).
        if (isErrorFrame(m) && conn.duplicates === duplicates) this.countErrorFrame(conn, m);
        return;
      }
    }
    if (isErrorFrame(m)) {
      this.onErrorFrame(conn, m);
      return;
    }
    if (m.channel === SUBSCRIPTIONS_CHANNEL) {
      this.onSubscriptions(conn, m);
      return;
    }
    this.onOtherChannel(conn, m);
    this.control.onControl(conn, msg);
  }

  /**
   * A frame of a channel this adapter does not read (neither l2_data, heartbeats, subscriptions nor an error) whose
   * events name products of the connection (`events[].product_id`, the shape of level2's): book data under a channel
   * name it does not know (one the venue renamed or added). The connection's one sequence took its number, so nothing
   * else would show what it held: each book it names resyncs alone, as for an unreadable event of it (onBadEvent),
   * counted as parse error `channel` and logged. Until 2026-12-07 it was ignored (a debug line) and those books stayed
   * LIVE without its updates (test/venues/coinbase/unknown-channel.test.ts). A frame naming none is left as it was. Cold.
   */
  private onOtherChannel(conn: Conn, m: Record<string, unknown>): void {
    if (!Array.isArray(m.events)) return;
    const named: Topic[] = [];
    for (const e of m.events as unknown[]) {
      const id = typeof e === "object" && e !== null ? (e as { product_id?: unknown }).product_id : undefined;
      const t = typeof id === "string" ? conn.byTopic.get(id) : undefined;
      if (t !== undefined && !named.includes(t)) named.push(t);
    }
    if (named.length === 0) return;
    this.countParseError(conn, CB_ERR_CHANNEL, `${conn.name}: channel ${JSON.stringify(m.channel)} names ${named.map((t) => t.topic).join(", ")}; frame: ${JSON.stringify(m).slice(0, 160)}`);
    for (const t of named) if (resyncsOnLoss(t)) this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /**
   * An error frame is counted and logged. One about subscribing answers a message still unanswered, as a
   * subscriptions event would (a refused subscribe gets no event, coinbase-pro-node#174), only one it can be the
   * answer to (protocol.ts errorAnswers: the oldest subscribe naming the product it names; naming none, the oldest
   * message if of the op it names): a level2 request's products go to the common recovery (a product named as not
   * valid rejected alone, the rest sent again; else the batch split to single products); a heartbeats subscribe
   * refused for a passing reason goes again (heartbeatsAgain), else its answer is taken. Cold.
   */
  private onErrorFrame(conn: Conn, m: Record<string, unknown>): void {
    const text = this.countErrorFrame(conn, m);
    if (!answersRequest(text)) return;
    const written = this.writtenAcks(conn);
    const at = errorAnswers(text, written === conn.expectedAcks.length ? conn.expectedAcks : conn.expectedAcks.slice(0, written), (id) => {
      if (id === HEARTBEATS_ACK) return { op: "subscribe", products: [] };
      const req = conn.pending.get(id);
      return req && { op: req.op, products: req.topics.map((t) => t.topic) };
    });
    if (at < 0) return;
    const id = conn.expectedAcks.splice(at, 1)[0]!;
    if (id === HEARTBEATS_ACK) {
      // Refused for a passing reason (a rate limit): asked again after a backoff; taken otherwise.
      if (parseAckError(text).kind === "rate_limited") this.heartbeatsAgain(conn);
      return;
    }
    const req = conn.pending.get(id);
    if (!req) return;
    this.answering = { conn, req, topics: req.topics.slice() as Topic[], taken: false }; // a throw below: frameLost settles it
    this.control.onControl(conn, { coinbaseAck: true, op: req.op, reqId: id, ok: [], failed: [], refused: text });
    this.answering = null;
  }

  /** An error frame counted (error_frames_total) and logged, rate-limited, with its text (returned). Cold. */
  private countErrorFrame(conn: Conn, m: Record<string, unknown>): string {
    conn.errorFrames++;
    const text = errorText(m);
    this.errorLog.hit(`${conn.name}: ${text}`);
    return text;
  }

  /**
   * The heartbeats subscribe refused for a passing reason goes again on the same socket after the rate-limit backoff
   * (as a level2 request's: ../common/subscription-control.ts retryLater), timed on the adapter's clock and jitter
   * (its injected now and random; heartbeatsDue, each housekeeping round), its wait at most half the dead-connection
   * time: the refusal may be the socket's last frame (its books quiet), and a wait past deadConnectionMs failed it as
   * dead, its books resynced (until 2026-12-07 the level2 cap, 10 s: from the ~5th refusal in a row;
   * test/venues/coinbase/heartbeats-refused.test.ts). Before 2026-12-06 the socket went without heartbeats for good:
   * a quiet one was taken for dead after 7 s and every book on it resynced. Cold.
   */
  private heartbeatsAgain(conn: Conn): void {
    this.control.rateLimited++;
    if (this.books.replaying) return; // no socket: the live run's retry is the capture's next ws:req heartbeats
    const maxMs = Math.min(RATE_LIMIT_BACKOFF_MAX_MS, this.lifecycle.deadConnectionMs / 2);
    const delayMs = equalJitterMs(conn.rateLimitStreak++, RATE_LIMIT_BACKOFF_BASE_MS, maxMs, this.random);
    conn.heartbeatsDueMs = this.now() + delayMs;
    conn.heartbeatsWaitMs = delayMs;
    conn.heartbeatsGen = conn.generation;
    this.log.warn("coinbase: heartbeats subscribe refused for a passing reason; sending it again", { conn: conn.id, delayMs: Math.round(delayMs) });
  }

  /** Housekeeping, per open connection: a heartbeats subscribe whose wait is over goes again (heartbeatsAgain). Cold. */
  private heartbeatsDue(conn: Conn, now: number): void {
    if (conn.heartbeatsDueMs === 0) return;
    if (conn.heartbeatsGen !== conn.generation) {
      conn.heartbeatsDueMs = 0; // the socket went: the new one's open subscribes heartbeats afresh
      return;
    }
    // A clock stepped back would hold it for the step's length more: at most its own wait from here.
    if (conn.heartbeatsDueMs > now + conn.heartbeatsWaitMs) conn.heartbeatsDueMs = now + conn.heartbeatsWaitMs;
    if (now < conn.heartbeatsDueMs) return;
    conn.heartbeatsDueMs = 0;
    if (!this.lifecycle.stopping) this.onOpen(conn);
  }

  /**
   * A subscriptions event lists every level2 product of the connection now. It answers the oldest written message
   * still unanswered that it fits (answeredBy): a subscribe's products missing from it are rejected, an unsubscribe's products gone from it are
   * confirmed, those still listed handled by stillListed (../common/subscription-control.ts takes it from there). One whose lists cannot be read (readSubscriptions
   * null) still answers in turn, but proves nothing: it is counted and logged, and rejects no product (before, it
   * read as listing none and every product of the subscribe was HALTED for good); one the venue does not serve
   * goes stale and is resubscribed. Cold.
   */
  private onSubscriptions(conn: Conn, m: Record<string, unknown>): void {
    const lists = readSubscriptions(m);
    const listed = lists === null ? null : lists.level2;
    if (listed === null) this.countParseError(conn, CB_ERR_SUBSCRIPTIONS, `${conn.name}: ${JSON.stringify(m).slice(0, 160)}`, this.controlErrorLog);
    else this.unlisted(conn, listed);
    const written = this.writtenAcks(conn);
    if (written === 0) return; // answers nothing written (a repeat): a queued request's answer is still to come
    const head = conn.expectedAcks.splice(this.answeredBy(conn, lists, written), 1)[0];
    if (head === undefined) return;
    if (head === HEARTBEATS_ACK) {
      // Accepted: like any request of this connection's, it starts the rate-limit backoff over (heartbeatsAgain).
      conn.rateLimitStreak = 0;
      return;
    }
    const req = conn.pending.get(head);
    if (!req) return;
    const topics = req.topics.slice() as Topic[]; // the common layer takes answered topics off req.topics
    this.answering = { conn, req, topics, taken: true }; // a throw below (stillListed's too): frameLost settles it
    this.onAnswer(conn, head, req, topics, listed);
    this.answering = null;
  }

  /**
   * A subscriptions event lists every level2 product of the connection [F2]: a product subscribed and answered (ACTIVE,
   * no request of it out: one written after it is not answered yet) that it does not list is no longer sent by the
   * venue, and its book, LIVE, would be held by the socket's in-sequence heartbeats (quiet) up to 5 stale times at
   * levels the venue moved on from. It resyncs (RESYNCING / SUBSCRIBE_REJECTED, resubscribed). Until 2026-12-07 only the
   * answered request's products were read from the event (test/venues/coinbase/dropped-product.test.ts). Live only:
   * replay's topics follow the capture's requests, which a replay begun mid-socket does not all know. Cold.
   */
  private unlisted(conn: Conn, listed: ReadonlySet<string>): void {
    if (this.books.replaying) return;
    for (const t of conn.topics) {
      if (t.sub !== SUB_ACTIVE || listed.has(t.topic) || t.resyncDelayed) continue;
      let asked = false;
      for (const p of conn.pending.values()) if (p.topics.includes(t)) asked = true;
      if (asked) continue;
      this.unlistedLog.hit(`${conn.name}: ${t.topic}`);
      this.books.resync(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
  }

  /** onSubscriptions' answer `listed` (null: unreadable) to request `head`, whose topics were `topics`. Cold. */
  private onAnswer(conn: Conn, head: string, req: PendingRequest, topics: Topic[], listed: Set<string> | null): void {
    const names = topics.map((t) => t.topic);
    if (req.op === "subscribe") {
      const has = (n: string) => listed === null || listed.has(n);
      this.control.onControl(conn, { coinbaseAck: true, op: "subscribe", reqId: head, ok: names.filter(has), failed: names.filter((n) => !has(n)) });
      this.snapshotMissed(req, topics);
      return;
    }
    // An unsubscribe's answer lists what remains subscribed. The request is over: its products gone are done, and so
    // are those still listed but for closed ones (stillListed). Before, those gone waited for the rest, whose answer
    // never came: the ack deadline failed the socket.
    this.control.onControl(conn, { coinbaseAck: true, op: "unsubscribe", reqId: head, ok: names, failed: [] });
    const kept = listed === null ? [] : topics.filter((t) => listed.has(t.topic));
    for (const t of topics) if (!kept.includes(t)) this.unsubscribedAgain.delete(t);
    if (kept.length > 0) this.stillListed(conn, kept);
  }

  /**
   * After a subscribe's answer: a product it made subscribed whose book still awaits the snapshot that subscribe
   * already sent (noted by snapshotIgnored: it came while the product was closed, and the product was reopened before
   * the answer, so this subscribe was kept for it: ConnectionLifecycle.activateAll) gets no other: resubscribed at once.
   * Until 2026-12-07 it stayed AWAITING_SNAPSHOT until its stale time (test/venues/coinbase/reopen-race.test.ts). Cold.
   */
  private snapshotMissed(req: PendingRequest, topics: Topic[]): void {
    const seen = this.snapshotted.get(req);
    if (seen === undefined) return;
    for (const t of topics) {
      if (seen.has(t) && t.sub === SUB_ACTIVE && t.book === BookState.AWAITING_SNAPSHOT) this.books.resync(t, BookState.AWAITING_SNAPSHOT, StatusReason.INSTRUMENT_CLOSED);
    }
  }

  /**
   * Products an unsubscribe named still listed in its answer: not unsubscribed. A closed one (SUB_REJECTED: its frames
   * are ignored) is unsubscribed again, all of them in one request, at most UNSUBSCRIBE_AGAIN_MAX times on a socket;
   * then a warning names it, still subscribed at the venue until the connection's next socket (which never subscribes
   * it). Before, one alone was taken as done at once, and several were sent again in halves down to one each, then
   * taken as done: the channel stayed subscribed at the venue, its frames carried for nothing. Any other (a resync's
   * unsubscribe) is taken as unsubscribed: its subscribe follows, and only its snapshot makes its book LIVE. Logged
   * rate-limited with a count (before, a warning per event). Replay sends nothing: live's sends are the capture's
   * `ws:req`. Cold.
   */
  private stillListed(conn: Conn, kept: Topic[]): void {
    this.stillListedLog.hit(`${conn.name}: ${kept.map((t) => t.topic).join(", ")}`);
    if (this.books.replaying) return;
    const again: Topic[] = [];
    const givenUp: string[] = [];
    for (const t of kept) {
      if (t.sub !== SUB_REJECTED) {
        this.unsubscribedAgain.delete(t);
        continue;
      }
      const was = this.unsubscribedAgain.get(t);
      const sent = was !== undefined && was.gen === conn.generation ? was.sent : 0;
      if (sent >= UNSUBSCRIBE_AGAIN_MAX) {
        this.unsubscribedAgain.delete(t);
        givenUp.push(t.topic);
        continue;
      }
      this.unsubscribedAgain.set(t, { gen: conn.generation, sent: sent + 1 });
      again.push(t);
    }
    this.control.unsubscribeGivenUp(conn, again);
    if (givenUp.length > 0) {
      this.log.warn(`coinbase: closed products still subscribed at the venue after ${UNSUBSCRIBE_AGAIN_MAX + 1} unsubscribes; given up until the connection's next socket (their frames are ignored)`, { conn: conn.name, products: givenUp });
    }
  }

  /**
   * Which of the `written` oldest expected answers a subscriptions event listing `lists` answers: the
   * oldest whose request it fits (the heartbeats subscribe's if it lists heartbeats, a subscribe's if it lists all its
   * products, an unsubscribe's if it lists none of them), else the oldest (which rejects what it misses). Answered in
   * order but each level2 subscribe's event after its snapshots [F2], an answer without snapshots to wait for (the
   * heartbeats subscribe's, a small level2 batch's behind a batch of 100 deep books) can come first; the event it
   * overtook, coming next, then fits that older request. Before, the order alone matched them: an overtaking answer
   * was taken for the older subscribe's, every product of it missing from the list HALTED / subscribe_rejected
   * (test/venues/coinbase/slow-answer.test.ts). An unreadable list (null) fits nothing. Cold.
   */
  private answeredBy(conn: Conn, lists: Listed | null, written: number): number {
    if (lists === null) return 0;
    const listed = lists.level2;
    for (let i = 0; i < written; i++) {
      const id = conn.expectedAcks[i]!;
      if (id === HEARTBEATS_ACK) {
        if (lists.heartbeats) return i;
        continue;
      }
      const req = conn.pending.get(id);
      if (req === undefined) return i; // no longer waited for: taken in turn, as before
      if (req.topics.every((t) => listed.has(t.topic) === (req.op === "subscribe"))) return i;
    }
    return 0;
  }

  /**
   * A frame that could not be read (not JSON, no integer sequence_num, an event naming no product of the connection):
   * its sequence_num or the book it was for is unknown, so every book of its connection resyncs. An event of a product
   * not on the connection is counted as the other venues count a channel not subscribed, in unknownTopic
   * (unknown_topic_total) alone: until 2026-12-07 it was a parse error (parse_errors_total, parseErrors.unknown_product).
   */
  onParseError(conn: Conn, code: number, frame: string): void {
    if (code === CB_ERR_UNKNOWN_PRODUCT) {
      conn.unknownTopic++;
      this.parseErrorLog.hit(`${CB_ERROR_NAMES[-code]} (${conn.name}: ${frame.slice(0, 160)})`);
    } else this.countParseError(conn, code, `${conn.name}: ${frame.slice(0, 160)}`);
    this.resyncConnection(conn, StatusReason.PARSE_ERROR, `unreadable frame (${CB_ERROR_NAMES[-code] ?? code})`);
    if (this.books.replaying) conn.resetTaken();
  }

  /**
   * A frame whose handling threw (the lifecycle's frameLost hook, after it is logged and counted as frameErrors): the
   * rule for a frame that could not be read. Naming no single product (`t` undefined; a name written with escapes,
   * `BTC\u002DUSD`, read from its product_id fields: raw-frame.ts productIdOf), or thrown before its sequence_num was
   * taken (conn.frameTaken: the sequence lost a number, and the next frame would be a gap; a frame carrying none lost
   * none: taken (conn.takeNone) since s-rd24b, and since 2026-12-07 also one thrown before it was read whose text has no
   * `sequence_num` key (raw-frame.ts carriesSequence): that book alone; were the key there but unseen, the next
   * frame's gap resyncs the connection), its sequence_num or its book is unknown: the connection resyncs as on an unreadable frame (onParseError, not counted
   * as one): one reconnect, whose new socket subscribes every book in one message. Until 2026-12-07 the lifecycle's
   * default resynced each book alone, an unsubscribe and a subscribe each (~2 messages a book against the 8-a-second
   * budget) on the same socket; until s-coinhb one naming a product but not taken resynced that book alone, 2 messages
   * wasted before the next frame's gap resynced the connection. Taken, naming one product: that book alone, as an
   * unreadable event of it (onBadEvent), unless the common rule spares it (resyncsOnLoss; until s-coinhb a copy of it
   * that resynced a book replay holds, TopicState.replayUnsubscribing, though Coinbase's replay holds none today).
   * An answer whose handling threw after it was matched to its request (onErrorFrame, onSubscriptions: `answering`)
   * settles that request at once (answerLost) and resyncs nothing: the frame was taken in sequence or carries none, and
   * holds no book data. test/venues/coinbase/frame-fault.test.ts. Cold.
   */
  private frameLost(conn: Conn, quoted: Topic | undefined, frame: string, why: string): void {
    let t = quoted;
    const answer = this.answering;
    this.answering = null;
    if (answer !== null && answer.conn === conn && conn.frameTaken()) {
      this.answerLost(answer, frame, why);
      return;
    }
    if (frame.includes("\\")) {
      // A name written with escapes is not found by the lifecycle's raw lookup: its product_id as JSON reads it
      // (none: the lookup's; several, unreadable or not on the connection: none single).
      const id = productIdOf(frame);
      const named = id === null ? undefined : id === undefined ? t : conn.byTopic.get(id);
      t = t === undefined || t === named ? named : undefined;
    }
    if (t === undefined || (!conn.frameTaken() && carriesSequence(frame))) {
      this.resyncConnection(conn, StatusReason.PARSE_ERROR, "a frame whose handling threw");
      if (this.books.replaying) conn.resetTaken();
      return;
    }
    if (resyncsOnLoss(t)) this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /**
   * An answer (`a`: its connection, request and that request's topics when matched) whose handling threw: counted as a
   * parse error (parse_errors_by_reason_total{reason="answer"}) and logged naming the frame and the exception, and its
   * request settled at once (SubscriptionControl.answerLost): an error frame's as refused for a reason that proves
   * nothing (a subscribe's batch split to single products, one alone sent again after its backoff, its book RESYNCING /
   * SUBSCRIBE_REJECTED meanwhile; an unsubscribe's taken as done), a subscriptions event's as accepted (as one whose
   * lists cannot be read). No other book resyncs. Before, the request, taken off expectedAcks but still pending, was
   * answered by nothing: its ack deadline (10 s) failed the socket and every book on it resynced; and an error frame
   * naming no single product resynced the connection at once (frameLost's rule for a frame naming none).
   * test/venues/coinbase/frame-fault.test.ts. Cold.
   */
  private answerLost(a: { conn: Conn; req: PendingRequest; topics: Topic[]; taken: boolean }, frame: string, why: string): void {
    this.countParseError(a.conn, CB_ERR_ANSWER, `${a.conn.name} ${a.req.op} ${a.req.reqId} (${a.topics.map((t) => t.topic).join(", ")}): ${why}; frame: ${frame.slice(0, 160)}`, this.answerLostLog);
    this.control.answerLost(a.conn, a.req, a.topics, a.taken, ANSWER_LOST);
  }

  /**
   * Event i of a frame taken in sequence names a product of the connection but cannot be read (a level's side, price
   * or size; its type or updates): the sequence is intact and the frame's other events apply, so only this product's
   * book resyncs (unsubscribe + subscribe, with its per-book backoff), logged naming the field; a price or size that
   * does not fit re-checks the market's products (its tick or lot may have changed), one of another JSON type or no
   * decimal does not (it says nothing of the listing; until 2026-12-07 it asked too). Before, every book of the
   * connection resynced and reconnected. Cold.
   */
  private onBadEvent(conn: Conn, i: number): void {
    const pool = conn.pool;
    const code = pool.bad[i]!;
    const t = this.topics[conn.table.indexes[pool.entries[i]!]!]!;
    this.countParseError(conn, code, `${conn.name} ${t.symbol}: ${pool.badText[i]}`);
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED) return; // in flight after an unsubscribe
    if (misfitCode(code)) this.recheckInstrument(t);
    this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  private countParseError(conn: Conn, code: number, what: string, log = this.parseErrorLog): void {
    conn.parseErrors++;
    const name = CB_ERROR_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    log.hit(`${name} (${what})`);
  }

  /** A price or size that does not fit (or a venue reset): reload its market's instruments now (re-checks of a market coalesce). */
  private recheckInstrument(t: Topic): void {
    if (!this.config.overrides.has(`${t.market}:${t.symbol}`)) this.watch.requestNow(t.market);
  }

  /** A changed tick or lot (the watch's reload): new exponents in the table, the sink told, the book rebuilt. Cold. */
  private applyInstrument(t: Topic, inst: Instrument): void {
    t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
    resyncForNewInstrument(this.books, t, inst, () => this.control.restartTopic(t));
  }

  private counterTable(): [string, string, string, number][] {
    return [
      ["snapshots", "snapshots_total", "Snapshot events applied", this.snapshots],
      ["deltas", "deltas_total", "Update events applied", this.deltas],
      ["resyncs", "resyncs_total", "Single-book resyncs started (unsubscribe + subscribe)", this.books.resyncs],
      ["resyncsDelayed", "resyncs_delayed_total", "Resyncs that waited out the per-book backoff", this.books.resyncsDelayed],
      ["connectionResyncs", "connection_resyncs_total", "Connections whose books were all resynced (sequence gap, unreadable frame, an event of a product not on the connection, or a frame whose handling threw naming no single product, or carrying a sequence_num not yet taken)", this.connectionResyncs],
      ["ignoredBeforeSnapshot", "ignored_before_snapshot_total", "Update events ignored because the book had no snapshot yet", this.ignoredBeforeSnapshot],
      ["ignoredWhileUnsubscribed", "ignored_while_unsubscribed_total", "Book events in flight after an unsubscribe", this.ignoredWhileUnsubscribed],
      ["staleResyncs", "stale_resyncs_total", "Books resynced because their product went silent", this.lifecycle.staleResyncs],
      ["subscribeRejected", "subscribe_rejected_total", "Products refused: missing from the subscriptions event, or refused by an error frame as not a valid product", this.control.subscribeRejected],
      ["subscribeErrors", "subscribe_errors_total", "Single-topic subscribes refused for a reason that may pass: sent again after a backoff (1 s doubling to 60 s), never given up", this.control.subscribeErrors],
      ["rateLimited", "rate_limited_total", "Requests refused by an error frame for a passing reason (rate limit, try again, …): sent again after a backoff", this.control.rateLimited],
      ["instrumentRestRateLimited", "instrument_rest_rate_limited_total", "Instrument REST limit answers (429 or 418): every instrument query waits for Retry-After (or 2 s)", this.restBudget.rateLimited + this.restBudget.banned],
      ["instrumentRestRetryAfterOutOfRange", "instrument_rest_retry_after_out_of_range_total", "Instrument REST limit answers (429 or 418) whose Retry-After was not held as given: out of 1 s to 3 days (clamped) or unreadable (2 s held); each logged", this.restBudget.retryAfterOutOfRange],
      ["instrumentRestWaiting", "instrument_rest_waiting", "Instrument REST requests waiting for the REST budget", this.restBudget.waiting],
      ["topics", "topics", "Products configured", this.topics.length],
      ["topicsLive", "topics_live", "Products whose book is LIVE", this.topics.filter((t) => t.book === BookState.LIVE).length],
    ];
  }

  private static readonly PER_CONN = [
    ["duplicates", "duplicates_total", "Repeats of a frame taken (its sequence_num, time and length again): ignored"],
    ["gaps", "sequence_gaps_total", "sequence_num gaps, or the numbering gone back (every book of the connection resynced)"],
    ["heartbeats", "heartbeats_total", "Heartbeat messages received"],
    ["heartbeatCounterBreaks", "heartbeat_counter_breaks_total", "Heartbeats whose heartbeat_counter was not the last + 1"],
    ["errorFrames", "error_frames_total", "Error frames received from the venue"],
  ] as const;

  stats(): Record<string, number> {
    const out: Record<string, number> = connectionStats(this.conns);
    for (const [key, , , value] of this.counterTable()) out[key] = value;
    for (const [key] of CoinbaseAdapter.PER_CONN) out[key] = this.conns.reduce((a, c) => a + c[key], 0);
    for (const [name, n] of this.parseErrorsByCode) out[`parseErrors.${name}`] = n;
    Object.assign(out, this.watch.stats()); // instrument changes, re-checks, reloads, late symbols
    return out;
  }

  metrics(): VenueMetric[] {
    const out = connectionMetrics(this.conns, this.lifecycle.connectBudgets());
    for (const c of this.conns) {
      if (!c.used) continue;
      const l = { market: c.market, connection: c.name };
      for (const [key, name, help] of CoinbaseAdapter.PER_CONN) out.push(counter(name, help, c[key], l));
    }
    for (const [, name, help, value] of this.counterTable()) out.push(name.endsWith("_total") ? counter(name, help, value) : gauge(name, help, value));
    for (const [code, n] of this.parseErrorsByCode) out.push(counter("parse_errors_by_reason_total", "Unreadable frames and events by reason", n, { reason: code }));
    out.push(...this.watch.metrics());
    return out;
  }

  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.books.replaying);
  }

  /** Cold: one product's state, for tests and the status JSON. */
  topicState(index: number): { state: string; lastSeq: number; subscribed: boolean; rejected: boolean; connection: string } {
    const t = this.topics[index]!;
    return { state: BOOK_STATE_NAMES[t.book]!, lastSeq: t.lastSeq, subscribed: t.sub === SUB_ACTIVE, rejected: t.sub === SUB_REJECTED, connection: t.conn.name };
  }
}

/** The refusal an answer whose handling threw is taken for (answerLost): words that prove nothing (parseAckError "other"). */
const ANSWER_LOST = "answer whose handling threw";

/** What a subscriptions event lists: its level2 products and whether it lists the heartbeats channel (readSubscriptions). */
interface Listed {
  readonly level2: Set<string>;
  readonly heartbeats: boolean;
}

/**
 * The level2 products a subscriptions event lists (`events[].subscriptions.level2`, absent = none) and whether it lists
 * heartbeats (`events[].subscriptions.heartbeats`, a non-empty list), in one walk; null when its lists cannot be read:
 * no events array, an event without a subscriptions object, a level2 that is not a list of strings. Cold.
 */
function readSubscriptions(m: Record<string, unknown>): Listed | null {
  if (!Array.isArray(m.events) || m.events.length === 0) return null;
  const level2 = new Set<string>();
  let heartbeats = false;
  for (const e of m.events as unknown[]) {
    const subs = typeof e === "object" && e !== null ? (e as { subscriptions?: unknown }).subscriptions : undefined;
    if (typeof subs !== "object" || subs === null || Array.isArray(subs)) return null;
    const hb = (subs as { heartbeats?: unknown }).heartbeats;
    if (Array.isArray(hb) && hb.length > 0) heartbeats = true;
    const products = (subs as { level2?: unknown }).level2;
    if (products === undefined) continue;
    if (!Array.isArray(products) || !products.every((p) => typeof p === "string")) return null;
    for (const p of products as string[]) level2.add(p);
  }
  return { level2, heartbeats };
}
