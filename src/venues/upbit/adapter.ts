// HOT PATH: no allocation (UpbitAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The Upbit / Bithumb adapter (docs/venues/upbit.md, docs/venues/bithumb.md): snapshot-only books. Every message is
 * the whole top N for one code (more units than N: refused, scanner.ts SCAN_ERR_DEPTH; none, or one side: the venue's
 * book, LIVE), applied as a replace and published as the delta from the previous book; the only
 * ordering key is `timestamp` (Upbit ms; Bithumb ms or µs, keyed in ms): an older one than the newest applied (or refused
 * only for a number that does not fit or for its unit count: onMisfitStamp; kept through resyncs and
 * reconnects) is ignored and counted, but is no sign of life (a code sending only such books goes stale and forgets
 * that newest timestamp); an equal one is applied (an identical repeat changes nothing), unless both are Bithumb µs
 * stamps and it is below the newest µs, or it came on the other socket of a planned reconnect and differs from that
 * socket's latest of the stamp (then the book is held out of LIVE: equal-stamps.ts). Resync kind
 * `next_full_book`: an invalid book waits for its next message. Sequence scope `topic` (there is no sequence; nothing is shared between books).
 *
 * Connections hold each code once (two depths of a code are two connections: frames name the code, not the depth)
 * and at most MAX_CODES_PER_CONNECTION. Requests, error bisection: requests.ts; connecting, keepalive (`PING` →
 * `{"status":"UP"}`), dead connections, staleness: ../common/.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, type BookSink, type CommonAdapterOptions, type RawFrameTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { budgetedFetch, connectSplit, RestWeightBudget, splitBudget } from "../common/budgets.ts";
import { budgetLink } from "../common/budget-ledger.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, replayFrame, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, TopicState, type TopicState as CommonTopic, type VenueConnection } from "../common/connection.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import { InstrumentWatch, STALE_RECHECK_MS, watchSettings } from "../common/instrument-watch.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import { connectionMetrics, connectionStates, connectionStats, counter, gauge } from "../common/metrics.ts";
import { staleAfterFromConfig } from "../common/staleness.ts";
import { TopicResync } from "../common/topic-resync.ts";
import { UpbitConnection, type UpbitTopic } from "./connection.ts";
import { upbitInstrumentSource } from "./instruments.ts";
import { errorOf, ERROR_WAIT_MS, MAX_CODES_PER_CONNECTION, STALE_AFTER_MS, UPBIT_KEEPALIVE, unsupportedDepthWarning, type VenueDialect } from "./protocol.ts";
import { EqualStamps } from "./equal-stamps.ts";
import { UpbitRequests } from "./requests.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES } from "./scanner.ts";

/**
 * Cold: what a refused frame got wrong, for the log: `what` (the JSON path's field), or the scanner's (a field
 * missing), or the key whose value the scanner's error position is in, with that value. Until 2026-12-07 the log said
 * only `field at 1234` with the frame's first 160 characters: a bad unit past them was named by neither.
 */
function parseErrorWhere(scanner: { errorPos: number; errorWhat: string }, frame: string, what: string | undefined): string {
  if (what !== undefined) return ` (${what})`;
  const pos = scanner.errorPos;
  if (pos < 0) return "";
  if (scanner.errorWhat !== "") return ` (${scanner.errorWhat}) at ${pos}`;
  let key: RegExpExecArray | null = null;
  const keys = /"([^"\\]{1,64})"\s*:\s*/g;
  for (let m = keys.exec(frame); m !== null && m.index < pos; m = keys.exec(frame)) key = m;
  if (key === null) return ` at ${pos}`;
  const value = /^("(?:[^"\\]|\\.)*"?|[^,}\]]*)/.exec(frame.slice(key.index + key[0].length))![0];
  return ` ("${key[1]}": ${value.slice(0, 48)}) at ${pos}`;
}

/**
 * A LIVE code silent past its stale time is asked again (the whole list resent): it stays LIVE when its SNAPSHOT comes
 * within this (at most half its stale time), else it is STALE. Upbit sends a book only when it changes: a quiet code's
 * silence is no sign of a stale book, a subscription the venue dropped is (docs/venues/upbit.md, staleness).
 */
export const QUIET_ANSWER_MS = 5_000;
/** Re-checks one code's numbers that do not fit may ask per MISFIT_RECHECK_MS (as a stale book's market, once a minute). */
export const MISFIT_ASKS = 2;
export const MISFIT_RECHECK_MS = STALE_RECHECK_MS;
/** REST: Upbit's quotation group allows 10 requests/s per IP; Bithumb's is similar. */
export const REST_REQUESTS_PER_WINDOW = 8;
export const REST_WINDOW_MS = 1_000;
const REST_BLOCKED_MS = 60_000;

export interface UpbitAdapterOptions extends CommonAdapterOptions {
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  staleAfterMs?: (depth: number, market: MarketName) => number;
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  resyncBackoffResetMs?: number;
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Codes per connection (default MAX_CODES_PER_CONNECTION; tests force several connections). */
  maxTopicsPerConnection?: number;
  /** How long a bisect probe waits for an error frame before it counts as passed (default ERROR_WAIT_MS). */
  errorWaitMs?: number;
  /** The least time between two whole-list resends on one connection (default RESEND_MIN_MS; tests shorten it). */
  resendMinMs?: number;
}

export class UpbitAdapter implements VenueAdapter {
  readonly venue;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for the instrument REST). */
  private readonly restStop: RestStop;
  private readonly now: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  private readonly wallNow: () => number;
  /** Each book's stale time (the lifecycle's): older books "lately" are within half of it (quiet, restart). */
  private readonly staleAfterMs: (depth: number, market: MarketName) => number;
  readonly rawFrameTap: RawFrameTap | undefined;
  private readonly topics: UpbitTopic[] = [];
  /**
   * By subscription index: the newest timestamp applied. Unlike lastSeq it survives resyncs and reconnects (the
   * venue's timestamps do not go back), so a book older than it is ignored even while the book waits for its next.
   */
  private newestTs = new Float64Array(0);
  /**
   * By subscription index: the newest exact µs among the books applied in newestTs's ms (Bithumb's µs timestamps; 0
   * when none), so a µs book older than it is ignored too: the ms key alone let a stray older book of that ms through.
   */
  private newestUs = new Float64Array(0);
  /**
   * By subscription index: 1 while every book met since the last one applied (or refused only for a number that does
   * not fit: onMisfitStamp) was older than newestTs. Older books do
   * not keep a book from going stale; a book gone stale so forgets its newest timestamp when they came lately or after
   * it was asked (restart, below; olderLately).
   */
  private olderOnly = new Uint8Array(0);
  /**
   * By subscription index: when the last book older than newestTs arrived (the adapter's clock). An older book long
   * before a silence (a stray, or the lagging old socket's at a planned reconnect's end) leaves a quiet code, not one
   * sending only older books: it is asked again (quiet).
   */
  private olderAtMs = new Float64Array(0);
  /**
   * By subscription index: when the code was last asked again and the ask written (quiet; a STALE book's resend:
   * restart); Infinity when none was (held by the pacing, none able to go) or a book applied since answered it: no ask
   * an older book could answer.
   */
  private askedAtMs = new Float64Array(0);
  /**
   * By subscription index: when the code's numbers that did not fit began asking for re-checks (-Infinity: not since
   * its instrument last changed), and how many asked since. MISFIT_ASKS per MISFIT_RECHECK_MS: a misfit the answer
   * does not cure (a tick finer than the derived one, a size past 2^53) would otherwise re-query REST on every frame.
   */
  private misfitSinceMs = new Float64Array(0);
  private misfitAsks = new Uint8Array(0);
  /** By subscription index: until when a quiet LIVE code's SNAPSHOT is awaited (0: not asked; Infinity: its request paced). */
  private quietDeadlineMs = new Float64Array(0);
  /** Books of the newest stamp from both sockets of a planned reconnect: applied only when they agree. */
  private stamps = new EqualStamps(0);
  private readonly conns: UpbitConnection[] = [];
  private readonly control: UpbitRequests;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly books: TopicResync;
  private instruments: (Instrument | undefined)[] | null = null;
  /** Loading, re-checks and symbols left out at start, on one schedule (common/instrument-watch.ts). */
  private readonly watch: InstrumentWatch<UpbitTopic>;
  private sink: BookSink | null = null;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly silentLog: RateLimitedLog;
  private readonly parseErrorsByCode = new Map<string, number>();
  // Counters (hot increments, cold reads).
  private replaces = 0;
  private olderTimestamps = 0;
  private repeatedTimestamps = 0;
  private ignoredWhileUnsubscribed = 0;
  private unattributedParseErrors = 0;
  private neverSentData = 0;
  private misfitRechecksHeld = 0;
  private quietAsks = 0;
  private quietUnanswered = 0;
  /** `venues.upbit.spot.level`: books grouped into price units of this size (KRW codes); 0 = ungrouped. */
  readonly level: number;

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    private readonly dialect: VenueDialect,
    opts: UpbitAdapterOptions,
  ) {
    this.venue = config.venue;
    this.log = opts.log;
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    this.staleAfterMs = opts.staleAfterMs ?? staleAfterFromConfig(config, () => STALE_AFTER_MS);
    const restBudget = RestWeightBudget.split(splitBudget(REST_REQUESTS_PER_WINDOW, REST_WINDOW_MS, opts.budgetShare, opts.budgetIndex, this.now), REST_BLOCKED_MS).track(budgetLink(opts.budgetLedger, `${dialect.venue}:rest`)).logTo(this.log, `${dialect.venue} REST`);
    this.restStop = new RestStop(config.venue);
    this.fetchFn = budgetedFetch(this.restStop.wrap(opts.fetch ?? fetch), restBudget, this.now, undefined, this.restStop.signal, this.wallNow);
    const random = opts.random ?? Math.random;
    this.rawFrameTap = opts.onRawFrame;
    const v = dialect.venue;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", `${v}: order-book frames rejected`);
    this.silentLog = new RateLimitedLog(this.log, "error", `${v}: codes that send no data since subscribed (unsupported level, delisted?)`);
    this.level = Number(config.markets.find((m) => m.market === "spot")?.options?.level ?? 0);
    this.planConnections(opts.maxTopicsPerConnection ?? MAX_CODES_PER_CONNECTION); // after the level: its books are checked against it
    const invalidate = (t: CommonTopic, state: BookState, reason: StatusReason) => this.books.invalidate(t, state, reason);
    this.control = new UpbitRequests(v, this.log, this.now, invalidate, opts.budgetShare, opts.errorWaitMs ?? ERROR_WAIT_MS, this.level, opts.resendMinMs);
    this.books = new TopicResync({
      venue: v,
      log: this.log,
      now: this.now,
      random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => {
        // next_full_book sends nothing per resync, so its backoff protects nothing; left set, it would keep the
        // code out of the next reconnect's request until it ran out (up to resyncBackoffMaxMs).
        t.resyncDelayed = false;
        const now = this.now();
        // Older books lately, or since it was last asked (the answer older too): a newest stamped ahead, forgotten.
        // One older book before an ask no book answered is kept: a stray (olderLately).
        if (t.book === BookState.STALE && this.olderOnly[t.index] === 1 && (this.olderAtMs[t.index]! >= this.askedAtMs[t.index]! || this.olderLately(t, now))) this.forgetNewest(t);
        if (t.book === BookState.STALE) this.stamps.forgetGone(t.index, t.conn.generation, t.conn.retiringGeneration);
        if (t.sub === SUB_PENDING && t.book === BookState.STALE) {
          this.neverSentData++;
          this.silentLog.hit(`${t.market} ${t.topic}`);
        }
        const sent = this.control.restartTopic(t); // a STALE book: the whole list again (askAgain)
        // Asked now only when that list was written now (replay: as live's, asked now). None (-1), held by the pacing
        // (Infinity) or an earlier resend's (its answer's time may be over): no ask an older book could answer. Until
        // 2026-12-08 now, whatever was sent: a stray older book before the list went was taken for its answer and
        // the newest timestamp forgotten at the next stale time (the next stray LIVE at levels the venue had left).
        if (t.book === BookState.STALE) this.askedAtMs[t.index] = sent === now || this.books.replaying ? now : Infinity;
      },
    });
    this.lifecycle = new ConnectionLifecycle(
      v,
      this.conns,
      this.control,
      // overlapOver: a probe out on the replacement when the old socket goes leaves the codes it spared unserved; gone
      // back to the old socket (a new generation), its books of the newest stamp are its own (equal-stamps.ts renamed).
      {
        ...{ invalidate, resync: (t, state, reason) => this.books.resync(t, state, reason), overlapOver: (conn, carrier, oldGen) => this.onOverlapOver(conn, carrier, oldGen) },
        // A frame whose handling threw: the rule for a frame refused (lost), no misfit.
        frameLost: (conn, t) => this.lost(conn as UpbitConnection, t as UpbitTopic | undefined, 0),
        oldMayNotStream: (conn) => this.control.oldMayNotStream(conn),
        replacementMayNotStream: (conn) => this.control.replacementMayNotStream(conn),
        quiet: (t, now, staleAfterMs) => this.quiet(t, now, staleAfterMs),
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random,
        keepalive: UPBIT_KEEPALIVE,
        staleAfterMs: this.staleAfterMs,
        resyncBackoffBaseMs: this.books.baseMs,
        ...connectSplit(dialect.connectsPerWindow, dialect.connectWindowMs, opts, this.now),
      },
    );
    // No periodic reload: a price or size that does not fit asks for its market's (requestNow).
    this.watch = new InstrumentWatch<UpbitTopic>({
      ...{ venue: v, log: this.log, now: this.now, wallNow: this.wallNow, random, config, subscriptions, topics: this.topics, ...watchSettings(opts) },
      ...{ source: upbitInstrumentSource(config, this.fetchFn, dialect.tickEndpoint, this.level, undefined, (symbol) => this.running(symbol)), intervalMs: 0, stop: this.restStop.signal },
      restHeldUntilMs: () => restBudget.heldUntilMs(this.now()), // a 429/418 hold: when the late symbols are really asked
      ...{ instruments: () => this.instruments, sink: () => this.sink, lifecycle: () => this.lifecycle },
      addToTable: (t, x) => t.conn.table.add(t.topic, t.index, x.priceExp, x.qtyExp, t.depth),
      apply: (t, inst) => this.applyInstrument(t, inst),
      applyAskedOnly: true, // a tick derived from the last price: only the code whose number did not fit is re-derived
    });
  }

  /** Cold: whether a book of `symbol` has an instrument (a re-check then derives its tick without the size rule). */
  private running(symbol: string): boolean {
    const current = this.instruments;
    return current !== null && this.topics.some((t) => t.symbol === symbol && current[t.index] !== undefined);
  }

  /** Each connection holds a code once and at most `cap` codes, per market URL. */
  private planConnections(cap: number): void {
    this.subscriptions.forEach((s, index) => {
      const code = s.symbol.toUpperCase();
      const url = this.wsUrlOf(s.market);
      let conn = this.conns.find((c) => c.market === s.market && c.topics.length < cap && !c.byTopic.has(code));
      if (!conn) {
        conn = new UpbitConnection(this, this.conns.length, s.market, url, this.dialect.tsUnitUs, this.dialect.echoesLevel ? this.level : -1);
        this.conns.push(conn);
      }
      const t = new TopicState<UpbitConnection>(index, s.market, code, s.depth, code, conn);
      conn.topics.push(t);
      conn.byTopic.set(code, t);
      this.topics.push(t);
    });
    this.newestTs = new Float64Array(this.subscriptions.length);
    this.newestUs = new Float64Array(this.subscriptions.length);
    this.olderOnly = new Uint8Array(this.subscriptions.length);
    this.olderAtMs = new Float64Array(this.subscriptions.length);
    this.askedAtMs = new Float64Array(this.subscriptions.length);
    this.misfitSinceMs = new Float64Array(this.subscriptions.length).fill(-Infinity);
    this.misfitAsks = new Uint8Array(this.subscriptions.length);
    this.stamps = new EqualStamps(this.subscriptions.length);
    this.quietDeadlineMs = new Float64Array(this.subscriptions.length);
  }

  private wsUrlOf(market: MarketName): string {
    return this.config.markets.find((m) => m.market === market)?.wsUrl ?? this.config.wsUrl;
  }

  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.instruments = await this.watch.load();
    return this.instruments;
  }

  start(sink: BookSink): void {
    this.begin(sink, false);
    this.lifecycle.start();
    this.watch.start(sink);
    const used = this.conns.filter((c) => c.used).length;
    this.log.info(`${this.venue} adapter started`, { connections: used, topics: this.topics.length, ...(this.level > 0 ? { bookLevel: this.level } : {}) });
  }

  startReplay(sink: BookSink): void {
    this.begin(sink, true);
  }

  private begin(sink: BookSink, replay: boolean): void {
    if (this.sink) throw new Error(`${this.venue}: started twice`);
    const bound = this.watch.bindTopics(replay);
    this.sink = sink;
    this.books.sink = sink;
    this.books.replaying = replay;
    for (const t of bound) {
      const warning = replay ? undefined : unsupportedDepthWarning(t.depth);
      if (warning !== undefined) this.log.warn(`${this.venue}: ${warning}`, { topic: t.topic, depth: t.depth });
    }
  }

  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    return replayFrame(this.conns, market, connection, frame, tsRecvUs);
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  /**
   * Replay: a recorded connection close (`ws:close`) invalidates that connection's books as the live close did; an open
   * (`ws:open`) does the same to a book still LIVE there (its socket's close not in the capture: replayOpened); its
   * socket events (`ws:sockets`, `ws:state`, `ws:overlap`, `ws:swap`, `ws:old`, `ws:retired`, `ws:back`) make its
   * sockets the live run's, so a book of the newest stamp from the other socket is judged as live judged it
   * (equal-stamps.ts). Before 2026-12-06 they were ignored: every replayed book was the one socket's, and the old
   * socket's lagging book that live held was applied. A capture without them: one socket, as before.
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    const conn = connectionNamed(this.conns, connection);
    if (conn === undefined) return false;
    if (url === CONNECTION_CLOSED_URL) this.lifecycle.replayDisconnected(connection);
    else if (url === CONNECTION_OPENED_URL) this.lifecycle.replayOpened(connection);
    else this.lifecycle.replaySocketEvent(connection, url, body);
    this.control.replaySocketEvent(conn, url); // its lists and probes (requests.ts)
    return true;
  }

  /**
   * Replay: records were lost here; the requests still unanswered are forgotten (ConnectionLifecycle.replayCaptureGap),
   * and the last recorded list or probe (requests.ts replayForget: the lost records may have held the next).
   */
  replayCaptureGap(): void {
    this.lifecycle.replayCaptureGap();
    for (const conn of this.conns) this.control.replayForget(conn);
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

  private counterTable(): [string, string, string, number][] {
    return [
      ["replaces", "replaces_total", "Full books applied (each message replaces its book)", this.replaces],
      ["olderTimestamps", "older_timestamps_total", "Books older than the newest applied, or than one refused only for a number that does not fit or for more units than its depth (ignored)", this.olderTimestamps],
      ["repeatedTimestamps", "repeated_timestamps_total", "Books with the same timestamp as the last applied", this.repeatedTimestamps],
      ["equalTimestampHolds", "equal_timestamp_holds_total", "Books held out of LIVE: a book of the newest timestamp from the other socket of a planned reconnect differed from that socket's latest", this.stamps.holds],
      ["quietAsks", "quiet_asks_total", "LIVE codes silent past their stale time asked again (the whole list resent; their SNAPSHOT keeps them LIVE)", this.quietAsks],
      ["quietUnanswered", "quiet_unanswered_total", "Codes asked again that sent no book in time (then STALE)", this.quietUnanswered],
      ["resyncs", "resyncs_total", "Books invalidated to wait for the next full book", this.books.resyncs],
      ["ignoredWhileUnsubscribed", "ignored_while_unsubscribed_total", "Book frames for a code not subscribed now", this.ignoredWhileUnsubscribed],
      ["staleResyncs", "stale_resyncs_total", "Books that went silent past their stale time", this.lifecycle.staleResyncs],
      ["neverSentData", "never_sent_data_total", "Stale codes that sent nothing since subscribed", this.neverSentData],
      ["subscribeRejected", "subscribe_rejected_total", "Codes refused (found by bisecting error frames)", this.control.subscribeRejected],
      ["requestResends", "request_resends_total", "Whole-list requests sent again because a book went silent (no ack: the request may be lost)", this.control.resends],
      ["requests", "requests_total", "Subscription requests sent (each with the connection's whole code list)", this.control.requests],
      ["errorFrames", "error_frames_total", "Error frames received", this.control.errorFrames],
      ["bisectProbes", "bisect_probes_total", "Probe requests sent to find the code an error frame refuses", this.control.probes],
      ["misfitRechecksHeld", "misfit_rechecks_held_total", "Numbers that did not fit whose instrument re-check was not asked (their code asked twice within the minute, its instrument unchanged)", this.misfitRechecksHeld],
      ["unattributedParseErrors", "unattributed_parse_errors_total", "Malformed frames whose code could not be read (every book of the connection resynced)", this.unattributedParseErrors],
      ["topics", "topics", "Book channels configured", this.topics.length],
      ["topicsLive", "topics_live", "Book channels whose book is LIVE", this.topics.filter((t) => t.book === BookState.LIVE).length],
    ];
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = connectionStats(this.conns);
    for (const [key, , , value] of this.counterTable()) out[key] = value;
    out.connectBudget = this.lifecycle.maxConnectsPerWindow; // its metric: connectionMetrics, one per connect gate
    for (const [code, n] of this.parseErrorsByCode) out[`parseErrors.${code}`] = n;
    Object.assign(out, this.watch.stats()); // instrument changes, re-checks, reloads, late symbols
    return out;
  }

  metrics(): VenueMetric[] {
    const out = connectionMetrics(this.conns, this.lifecycle.connectBudgets());
    for (const [, name, help, value] of this.counterTable()) out.push(name.endsWith("_total") ? counter(name, help, value) : gauge(name, help, value));
    for (const [code, n] of this.parseErrorsByCode) out.push(counter("parse_errors_by_code_total", "Frames rejected, by scanner result code (all connections)", n, { code }));
    out.push(...this.watch.metrics());
    return out;
  }

  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.books.replaying);
  }

  /** Cold: the adapter's view of one subscription, for tests and diagnostics. */
  topicInfo(index: number): { state: string; lastTimestamp: number; sub: number; connection: number } {
    const t = this.topics[index]!;
    return { state: BOOK_STATE_NAMES[t.book]!, lastTimestamp: t.lastSeq, sub: t.sub, connection: t.conn.id };
  }

  // ───────────────────────── hot path ─────────────────────────

  // HOT PATH: one call per accepted book frame; tsUs: its timestamp was a µs value (Bithumb; scanner.ts setTimestamp).
  onBook(index: number, update: BookUpdate, tsUs: boolean): void {
    const t = this.topics[index]!;
    if (t.sub === SUB_IDLE || t.sub === SUB_REJECTED || t.offRequest) {
      this.ignoredWhileUnsubscribed++;
      return;
    }
    // The first book is the request's only ack; one from the old socket of a planned reconnect answers no request of
    // the replacement (it must not mark the topic carried there, or the old socket would be closed for nothing), but
    // the old socket's own request, still unanswered at the swap: that socket serves the code (onRetiring), so its end
    // before the replacement's first book leaves the book LIVE no longer (planned-reconnect.ts retired; until
    // 2026-12-07 it stayed LIVE with nothing feeding it), and going back keeps it LIVE. So also when the replacement's
    // first book came before the old socket's (until 2026-12-07 going back then took it out of LIVE, ws:back naming it,
    // though the old socket streams it: test/venues/upbit/pending-at-swap.test.ts).
    if (t.conn.fromRetiring) t.onRetiring = true;
    else if (t.sub === SUB_PENDING) t.sub = SUB_ACTIVE;
    const ts = update.venueSeq;
    const newest = this.newestTs[index]!;
    // In the newest's ms, a book stamped in µs (a ms stamp could be the newer) is older when below the newest µs seen
    // there. Its unit is known from the parse (by magnitude), not from the value: one on the ms boundary is exact too.
    const us = update.tsExchangeUs;
    const sameMs = ts === newest;
    const newestUs = this.newestUs[index]!;
    if (ts < newest || (sameMs && tsUs && us < newestUs)) {
      // Not a sign of life for staleness: a book left LIVE behind a timestamp the venue never reaches again (one
      // stamped far ahead) would otherwise stay LIVE, frozen, for as long as the venue sends books.
      this.olderTimestamps++;
      this.olderOnly[index] = 1;
      this.olderAtMs[index] = this.now();
      return;
    }
    // The socket it came on: during a planned reconnect's overlap, a book of the newest stamp from the other socket
    // may be one this code has passed already (equal-stamps.ts): applied only when the sockets agree.
    const conn = t.conn;
    const socket = conn.fromRetiring ? conn.retiringGeneration : conn.generation;
    const inOverlap = conn.retiringGeneration >= 0;
    if (!sameMs || (tsUs && newestUs > 0 && us > newestUs)) this.stamps.begin(index, socket, inOverlap, update);
    else if (!this.stamps.onEqual(index, socket, inOverlap, update)) {
      this.books.invalidate(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
      return;
    }
    const now = this.now();
    t.lastMsgMs = now;
    this.olderOnly[index] = 0;
    this.quietDeadlineMs[index] = 0;
    // Any ask is answered: an older book after this answers none (restart). Until 2026-12-08 kept, so a book leaving
    // LIVE other than by a silence (quiet overwrites it) took a stray older book after it for an answer, forgot a good
    // newest timestamp at the stale verdict and went LIVE at the next stray's levels (test/venues/upbit/stale-ask.test.ts).
    this.askedAtMs[index] = Infinity;
    if (ts === t.lastSeq) this.repeatedTimestamps++;
    t.lastSeq = ts;
    this.newestTs[index] = ts;
    if (tsUs && (!sameMs || us > this.newestUs[index]!)) this.newestUs[index] = us;
    else if (!sameMs) this.newestUs[index] = 0;
    this.replaces++;
    this.books.onLive(t, now);
    this.sink!.onBookUpdate(index, update);
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * A book refused only for a number that does not fit, or for more units than its depth (connection.ts misfitStamp),
   * is the venue's book at `ts` (µs `us`, `tsUs` as onBook's): the newest timestamp moves to it as if applied, so a
   * book stamped before it is ignored (olderTimestamps) and one of its stamp after it on its socket is taken (one socket delivers in the venue's order);
   * during a planned reconnect's overlap one of its stamp from the other socket is held (equal-stamps.ts misfit: the
   * refused one may follow it). Until 2026-12-07 only applied books counted: after the refused one, a stray older book
   * (or the lagging socket's) made the book LIVE at levels the venue had left.
   */
  onMisfitStamp(index: number, ts: number, us: number, tsUs: boolean): void {
    const t = this.topics[index]!;
    if (t.sub === SUB_IDLE || t.sub === SUB_REJECTED || t.offRequest) return;
    // The request's ack, as onBook's first book: the code is streamed (until 2026-12-07 one whose books all misfit
    // stayed PENDING: each stale time reported as sending no data, and a planned reconnect's replacement as not carrying it).
    if (t.conn.fromRetiring) t.onRetiring = true;
    else if (t.sub === SUB_PENDING) t.sub = SUB_ACTIVE;
    // Ordered as onBook orders a book: older ignored; else its socket's latest of its stamp (equal-stamps.ts misfit).
    const newest = this.newestTs[index]!;
    const newestUs = this.newestUs[index]!;
    const sameMs = ts === newest;
    if (ts < newest || (sameMs && tsUs && us < newestUs)) return;
    const conn = t.conn;
    const socket = conn.fromRetiring ? conn.retiringGeneration : conn.generation;
    this.stamps.misfit(index, socket, conn.retiringGeneration >= 0, !sameMs || (tsUs && newestUs > 0 && us > newestUs));
    this.newestTs[index] = ts;
    if (tsUs && (!sameMs || us > newestUs)) this.newestUs[index] = us;
    else if (!sameMs) this.newestUs[index] = 0;
    // Not only older books since the last applied: going stale must not forget this stamp as a bad one (forgetNewest).
    this.olderOnly[index] = 0;
  }

  private onOverlapOver(conn: VenueConnection, carrier: OverlapCarrier, oldGen: number | undefined): void {
    this.control.overlapOver(conn, carrier);
    if (carrier === "old" && oldGen !== undefined && oldGen >= 0) for (const t of conn.topics) this.stamps.renamed(t.index, oldGen, conn.generation);
  }

  /**
   * A book for a code this connection does not carry: garbled; any of its books may have lost a message. Counted once,
   * in unknownTopic (unknown_topic_total): well-formed, so not a parse error too (until s-rd19d also in
   * parse_errors_total, parseErrors.unknown_topic and unattributedParseErrors). Replay does the same unless a recorded
   * list or probe of the connection named the code, one its config leaves out (VenueConnection.replayUnknownToLive;
   * docs/venues/upbit.md, Messages).
   */
  onUnknownCode(conn: UpbitConnection, frame: string): void {
    if (!conn.unknownTopicLost(frame, this.books.replaying)) return; // replay: a code live asked for (left out of this config) or requests not known: not counted
    const t = conn.topicOfFrame(frame);
    this.parseErrorLog.hit(`${SCAN_RESULT_NAMES[5]} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    this.lost(conn, t, -5);
  }

  /**
   * A frame refused: its book resyncs (every LIVE book of the connection when its code cannot be read). `what`: the
   * field at fault when the JSON path read it; else the scanner's position names it (its key and value in the log).
   */
  onParseError(conn: UpbitConnection, entry: number, code: number, frame: string, what?: string): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    let t = entry >= 0 ? conn.byTopic.get(conn.table.codes[entry]!) : undefined;
    t ??= conn.topicOfFrame(frame);
    this.parseErrorLog.hit(`${name}${parseErrorWhere(conn.scanner, frame, what)} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    if (!t) this.unattributedParseErrors++;
    this.lost(conn, t, code);
  }

  /**
   * The books a frame lost may have cost: `t`, the one it names (`code`: why it was refused; 0 for none, as a frame
   * whose handling threw: the lifecycle's frameLost hook), or, none named, every LIVE book of the connection (one not
   * LIVE waits for a whole book anyway: each book frame is one). One rule for both: until s-faulthook2 a thrown frame
   * naming none resynced also the connection's books not LIVE (PENDING, STALE, left out of a bisect probe).
   */
  private lost(conn: UpbitConnection, t: UpbitTopic | undefined, code: number): void {
    if (!t) {
      for (const x of conn.topics) if (x.sub === SUB_ACTIVE && x.book === BookState.LIVE) this.books.resync(x, BookState.RESYNCING, StatusReason.PARSE_ERROR);
      return;
    }
    if (t.sub === SUB_REJECTED || t.sub === SUB_IDLE) return;
    if (code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY) this.recheckInstrument(t);
    this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /**
   * A frame that is not JSON: the keepalive texts are no unreadable frame (which would resync every LIVE book of the
   * connection). `PONG` as every venue's (a pong); a `PING` from the venue (documented only from the client [U§4],
   * but a server may send one) is liveness only, its frame counted as any: it answers none of ours, and is ignored.
   * Until 2026-12-07 a `PING` resynced every LIVE book of its connection.
   */
  onText(conn: UpbitConnection, text: string): boolean {
    if (text === "PING" || text === "ping") return true;
    return this.control.onText(conn, text);
  }

  onControl(conn: UpbitConnection, msg: unknown): void {
    const err = errorOf(msg);
    if (err) {
      // On the old socket of a planned reconnect it answers that socket's last request, not the replacement's: the
      // replacement's codes are not bisected for it (the old socket's books go on until it closes).
      if (conn.fromRetiring) {
        this.control.errorFrames++;
        this.log.warn(`${this.venue}: error frame on the old socket of a planned reconnect; ignored`, { conn: conn.id, name: err.name, message: err.message });
        return;
      }
      this.control.onError(conn, err.name, err.message);
      return;
    }
    this.control.onControl(conn, msg);
  }

  /**
   * Cold (housekeeping): a code silent past its stale time. LIVE and sending nothing (not books older than the newest
   * lately: that book may be stamped ahead, forgetNewest), it is asked again: until when its SNAPSHOT may still come.
   * 0 (stale) once the answer's time has passed without a book, or when no request can go. The time counts from when
   * the request is written: one the pacing holds (Infinity meanwhile) is not yet asked (before, counted from its
   * queueing, a hold past the window made the book STALE though the venue answered at once). Replay sends nothing: the
   * live run asked here, and the capture holds its answer if one came in time (taken as asked now: a request live's
   * round or pacing held went later, and its answer could come later too; replay then calls the book STALE where live
   * did not).
   */
  private quiet(t: CommonTopic, now: number, staleAfterMs: number): number {
    const i = t.index;
    if (t.book !== BookState.LIVE || t.sub !== SUB_ACTIVE || t.offRequest) return 0;
    let deadline = this.quietDeadlineMs[i]!;
    const held = deadline === Infinity; // asked, the request waiting for the pacing
    if (deadline === 0 || held) {
      // Older books lately: not asked (olderLately). One long before the silence: a quiet code, asked (until
      // 2026-12-08 STALE here). Once asked, the answer's time decides (an older answer is no book applied).
      if (!held && this.olderLately(t, now)) return 0;
      const sent = this.books.replaying ? now : this.control.askAgain(t.conn);
      deadline = sent === Infinity ? Infinity : sent + Math.min(QUIET_ANSWER_MS, staleAfterMs / 2);
      // When the code's question was really written (restart: an older book since then is its answer). None (-1), not
      // yet written (held), or a shared resend a book applied since has answered: Infinity, no ask an older book could
      // answer. Until 2026-12-08 left as it was (an ask an applied book had answered), so restart took a stray older
      // book after that for the answer and forgot a good newest timestamp.
      this.askedAtMs[i] = sent >= 0 && sent !== Infinity && sent >= t.lastMsgMs ? sent : Infinity;
      if (sent < 0 || (!held && now >= deadline)) {
        this.quietDeadlineMs[i] = 0;
        return 0;
      }
      if (!held) this.quietAsks++;
      this.quietDeadlineMs[i] = deadline;
    }
    if (now < deadline) return deadline;
    this.quietDeadlineMs[i] = 0;
    this.quietUnanswered++;
    return 0;
  }

  /**
   * Cold: only books older than the newest applied since the last applied, the last within half the stale time: the
   * code sends, behind a newest stamped ahead (forgetNewest). Not one older book long before a silence (a stray, or the
   * lagging old socket's at a planned reconnect's end): a quiet code, asked (quiet); gone STALE with no answer, its
   * newest timestamp is kept (until 2026-12-08 it was forgotten, and the next stray older book went LIVE), with an
   * older one it is forgotten (restart).
   */
  private olderLately(t: CommonTopic, now: number): boolean {
    return this.olderOnly[t.index] === 1 && now - this.olderAtMs[t.index]! < this.staleAfterMs(t.depth, t.market) / 2;
  }

  /**
   * Cold: the book went stale while its code sent only books older than the newest applied. That timestamp is not
   * the venue's clock (a book stamped ahead of it): forgotten, so the next book is taken and the book recovers.
   */
  private forgetNewest(t: CommonTopic): void {
    this.log.error(`${this.venue}: only books older than the newest applied arrived for the stale time; that timestamp is taken for a bad one and forgotten`, { market: t.market, topic: t.topic, newestTimestamp: this.newestTs[t.index] });
    this.newestTs[t.index] = 0;
    this.newestUs[t.index] = 0;
    this.olderOnly[t.index] = 0;
    this.stamps.forget(t.index);
  }

  /**
   * A price or size that does not fit: re-derive this code's instrument now (re-checks of a market coalesce into one
   * query). At most MISFIT_ASKS per MISFIT_RECHECK_MS while its instrument does not change (the second: one that came
   * while the first's query was out gets a query begun after it): asking on every misfit frame spent the venue's
   * whole REST budget for as long as a misfit the answer does not cure lasted.
   */
  private recheckInstrument(t: UpbitTopic): void {
    if (this.config.overrides.has(`${t.market}:${t.symbol}`)) return;
    const now = this.now();
    const since = this.misfitSinceMs[t.index]!;
    if (!(now - since < MISFIT_RECHECK_MS && now >= since)) {
      this.misfitSinceMs[t.index] = now;
      this.misfitAsks[t.index] = 0;
    } else if (this.misfitAsks[t.index]! >= MISFIT_ASKS) {
      this.misfitRechecksHeld++;
      // Once per window: the answers changed nothing, so the book stays out of LIVE until a book fits. Said by name,
      // with the way out (the parse-error warning alone names neither the cause nor the cure).
      if (this.misfitAsks[t.index] === MISFIT_ASKS) {
        this.misfitAsks[t.index]!++;
        this.log.error(`${this.venue}: numbers that do not fit the code's exponents keep coming after ${MISFIT_ASKS} instrument re-checks that changed nothing; its book stays RESYNCING until one fits (re-checked again a minute on). A tick finer than derived (Bithumb has no tick endpoint) or sizes past 2^53 at 8 decimals: set tick_size / lot_size in an override`, { market: t.market, topic: t.topic });
      }
      return;
    }
    this.misfitAsks[t.index]!++;
    this.watch.requestNow(t.market, t.index);
  }

  /** A changed tick or lot (the watch's reload): new exponents in the table, the sink told, the book rebuilt. Cold. */
  private applyInstrument(t: UpbitTopic, inst: Instrument): void {
    t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
    this.misfitSinceMs[t.index] = -Infinity; // a misfit at the new exponents asks at once
    // Snapshot-only: the next snapshot rebuilds the book at the new exponents.
    this.books.invalidate(t, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
    this.sink?.onInstrumentChanged(t.index, inst);
  }
}
