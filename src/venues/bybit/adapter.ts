// HOT PATH: no allocation (BybitAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The Bybit v5 venue adapter and its per-topic sequencing rule (docs/venues/bybit.md, "Sequencing", §4.4):
 * a snapshot resets the book; a delta must carry u = last u + 1; u ≤ last u is ignored and counted (full-ob's
 * rule) when it comes from a socket that has not delivered the last u (a planned reconnect's overlap), while u < last
 * u on a socket that has (TCP is ordered: seqReached) is a venue reset whose u = 1 was lost: a snapshot replaces the
 * book, a delta resyncs it; a gap resyncs that topic alone
 * (unsubscribe, wait for the ack, subscribe: a duplicate subscribe would poison its batch, §6.3); u = 1 is a venue
 * reset and triggers an instrument re-check (a tick-size change restarts u at 1); a snapshot repeating the last u
 * (level 1 re-pushes every 3 s, §4.2; a snapshot the venue re-sent) is handed on as a replace (the book becomes
 * exactly it, only a difference is published); deltas before the first snapshot are ignored and counted. After a
 * reset taken from one socket of an overlap, the other's frames are of the sequence before it until its own u = 1,
 * and are ignored while the book is LIVE (behindReset).
 * The topic → index map is built at subscribe time and only read on the hot path.
 *
 * The rest lives beside it: connection-plan.ts (topics → connections within the limits), connection.ts (one
 * connection's frame entry), protocol.ts (requests, acks, keepalive); connecting, keepalive, deadlines,
 * staleness, requests, acks, resync backoff and instruments are the common modules in ../common/.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { adapterClocks, CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL, SOCKETS_OVERLAP_URL, SOCKETS_STATE_URL, type BookSink, type CommonAdapterOptions, type RawFrameTap, type Subscription, type VenueAdapter, type VenueConnectionState, type VenueMetric } from "../venue.ts";
import { budgetedFetch, connectSplit, RestWeightBudget, splitBudget } from "../common/budgets.ts";
import { budgetLink } from "../common/budget-ledger.ts";
import { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import { BehindResetMarks } from "../common/behind-reset.ts";
import { RestStop } from "../common/rest-stop.ts";
import { connectionNamed, replayFrame, seqReached, seqRepeated, type TopicState as CommonTopic } from "../common/connection.ts";
import { InstrumentWatch, resyncForNewInstrument, watchSettings } from "../common/instrument-watch.ts";
import type { UnresolvedInstrument } from "../common/late-instruments.ts";
import { connectionMetrics, connectionStates, connectionStats, counter, gauge } from "../common/metrics.ts";
import { SubscriptionControl } from "../common/subscription-control.ts";
import { TopicResync } from "../common/topic-resync.ts";
import { bybitInstrumentSource } from "./instruments.ts";
import {
  BYBIT_DEPTHS,
  BYBIT_KEEPALIVE,
  BYBIT_REQUESTS,
  CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW,
  REST_BLOCKED_MS,
  REST_REQUESTS_PER_WINDOW,
  REST_WINDOW_MS,
} from "./protocol.ts";
import { type BybitConnection, type BybitTopic, SUB_ACTIVE, SUB_IDLE, SUB_REJECTED, SUB_UNSUBSCRIBING } from "./connection.ts";
import { planConnections } from "./connection-plan.ts";
import { staleAfterFromConfig } from "./staleness.ts";
import { SCAN_ERR_DEPTH, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";

export { defaultStaleAfterMs, staleAfterFromConfig } from "./staleness.ts";
export type { RawFrameTap } from "../venue.ts";

type TopicState = BybitTopic;

export interface BybitAdapterOptions extends CommonAdapterOptions {
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  ackTimeoutMs?: number;
  /**
   * How long a subscribed topic may stay silent before it is marked stale and resynced. Defaults to the config's
   * per-market `staleAfterMs` where set, else defaultStaleAfterMs (10 s level 1, 60 s deeper, 300 s option).
   */
  staleAfterMs?: (depth: number, market: MarketName) => number;
  /** Period of the housekeeping timer (pings, deadlines, staleness). Defaults to a fraction of the smallest interval. */
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** A connection open at least this long when it drops starts its reconnect backoff over (default 30 s). */
  reconnectResetAfterMs?: number;
  /**
   * Per-topic resync backoff: the first resync is immediate, the n-th further one waits
   * min(max, base · 2^(n-1)) with equal jitter (default 250 ms doubling to 30 s); a book live for resyncBackoffResetMs
   * (default 10 s) starts over. While waiting the topic is unsubscribed and its book stays RESYNCING.
   */
  resyncBackoffBaseMs?: number;
  resyncBackoffMaxMs?: number;
  resyncBackoffResetMs?: number;
  /** Connection-rate budget (Bybit: 500 per 5 min per domain, §2.3); default CONNECTS_PER_WINDOW × budgetShare. */
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Cap on topics per connection (tests use it to force several connections); the 21,000-char rule always applies. */
  maxTopicsPerConnection?: number;
  /**
   * Args per subscribe request. Replaces the per-category default (spot 10, others 50), so tests can exceed spot's
   * limit on purpose to exercise the `args size >10` recovery.
   */
  maxArgsPerRequest?: number;
}

export class BybitAdapter implements VenueAdapter {
  readonly venue;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  /** Ends every REST request and budget wait at stop() (a stop during start-up does not wait for the instrument REST). */
  private readonly restStop: RestStop;
  private readonly now: () => number;
  /** For what is compared with the venue's own times or shown (CommonAdapterOptions.wallNow). */
  private readonly wallNow: () => number;
  /** See BybitAdapterOptions.onRawFrame; read by every connection on the hot path. */
  readonly rawFrameTap: RawFrameTap | undefined;

  /** One per subscription, by subscription index. */
  private readonly topics: TopicState[];
  private readonly conns: BybitConnection[];
  private readonly control: SubscriptionControl;
  private readonly lifecycle: ConnectionLifecycle;
  /** By subscription index; undefined for a symbol not resolved (yet: `late` retries it, then it is subscribed). */
  private instruments: (Instrument | undefined)[] | null = null;
  /** Loading, re-checks and symbols left out at start, on one schedule (common/instrument-watch.ts). */
  private readonly watch: InstrumentWatch<TopicState>;
  /** Frames rejected before their topic could be read: every live book of that connection was resynced. */
  private unattributedParseErrors = 0;
  private sink: BookSink | null = null;
  private readonly books: TopicResync;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;

  // Counters (hot increments, cold reads). Request, ack and connection counters live in control and lifecycle.
  private snapshots = 0;
  private deltas = 0;
  private gaps = 0;
  private duplicates = 0;
  private ignoredBeforeSnapshot = 0;
  private ignoredWhileUnsubscribed = 0;
  private repeatedSnapshots = 0;
  private olderSnapshots = 0;
  private venueResets = 0;
  private readonly parseErrorsByCode = new Map<string, number>();
  /**
   * By subscription index, from a venue reset taken during a planned reconnect's overlap: the generation of the other
   * socket, still delivering the sequence before the reset until its own u = 1 (-1 = none; -2 = its u = 1 is being
   * taken, which flags no socket). Its frames' u belong to the old sequence: one above the book's would be taken as
   * newer (see onBehindReset). A subscribe written on that socket ends it too (onSubscribeWritten). The mark is
   * common/behind-reset.ts's (-2 is Bybit's own): behindMarks.socket, in a field of its own as it is read per frame.
   */
  private readonly behindReset: Int32Array;
  /** The owner of behindReset, for its end at an overlap's end (carriedOn). */
  private readonly behindMarks: BehindResetMarks;
  /**
   * By subscription index: the overlap's replacement socket (generation) once it delivered a frame of the topic since
   * its last subscribe of it was written (onSubscribeWritten).
   */
  private readonly replacementSeen: Int32Array;

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    opts: BybitAdapterOptions,
  ) {
    this.venue = config.venue;
    this.log = opts.log;
    const clocks = adapterClocks(opts);
    this.now = clocks.now; // deadlines: monotonic by default
    this.wallNow = clocks.wallNow;
    // Every REST call spends this process's share of Bybit's per-IP budget and honours its over-limit answers.
    const restBudget = RestWeightBudget.split(splitBudget(REST_REQUESTS_PER_WINDOW, REST_WINDOW_MS, opts.budgetShare, opts.budgetIndex, this.now), REST_BLOCKED_MS, new Map([[403, REST_BLOCKED_MS]])).track(
      budgetLink(opts.budgetLedger, "bybit:rest"),
    ).logTo(this.log, "bybit REST");
    this.restStop = new RestStop(config.venue);
    this.fetchFn = budgetedFetch(this.restStop.wrap(opts.fetch ?? fetch), restBudget, this.now, undefined, this.restStop.signal, this.wallNow);
    const random = opts.random ?? Math.random;
    this.rawFrameTap = opts.onRawFrame;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "bybit: order-book frames rejected");
    this.gapLog = new RateLimitedLog(this.log, "warn", "bybit: sequence gaps; topics resynced");
    const plan = planConnections(this, config, subscriptions, opts.maxTopicsPerConnection ?? Infinity);
    this.conns = plan.conns;
    this.topics = plan.topics;
    this.behindMarks = new BehindResetMarks(this.topics.length);
    this.behindReset = this.behindMarks.socket;
    this.replacementSeen = new Int32Array(this.topics.length).fill(-1);
    const invalidate = (t: CommonTopic, state: BookState, reason: StatusReason) => this.books.invalidate(t, state, reason);
    // Replay: a recorded unsubscribe holds the topic until its recorded subscribe (TopicState.replayUnsubscribing; onBook).
    // A subscribe written (live and replay alike: RequestProtocol.requested) starts its socket's stream of the topic over.
    const requests = {
      ...BYBIT_REQUESTS,
      replayHoldsUnsubscribed: true,
      requested: (op: "subscribe" | "unsubscribe", topics: readonly CommonTopic[]) => {
        if (op === "subscribe") this.onSubscribeWritten(topics);
      },
    };
    this.control = new SubscriptionControl(requests, this.log, this.now, opts.maxArgsPerRequest, invalidate, opts.budgetShare, opts.budgetIndex, opts.budgetLedger);
    this.books = new TopicResync({
      venue: "bybit",
      log: this.log,
      now: this.now,
      random,
      baseMs: opts.resyncBackoffBaseMs,
      maxMs: opts.resyncBackoffMaxMs,
      resetMs: opts.resyncBackoffResetMs,
      restart: (t) => this.control.restartTopic(t),
    });
    this.lifecycle = new ConnectionLifecycle(
      "bybit",
      this.conns,
      this.control,
      {
        invalidate,
        resync: (t, state, reason) => this.books.resync(t, state, reason),
        // An id-less refusal's subscribes (the option socket's COMMAND_RESP): their fresh starts batched, 2 requests not 2 a book.
        resyncMany: (ts, reason) => this.books.resyncMany(ts, reason, (due) => this.control.restartTopics(due)),
        overlapOver: (conn, carrier, oldGen) => this.onOverlapOver(conn as BybitConnection, carrier, oldGen),
        // A frame whose handling threw: the rule for a frame refused (TopicResync.lost), no misfit.
        frameLost: (conn, t) => this.books.lost((conn as BybitConnection).topics, t as TopicState | undefined),
      },
      {
        ...opts,
        ...{ now: this.now, wallNow: this.wallNow },
        random,
        keepalive: BYBIT_KEEPALIVE,
        staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config),
        resyncBackoffBaseMs: this.books.baseMs,
        ...connectSplit(CONNECTS_PER_WINDOW, CONNECT_WINDOW_MS, opts, this.now),
      },
    );
    // No periodic reload: a price or size that does not fit asks for its market's (requestNow).
    this.watch = new InstrumentWatch<TopicState>({
      ...{ venue: "bybit", log: this.log, now: this.now, wallNow: this.wallNow, random, config, subscriptions, topics: this.topics, ...watchSettings(opts) },
      ...{ source: bybitInstrumentSource(config, this.fetchFn), intervalMs: 0, stop: this.restStop.signal },
      restHeldUntilMs: () => restBudget.heldUntilMs(this.now()), // a 429/403 hold: when the late symbols are really asked
      ...{ instruments: () => this.instruments, sink: () => this.sink, lifecycle: () => this.lifecycle },
      addToTable: (t, x) => t.conn.table.add(t.topic, t.index, x.priceExp, x.qtyExp),
      apply: (t, inst) => this.applyInstrument(t, inst),
    });
  }

  /**
   * A symbol that cannot be resolved (not listed yet, misspelt, REST down and not cached) is left out and logged as
   * an error naming it and why, so one bad symbol does not stop every other book; none resolvable throws. Those
   * left out are retried while running (common/late-instruments.ts) and join when they resolve.
   */
  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    this.instruments = await this.watch.load();
    return this.instruments;
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

  start(sink: BookSink): void {
    if (this.sink) throw new Error("bybit: start() called twice");
    const bound = this.watch.bindTopics(false);
    this.sink = sink;
    this.books.sink = sink;
    for (const t of bound) {
      if (!BYBIT_DEPTHS[t.market].includes(t.depth)) {
        // Not fatal: the venue's answer is authoritative and is reported per topic when it comes.
        this.log.warn("depth not in the documented list; Bybit will probably reject it", { market: t.market, topic: t.topic, valid: BYBIT_DEPTHS[t.market] });
      }
    }
    this.lifecycle.start(); // opens only the connections with a subscribable topic
    this.watch.start(sink);
    const used = this.conns.filter((c) => c.used).length;
    this.log.info("bybit adapter started", { connections: used, unused: this.conns.length - used, topics: this.topics.length });
  }

  /**
   * Replay: no connections. Every topic counts as subscribed, frames come from ingestFrame with their recorded
   * receive times, and a resync waits for the next snapshot in the capture (the one the live run received
   * after its own resync) instead of asking a server.
   */
  startReplay(sink: BookSink): void {
    if (this.sink) throw new Error("bybit: started twice");
    this.watch.bindTopics(true);
    this.sink = sink;
    this.books.sink = sink;
    this.books.replaying = true;
  }

  /** Replay: the capture's clock reached `nowMs`; a book silent past its stale time goes STALE as live's did (ConnectionLifecycle.replayUntil). */
  replayClockAt(nowMs: number, rebase = false): void {
    this.lifecycle.replayUntil(nowMs, rebase);
  }

  /** Feeds one recorded frame (replay). `connection` is the recorded connection name; unknown names use the market's first connection. */
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    return replayFrame(this.conns, market, connection, frame, tsRecvUs);
  }

  /**
   * Replay: a recorded connection close (`ws:close`) invalidates that connection's books as the live close did, and an
   * open (`ws:open`) a book still LIVE there (its socket's close not in the capture: replayOpened); its socket events
   * (`ws:sockets`, `ws:state`, `ws:overlap`, `ws:swap`, `ws:old`, `ws:retired`, `ws:back`) make its sockets the live run's, so an
   * older u is judged by the socket of record as live judged it (onBook). A capture without them: one socket, as before.
   * Its requests (`ws:req`) are matched to answers as live's were, and a resync's unsubscribe holds the topic as live's
   * did until its subscribe (TopicState.replayUnsubscribing, common: SubscriptionControl.replayRecorded).
   */
  ingestConnectionEvent(_market: MarketName, connection: string, url: string, _tsRecvUs: number, body = ""): boolean {
    const conn = connectionNamed(this.conns, connection);
    if (conn === undefined) return false;
    // A record live writes every minute with one socket and at a file's head: a hold whose unsubscribe was answered
    // (or is unanswered past the ack deadline) ends, its subscribe taken for lost in a block the disk could not take
    // (no gap said) or in a file not given, not held until the next close (the common rule ends it at the socket's end,
    // a new socket, a capture gap). Not one still out: the record is written whatever the requests, and
    // live ignores the frames in flight until the ack; until 2026-12-07 that one ended too, and an in-flight level-1
    // snapshot after the minute's ws:state made the book LIVE in replay alone.
    if (url === SOCKETS_STATE_URL || url === SOCKETS_OVERLAP_URL) this.lifecycle.replayEndAnsweredHolds(conn);
    if (url === CONNECTION_CLOSED_URL) this.lifecycle.replayDisconnected(connection);
    else if (url === CONNECTION_OPENED_URL) this.lifecycle.replayOpened(connection);
    else this.lifecycle.replaySocketEvent(connection, url, body);
    return true;
  }

  /** Replay: records were lost here; the requests still unanswered, and the holds of recorded unsubscribes, are forgotten (ConnectionLifecycle.replayCaptureGap). */
  replayCaptureGap(): void {
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

  /** Cold: the venue-wide counters once, as [stats key, metric name, help, value] (counters unless the name says gauge). */
  private counterTable(): [string, string, string, number][] {
    return [
      ["snapshots", "snapshots_total", "Snapshots applied", this.snapshots],
      ["deltas", "deltas_total", "Deltas applied", this.deltas],
      ["gaps", "sequence_gaps_total", "Deltas whose sequence skipped ahead (book resynced)", this.gaps],
      ["duplicates", "duplicates_total", "Deltas at or below the last sequence (ignored)", this.duplicates],
      ["resyncs", "resyncs_total", "Book resyncs started", this.books.resyncs],
      ["resyncsDelayed", "resyncs_delayed_total", "Resyncs that waited out the per-topic backoff", this.books.resyncsDelayed],
      ["ignoredBeforeSnapshot", "ignored_before_snapshot_total", "Deltas ignored because the book had no snapshot yet", this.ignoredBeforeSnapshot],
      ["ignoredWhileUnsubscribed", "ignored_while_unsubscribed_total", "Book frames in flight after an unsubscribe", this.ignoredWhileUnsubscribed],
      ["repeatedSnapshots", "repeated_snapshots_total", "Snapshots repeating the last sequence (applied as a replace)", this.repeatedSnapshots],
      ["olderSnapshots", "older_snapshots_total", "Snapshots older than the live book, or than a resyncing one's last from the other socket of an overlap (ignored)", this.olderSnapshots],
      ["venueResets", "venue_resets_total", "Venue sequence resets", this.venueResets],
      ["staleResyncs", "stale_resyncs_total", "Books resynced because their channel went silent", this.lifecycle.staleResyncs],
      ["subscribeRejected", "subscribe_rejected_total", "Subscriptions the venue refused", this.control.subscribeRejected],
      ["subscribeRetries", "subscribe_retries_total", "Subscribe batches sent again after a rejected batch", this.control.subscribeRetries],
      ["subscribeErrors", "subscribe_errors_total", "Single-topic subscribes refused for a reason that may pass: sent again after a backoff (1 s doubling to 60 s), never given up", this.control.subscribeErrors],
      ["argsSizeErrors", "args_size_errors_total", "Subscribe batches the venue found too large (bisected)", this.control.argsSizeErrors],
      ["alreadySubscribed", "already_subscribed_total", "Subscribes answered 'already subscribed'", this.control.alreadySubscribed],
      ["unattributedParseErrors", "unattributed_parse_errors_total", "Malformed frames whose channel could not be read (every book of the connection resynced)", this.unattributedParseErrors],
      ["topics", "topics", "Book channels configured", this.topics.length],
      ["topicsLive", "topics_live", "Book channels whose book is LIVE", this.topics.filter((t) => t.book === BookState.LIVE).length],
    ];
  }

  /** Cold: counters for the status JSON: venue-wide, per-connection sums and `conn<N>.<market>.*` (common/metrics.ts). */
  stats(): Record<string, number> {
    const out: Record<string, number> = connectionStats(this.conns);
    for (const [key, , , value] of this.counterTable()) out[key] = value;
    out.connectBudget = this.lifecycle.maxConnectsPerWindow; // its metric: connectionMetrics, one per connect gate
    for (const [code, n] of this.parseErrorsByCode) out[`parseErrors.${code}`] = n;
    Object.assign(out, this.watch.stats()); // instrument changes, re-checks, reloads, late symbols
    return out;
  }

  /** Cold: every counter and gauge as metric samples; per-connection ones labelled, the rest venue-wide. */
  metrics(): VenueMetric[] {
    const out = connectionMetrics(this.conns, this.lifecycle.connectBudgets());
    for (const [, name, help, value] of this.counterTable()) out.push(name.endsWith("_total") ? counter(name, help, value) : gauge(name, help, value));
    for (const [code, n] of this.parseErrorsByCode) out.push(counter("parse_errors_by_code_total", "Frames rejected, by scanner result code (all connections)", n, { code }));
    out.push(...this.watch.metrics());
    return out;
  }

  /** Cold: every connection (none when replaying), so /readyz can say which venue is down and why. */
  connections(): VenueConnectionState[] {
    return connectionStates(this.conns, this.books.replaying);
  }

  /** Cold: the adapter's view of one subscription, for tests and diagnostics. */
  topicInfo(index: number): {
    state: string;
    lastU: number;
    subscribed: boolean;
    rejected: boolean;
    connection: number;
    resyncs: number;
    /** A resync is waiting out its backoff; resyncDueInMs is how long is left (by the adapter's clock). */
    resyncDelayed: boolean;
    resyncDueInMs: number;
  } {
    const t = this.topics[index]!;
    return {
      resyncDelayed: t.resyncDelayed,
      resyncDueInMs: t.resyncDelayed ? t.resyncDueMs - this.now() : 0,
      state: BOOK_STATE_NAMES[t.book]!,
      lastU: t.lastSeq,
      subscribed: t.sub === SUB_ACTIVE,
      rejected: t.sub === SUB_REJECTED,
      connection: t.conn.id,
      resyncs: t.resyncs,
    };
  }

  // ───────────────────────── hot path ─────────────────────────

  // HOT PATH: one call per accepted order-book frame.
  onBook(index: number, update: BookUpdate): void {
    const t = this.topics[index]!;
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED || t.replayUnsubscribing) {
      this.ignoredWhileUnsubscribed++; // in flight before an unsubscribe took effect (replay: a recorded one)
      return;
    }
    const u = update.venueSeq;
    // The socket this frame came on: the connection's, or the old one of a planned reconnect's overlap.
    const conn = t.conn;
    const socket = conn.fromRetiring ? conn.retiringGeneration : conn.generation;
    if (conn.retiringGeneration >= 0 && socket === conn.generation) this.replacementSeen[index] = socket;
    if (socket === this.behindReset[index] && this.onBehindReset(t, u, update.isSnapshot)) return;
    if (update.isSnapshot) {
      // Only frames the book can use count as liveness (stale detection): see the delta branch below.
      const now = this.now();
      if (t.book === BookState.LIVE && u <= t.lastSeq && (u === t.lastSeq || (u !== 1 && !seqReached(t, socket)))) {
        // The same u: level 1's re-push (§4.2), or a snapshot the venue re-sent ("guaranteed to contain the latest
        // data"): the venue's whole book at the book's own u. Handed on as a replace, so the book becomes exactly it
        // and only a difference is published (a re-push changes nothing); liveness. At u = 1 too (the re-pushes after
        // a venue reset: before 2026-12-06 each was published whole, as a snapshot). An older u from a socket that has
        // not delivered the book's u: during a make-before-break the replacement's snapshot may trail the old socket's
        // deltas; ignored, and no liveness. An older u from a socket that has (the one of record, or the other that
        // repeated it: seqReached; TCP is ordered) is a venue reset (below) and replaces the book.
        if (u === t.lastSeq) {
          this.repeatedSnapshots++;
          t.lastMsgMs = now;
          // This socket has reached the book's u too: its older frames from now on are resets (a quiet book's
          // replacement may never deliver a newer u before the old socket closes); the other stays known as there too.
          seqRepeated(t, socket);
          update.replace = true;
          this.sink!.onBookUpdate(index, update);
        } else this.olderSnapshots++;
        return;
      }
      if (t.book !== BookState.LIVE && u !== 1 && u < t.seqBeforeInvalid && this.oldSocketTrails(t, socket)) {
        // The overlap's old socket behind the u the replacement gave the book before it left LIVE: it trails, as the
        // LIVE rule above reads it (a resync restarts the replacement's stream only). Until 2026-12-07 it was taken as
        // a reset, the book LIVE at an older state than it had shown (level 1: any of its 10 ms snapshots).
        this.olderSnapshots++;
        return;
      }
      t.lastMsgMs = now;
      // A venue reset: u below the last u (u = 1, or any u on the socket that delivered the last: TCP is ordered, and
      // level 1 sends only snapshots, so a lost u = 1 shows only so), or below the last u before the book was
      // invalidated (u = 1 missed then).
      if (u < (t.lastSeq || t.seqBeforeInvalid)) {
        this.onVenueReset(t);
        this.otherBehindReset(t, socket);
      }
      this.snapshots++;
      t.lastSeq = u;
      t.seqSocket = socket;
      // The book is set anew: a socket kept as having reached a u (seqRepeated) reached that of an older book, which
      // a venue reset's new sequence may number the same (seqReached would take it for having reached this one).
      t.seqAlsoSocket = -1;
      // A fresh snapshot on a subscribed topic ends any resync backoff (it can arrive before the ack of a subscribe
      // during which a further resync was asked for; in replay nothing else would end it): the book is valid, and a
      // backoff left set would later resubscribe it without invalidating it and ignore its parse errors meanwhile.
      this.books.onLive(t, now);
      this.sink!.onBookUpdate(index, update);
      return;
    }
    if (t.book !== BookState.LIVE) {
      // Replay: a book just gone STALE whose next delta continues its u on the socket of its last one missed nothing.
      if (t.book === BookState.STALE && t.seqBeforeInvalid > 0 && u === t.seqBeforeInvalid + 1 && socket === t.seqSocket && this.resumeStale(t, index)) {
        t.lastSeq = u;
        this.deltas++;
        this.sink!.onBookUpdate(index, update);
        return;
      }
      // A STALE book's venue reset (u = 1, or u back on the socket of its last one, as onSequenceBreak reads a LIVE
      // book's): its kept levels are the old sequence's, and the new one reaching the old u + 1 continues nothing.
      if (t.book === BookState.STALE && (u === 1 || (u < t.seqBeforeInvalid && socket === t.seqSocket))) t.staleDueMs = -Infinity;
      // Not liveness: a topic that gets only deltas (its snapshot was lost) must still go stale and be resynced.
      this.ignoredBeforeSnapshot++;
      return;
    }
    if (u === t.lastSeq + 1) {
      // Only deltas the book applies are liveness: ones at or below its u are ignored, and a run of them from
      // another socket (a planned reconnect's replacement still trailing) must still let the topic go stale.
      t.lastMsgMs = this.now();
      this.deltas++;
      t.lastSeq = u;
      t.seqSocket = socket;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    this.onSequenceBreak(t, u, socket);
  }

  // ───────────────────────── cold paths ─────────────────────────

  /**
   * Replay: the STALE book continues its sequence exactly (the caller checked): LIVE again at its kept levels when
   * live may have kept it LIVE (ConnectionLifecycle.replayMayResume) and the sink took it. Before, it stayed STALE
   * until the capture's next snapshot, which for a quiet Bybit book can be long after live's book was LIVE throughout.
   */
  private resumeStale(t: TopicState, index: number): boolean {
    if (!this.books.replaying || !this.lifecycle.replayMayResume(t) || this.sink!.onBookResumed?.(index) !== true) return false;
    const now = this.now();
    t.lastMsgMs = now;
    this.books.onLive(t, now);
    return true;
  }

  /**
   * Whether `socket` is the old socket of an overlap whose replacement delivered the u the book had when it left LIVE
   * (seqBeforeInvalid), and that the old socket has not delivered (seqReached, at that u). Cold.
   */
  private oldSocketTrails(t: TopicState, socket: number): boolean {
    const conn = t.conn;
    if (conn.retiringGeneration < 0 || socket !== conn.retiringGeneration || t.seqSocket !== conn.generation) return false;
    return !(t.seqAlsoSocket === socket && t.seqAlsoAt === t.seqBeforeInvalid);
  }

  private onSequenceBreak(t: TopicState, u: number, socket: number): void {
    // u = 1, or u below the last u on a socket that delivered it (TCP is ordered; the one of record, or during an
    // overlap the other if it repeated it: seqReached): the venue reset and its u = 1 snapshot was lost; the book is
    // behind the venue's and is resynced (its deltas would all be ignored below). Before 2026-12-06 only the socket of
    // record counted, so after the replacement repeated the old socket's u, the old socket's reset was ignored.
    if (u === 1 || (u < t.lastSeq && seqReached(t, socket))) {
      this.onVenueReset(t);
      this.otherBehindReset(t, socket);
      this.books.resync(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
      t.seqBeforeInvalid = 0; // this reset is counted and its re-check asked for: the resync's snapshot is no second one
      return;
    }
    if (u <= t.lastSeq) {
      // From a socket that has not reached it (a planned reconnect's overlap: the replacement may trail the old socket), u < local u is
      // ignored, Bybit's rule (docs/venues/bybit.md, "Sequencing"); the same u again is a repeat, and the socket
      // that sent it has reached the book's u (its older frames from now on are resets).
      if (u === t.lastSeq) seqRepeated(t, socket);
      this.duplicates++;
      return;
    }
    this.gaps++;
    this.gapLog.hit(`${t.market} ${t.topic}: u ${u} after ${t.lastSeq}`);
    this.books.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /**
   * A frame from the socket still behind a venue reset the book took from the other socket of an overlap
   * (behindReset): true when it is ignored. Both sockets carry the venue's one stream, so the reset reaches each; until
   * that socket's own u = 1, its frames are of the sequence before it, and one above the book's u was taken as newer
   * (before 2026-12-06: a level-1 snapshot made the book the state before the reset, LIVE, and after the overlap the
   * new sequence's frames, below it, were ignored as trails until stale; a delta was a gap and a needless resync).
   * Its u = 1 (its own copy of the reset, or a further one: not told apart, so taken as a reset as before) ends it;
   * so does the book leaving LIVE (a resync restarts the topic's stream; a u = 1 it lost must not hold the book's
   * only socket off: staleness ends such a book, and its frames count again), but not on the overlap's old socket
   * (the resync restarts the replacement's stream only). Cold: only that socket's frames.
   */
  private onBehindReset(t: TopicState, u: number, isSnapshot: boolean): boolean {
    // The overlap's old socket stays behind while the book resyncs: the resubscribe goes on the replacement, and the
    // old socket's stream goes on before the reset. Before 2026-12-07 the mark ended, and a level-1 snapshot of it made
    // the resyncing book the state before the reset, LIVE, the replacement's answer then ignored as older.
    if (u !== 1 && (t.book === BookState.LIVE || this.behindReset[t.index] === t.conn.retiringGeneration)) {
      // Not a sign of life (staleness), as any other frame the book cannot use.
      if (isSnapshot) this.olderSnapshots++;
      else this.duplicates++;
      return true;
    }
    // Its u = 1 taken as a reset below flags no other socket: the other one delivered this reset first (or the book
    // was set anew meanwhile) and is ahead on its sequence, not behind it.
    const resetFollows = u === 1 && (isSnapshot ? (t.lastSeq || t.seqBeforeInvalid) > 1 : t.book === BookState.LIVE && t.lastSeq !== 0);
    this.behindReset[t.index] = resetFollows ? -2 : -1;
    return false;
  }

  /**
   * A venue reset taken from `socket`: during an overlap, the other socket is behind it (behindReset) if its stream of
   * the topic had begun; a replacement that has delivered nothing of it yet may have been subscribed after the reset,
   * its snapshot then of the new sequence with no u = 1 to follow, and is taken as it comes.
   */
  private otherBehindReset(t: TopicState, socket: number): void {
    const i = t.index;
    const conn = t.conn;
    const takingItsOwn = this.behindReset[i] === -2;
    this.behindReset[i] = -1;
    if (takingItsOwn || conn.retiringGeneration < 0) return;
    const other = BehindResetMarks.otherSocket(conn.generation, conn.retiringGeneration, socket);
    if (socket === conn.retiringGeneration && this.replacementSeen[i] !== other) return;
    this.behindReset[i] = other;
  }

  /**
   * A planned reconnect's overlap is over: a socket behind a reset keeps that mark if it carries on (gone back to: its
   * new generation), told by generation: a replacement marked in one overlap is the old socket of the next. Until
   * 2026-12-07 a flag set with the mark said which socket it was, and went stale then: gone back to in the second
   * overlap, the socket lost its mark, and its snapshot of the sequence before the reset made the book that state, LIVE.
   */
  private onOverlapOver(conn: BybitConnection, carrier: OverlapCarrier, oldGen: number | undefined): void {
    for (const t of conn.topics) {
      const i = t.index;
      this.replacementSeen[i] = -1;
      this.behindMarks.carriedOn(i, carrier, oldGen, conn.generation);
    }
  }

  /**
   * A subscribe of these topics is written on their connection's socket (RequestProtocol.requested, live and replay;
   * during an overlap the replacement; after a go-back the old one): that socket's stream of each starts over, its
   * answer of whichever run the venue is in, as a replacement that has delivered nothing yet (otherBehindReset). So its mark ends and it has delivered nothing of the
   * topic (replacementSeen), as Deribit's and OKX's onSubscribeWritten. Until 2026-12-07 a mark set by
   * frames before the resubscribe (or set later from them) held off the new stream while the book was LIVE by the other
   * socket: the answer and every frame after ignored, the book frozen (once that socket closed) until stale. Cold.
   */
  private onSubscribeWritten(topics: readonly CommonTopic[]): void {
    for (const t of topics) {
      const i = t.index;
      this.replacementSeen[i] = -1;
      this.behindMarks.subscribeWritten(i, t.conn.generation);
    }
  }

  /** u back to 1 (or below the last u): the service restarted or the tick/lot changed (§4.4): re-check the instrument. */
  private onVenueReset(t: TopicState): void {
    this.venueResets++;
    this.log.warn("bybit: u went back (service restart or instrument change)", { market: t.market, topic: t.topic, lastU: t.lastSeq || t.seqBeforeInvalid });
    this.recheckInstrument(t);
  }

  /**
   * A book push whose topic is not one of this connection's. The connection carries only what we subscribed, so
   * the topic was garbled: the lost update may be any book's, and each book of the connection resyncs (as for a
   * frame unreadable down to its topic). Replay does the same when no recorded request of the connection named the topic
   * (VenueConnection.replayUnknownToLive), and ignores one it named: a topic the replay's config leaves out.
   * Counted once, in unknownTopic (unknown_topic_total): it is well-formed, so not a parse error too (until s-rd19d
   * also in parse_errors_total, parseErrors.unknown_topic and unattributedParseErrors).
   */
  onUnknownTopic(conn: BybitConnection, frame: string, scanPos = -1): void {
    if (!conn.unknownTopicLost(frame, this.books.replaying)) return; // replay: a topic live asked for (left out of this config) or requests not known: not counted
    this.rejected(conn, -1, SCAN_UNKNOWN_TOPIC, frame, scanPos);
  }

  /** `scanPos`: where in this frame the scanner stopped, when the scanner decided `code`; -1 (none shown) when the JSON path did. */
  onParseError(conn: BybitConnection, entry: number, code: number, frame: string, scanPos = -1): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    if (!this.rejected(conn, entry, code, frame, scanPos)) this.unattributedParseErrors++;
  }

  /** A book frame refused (`code`): logged, and what it may have lost resynced (TopicResync.lost). Returns the topic it names, if found. */
  private rejected(conn: BybitConnection, entry: number, code: number, frame: string, scanPos: number): TopicState | undefined {
    let t = entry >= 0 ? conn.byTopic.get(conn.table.names[entry]!) : undefined;
    t ??= conn.topicOfFrame(frame);
    // A snapshot deeper than its topic names its sides' counts (the JSON path, which decided the code, left them in
    // conn.update) rather than an offset. Until s-small2 the scanner's offset was shown whichever reader decided: where
    // it handed the frame to the JSON path (an escape), nothing to do with the fault that path found.
    const where = code === SCAN_ERR_DEPTH && entry >= 0 ? ` ${overDepth(conn.update, conn.table.depth[entry]!)}` : scanPos < 0 ? "" : ` at ${scanPos}`;
    this.parseErrorLog.hit(`${SCAN_RESULT_NAMES[-code] ?? String(code)}${where} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    this.books.lost(conn.topics, t, code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY ? (x) => this.recheckInstrument(x) : undefined);
    return t;
  }

  /** A frame that is not JSON: true when it is a bare-text keepalive answer (common). Cold. */
  onText(conn: BybitConnection, text: string): boolean {
    return this.control.onText(conn, text);
  }

  /** A frame that is not an order book (from connection.ts). Cold. */
  onControl(conn: BybitConnection, msg: unknown): void {
    if (this.control.onControl(conn, msg) === "planned_close") this.lifecycle.onPlannedClose(conn);
  }

  /** A price or size that does not fit (or a venue reset): reload its market's instruments now (re-checks of a market coalesce). */
  private recheckInstrument(t: TopicState): void {
    if (!this.config.overrides.has(`${t.market}:${t.symbol}`)) this.watch.requestNow(t.market);
  }

  /** A changed tick or lot (the watch's reload): new exponents in the table, the sink told, the book rebuilt. Cold. */
  private applyInstrument(t: TopicState, inst: Instrument): void {
    t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
    resyncForNewInstrument(this.books, t, inst, () => this.control.restartTopic(t));
  }
}

/** `snapshot with 51 bids, depth 50` (and the asks when they are over too). Cold. */
function overDepth(update: BookUpdate, depth: number): string {
  const sides: string[] = [];
  if (update.bidCount > depth) sides.push(`${update.bidCount} bids`);
  if (update.askCount > depth) sides.push(`${update.askCount} asks`);
  return `snapshot with ${sides.join(" and ")}, depth ${depth}`;
}
