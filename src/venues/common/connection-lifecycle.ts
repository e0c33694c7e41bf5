/**
 * Opening, watching and reopening a venue adapter's WebSocket connections, for every venue (cold): a connect
 * budget shared by all connections of the venue, or of its market where each market is its own host (this
 * process's share of the per-IP limit), reconnects with
 * jittered exponential backoff, and a housekeeping timer for the keepalive (hooks.ts Keepalive), pong, ack and
 * handshake deadlines, dead connections (nothing received for deadConnectionMs) and silent topics. Book state
 * stays with the adapter, reached through hooks.
 * @module
 */
import { nowUs } from "../../core/clock.ts";
import { LateRounds } from "../../core/late-rounds.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { boundedText } from "../../core/terminal-text.ts";
import { BookState, StatusReason, type MarketName } from "../../core/types.ts";
import { equalJitterMs } from "./backoff.ts";
import { budgetLink, type BudgetLedger } from "./budget-ledger.ts";
import { SlidingWindowBudget, type BudgetSplit } from "./budgets.ts";
import { connectHoldMs, handshakeStatus } from "./connect-hold.ts";
import { connectionNamed, endReplayHolds, KEEPALIVE_TAG, keepaliveQueued, ownMessages, type PendingRequest, seqReached, seqSocketRenamed, type VenueConnection, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, type TopicState, topicsNamed } from "./connection.ts";
import type { Keepalive } from "./hooks.ts";
import type { ConnectBudget } from "./metrics.ts";
import { type OverlapCarrier, PLANNED_AGE_GRACE_MS, PLANNED_RETRY_MAX_MS, PlannedReconnects } from "./planned-reconnect.ts";
import { parseRecordedRequest, type RecordedRequest } from "./recorded-request.ts";
import type { InvalidateTopic, SubscriptionControl } from "./subscription-control.ts";
import { resyncsOnLoss } from "./topic-resync.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, SOCKET_ASKED_URL, SOCKET_BACK_HELD_SET_URL, SOCKET_BACK_HELD_URL, SOCKET_BACK_URL, SOCKET_OLD_FRAME_URL, SOCKET_REQUEST_URL_PREFIX, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKET_UNDECODABLE_URL, SOCKETS_OVERLAP_URL, SOCKETS_RECORDED_URL, SOCKETS_STATE_EVERY_MS, SOCKETS_STATE_URL, SOCKET_UNSUBSCRIBED_SET_URL, INSTRUMENTS_CLOSED_SET_URL, INSTRUMENTS_CLOSED_URL, INSTRUMENTS_REOPENED_URL, type RawRestTap } from "../venue.ts";

/** Replay: a stale round runs this much past the time a silence reaches its stale time (the capture's resolution, 1 µs). */
const REPLAY_PAST_MS = 0.001;

/** Nothing at all received for this long: the connection is dead (every venue, unless configured). */
export const DEAD_CONNECTION_MS = 7_000;
/** How long a subscribe/unsubscribe (or a handshake) may stay unanswered before the connection is recycled. */
export const ACK_TIMEOUT_MS = 10_000;
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_MAX_MS = 30_000;
/**
 * The reconnect backoff starts over only once a connection has stayed open this long, so a server that accepts,
 * acks and then drops us is retried ever more slowly instead of every ~0.5–1 s.
 */
export const RECONNECT_RESET_AFTER_MS = 30_000;

export interface LifecycleOptions {
  log: Logger;
  /** The deadline clock (CommonAdapterOptions.now: monotonic by default). */
  now?: () => number;
  /** The wall clock, for downSinceMs (CommonAdapterOptions.wallNow). */
  wallNow?: () => number;
  /** See CommonAdapterOptions.replayRoundAt. */
  replayRoundAt?: (atMs: number) => void;
  random?: () => number;
  /** The venue's keepalive; a client_ping's interval and pong deadline may be overridden below. */
  keepalive: Keepalive;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  ackTimeoutMs?: number;
  /** See CommonAdapterOptions.deadConnectionMs. */
  deadConnectionMs?: number;
  staleAfterMs: (depth: number, market: MarketName) => number;
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  reconnectResetAfterMs?: number;
  /**
   * A connection open this long is replaced make-before-break (Binance closes every connection at 24 h): a new
   * socket is opened and subscribed while the old one keeps delivering. Default: never.
   */
  maxConnectionAgeMs?: number;
  /** See CommonAdapterOptions.plannedAgeGraceMs (default PLANNED_AGE_GRACE_MS). */
  plannedAgeGraceMs?: number;
  /** See CommonAdapterOptions.plannedRetryMaxMs (default PLANNED_RETRY_MAX_MS, at least reconnectMaxMs). */
  plannedRetryMaxMs?: number;
  /** The smallest resync backoff step: housekeeping must be at least this fine. */
  resyncBackoffBaseMs: number;
  /** Connects per connectWindowMs for this process (already its share of the venue's per-IP budget). */
  maxConnectsPerWindow: number;
  connectWindowMs: number;
  /** This worker's slot for connects when its share is below one a window (budgets.ts splitBudget). Default: none. */
  connectSlot?: BudgetSplit;
  /** The supervisor's record of this worker slot's connects (CommonAdapterOptions.budgetLedger). */
  budgetLedger?: BudgetLedger;
  /** See CommonAdapterOptions.connectHoldMs. */
  connectHoldMs?: Readonly<Record<number, number>>;
  /**
   * Each market is its own host with its own per-IP connect limit (Binance: spot stream.binance.com, USD-M
   * fstream.binance.com): a connect budget (maxConnectsPerWindow each), a hold after a refused handshake and a ledger
   * key (`<venue>:connect:<market>`) per market. Default: one of each for the venue (`<venue>:connect`), whose markets
   * share a host.
   */
  connectsPerMarket?: boolean;
  /** Told of every open and unplanned close (as CONNECTION_OPENED_URL / CONNECTION_CLOSED_URL), for the capture. */
  onRawRest?: RawRestTap;
}

/** What the lifecycle asks of the adapter, which owns book state and sequencing. */
export interface LifecycleHooks {
  invalidate: InvalidateTopic;
  /** Invalidates and re-requests a snapshot for one topic. */
  resync: (t: TopicState, state: BookState, reason: StatusReason) => void;
  /**
   * Gets a topic its fresh start once its resync backoff is over. Default: SubscriptionControl.restartTopic
   * (unsubscribe, subscribe). A venue whose resync is not a resubscribe (rest_snapshot: the stream stays, a new REST
   * snapshot is bridged) sets its own.
   */
  restartAfterBackoff?: (t: TopicState) => void;
  /**
   * restartAfterBackoff for many topics of one connection at once (a planned reconnect's go-back), for a venue whose
   * restart writes requests (OKX: batched, counted per message against its request budget). Default: restartAfterBackoff
   * for each if set, else SubscriptionControl.restartTopics (batched unsubscribes, then batched subscribes).
   */
  restartManyAfterBackoff?: (ts: readonly TopicState[]) => void;
  /**
   * resync for several topics of one connection at once, each left in its state (TopicResync.resyncMany), their
   * requests batched (SubscriptionControl.unmatchedRefusal: OKX's hourly budget asked once). Default: resync for each.
   */
  resyncMany?: (ts: readonly TopicState[], reason: StatusReason) => void;
  /**
   * The venue's resync sends no request, the stream left subscribed (rest_snapshot: Binance): a topic whose subscribe
   * may not have been taken is subscribed again for real by SubscriptionControl (unmatchedRefusal). Default: false
   * (a resync resubscribes).
   */
  resyncKeepsSubscription?: boolean;
  /**
   * The topic's connection dropped (live, or a recorded close in replay), after its book was invalidated: what the old
   * connection's stream was building ends with it (a REST bridge: its buffered diffs and the snapshot asked for), so
   * no book is made LIVE from the old stream while the connection is down, nor from it and the new one's together.
   */
  disconnected?: (t: TopicState) => void;
  /** Each housekeeping round, per open connection: the adapter's own deadlines, on the adapter's clock (`now`). */
  housekeeping?: (conn: VenueConnection, now: number) => void;
  /** Planned reconnect: the old socket is still needed (within the ack deadline), e.g. its diffs fill a gap. */
  awaitingJoin?: (conn: VenueConnection) => boolean;
  /** Planned reconnect: the overlap of the two sockets is over; `carrier` carries the streams on (PlannedHost.overlapOver). */
  overlapOver?: (conn: VenueConnection, carrier: OverlapCarrier, oldGen?: number) => void;
  /**
   * A socket became the connection's (opened, or a planned reconnect's replacement swapped in), before its topics are
   * subscribed: what the venue sends here is the socket's first message (Deribit's set_heartbeat: queued behind the
   * subscribe until 2026-12-07, the books LIVE with no heartbeat promised while it waited for the budget).
   */
  socketInUse?: (conn: VenueConnection) => void;
  /** Planned reconnect gone back to the old socket: its topics it may not stream though it served them (PlannedHost.oldMayNotStream). */
  oldMayNotStream?: (conn: VenueConnection) => ReadonlySet<TopicState> | undefined;
  /** Planned reconnect, the old socket gone: the replacement's topics it may not stream (PlannedHost.replacementMayNotStream). */
  replacementMayNotStream?: (conn: VenueConnection) => ReadonlySet<TopicState> | undefined;
  /**
   * A topic silent past its stale time: until when it is not stale yet (the venue checks it itself: Upbit asks a quiet
   * code again and waits for its answer); 0 (or any time not after `now`): stale now. Asked again each round while the
   * topic stays silent.
   */
  quiet?: (t: TopicState, now: number, staleAfterMs: number) => number;
  /**
   * A frame whose handling threw (frameFault), after it is logged: the venue's own rule for a frame it could not read
   * (`t`: the book it names; none: any book of `conn` may have lost a message), so a thrown frame spares what a
   * rejected one does (OKX: books waiting for the hourly request budget; Binance: one waiting out its backoff has its
   * bridge buffer dropped). Every venue sets it; the default (a lifecycle of a test rig): `t`, or each book of `conn`,
   * resynced as TopicResync.resyncAll resyncs them (resyncsOnLoss; until s-unkcount its own copy of that rule, which
   * resynced a book replay holds, TopicState.replayUnsubscribing). Until s-faulthook every venue had the default.
   * `frame` and `why` (the frame's text and the exception's message) let a venue name what failed (Coinbase: an answer
   * whose handling threw, CoinbaseAdapter.answerLost).
   */
  frameLost?: (conn: VenueConnection, t: TopicState | undefined, frame: string, why: string) => void;
}

/**
 * The connects to one host (the venue's, or one market's: LifecycleOptions.connectsPerMarket): its budget, held after
 * a refused handshake (connect-hold.ts), and the refusals that set the hold's length.
 */
interface ConnectGate {
  readonly budget: SlidingWindowBudget;
  /** "" for the venue's; "spot " for a market's (its log lines). */
  readonly scope: string;
  /**
   * Handshakes refused with an over-limit status since a socket last opened (a planned replacement's too): each
   * doubles the hold (connect-hold.ts), except one of a connect already under way when the last was read (below).
   */
  refusedInRow: number;
  /**
   * Refusals that doubled the hold, read so far (never reset). A connect bound while fewer had been read was under
   * way already when the last one was (every connection connecting at start, or after a network outage) and is
   * refused in the same burst: it does not double the hold again. Before, N connections refused at once held the
   * venue 10 s · 2^(N-1) (10 min from 7 connections on a first 429). A count, not a time: with the wall clock stepped
   * back, every later connect looked started before the last refusal, and a repeated ban never doubled the hold.
   */
  doublingRefusalsRead: number;
}

/**
 * What the instrument watch and a late join use of the lifecycle: a topic joins or leaves (alone or with others:
 * one request per connection), whether it is stopping, the stale-book callback. Test stand-ins implement this
 * (test/support/fake-lifecycle.ts), so a call the watch starts making cannot be missing from them (s-rev42's
 * retireAll / activateAll were, in three: a closure threw there).
 */
export type TopicMembership = Pick<ConnectionLifecycle, "stopping" | "onTopicStale" | "onTopicRejected" | "onReplayClosed" | "onReplayReopened" | "activate" | "activateAll" | "retire" | "retireAll">;

export class ConnectionLifecycle {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly replayRoundAt: ((atMs: number) => void) | undefined;
  private readonly random: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly staleAfter: (depth: number, market: MarketName) => number;
  private readonly keepalive: Keepalive;
  /** 0 = the keepalive sends no pings. */
  private readonly probeIdleMs: number;
  readonly deadConnectionMs: number;
  /**
   * A server_test keepalive with a promised heartbeat (Deribit): silence past it plus the dead-connection time, once the
   * socket's server has sent a test request, is death even while messages wait for the budget. Infinity: none.
   */
  private readonly serverSilentMs: number;
  private readonly maxConnectionAgeMs: number;
  /** maxConnectionAgeMs + plannedAgeGraceMs: not replaced by then, the ordinary reconnect. */
  private readonly ageDeadlineMs: number;
  private readonly housekeepingMs: number;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly reconnectResetAfterMs: number;
  /** Connects allowed per connectWindowMs (this process's share of the venue's per-IP budget). */
  readonly maxConnectsPerWindow: number;
  private readonly connectWindowMs: number;
  /** The venue's connect gate; null where each market has its own (marketGates). */
  private readonly venueGate: ConnectGate | null;
  /**
   * connectsPerMarket: each market's gate. Until 2026-12-07 Binance had one for both markets: a spot handshake
   * refused 418 held every USD-M connect too, and USD-M's connects spent spot's budget.
   */
  private readonly marketGates: Map<MarketName, ConnectGate> | null;
  private readonly newGate: (key: string, scope: string) => ConnectGate;
  /** Connections past their age deadline whose break waits for a connect to be allowed (logged once per wait). */
  private readonly ageBreakWaiting = new Set<VenueConnection>();
  /** Those whose wait ended: their one make-before-break before the break (makeAfterAgeWait). */
  private readonly ageRetryAfterWait = new Set<VenueConnection>();
  private readonly firstHoldMs: Readonly<Record<number, number>> | undefined;
  private housekeeping: ReturnType<typeof setInterval> | null = null;
  /** Replay (replayUntil): a record was fed; when the next stale round is due, and the earliest it may run. */
  private replayStarted = false;
  private replayDueMs = Infinity;
  private replayNextRoundMs = -Infinity;
  /** Replay: books a round made STALE (ever), and the earliest due time of a book not STALE in the last round. */
  private replayVerdicts = 0;
  private replayStateDueMs = Infinity;
  /** Whether a round may judge deadlines or ran after a stall of this thread (core/late-rounds.ts); set at start(). */
  private rounds: LateRounds | undefined;
  private stoppingFlag = false;
  /** Counter (cold), read by the adapter's stats(). */
  staleResyncs = 0;
  /**
   * Replay: a malformed capture record (a file head's `ws:asked` whose body is neither a JSON array nor null, a
   * `ws:req` that is not a request live writes: a damaged or forged capture), ignored: counted in its connection's
   * malformedRecords (stats, malformed_capture_records_total) and logged at most a line per 5 s, naming the connection.
   * Before s-restwarn a `ws:asked` was ignored silently; until s-wsreq a `ws:req` was, and the count was in no stats.
   */
  private readonly malformedRecordLog: RateLimitedLog;
  /** Told after each stale resync (InstrumentWatch.start: is the instrument still listed as trading?). */
  onTopicStale: ((t: TopicState) => void) | null = null;
  /**
   * Told when the venue refused a topic (InstrumentWatch.start: asks again if it is listed as trading; `soon`: at once,
   * not after the first wait). Returns whether its listing will be asked (SubscriptionControl.onRejected).
   */
  onTopicRejected: ((t: TopicState, soon: boolean) => boolean) | null = null;
  /**
   * Replay (InstrumentWatch.bindTopics): told of each book a recorded closure closes (INSTRUMENTS_CLOSED_URL) and of
   * each closed or refused book a recorded subscribe or reopening brings back, so the watch counts closures and
   * reopenings as live's did (until s-replaymark a replay's instrument_closures_total and instrument_reopens_total
   * stayed 0, instruments closed none).
   */
  onReplayClosed: ((t: TopicState) => void) | null = null;
  onReplayReopened: ((t: TopicState) => void) | null = null;
  /**
   * Recording: closed books reopened (activateAll) whose reopening no record has told yet (no ws:reopened; their
   * subscribe not written: waiting for the pacing or the venue's count, or their socket opening). Closed again before
   * it is, retireAll records the reopening first (INSTRUMENTS_REOPENED_URL), so replay tells HALTED again and counts a
   * reopening and a closure, as live (until s-rd19c it told HALTED once and counted neither). recordWritten ends it.
   */
  private readonly reopenedUnrecorded = new Set<TopicState>();
  /** Topics activated this turn, per open connection, whose subscribe flushActivated sends. */
  private readonly activated = new Map<VenueConnection, Set<TopicState>>();
  private activatedFlush = false;
  private readonly planned: PlannedReconnects;
  /** A failed planned reconnect's longest backoff step. */
  private readonly plannedRetryMaxMs: number;
  private readonly eventTap: RawRestTap | undefined;

  constructor(
    private readonly venue: string,
    private readonly conns: readonly VenueConnection[],
    private readonly control: SubscriptionControl,
    private readonly hooks: LifecycleHooks,
    opts: LifecycleOptions,
  ) {
    this.log = opts.log;
    this.frameFailedLog = new RateLimitedLog(this.log, "error", `${venue}: exception while handling a frame; its books resync`);
    this.malformedRecordLog = new RateLimitedLog(this.log, "warn", `${venue}: malformed capture record ignored (a file head's ws:asked whose body is neither a JSON array nor null, or a ws:req that is not a request live writes)`);
    for (const conn of conns) conn.frameFault = this.frameFaultBound; // replay's frames too (no socket is bound there)
    const clocks = adapterClocks(opts);
    this.now = clocks.now;
    this.wallNow = clocks.wallNow;
    this.eventTap = opts.onRawRest;
    const tap = this.eventTap;
    if (tap) for (const conn of conns) conn.undecodableMark = (c, why) => tap(c.market, c.name, SOCKET_UNDECODABLE_URL, why, nowUs());
    this.random = opts.random ?? Math.random;
    this.keepalive = opts.keepalive;
    const ka = opts.keepalive;
    this.pingIntervalMs = ka.kind === "client_ping" ? (opts.pingIntervalMs ?? ka.intervalMs) : Infinity;
    this.pongTimeoutMs = ka.kind === "client_ping" ? (opts.pongTimeoutMs ?? ka.pongTimeoutMs) : Infinity;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.deadConnectionMs = opts.deadConnectionMs ?? DEAD_CONNECTION_MS;
    this.serverSilentMs = ka.kind === "server_test" && ka.heartbeatMs !== undefined ? ka.heartbeatMs + this.deadConnectionMs : Infinity;
    this.maxConnectionAgeMs = opts.maxConnectionAgeMs ?? Infinity;
    this.ageDeadlineMs = this.maxConnectionAgeMs + (opts.plannedAgeGraceMs ?? PLANNED_AGE_GRACE_MS);
    // An idle connection is probed at half the dead time, so a live but quiet one answers before it is declared dead.
    this.probeIdleMs = ka.kind === "client_ping" || (ka.kind === "server_test" && ka.encodeProbe) ? this.deadConnectionMs / 2 : 0;
    this.staleAfter = opts.staleAfterMs;
    this.replayRoundAt = opts.replayRoundAt;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? RECONNECT_BASE_MS;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? RECONNECT_MAX_MS;
    this.reconnectResetAfterMs = opts.reconnectResetAfterMs ?? RECONNECT_RESET_AFTER_MS;
    const resyncBaseMs = opts.resyncBackoffBaseMs;
    this.maxConnectsPerWindow = opts.maxConnectsPerWindow;
    this.connectWindowMs = opts.connectWindowMs;
    this.newGate = (key, scope) => ({
      budget: new SlidingWindowBudget(this.maxConnectsPerWindow, this.connectWindowMs, opts.connectSlot).track(budgetLink(opts.budgetLedger, key)),
      scope,
      refusedInRow: 0,
      doublingRefusalsRead: 0,
    });
    this.venueGate = opts.connectsPerMarket ? null : this.newGate(`${venue}:connect`, "");
    this.marketGates = opts.connectsPerMarket ? new Map() : null;
    for (const conn of conns) this.connectGate(conn); // each market's from the start: the ledger's carried uses and hold apply at once
    this.firstHoldMs = opts.connectHoldMs;
    let minStale = Infinity;
    for (const conn of conns) for (const t of conn.topics) minStale = Math.min(minStale, this.staleAfter(t.depth, t.market));
    // Fine enough for the shortest deadline, including the first delayed resync (base / 2 at the earliest).
    this.housekeepingMs =
      opts.housekeepingMs ??
      Math.max(10, Math.min(500, this.pingIntervalMs / 4, this.pongTimeoutMs / 4, this.ackTimeoutMs / 4, this.deadConnectionMs / 8, minStale / 4, resyncBaseMs));
    this.plannedRetryMaxMs = opts.plannedRetryMaxMs ?? Math.max(PLANNED_RETRY_MAX_MS, this.reconnectMaxMs);
    this.planned = new PlannedReconnects({
      venue,
      log: this.log,
      now: this.now,
      random: this.random,
      control,
      ackTimeoutMs: this.ackTimeoutMs,
      reconnectBaseMs: this.reconnectBaseMs,
      plannedRetryMaxMs: this.plannedRetryMaxMs,
      deadConnectionMs: this.deadConnectionMs,
      serverSilentMs: this.serverSilentMs,
      probeIdleMs: this.probeIdleMs,
      pingIntervalMs: this.pingIntervalMs,
      keepalive: this.keepalive,
      pongTimeoutMs: this.pongTimeoutMs,
      conns,
      stopping: () => this.stoppingFlag,
      connectBudgetWaitMs: (conn) => this.connectBudgetWaitMs(conn),
      takeConnect: (conn, nowMs) => this.connectGate(conn).budget.take(nowMs),
      connectOpened: (conn) => this.connectOpened(conn),
      bind: (conn, ws, gen) => this.bindSocket(conn, ws, gen),
      restartMany: (ts) => {
        if (hooks.restartManyAfterBackoff) hooks.restartManyAfterBackoff(ts);
        else if (hooks.restartAfterBackoff) for (const t of ts) hooks.restartAfterBackoff(t);
        else control.restartTopics(ts);
      },
      awaitingJoin: hooks.awaitingJoin,
      overlapOver: hooks.overlapOver,
      replacementInUse: hooks.socketInUse,
      oldMayNotStream: hooks.oldMayNotStream,
      replacementMayNotStream: hooks.replacementMayNotStream,
      socketEvent: (conn, url, body = "") => this.eventTap?.(conn.market, conn.name, url, body, nowUs()),
      unfed: (t) => this.invalidateDisconnected(t),
    });
    control.random = this.random; // the rate-limit backoff's jitter, as the lifecycle's own
    control.resync = hooks.resync; // "already subscribed": the fresh start waits out the topic's resync backoff
    control.resyncMany = hooks.resyncMany ?? null;
    control.resyncResubscribes = hooks.resyncKeepsSubscription !== true;
    control.onRejected = (t, soon) => this.onTopicRejected?.(t, soon) === true;
    control.onReplayResubscribed = (t) => this.onReplayReopened?.(t);
    // Each request written, so replay can match the venue's answer to it (SubscriptionControl.replayRecorded).
    if (this.eventTap) control.onWritten = (conn, p) => this.recordWritten(conn, p);
    // A topic the old socket still serves, refused by the replacement: the replacement failed (after the frame is handled).
    control.onReplacementRefused = (conn, why) => {
      if (!this.planned.canGoBack(conn)) return false;
      const gen = conn.generation;
      queueMicrotask(() => this.onSocketFailed(conn, gen, why));
      return true;
    };
  }

  /** Housekeeping rounds that judged no deadline because this thread had stalled (cold; tests read it). */
  get stalledRounds(): number {
    return this.rounds?.skippedRounds ?? 0;
  }

  /** True once stop() was called: nothing is (re)opened and late async results are dropped. */
  get stopping(): boolean {
    return this.stoppingFlag;
  }

  /**
   * Opens every connection with a subscribable topic (within the budget) and starts housekeeping. One whose topics
   * all failed to resolve (conn.used false) is never opened, so it is never pinged and spends no connect budget.
   */
  start(): void {
    for (const conn of this.conns) if (conn.used) this.scheduleConnect(conn, 0);
    this.rounds = new LateRounds(this.housekeepingMs);
    this.housekeeping = setInterval(() => this.onHousekeeping(), this.housekeepingMs);
  }

  /**
   * A topic whose instrument resolved after start (late-instruments.ts; the adapter has added it to its table), or
   * that is listed as trading again (instrument-watch.ts): it is subscribed if its connection is open (at the end of
   * this turn, with every topic activated in it: one request per connection), when it opens otherwise; a connection
   * that had nothing to subscribe (never opened) is opened now. One closed while its subscribe was out, not answered
   * yet, waits for that subscribe's ack instead. Cold.
   */
  activate(t: TopicState): void {
    this.activateAll([t]);
  }

  /**
   * activate() for several topics at once (closed instruments listed again together, instrument-watch.ts): one
   * subscribe request per open connection for all of them, not one each (a venue-wide break's end would otherwise
   * spend a request per book of OKX's 480 an hour per connection, or queue behind Binance's 5 messages a second).
   */
  activateAll(ts: readonly TopicState[]): void {
    const subscribe = this.activated;
    let reopenedOut: TopicState[] | undefined;
    for (const t of ts) {
      if (t.sub !== SUB_REJECTED) continue;
      t.book = BookState.AWAITING_SNAPSHOT;
      t.lastSeq = 0;
      t.hasSeq = false;
      const conn = t.conn;
      // During a planned reconnect's overlap the old socket still streams a topic it served (its unsubscribe went on
      // the replacement) but brings no snapshot: gone back to before the replacement's, it is redone there as a resync
      // asked for meanwhile is (planned-reconnect.ts goBack). Until 2026-12-07 it waited for its stale time.
      if (conn.retiringWs !== null) t.restartWanted = true;
      if (this.control.subscribeOut(conn, t)) {
        // Closed while its subscribe was out (retire) and not answered yet: a second one would be refused as already
        // subscribed (Bybit option: failTopics, the book rejected for good). That one's ack makes it active. One
        // refused as over the rate limit and waiting to go again goes for it then (a second now would be a duplicate).
        t.sub = SUB_PENDING;
        t.lastMsgMs = this.now(); // staleness counts from the reopen
        // No ws:req brings it back in replay: recorded below (INSTRUMENTS_REOPENED_URL).
        if (this.eventTap) (reopenedOut ??= []).push(t);
        continue;
      }
      // Its closure's unsubscribe has not gone (held for the venue's request count, refused as over the rate limit, or,
      // since s-rd19c, queued for the pacing budget; dropped when due, the topic no longer given up; Upbit/Bithumb since
      // s-rd20d: the list leaving it out not written, closedStillStreamed): the venue still
      // streams it, and live takes its frames from its subscribe on, written or held (OKX: held for the hour,
      // SUB_PENDING). Recorded (ws:reopened) so replay takes them from here too: until 2026-12-07 (s-rd19c for one
      // queued for the pacing) replay kept it closed until that subscribe was written, and a book live bridged LIVE
      // meanwhile from the stream still subscribed was not LIVE in replay.
      if (this.eventTap && conn.open && !t.resyncDelayed && this.control.closedStillStreamed(conn, t)) (reopenedOut ??= []).push(t);
      else if (this.eventTap) this.reopenedUnrecorded.add(t); // told by its subscribe's ws:req, or by retireAll
      t.sub = SUB_IDLE;
      if (!conn.used) {
        conn.used = true;
        this.scheduleConnect(conn, 0);
      } else if (conn.open) {
        const list = subscribe.get(conn);
        if (list) list.add(t);
        else subscribe.set(conn, new Set([t]));
      }
      // Else a socket is opening (or reconnecting): its onopen subscribes every idle topic, this one included.
    }
    if (reopenedOut !== undefined) this.recordTopics(INSTRUMENTS_REOPENED_URL, reopenedOut);
    if (subscribe.size > 0 && !this.activatedFlush) {
      this.activatedFlush = true;
      queueMicrotask(() => this.flushActivated());
    }
  }

  /**
   * The subscribes activations need, sent once the current turn's activations are in: one request per connection
   * for all of them. Symbols left out at start that one answer lists join one by one (joinLate → activate()), and
   * each sent its own request (a new options expiry listed together spent a request per book of OKX's 480 an hour).
   * A topic closed again meanwhile, or whose socket went (its onopen subscribes it), is left out.
   */
  private flushActivated(): void {
    this.activatedFlush = false;
    const queued = [...this.activated];
    this.activated.clear();
    if (this.stoppingFlag) return;
    for (const [conn, set] of queued) {
      if (!conn.open) continue;
      this.control.sendRequest(conn, "subscribe", [...set].filter((t) => t.sub === SUB_IDLE && !t.resyncDelayed));
    }
  }

  /**
   * A topic whose instrument the venue no longer lists as trading (instrument-watch.ts): unsubscribed if it is, left
   * out of every later subscribe, stale check and resync (SUB_REJECTED: a symbol that is gone is not asked for
   * again and again), what its stream was building ended (a REST bridge), and its book HALTED with `reason`.
   * activate() brings it back. Cold.
   */
  retire(t: TopicState, reason: StatusReason): void {
    this.retireAll([t], reason);
  }

  /** retire() for several topics at once: one unsubscribe request per open connection for all of them (activateAll). */
  retireAll(ts: readonly TopicState[], reason: StatusReason): void {
    if (this.reopenedUnrecorded.size > 0) {
      const reopened = ts.filter((t) => this.reopenedUnrecorded.delete(t) && t.sub !== SUB_REJECTED);
      if (reopened.length > 0) this.recordTopics(INSTRUMENTS_REOPENED_URL, reopened);
    }
    const unsubscribe = new Map<VenueConnection, { active: TopicState[]; pending: TopicState[] }>();
    // The active ones first: connections in the order of their first active topic, as before pending ones were
    // passed too (under a per-IP budget that order is the order the unsubscribes go in).
    // An idle one still streamed on its socket by our own account (TopicState.streamedOn: a planned reconnect's go-back
    // moved the mark, its resync waiting out its backoff) has its channel there: unsubscribed as an active one. Until
    // s-rd24a nothing did, and that channel stayed subscribed until the socket went.
    for (const sub of [SUB_ACTIVE, SUB_PENDING]) {
      for (const t of ts) {
        const streamedIdle = sub === SUB_ACTIVE && t.sub === SUB_IDLE && t.streamedOn === t.conn.generation;
        if ((t.sub !== sub && !streamedIdle) || !t.conn.open) continue;
        let of = unsubscribe.get(t.conn);
        if (!of) unsubscribe.set(t.conn, (of = { active: [], pending: [] }));
        (sub === SUB_ACTIVE ? of.active : of.pending).push(t);
      }
    }
    // Their acks find them rejected: nothing follows. A pending one: by the venue's rule (unsubscribeClosed).
    for (const [conn, of] of unsubscribe) this.control.unsubscribeClosed(conn, of.active, of.pending);
    // One record per connection, after the unsubscribes written now (their ws:req) and before the books halt, as
    // live halts them: replay asks no listing, so it redoes the closure at this record (replayClosed).
    if (this.eventTap && reason === StatusReason.INSTRUMENT_CLOSED) this.recordTopics(INSTRUMENTS_CLOSED_URL, ts);
    for (const t of ts) {
      // Its refusals so far were the closure's: relisted, it starts a new streak (before 2026-12-07 they stayed
      // counted, and a Bybit option refused once before its delisting was halted at its second refusal after).
      t.subscribeErrorStreak = 0;
      if (t.sub === SUB_REJECTED) {
        // Refused without a reason while its listing is asked (SubscriptionControl.reject): RESYNCING until the listing
        // says it does not trade. A rejected one, HALTED already, is told too: its reason becomes the closure (until
        // s-rdstatus it kept subscribe_rejected on the wire, /books and /readyz, its expiry never judged).
        this.hooks.invalidate(t, BookState.HALTED, reason);
        continue;
      }
      t.sub = SUB_REJECTED;
      t.resyncDelayed = false;
      t.resyncDueMs = 0;
      t.resyncAttempt = 0;
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      t.restartWanted = false;
      this.hooks.invalidate(t, BookState.HALTED, reason);
      t.lastSeq = 0;
      t.hasSeq = false;
      this.hooks.disconnected?.(t);
    }
  }

  /**
   * SubscriptionControl.onWritten's record (`ws:req`). A subscribe queued for the pacing budget is written whole, also
   * naming a book closed meanwhile (retireAll: SUB_REJECTED, its frames ignored, its ack unsubscribes it): replay's
   * recorded subscribe would bring a closed book back (replayResubscribed). Since s-replaymark the record names such
   * books a second time, in a fourth element (`[id, op, [topic, …], [still closed, …]]`, only when there are any), and
   * replay leaves them closed (SubscriptionControl.replayRecorded). They are also recorded closed again right after it
   * (INSTRUMENTS_CLOSED_URL), for a reader before s-replaymark, which ignores the fourth element: its recorded subscribe
   * left the book awaiting its snapshot (unpublished) and that record's retireAll told the sink HALTED /
   * instrument_closed once more, a repeat live never sent (told apart from live's own reopen then close, which sends
   * it twice, by nothing in the capture until the fourth element). Until s-rd15a replay had the book LIVE on the
   * venue's snapshot where live kept it HALTED. Cold (a request).
   */
  private recordWritten(conn: VenueConnection, p: PendingRequest): void {
    // Replay reopens them at this record (not at an Upbit/Bithumb probe's, which brings back nothing).
    if (p.op === "subscribe" && !p.reqId.startsWith("probe")) for (const t of p.topics) this.reopenedUnrecorded.delete(t);
    const stillClosed = p.op === "subscribe" ? p.topics.filter((t) => t.sub === SUB_REJECTED) : [];
    const req: unknown[] = [p.reqId, p.op, p.topics.map((t) => t.topic)];
    if (stillClosed.length > 0) req.push(stillClosed.map((t) => t.topic));
    this.eventTap?.(conn.market, conn.name, SOCKET_REQUEST_URL_PREFIX + JSON.stringify(req), "", nowUs());
    if (stillClosed.length > 0) this.recordTopics(INSTRUMENTS_CLOSED_URL, stillClosed);
  }

  /**
   * retireAll's record (venue.ts INSTRUMENTS_CLOSED_URL) or activateAll's (INSTRUMENTS_REOPENED_URL): one per
   * connection, its topics in their order. Cold.
   */
  private recordTopics(url: string, ts: readonly TopicState[]): void {
    const byConn = new Map<VenueConnection, string[]>();
    for (const t of ts) {
      const names = byConn.get(t.conn);
      if (names) names.push(t.topic);
      else byConn.set(t.conn, [t.topic]);
    }
    for (const [conn, names] of byConn) this.eventTap?.(conn.market, conn.name, url, names.join(" "), nowUs());
  }

  /**
   * Replay: the live run closed these books of connection `name` (INSTRUMENTS_CLOSED_URL; body: their topics): they
   * are retired here as retireAll did live (HALTED / INSTRUMENT_CLOSED, out of every stale check and resync), and a
   * recorded subscribe of one (its listing found it trading again) brings it back (SubscriptionControl.replayRecorded).
   * False when no connection has that name or the body names none of its topics.
   */
  replayClosed(name: string, body: string): boolean {
    const conn = connectionNamed(this.conns, name);
    if (!conn) return false;
    const closed = topicsNamed(conn, body);
    if (closed.length === 0) return false;
    // Live's closure came with a REST answer, a task after any refusing frame: a refusal held was the venue's.
    conn.replayRefusalHeld?.();
    if (this.onReplayClosed !== null) for (const t of closed) this.onReplayClosed(t);
    this.retireAll(closed, StatusReason.INSTRUMENT_CLOSED);
    return true;
  }

  /**
   * Replay: a capture file's head names these books of `conn` closed by their listing when the file began
   * (INSTRUMENTS_CLOSED_SET_URL): those replay does not have closed (HALTED / instrument_closed, SUB_REJECTED) are
   * closed here as by a recorded closure (a replay begun in this file, which never read their `ws:closed`, or one
   * whose `ws:closed` was lost), the others are left as they are. A book refused for good (HALTED / subscribe_rejected,
   * SUB_REJECTED too) is closed: live's closure restated it (retireAll); until s-rd3c it was taken for closed. No
   * refusal held is decided: not a live closure, a head can come between a refusing frame and its `ws:back`.
   * True however many it names (a head is no request: one naming none of conn's topics, a replay of fewer, is taken).
   */
  private replayClosedSet(conn: VenueConnection, body: string): boolean {
    const closing = topicsNamed(conn, body).filter((t) => t.sub !== SUB_REJECTED || t.book !== BookState.HALTED || t.haltedFor !== StatusReason.INSTRUMENT_CLOSED);
    if (closing.length === 0) return true;
    if (this.onReplayClosed !== null) for (const t of closing) this.onReplayClosed(t);
    this.retireAll(closing, StatusReason.INSTRUMENT_CLOSED);
    return true;
  }

  /**
   * Replay: the live run reopened these closed books of connection `name` while their subscribe was still out
   * (INSTRUMENTS_REOPENED_URL; body: their topics): live wrote no request, that subscribe's ack made them active, so
   * they are subscribed again here as a recorded subscribe would (awaiting their snapshot, their silence counted from
   * here, as live's from the reopen). Or while their closure's unsubscribe had not gone (activateAll): live took their
   * frames from here, its subscribe maybe written later. False when no connection has that name or the body names none of its topics.
   * Its closure's recorded unsubscribe holds it no more (TopicState.replayUnsubscribing, set when the book was not LIVE):
   * until s-rd20d the hold outlived this record and replay ignored its frames until that subscribe was written.
   */
  private replayReopened(conn: VenueConnection, body: string): boolean {
    const reopened = topicsNamed(conn, body);
    if (reopened.length === 0) return false;
    conn.replayRefusalHeld?.(); // as a closure: live's reopening came with a REST answer, after any refusing frame
    for (const t of reopened) {
      t.replayUnsubscribing = false; // live takes its frames from here (SUB_PENDING), as from a subscribe
      this.control.replayResubscribed(t);
    }
    this.replayDueFrom(conn);
    return true;
  }

  /** Stops housekeeping and reconnects and closes every socket; resolves when they are closed (≤ 1 s each). */
  async stop(): Promise<void> {
    this.stoppingFlag = true;
    this.control.stop();
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.housekeeping = null;
    this.planned.stop();
    const closing: Promise<void>[] = [];
    for (const conn of this.conns) {
      if (conn.reconnectTimer) clearTimeout(conn.reconnectTimer);
      conn.reconnectTimer = null;
      const ws = conn.ws;
      conn.ws = null;
      conn.open = false;
      conn.generation = ++conn.genSeq;
      this.planned.dropReplacement(conn);
      this.planned.closeRetiring(conn, "stop");
      if (ws && ws.readyState !== WebSocket.CLOSED) {
        closing.push(
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            ws.addEventListener("close", () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              ws.close(1000, "stop");
            } catch {
              clearTimeout(timer);
              resolve();
            }
          }),
        );
      }
    }
    await Promise.all(closing);
  }

  private scheduleConnect(conn: VenueConnection, delayMs: number): void {
    if (this.stoppingFlag) return;
    const wait = Math.max(delayMs, this.connectBudgetWaitMs(conn));
    if (wait <= 0) {
      this.connect(conn);
      return;
    }
    conn.reconnectTimer = setTimeout(() => {
      conn.reconnectTimer = null;
      this.scheduleConnect(conn, 0);
    }, wait);
  }

  /**
   * Whether `conn`, past its age deadline, keeps its socket because no connect may go now (the venue's hold, the
   * budget spent): logged once per wait. Cold (housekeeping, past the deadline only).
   */
  private ageBreakWaits(conn: VenueConnection): boolean {
    const waitMs = this.connectBudgetWaitMs(conn);
    if (waitMs <= 0) return false;
    if (!this.ageBreakWaiting.has(conn)) {
      this.ageBreakWaiting.add(conn);
      const now = this.now();
      const held = this.connectGate(conn).budget.heldUntilMs(now);
      // Logged as a time of day: the wall clock's reading of when the (monotonic) hold ends.
      const fields = { conn: conn.id, market: conn.market, heldUntilMs: held > 0 ? Math.round(this.wallNow() + held - now) : 0, waitMs: Math.round(waitMs) };
      this.log.warn(`${this.venue}: connection past its age deadline kept until a connect may go (the venue's hold or the connect budget)`, fields);
    }
    return true;
  }

  /**
   * Whether `conn`, past its age deadline after waiting for a connect, has a make-before-break under way: started
   * here once when the wait ends. Before, the break came first (the replacement, if its wake came first, was dropped
   * with it): its books went down and two connects went out right after the venue's hold. Cold.
   */
  private makeAfterAgeWait(conn: VenueConnection, now: number): boolean {
    if (this.ageBreakWaiting.delete(conn)) {
      this.ageRetryAfterWait.add(conn);
      this.planned.retryDue(conn, now);
    }
    if (conn.replacing && this.ageRetryAfterWait.has(conn)) return true;
    this.ageRetryAfterWait.delete(conn);
    return false;
  }

  /**
   * A socket opened (a connect's or a planned replacement's): the venue takes connects again, so the next refusal's
   * hold starts from the first step. Before, only an ordinary connect reset the count, so refused planned
   * replacements over days, each followed by one that opened, doubled the hold up to 10 min.
   */
  private connectOpened(conn: VenueConnection): void {
    this.connectGate(conn).refusedInRow = 0;
  }

  /** The gate of `conn`'s connects: the venue's, or its market's (connectsPerMarket). */
  private connectGate(conn: VenueConnection): ConnectGate {
    if (this.marketGates === null) return this.venueGate!;
    let gate = this.marketGates.get(conn.market);
    if (gate === undefined) this.marketGates.set(conn.market, (gate = this.newGate(`${this.venue}:connect:${conn.market}`, `${conn.market} `)));
    return gate;
  }

  /** Cold: each connect gate's budget (metrics.ts connectionMetrics): the venue's, or one per market (connectsPerMarket). */
  connectBudgets(): ConnectBudget[] {
    if (this.marketGates === null) return [{ market: null, connectsPerWindow: this.maxConnectsPerWindow }];
    return [...this.marketGates.keys()].map((market) => ({ market, connectsPerWindow: this.maxConnectsPerWindow }));
  }

  /** How long until `conn` may connect: its gate's sliding-window budget (per IP or domain) and hold. */
  private connectBudgetWaitMs(conn: VenueConnection): number {
    return this.connectGate(conn).budget.waitMs(this.now());
  }

  private connect(conn: VenueConnection): void {
    if (this.stoppingFlag) return;
    conn.connectStartedMs = this.now();
    if (conn.downSinceMs === 0) conn.downSinceMs = this.wallNow(); // not up yet: down since the first attempt (shown: wall clock)
    this.connectGate(conn).budget.take(conn.connectStartedMs);
    conn.connects++;
    const gen = (conn.generation = ++conn.genSeq);
    let ws: WebSocket;
    try {
      ws = new WebSocket(conn.url);
    } catch (err) {
      conn.lastError = String(err);
      this.onDisconnected(conn, gen, "open failed");
      return;
    }
    conn.ws = ws;
    ws.onopen = () => {
      if (gen !== conn.generation) return;
      conn.open = true;
      conn.openedMs = this.now();
      this.connectOpened(conn);
      conn.lastError = "";
      conn.downSinceMs = 0;
      conn.failedConnects = 0;
      conn.lastPingMs = conn.openedMs;
      conn.lastFrameMs = conn.openedMs;
      conn.heardMs = conn.openedMs;
      conn.sentOnSocket = false;
      conn.serverTested = false;
      conn.messagesSeen = ownMessages(conn);
      conn.pongDeadlineMs = 0;
      this.log.info(`${this.venue}: connected`, { conn: conn.id, url: conn.shownUrl, topics: conn.topics.length });
      // Stamped on the frames' clock (core/clock.ts), not this.now (a test's clock jumps): a capture's records stay in time order.
      this.eventTap?.(conn.market, conn.name, CONNECTION_OPENED_URL, conn.shownUrl, nowUs());
      this.eventTap?.(conn.market, conn.name, SOCKETS_RECORDED_URL, "", nowUs()); // its planned reconnects are recorded too
      conn.socketsDeclaredMs = conn.openedMs;
      // Topics waiting out a resync backoff are subscribed by housekeeping when their wait is over.
      const toSubscribe = conn.topics.filter((t) => t.sub === SUB_IDLE && !t.resyncDelayed);
      this.hooks.socketInUse?.(conn);
      this.control.sendRequest(conn, "subscribe", toSubscribe);
    };
    this.bindSocket(conn, ws, gen);
  }

  /**
   * A frame whose handling threw (VenueConnection.frameFailed), taken as a frame no reader could read: the books it
   * may have changed can no longer be trusted, and its message is lost: the venue's rule for a frame it refused says
   * what resyncs (LifecycleHooks.frameLost; `t`, the one topic it names, none when it names none or several). The
   * socket, the connection's other books (when the frame names one) and the process go on. Logged at error, at most
   * one line per 5 s with the count. Cold.
   */
  private readonly frameFaultBound = (conn: VenueConnection, frame: string, error: unknown): void => {
    const t = conn.topicOfFrame(frame);
    const why = error instanceof Error ? error.message : String(error);
    this.frameFailedLog.hit(`${conn.name}${t ? " " + t.topic : " (no single topic named: every book of the connection resyncs)"}: ${why}; frame: ${frame.slice(0, 160)}`);
    if (this.hooks.frameLost) return this.hooks.frameLost(conn, t ?? undefined, frame, why);
    for (const x of t ? [t] : conn.topics) if (resyncsOnLoss(x)) this.hooks.resync(x, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  };
  private readonly frameFailedLog: RateLimitedLog;

  /** Frames (the venue's handler), close and error of socket generation `gen`: the first, a reconnect's or a replacement. */
  private bindSocket(conn: VenueConnection, ws: WebSocket, gen: number): void {
    const refusalsBefore = this.connectGate(conn).doublingRefusalsRead; // bound as its connect starts (connect, planned replacement)
    conn.frameFault ??= this.frameFaultBound;
    conn.bindMessages(ws, gen);
    ws.onclose = (ev: CloseEvent) => {
      const why = `close ${ev.code} ${ev.reason}`;
      if (this.stoppingFlag || this.planned.onReplacementClosed(conn, ws, ev.code)) return;
      if (gen === conn.retiringGeneration && gen !== conn.generation) this.planned.onRetiringClosed(conn, why);
      else this.onSocketFailed(conn, gen, why);
    };
    ws.onerror = (ev: Event) => {
      // onclose follows and reconnects; keep the cause (OS error code: ECONNREFUSED, ENOTFOUND, TLS) for the log and /readyz.
      const error = describeSocketError(ev);
      if (gen === conn.generation) conn.lastError = error;
      this.onHandshakeRefused(conn, error, refusalsBefore); // before onclose: its reconnect waits for the hold
    };
  }

  /**
   * A handshake answered 429/418/403 (any socket of the connection: a planned replacement's too): no connect of this
   * venue (of its market: connectsPerMarket) until the hold ends, here and, reported through the ledger, in every
   * other worker on this IP and the slot's next worker (connect-hold.ts). Before, each connection reconnected on its own backoff into the venue's
   * limit or ban, and every other worker kept connecting too.
   */
  private onHandshakeRefused(conn: VenueConnection, error: string, refusalsBefore: number): void {
    if (this.stoppingFlag) return;
    const status = handshakeStatus(error);
    if (status === undefined) return;
    const nowMs = this.now();
    const gate = this.connectGate(conn);
    const sameBurst = refusalsBefore < gate.doublingRefusalsRead; // under way when the last refusal was read
    const inRow = sameBurst ? Math.max(0, gate.refusedInRow - 1) : gate.refusedInRow;
    const holdMs = connectHoldMs(status, inRow, this.firstHoldMs);
    if (holdMs === undefined) return;
    if (!sameBurst) {
      gate.refusedInRow++;
      gate.doublingRefusalsRead++;
    }
    conn.connectsRefused++;
    gate.budget.hold(nowMs, holdMs);
    const fields = { conn: conn.id, market: conn.market, url: conn.shownUrl, status, holdMs, refusedInRow: gate.refusedInRow };
    const msg = `${this.venue}: the venue refused a connect (HTTP ${status}: too many connects, or this address blocked); no ${gate.scope}connect for ${holdMs / 1000} s, nor from the other workers`;
    if (status === 429) this.log.warn(msg, fields);
    else this.log.error(msg, fields);
  }

  /**
   * The connection's socket (generation `gen`) failed: closed, a request or ping unanswered, silent past its dead time,
   * a topic refused that the old socket serves. A planned reconnect's replacement is abandoned for the old socket while that one is open;
   * otherwise the ordinary reconnect.
   */
  private onSocketFailed(conn: VenueConnection, gen: number, why: string, counter?: "ackTimeouts" | "pongTimeouts" | "deadConnections"): void {
    if (gen !== conn.generation || this.stoppingFlag) return;
    if (this.planned.canGoBack(conn)) {
      this.planned.goBack(conn, why);
      return;
    }
    if (counter) conn[counter]++;
    this.onDisconnected(conn, gen, why);
  }

  /** Connection lost (or recycled): every book on it is invalid until its new snapshot; reconnect with backoff. */
  private onDisconnected(conn: VenueConnection, gen: number, why: string): void {
    if (gen !== conn.generation || this.stoppingFlag) return;
    conn.generation = ++conn.genSeq; // ignore anything else from that socket
    this.planned.reset(conn);
    const ws = conn.ws;
    conn.ws = null;
    const wasOpen = conn.open;
    conn.open = false;
    conn.pending.clear();
    this.control.dropQueued(conn);
    conn.pongDeadlineMs = 0;
    if (ws && ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING) {
      try {
        ws.close(4000, "recycled");
      } catch {
        // already gone
      }
    }
    // Recorded before the books leave LIVE, so replay (replayDisconnected) invalidates them at the same place.
    if (wasOpen) this.eventTap?.(conn.market, conn.name, CONNECTION_CLOSED_URL, why, nowUs());
    for (const t of conn.topics) {
      if (t.sub === SUB_REJECTED) continue;
      t.sub = SUB_IDLE;
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      t.refusedUntilAck = false; // the refused subscribe's retry goes with the socket: the next one is a new subscribe
      this.invalidateDisconnected(t);
    }
    conn.reconnects++;
    // Only a connection that stayed up for a while proves the venue is fine: a server that accepts, acks and then
    // drops us keeps growing the backoff (an ack alone does not reset it).
    if (wasOpen && this.now() - conn.openedMs >= this.reconnectResetAfterMs) conn.attempt = 0;
    const delay = this.backoffMs(conn);
    if (conn.downSinceMs === 0) conn.downSinceMs = this.wallNow();
    if (conn.lastError === "") conn.lastError = why;
    if (!wasOpen) {
      // Never got up: the venue cannot be reached. The first failure of a streak is an error, the retries warnings.
      conn.failedConnects++;
      // The connect waits for the connect budget too (a refused handshake's hold: connect-hold.ts).
      const retryInMs = Math.round(Math.max(delay, this.connectBudgetWaitMs(conn)));
      const fields = { conn: conn.id, market: conn.market, url: conn.shownUrl, error: conn.lastError, attempts: conn.failedConnects, retryInMs };
      if (conn.failedConnects === 1) this.log.error(`${this.venue}: cannot reach the venue; retrying`, fields);
      else this.log.warn(`${this.venue}: venue still unreachable; retrying`, fields);
    } else {
      this.log.warn(`${this.venue}: disconnected; reconnecting`, { conn: conn.id, market: conn.market, url: conn.shownUrl, why, error: conn.lastError, delayMs: Math.round(delay) });
    }
    this.scheduleConnect(conn, delay);
  }

  private invalidateDisconnected(t: TopicState): void {
    if (t.book === BookState.LIVE || t.book === BookState.STALE) this.hooks.invalidate(t, BookState.RESYNCING, StatusReason.DISCONNECTED);
    t.lastSeq = 0;
    t.hasSeq = false;
    this.hooks.disconnected?.(t);
  }

  /**
   * Replay: the recorded unplanned close of connection `name` (CONNECTION_CLOSED_URL). Its books leave LIVE as the
   * live run's did (RESYNCING / DISCONNECTED); the subscriptions stay (the capture holds no acks to restore them) and
   * the next recorded frames resync each book the venue's usual way. False when no connection has that name.
   */
  replayDisconnected(name: string): boolean {
    const conn = connectionNamed(this.conns, name);
    if (!conn) return false;
    conn.replayRefusalHeld?.(); // the close, not ws:back, after a replacement's refusal: it was the venue's
    conn.replayNextUndecodable = null; // live records its frame right after it: one with a close between was lost
    if (conn.socketsRecorded) {
      // As onDisconnected: the socket is gone (a new generation), and any overlap with it.
      conn.generation = ++conn.genSeq;
      replayOverlapOver(conn);
      conn.replayNextFromOld = false;
    }
    conn.pending.clear(); // as onDisconnected: the socket's requests are unanswered for good
    endReplayHolds(conn); // and no unsubscribe of it is out
    conn.replayAcksKnown = true; // the next socket's requests and answers are all in the capture from here
    conn.replayAsked = null; // the next socket is asked anew (its first ws:req begins the set)
    conn.replayAskedKnown = true;
    this.control.replayOverlapOver(conn, false);
    for (const t of conn.topics) {
      if (t.sub === SUB_REJECTED) continue;
      t.refusedUntilAck = false; // as onDisconnected
      this.invalidateDisconnected(t);
    }
    return true;
  }

  /**
   * Replay: the recorded open of connection `name` (CONNECTION_OPENED_URL). Live, no book of a connection is LIVE at
   * its open: its last socket's close invalidated them (onDisconnected), or the process had just started. A book
   * replay still holds LIVE (or STALE) there lost its socket's end from the capture (a recorder before s-recstop
   * stopped and started again, whose new run's first file follows; the close's block lost; a killed run whose boundary
   * was not seen, app/run-boundary.ts: a file between not given): it is invalidated as that close would have
   * (replayDisconnected), not kept LIVE at the old run's levels until its new snapshot. False when no connection has
   * that name.
   */
  replayOpened(name: string): boolean {
    const conn = connectionNamed(this.conns, name);
    if (!conn) return false;
    for (const t of conn.topics) {
      if (t.sub !== SUB_REJECTED && (t.book === BookState.LIVE || t.book === BookState.STALE)) return this.replayDisconnected(name);
    }
    // A new socket answers none of the old one's requests (a close the capture lacks: a recorder killed, or one
    // before s-recstop stopped: it recorded no close; since, its stop writes a ws:close per open connection).
    conn.pending.clear();
    conn.replayNextUndecodable = null; // its frame, lost with that close, is not the new socket's next
    endReplayHolds(conn);
    conn.replayAcksKnown = true;
    conn.replayAsked = null; // this socket is asked anew (its first ws:req begins the set)
    conn.replayAskedKnown = true;
    return true;
  }

  /**
   * Replay: records of the capture were lost here (a file that ended early or could not be read, with another after
   * it; a time jump: VenueAdapter.replayCaptureGap). They may have held answers to the requests still pending, and an
   * answer after the gap naming no request would be taken by order for one of those (a refusal acting on the wrong
   * book): every connection forgets them and matches nothing by order until its next recorded `ws:open` or `ws:close`
   * (VenueConnection.replayAcksKnown). An answer naming its request matches one recorded after the gap. Until
   * 2026-12-07 the requests were kept across it (Coinbase's alone forgotten, by the adapter). A book refused for now
   * (OKX, Binance: TopicState.refusedUntilAck) takes its updates again: its retry's acceptance may be among the lost
   * records, and a venue pushes a stream's updates only once it is subscribed (kept, it ignored them until the
   * connection's next socket, where live had it LIVE). A replacement's refusal held in an overlap
   * (VenueConnection.replayRefusalHeld) rejects nothing, as at a `ws:state` saying the overlap's end was lost: live's
   * `ws:back`, recorded right after the refusing frame, may be among the lost records (until s-rd5a the first record
   * after the gap decided it as the venue's and halted a book live kept LIVE on the old socket).
   */
  replayCaptureGap(): void {
    for (const conn of this.conns) {
      conn.pending.clear();
      conn.replayAcksKnown = false;
      conn.replayAsked = null; // the lost records may have asked for more: unknown until the next ws:open, ws:close or head
      conn.replayAskedKnown = false;
      for (const t of conn.topics) t.refusedUntilAck = false;
      this.control.replayOverlapOver(conn, false);
      endReplayHolds(conn); // a held topic's subscribe may be among the lost records: taken from the next snapshot
      conn.replayNextUndecodable = null; // the undecodable frame may be among them: the next one is another
    }
  }

  /**
   * Replay (Bybit, at a `ws:state` or `ws:overlap`): the holds of recorded unsubscribes end (TopicState.replayUnsubscribing)
   * but one whose unsubscribe is still out: pending and sent within the ack deadline, after which live would have
   * closed the socket (`no ack within`), so one older had its answer lost from the capture.
   */
  replayEndAnsweredHolds(conn: VenueConnection): void {
    const now = this.now();
    for (const t of conn.topics) {
      if (!t.replayUnsubscribing) continue;
      let out = false;
      for (const p of conn.pending.values()) {
        if (p.op === "unsubscribe" && now - p.sentMs <= this.ackTimeoutMs && p.topics.includes(t)) {
          out = true; // one is enough: the rest need not be looked at
          break;
        }
      }
      if (!out) t.replayUnsubscribing = false;
    }
  }

  /**
   * Replay: a recorded socket event of connection `name` (venue.ts SOCKETS_RECORDED_URL …): its generation,
   * retiringGeneration and the next frame's socket follow the live run's, as connect() and planned-reconnect.ts set
   * them. Before the connection's SOCKETS_RECORDED_URL (or, in a replay begun later, SOCKETS_STATE_URL or
   * SOCKETS_OVERLAP_URL, which begin every capture file) nothing is known of its sockets and the others change nothing.
   * False when no connection has that name.
   */
  replaySocketEvent(name: string, url: string, body = ""): boolean {
    const conn = connectionNamed(this.conns, name);
    if (!conn) return false;
    // Its frame, next, is one live could not decode: faulted as live's (replayFrameAt), whatever replay knows of the sockets.
    if (url === SOCKET_UNDECODABLE_URL) {
      conn.replayNextUndecodable = body;
      return true;
    }
    // A request the live run wrote (its answer is matched to it as live's was: SubscriptionControl.replayRecorded).
    // Written while the refusing frame was handled (the rest of a refused batch), it comes before live's ws:back.
    if (url.startsWith(SOCKET_REQUEST_URL_PREFIX)) {
      const json = url.slice(SOCKET_REQUEST_URL_PREFIX.length);
      const req = parseRecordedRequest(json);
      if (typeof req === "string") return this.replayMalformed(conn, `ws:req ${req}: ${boundedText(json, 160)}`); // no part of it taken
      replayNoteAsked(conn, req);
      const taken = this.control.replayRecorded(conn, req);
      if (taken) this.replayDueFrom(conn); // a closed or refused book subscribed again: judged from here on
      return taken;
    }
    // Books live closed as no longer listed as trading (replay asks no listing): closed here as there.
    if (url === INSTRUMENTS_CLOSED_URL) return this.replayClosed(name, body);
    // Closed books live reopened while their subscribe was out (no ws:req of the reopening): subscribed again here.
    if (url === INSTRUMENTS_REOPENED_URL) return this.replayReopened(conn, body);
    // A go-back's resubscribe live held for the venue's count: taken from here, as live (no ws:req until it goes).
    if (url === SOCKET_BACK_HELD_URL) return this.replayBackHeld(conn, body);
    // A file's head: the go-back subscribes still held and the books recorded unsubscribes still held (since s-rd27a).
    if (url === SOCKET_BACK_HELD_SET_URL) return this.replayBackHeld(conn, body, true);
    if (url === SOCKET_UNSUBSCRIBED_SET_URL) return this.replayUnsubscribedSet(conn, body);
    // A file's head: the books closed when it began (a replay begun in it learns them here).
    if (url === INSTRUMENTS_CLOSED_SET_URL) return this.replayClosedSet(conn, body);
    // A file's head: the topics asked on the socket when it began (a replay begun in it learns them here).
    if (url === SOCKET_ASKED_URL) {
      return replaySeedAsked(conn, body) || this.replayMalformed(conn, boundedText(body, 160));
    }
    // A replacement's refusal held: live went back at once after the refusing frame (ws:back next); another socket
    // event says it did not, so the refusal was the venue's. Not a file head's ws:overlap (cut by receive time, it
    // can come between), nor the ones saying the overlap's end was lost (ws:state, ws:sockets: none rejected below).
    if (conn.replayRefusalHeld !== null && url !== SOCKET_BACK_URL && url !== SOCKETS_STATE_URL && url !== SOCKETS_RECORDED_URL && url !== SOCKETS_OVERLAP_URL) conn.replayRefusalHeld();
    // Whatever replay knows of the sockets: the books live found without a feed leave LIVE here, as live's did (the
    // old socket gone, or gone back to it: the books only the replacement fed).
    if (url === SOCKET_RETIRED_URL || url === SOCKET_BACK_URL) this.replayUnfed(conn, body);
    if (url === SOCKETS_RECORDED_URL) {
      conn.socketsRecorded = true;
      conn.generation = ++conn.genSeq;
      replayOverlapOver(conn);
      conn.replayNextFromOld = false;
      conn.pending.clear(); // a new socket: none of its requests is written yet
      endReplayHolds(conn);
      this.control.replayOverlapOver(conn, false); // a refusal held: the end of its overlap is not in the capture
      return true;
    }
    if (!conn.socketsRecorded) {
      // A replay begun after the connection's SOCKETS_RECORDED_URL (a later file, whose head says the sockets): one
      // socket now, or an overlap. Its generation stays: the books' sockets of record (soloGen, seqSocket) are the one
      // the frames so far came on (in an overlap, the old one).
      if (url === SOCKETS_STATE_URL || url === SOCKETS_OVERLAP_URL) {
        conn.socketsRecorded = true;
        replayOverlapOver(conn);
        conn.replayNextFromOld = false;
        if (url === SOCKETS_OVERLAP_URL) replaySwap(conn);
      }
      return true;
    }
    if (url === SOCKETS_STATE_URL) {
      // Live says it only with one socket: an overlap replay still sees lost its end (a capture block lost, the disk
      // full). Ended as the old socket's close would have ended it, else the books stayed judged as two sockets'.
      if (conn.retiringGeneration >= 0) {
        this.control.replayOverlapOver(conn, false); // a refusal met in it: whether live went back is lost with the end
        replayOverlapOver(conn);
        for (const t of conn.topics) if (seqReached(t, conn.generation)) t.seqSocket = conn.generation;
        this.hooks.overlapOver?.(conn, "replacement");
      }
      conn.replayNextFromOld = false;
      return true;
    }
    if (url === SOCKET_SWAP_URL) {
      replaySwap(conn);
    } else if (url === SOCKET_OLD_FRAME_URL || url === SOCKETS_OVERLAP_URL) {
      // Both are recorded only during an overlap: seen without one, the overlap's SOCKET_SWAP_URL was in a capture
      // block that was lost (the disk full). It begins here, so the old socket's frames from now on are judged as
      // live judged them; the replacement's frames before this one were taken as the one socket's.
      if (conn.retiringGeneration < 0) replaySwap(conn);
      // A file's head says nothing of the next frame: one can come between a SOCKET_OLD_FRAME_URL and its frame (the
      // writer cuts a block at its file's boundary by receive time, and the frame is stamped after its ws:old). Before,
      // it cleared the ws:old, and the old socket's frame was judged as the replacement's.
      if (url === SOCKET_OLD_FRAME_URL) conn.replayNextFromOld = true;
    } else if (url === SOCKET_RETIRED_URL && conn.retiringGeneration >= 0) {
      this.control.replayOverlapOver(conn, true); // a refusal by the replacement in this overlap was the venue's
      replayOverlapOver(conn);
      // As live (planned-reconnect.ts clearOverlap): the replacement is the socket of record where it reached the sequence.
      for (const t of conn.topics) if (seqReached(t, conn.generation)) t.seqSocket = conn.generation;
      this.hooks.overlapOver?.(conn, "replacement");
    } else if (url === SOCKET_BACK_URL && conn.retiringGeneration >= 0) {
      // planned-reconnect.ts goBack: the old socket under a new generation, still the socket of record of its books.
      const oldGen = conn.retiringGeneration;
      replayOverlapOver(conn);
      this.control.replayOverlapOver(conn, false); // a refusal by the replacement failed it
      conn.pending.clear(); // goBack: the replacement's requests are forgotten
      // The holds of recorded unsubscribes stay (TopicState.replayUnsubscribing): live's goBack leaves such a book
      // unsubscribed until a request it records after ws:back, the unsubscribe of its redo (served there) or its
      // subscribe (not served: at once, or after its resync's backoff, idle meanwhile). Until s-backreplay they ended
      // here, and a book idle there took the frames of a channel the old socket still streamed (TopicState.streamedOn):
      // LIVE in replay from a snapshot live ignored. A subscribe held for the venue's count is named next (ws:back-held).
      conn.generation = ++conn.genSeq;
      for (const t of conn.topics) seqSocketRenamed(t, oldGen, conn.generation);
      this.hooks.overlapOver?.(conn, "old", oldGen);
    }
    return true;
  }

  /** Replay: a malformed record of conn (`what`: what was wrong, the record's text) counted and logged; false. Cold. */
  private replayMalformed(conn: VenueConnection, what: string): false {
    conn.malformedRecords++;
    this.malformedRecordLog.hit(`${conn.name}: ${what}`, conn.name);
    return false;
  }

  /**
   * Replay: the books live's go-back resubscribed whose subscribe waits for the venue's request count (venue.ts
   * SOCKET_BACK_HELD_URL): no recorded unsubscribe holds them now, and they are marked as live's (SUB_PENDING,
   * subscribeQueued: their frames taken, a bad one resyncing nothing, their silence not judged unless LIVE) until
   * that subscribe's ws:req, their socket's end or a capture gap (replayHeldSubscribeGone). False: no topic named.
   * A file head's (`head`, SOCKET_BACK_HELD_SET_URL) marks a book closed by its listing too (its ws:closedset came
   * first; closed after its ws:back-held, it kept the mark, as live's held subscribe stays out), leaving it closed.
   */
  private replayBackHeld(conn: VenueConnection, body: string, head = false): boolean {
    const named = topicsNamed(conn, body);
    for (const t of named) {
      if (t.sub === SUB_REJECTED && !head) continue;
      t.replayUnsubscribing = false;
      if (t.sub !== SUB_REJECTED) t.sub = SUB_PENDING;
      t.subscribeQueued = true;
    }
    // Naming only books this replay's config leaves out (a replay of fewer books) is no damage, for the head's record
    // as for the go-back's own (until the final read of 2026-12-07 the latter was counted malformed); one naming
    // nothing at all live never writes.
    if (named.length === 0 && !head && body.trim() === "") this.replayMalformed(conn, `${SOCKET_BACK_HELD_URL} naming nothing`);
    return named.length > 0 || head;
  }

  /**
   * Replay: a capture file's head names the books of `conn` a recorded unsubscribe held when the file began
   * (SOCKET_UNSUBSCRIBED_SET_URL): held here as by that unsubscribe (SubscriptionControl.replayHold), but a book
   * replay holds LIVE or never subscribed (no instrument: SUB_REJECTED, no table entry; replayHold skips it, so before
   * a head gave it a hold the replay of every record never set), nor on a venue whose replay holds none
   * (RequestProtocol.replayHoldsUnsubscribed). One closed by its listing is held: the head names only books its
   * unsubscribe held before the closure (as replayHold did). Until s-rd27a a replay begun in the file took their frames
   * live ignored (LIVE there only).
   */
  private replayUnsubscribedSet(conn: VenueConnection, body: string): boolean {
    if (!this.control.replayHoldsUnsubscribed) return true;
    for (const t of topicsNamed(conn, body)) if (!(t.sub === SUB_REJECTED && t.entry === -1) && t.book !== BookState.LIVE) t.replayUnsubscribing = true;
    return true;
  }

  private replayUnfed(conn: VenueConnection, body: string): void {
    if (body === "") return;
    // By TopicState.topic (byTopic is keyed by what the venue's frames name: a code, a symbol), in the live run's order.
    for (const t of topicsNamed(conn, body)) if (t.sub !== SUB_REJECTED) this.invalidateDisconnected(t);
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so reconnects of many clients spread out. */
  private backoffMs(conn: VenueConnection): number {
    return equalJitterMs(conn.attempt++, this.reconnectBaseMs, this.reconnectMaxMs, this.random);
  }

  /**
   * A planned reconnect (the venue announced a close, or the connection reached maxConnectionAgeMs): make before
   * break, and back to the old socket if the replacement fails (planned-reconnect.ts). Cold.
   */
  onPlannedClose(conn: VenueConnection, why = "planned close announced by the venue"): void {
    this.planned.start(conn, why);
  }

  /**
   * Resync kind `reconnect` / sequence scope `connection` (Coinbase: one sequence per connection): a gap means any
   * book of the connection may be wrong, so the connection is dropped, its books go RESYNCING / DISCONNECTED, and
   * it reconnects and resubscribes everything (with the reconnect backoff). Cold.
   */
  recycle(conn: VenueConnection, why: string): void {
    this.onDisconnected(conn, conn.generation, why);
  }

  /** Pings, pong deadlines, ack deadlines, stale topics. Cold, runs every housekeepingMs. */
  private onHousekeeping(): void {
    if (this.stoppingFlag) return;
    const now = this.now();
    // After a stall of this thread, frames that arrived meanwhile (data, pongs, acks) still sit unread behind this
    // timer: silence measured across the stall is ours, not the venue's. Such a round judges no deadline and the next
    // one, after the socket reads, does; never two rounds in a row, so an overloaded thread still finds a dead peer.
    const judge = this.rounds?.judge() ?? true;
    this.control.retriesDue(now); // requests refused as over the rate limit whose backoff is over
    for (const conn of this.conns) {
      if (!conn.used) continue; // never opened: nothing to watch
      this.clampToClock(conn, now);
      for (const t of conn.topics) {
        if (!t.resyncDelayed || now < t.resyncDueMs) continue;
        t.resyncDelayed = false;
        // A snapshot made the book live meanwhile (the adapter clears the flag then; this is the safety net):
        // never unsubscribe and resubscribe a live book without invalidating it first.
        if (t.book === BookState.LIVE) continue;
        // Backoff over: subscribe again (now if the connection is open, otherwise when it opens), or the venue's own way.
        if (this.hooks.restartAfterBackoff) this.hooks.restartAfterBackoff(t);
        else this.control.restartTopic(t);
      }
      if (judge && !conn.open && conn.ws && now - conn.connectStartedMs > this.ackTimeoutMs) {
        // A handshake that neither completes nor fails (e.g. a black-holed SYN) must not stall the topics forever.
        this.onDisconnected(conn, conn.generation, `WebSocket handshake not done within ${this.ackTimeoutMs} ms`);
        continue;
      }
      if (!conn.open || !conn.ws) continue;
      this.hooks.housekeeping?.(conn, now);
      // Recording: said again now and then while one socket, for a replay that begins in a later file (venue.ts).
      const sinceDeclaredMs = now - conn.socketsDeclaredMs;
      if (this.eventTap && conn.retiringGeneration < 0 && (sinceDeclaredMs >= SOCKETS_STATE_EVERY_MS || sinceDeclaredMs < 0)) {
        conn.socketsDeclaredMs = now;
        this.eventTap(conn.market, conn.name, SOCKETS_STATE_URL, "", nowUs());
      }
      if (now - conn.openedMs < this.ageDeadlineMs && this.ageBreakWaiting.size + this.ageRetryAfterWait.size > 0) {
        this.ageBreakWaiting.delete(conn); // replaced meanwhile
        this.ageRetryAfterWait.delete(conn);
      }
      const pastAge = now - conn.openedMs >= this.ageDeadlineMs && !conn.retiringWs;
      if (pastAge && this.ageBreakWaits(conn)) {
        // No connect may go now (the venue's connect hold, the budget spent): breaking the old socket, which still
        // delivers, would only leave its books down until one may. Before, a hold at the age deadline did just that.
      } else if (pastAge && this.makeAfterAgeWait(conn, now)) {
        // The wait is over: one more make-before-break (its own deadline bounds it; failed, the break follows).
      } else if (pastAge) {
        // Every make-before-break since the age limit failed (or none could start): break before make, as the venue
        // would (Binance at 24 h). During an overlap openedMs is the replacement's, so this is the old socket alone.
        this.ageBreakWaiting.delete(conn);
        const why = `connection older than ${this.ageDeadlineMs} ms, not replaced make-before-break (${conn.plannedFailuresInRow} failed in a row)`;
        this.onDisconnected(conn, conn.generation, why);
        continue;
      }
      if (now - conn.openedMs >= this.maxConnectionAgeMs) conn.plannedWhy ||= `connection older than ${this.maxConnectionAgeMs} ms`;
      this.planned.onHousekeeping(conn, now, judge); // its sockets' deadlines wait with the connection's
      // The current socket's frames only: during an overlap the old socket's are watched on their own (watchRetiring).
      const own = ownMessages(conn);
      if (own !== conn.messagesSeen) {
        conn.messagesSeen = own;
        conn.lastFrameMs = now;
        conn.heardMs = now;
      }
      // A keepalive still queued for the pacing budget (behind requests: a refused batch retried topic by topic) has not
      // gone: its pong time counts from when it goes (by the next round), as a queued request's ack deadline does.
      // Before, it counted from the queueing, and a ping queued longer than the pong time recycled the connection.
      // Only the ping the deadline is for (the one in flight): until 2026-12-06 a later ping queued behind a sent one
      // pushed it, so with pings due faster than the budget let them go a sent ping left unanswered was never judged.
      if (conn.pongDeadlineMs !== 0 && keepaliveQueued(conn)) conn.pongDeadlineMs = Math.max(conn.pongDeadlineMs, now + this.pongTimeoutMs + this.housekeepingMs);
      // A socket that has sent nothing yet, its first messages waiting for the pacing budget (a worker's slot of the
      // per-IP limit: once in 26.7 s for 64 workers on Deribit), has asked the venue nothing: its silence counts from
      // when they go. Before, it was found dead 7 s after the open, and the reconnect waited for a connect slot.
      // A server_test venue's (Deribit's) own heartbeats come 10 s apart at the least, past the dead-connection rule: a
      // quiet socket lives on our probe's answer, so one whose probe or request still waits for the budget has not been
      // asked either. Until 2026-12-07 only a socket that had sent nothing: for one of 64 workers the 7 s after
      // set_heartbeat's answer, the subscribe waiting for the next slot, recycled it, and its new socket spent its slot
      // on set_heartbeat again, the books never LIVE. A request once written has its ack deadline, a probe this rule.
      if (conn.outbox.length > 0 && (!conn.sentOnSocket || this.keepalive.kind === "server_test")) conn.lastFrameMs = now;
      // After a stall the verdicts wait one round; pings still go out below, so an idle connection is probed on time.
      if (judge && this.deadlinePassed(conn, now)) continue;
      if (this.keepalive.kind === "client_ping") {
        const idle = this.probeIdleMs > 0 && now - conn.lastFrameMs >= this.probeIdleMs && now - conn.lastPingMs >= this.probeIdleMs;
        // One ping in flight a socket: a pong then answers the ping its deadline is for (OKX's, Upbit's and Bithumb's
        // carry no id; the others are answered in order). Until 2026-12-07 pings went on while one was unanswered, and
        // a late pong of an earlier one cleared the deadline of the one after it.
        if (conn.pongDeadlineMs === 0 && (now - conn.lastPingMs >= this.pingIntervalMs || idle)) {
          conn.lastPingMs = now;
          conn.pongDeadlineMs = now + this.pongTimeoutMs;
          this.control.send(conn, this.keepalive.encodePing(this.control.nextSeq()), KEEPALIVE_TAG);
        }
      } else if (this.keepalive.kind === "server_test" && this.keepalive.encodeProbe && this.probeIdleMs > 0) {
        // Quiet: ask for an answer before the dead-connection rule would fire (no deadline of its own: that rule decides).
        // Not while messages wait for the pacing budget: those will be answered, and a probe would only delay them.
        if (now - conn.lastFrameMs >= this.probeIdleMs && now - conn.lastPingMs >= this.probeIdleMs && conn.outbox.length === 0) {
          conn.lastPingMs = now;
          this.control.send(conn, this.keepalive.encodeProbe(this.control.nextSeq()));
        }
      }
      if (judge) this.judgeStale(conn, now, false);
    }
  }

  /**
   * The stale rule for one connection's topics at `now` (housekeeping; replay's rounds): a topic silent past its stale
   * time (counted from its subscribe going out, not from its queueing for the pacing budget), and not quiet
   * (hooks.quiet), is STALE and resynced. Returns when the next of them can be (Infinity: none).
   * Replay logs a silence once, when it makes the book STALE (live: every round it is found, asking again each time).
   */
  private judgeStale(conn: VenueConnection, now: number, replaying: boolean): number {
    let nextMs = Infinity;
    for (const t of conn.topics) {
      if ((t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) || t.resyncDelayed) continue;
      // Its subscribe still waits for the pacing budget: its silence starts when that goes (SubscriptionControl.flush).
      // A LIVE book is judged anyway: it is never left LIVE unheard.
      if (t.subscribeQueued && t.book !== BookState.LIVE) continue;
      const staleAfterMs = this.staleAfter(t.depth, t.market);
      if (now - t.lastMsgMs <= staleAfterMs) {
        nextMs = Math.min(nextMs, t.lastMsgMs + staleAfterMs);
        if (replaying && t.book !== BookState.STALE) this.replayStateDueMs = Math.min(this.replayStateDueMs, t.lastMsgMs + staleAfterMs);
        continue;
      }
      // Replay: a recorded unsubscribe out (its frames ignored) is no silence, as live judges no topic unsubscribing;
      // looked at again a stale time later (its recorded subscribe restarts the clock). A LIVE book is judged anyway.
      const quietUntilMs = t.replayUnsubscribing && t.book !== BookState.LIVE ? now + staleAfterMs : (this.hooks.quiet?.(t, now, staleAfterMs) ?? 0);
      if (quietUntilMs > now) {
        nextMs = Math.min(nextMs, quietUntilMs);
        if (replaying) this.replayStateDueMs = Math.min(this.replayStateDueMs, quietUntilMs);
        continue;
      }
      this.staleResyncs++;
      if (replaying && t.book !== BookState.STALE) this.replayVerdicts++;
      // Only a LIVE book's levels are the venue's at its last sequence: one gone STALE from RESYNCING (a refused
      // update, a checksum that failed) must never resume (replayMayResume). The time its silence passed the stale
      // time, not this round's: a replay round after another book's verdict waits an interval (replayUntil).
      if (replaying && t.book !== BookState.STALE) t.staleDueMs = t.book === BookState.LIVE ? t.lastMsgMs + staleAfterMs : -Infinity;
      if (!replaying || t.book !== BookState.STALE) this.log.warn(`${this.venue}: topic stale; resyncing`, { market: t.market, topic: t.topic, silentMs: now - t.lastMsgMs });
      t.lastMsgMs = now;
      this.hooks.resync(t, BookState.STALE, StatusReason.STALE_FEED);
      this.onTopicStale?.(t); // a silent book may be one the venue stopped trading: the watch asks REST (live only)
      nextMs = Math.min(nextMs, now + staleAfterMs);
    }
    return nextMs;
  }

  /**
   * Replay: the capture's clock (the adapter's `now` in replay: app/replay-clock.ts) has reached `nowMs`, the next
   * record's receive time. The stale rounds due before it run first, each at its time, as live's housekeeping ran them:
   * a book silent past its stale time goes STALE there and resyncs the venue's way, which in replay sends nothing (no
   * connection is open: the next snapshot the capture holds, the live run's answer, makes it LIVE again). A round runs
   * only when one is due, just past the due time; after one that made a book STALE the next waits housekeepingMs (live's
   * own rate: many books falling silent together are judged in one round, not one round each). Nothing else of
   * housekeeping runs: what else it decided live (a dead connection, an unanswered ping) the capture records (`ws:close`).
   * A round that made no book STALE is followed by the next one that may (a book not STALE coming due), or else by one
   * at `nowMs`: the rounds between would only judge STALE books again, which in replay asks nothing and changes no
   * state. So a gap runs about two rounds per book it makes STALE, not one per stale time (an 8 h gap at 10 s: 2,880
   * each; a forged time years ahead: millions). `rebase` (a time jump, the capture's damage point: app/replay-clock.ts):
   * the clock starts again at `nowMs`, as at the first record; no round runs for the time jumped over. Cold.
   */
  replayUntil(nowMs: number, rebase = false): void {
    if (!this.replayStarted || rebase) {
      // The capture's first record (or the first after a time jump): every silence counts from here, as a live run's
      // from its subscribe. Times ahead of it (a jump back) are brought back to it, as live's on a clock step.
      this.replayStarted = true;
      for (const conn of this.conns) {
        this.clampToClock(conn, nowMs);
        for (const t of conn.topics) {
          t.lastMsgMs = nowMs;
          t.staleDueMs = -Infinity; // no resume across the jump: nothing is known of the books over it
        }
      }
      this.replayNextRoundMs = -Infinity;
      this.replayDueMs = this.replayRound(nowMs);
      return;
    }
    while (this.replayDueMs < nowMs) {
      // Just past the due time (a capture's µs): the rule is "silent for more than its stale time".
      const atMs = Math.max(this.replayDueMs + REPLAY_PAST_MS, this.replayNextRoundMs);
      if (atMs > nowMs) return; // the round is after this record, which may end the silence
      const verdicts = this.replayVerdicts;
      this.replayDueMs = this.replayRound(atMs);
      // Only a round that made a book STALE spaces the next: one that judged STALE books again changed nothing (paced
      // by it, a book coming due just after waited an interval, or was not judged at all before its next message).
      if (this.replayVerdicts !== verdicts) this.replayNextRoundMs = atMs + this.housekeepingMs;
      // Nothing made STALE: only STALE books are due until a book not STALE is (or this record).
      else this.replayDueMs = Math.max(this.replayDueMs, Math.min(this.replayStateDueMs, nowMs - REPLAY_PAST_MS));
    }
  }

  /**
   * Replay: may the STALE book `t`, whose venue sequence continues exactly at the message now fed (the adapter's
   * proof: no message of it was missed), be LIVE again at that message? Yes when it went STALE straight from LIVE (its
   * kept levels are the venue's), within one housekeeping interval of the time its silence passed its stale time:
   * live judged a silence only at its first round past that, up to an interval later, so live may well have kept this
   * book LIVE (had it judged first, its resync would bring a snapshot, which the capture then holds next and which
   * replaces the book anyway). Later, live had certainly made it STALE and waits for the snapshot: so does replay. Not
   * an interval from replay's verdict: a round after another book's verdict waits an interval, and counted from it
   * the window reached an interval past live's last possible round. Cold.
   */
  replayMayResume(t: TopicState): boolean {
    return this.replayStarted && t.book === BookState.STALE && this.now() - t.staleDueMs <= this.housekeepingMs;
  }

  /**
   * Replay: conn's topics may have started a silence the next round does not know of (a closed or refused book
   * subscribed again by a recorded request: SubscriptionControl.replayRecorded, its clock from that write): the next
   * round is due no later than the stale time of each, as live's housekeeping judges it then. Until s-repleft the next
   * due time was computed only at a round, so with no other book due (the round after the closure found nothing to
   * judge) a reopened book whose snapshot never came was never STALE in replay. An earlier due time than needed costs a
   * round that judges nothing. A stale time passed already is not taken: the rounds up to this record judged that book
   * (quiet: a resync's unsubscribe held, Upbit's quiet rule), and until s-rd15a the next record ran one more round over
   * every book at that past time, behind the records fed since. Cold (a recorded request).
   */
  private replayDueFrom(conn: VenueConnection): void {
    if (!this.replayStarted) return; // the first record's round judges every topic
    const nowMs = this.now();
    for (const t of conn.topics) {
      if ((t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) || t.resyncDelayed || t.book === BookState.STALE) continue;
      const dueMs = t.lastMsgMs + this.staleAfter(t.depth, t.market);
      if (dueMs >= nowMs && dueMs < this.replayDueMs) this.replayDueMs = dueMs;
    }
  }

  private replayRound(atMs: number): number {
    this.replayRoundAt?.(atMs); // what this round makes STALE went so at atMs, not at the record after it
    this.replayStateDueMs = Infinity;
    let dueMs = Infinity;
    for (const conn of this.conns) if (conn.used) dueMs = Math.min(dueMs, this.judgeStale(conn, atMs, true));
    return dueMs;
  }

  /**
   * The adapter's deadline clock is monotonic by default (CommonAdapterOptions.now), but an injected one may step
   * back: that puts the times the deadlines count from in the future, and a connection that died then would stay
   * "alive", its books LIVE, for as long as the step. Such times are brought back to now, so each deadline runs at
   * most its own length from here. (A step forward fires deadlines early: a needless reconnect, the safe side.)
   * Cold: once per round.
   */
  private clampToClock(conn: VenueConnection, now: number): void {
    if (conn.lastFrameMs > now) conn.lastFrameMs = now;
    if (conn.heardMs > now) conn.heardMs = now;
    if (conn.lastPingMs > now) conn.lastPingMs = now;
    // 0 is "no ping outstanding", not a time: read as one, a clock below -pongTimeoutMs (an injected clock counting from
    // its start, stepped back) made it a deadline for a ping never sent, which then failed a live connection.
    if (conn.pongDeadlineMs !== 0 && conn.pongDeadlineMs > now + this.pongTimeoutMs) conn.pongDeadlineMs = now + this.pongTimeoutMs;
    if (conn.openedMs > now) conn.openedMs = now;
    if (conn.connectStartedMs > now) conn.connectStartedMs = now;
    // Infinity is "still queued for the pacing budget", not a time: its ack deadline starts when it goes. Clamped, every
    // request queued longer than the ack timeout (a refused batch of 50 retried stream by stream at 2 a second) failed
    // the connection, which then did the same again after each reconnect.
    for (const p of conn.pending.values()) if (p.sentMs > now && p.sentMs !== Infinity) p.sentMs = now;
    for (const t of conn.topics) {
      if (t.lastMsgMs > now) t.lastMsgMs = now;
      if (t.liveSinceMs > now) t.liveSinceMs = now;
      // A resync waiting out its backoff would have left the book RESYNCING for the step's length more.
      if (t.resyncDelayed && t.resyncDueMs > now + t.resyncWaitMs) t.resyncDueMs = now + t.resyncWaitMs;
    }
    // A planned reconnect's own: the retiring old socket's keepalive (a dead one kept serving books the replacement
    // did not carry yet) and a failed one's retry time (at most its longest backoff step from now).
    if (conn.retiringLastFrameMs > now) conn.retiringLastFrameMs = now;
    if (conn.retiringHeardMs > now) conn.retiringHeardMs = now;
    if (conn.retiringLastPingMs > now) conn.retiringLastPingMs = now;
    if (conn.retiringOpenedMs > now) conn.retiringOpenedMs = now;
    if (conn.retiringPongDeadlineMs !== 0 && conn.retiringPongDeadlineMs > now + this.pongTimeoutMs) conn.retiringPongDeadlineMs = now + this.pongTimeoutMs;
    if (conn.plannedRetryAtMs > now + this.plannedRetryMaxMs) conn.plannedRetryAtMs = now + this.plannedRetryMaxMs;
  }

  /** The connection's dead-connection, pong or ack deadline has passed: it is failed (true) and needs nothing more. */
  private deadlinePassed(conn: VenueConnection, now: number): boolean {
    // A dead replacement of an overlap whose old socket is still open goes back to that one (onSocketFailed), as a
    // late ack does: the old socket keeps the books LIVE, and the failure is a planned reconnect's, not counted as the
    // connection's (dead connection, pong or ack timeout: until 2026-12-07 a silent replacement counted a dead connection).
    if (now - conn.lastFrameMs > this.deadConnectionMs) {
      // Nothing at all (data, pong, ack) for this long: the server or the path is gone, whatever the keepalive says.
      this.onSocketFailed(conn, conn.generation, `nothing received for ${this.deadConnectionMs} ms`, "deadConnections");
      return true;
    }
    if (conn.serverTested && now - conn.heardMs > this.serverSilentMs) {
      // Its server promised something every heartbeat interval, so a queued message (which holds the rule above until
      // it goes) does not keep this socket: until 2026-12-07 a queue kept fed under a small budget slot did, its books
      // LIVE on a dead socket until a message went and its ack was late.
      this.onSocketFailed(conn, conn.generation, `nothing received for ${this.serverSilentMs} ms (the server's heartbeat interval and the dead-connection time)`, "deadConnections");
      return true;
    }
    if (conn.pongDeadlineMs !== 0 && now > conn.pongDeadlineMs) {
      this.onSocketFailed(conn, conn.generation, `no pong within ${this.pongTimeoutMs} ms`, "pongTimeouts");
      return true;
    }
    for (const p of conn.pending.values()) {
      if (now - p.sentMs > this.ackTimeoutMs) {
        this.onSocketFailed(conn, conn.generation, `no ack within ${this.ackTimeoutMs} ms`, "ackTimeouts");
        return true;
      }
    }
    return false;
  }
}

/** "ECONNREFUSED: WebSocket connection to '…' failed: Failed to connect" from a WebSocket error event (Bun puts the OS code on `error.code`). */
export function describeSocketError(ev: Event): string {
  const e = ev as Event & { message?: unknown; error?: { code?: unknown; message?: unknown } };
  const code = typeof e.error?.code === "string" ? e.error.code : "";
  const message = typeof e.message === "string" && e.message !== "" ? e.message : typeof e.error?.message === "string" ? e.error.message : "WebSocket error";
  return code ? `${code}: ${message}` : message;
}

/**
 * Replay: a planned reconnect's swap (planned-reconnect.ts swapWhenSettled): the socket so far retires, a new one is
 * the connection's, and the topics subscribed then are the old socket's (onRetiring: Binance's overlap hold asks it).
 */
function replaySwap(conn: VenueConnection): void {
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  conn.pending.clear(); // as the swap: none is out on the old socket (it waits for that), and the new one has sent none
  for (const t of conn.topics) t.onRetiring = t.sub === SUB_ACTIVE;
}

/** Replay: the overlap is over (the old socket retired or gone back to, or the connection closed), as clearOverlap / goBack leave the topics. */
function replayOverlapOver(conn: VenueConnection): void {
  conn.retiringGeneration = -1;
  for (const t of conn.topics) t.onRetiring = false;
}

/**
 * Replay: the topics a recorded request named (its names, any op: an unsubscribe names only topics asked before), kept
 * in conn.replayAsked while the capture holds every request since the socket opened (replayAskedKnown: a recorded open
 * or close, or a file's head saying those before, replaySeedAsked): a frame of a topic none named was unknown to live
 * too (VenueConnection.replayUnknownToLive). Cold (a request). app/capture-sockets.ts keeps the same set for the heads.
 */
function replayNoteAsked(conn: VenueConnection, req: RecordedRequest): void {
  if (!conn.replayAskedKnown) return;
  const asked = (conn.replayAsked ??= new Set());
  for (const name of req.names) asked.add(name);
}

/**
 * Replay: a file's head names the topics asked on conn's socket since its last open or close (SOCKET_ASKED_URL, body
 * a JSON array of them, `null` when none was written since), as the records before the file left them: they are
 * conn.replayAsked from here, the requests recorded after it adding to them (replayAskedKnown). A replay begun earlier
 * has them already (a head after a capture gap, or after a block lost that the recorder still saw, says more than
 * replay read: the head is taken). False for a body that is neither (nothing changes). Cold (once per file).
 */
function replaySeedAsked(conn: VenueConnection, body: string): boolean {
  let names: unknown;
  try {
    names = JSON.parse(body);
  } catch {
    return false;
  }
  if (names !== null && !Array.isArray(names)) return false;
  let asked: Set<string> | null = null;
  if (names !== null) {
    asked = new Set();
    for (const name of names) if (typeof name === "string") asked.add(name);
  }
  conn.replayAsked = asked;
  conn.replayAskedKnown = true;
  return true;
}
