// HOT PATH: no allocation (BybitAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The Bybit v5 venue adapter and its per-topic sequencing rule (docs/venues/bybit.md §4.4):
 * a snapshot resets the book; a delta must carry u = last u + 1, otherwise that topic alone is resynced
 * (unsubscribe, wait for the ack, subscribe: a duplicate subscribe would poison its batch, §6.3); u = 1 is a venue
 * reset and triggers an instrument re-check (a tick-size change restarts u at 1); a snapshot repeating the last u
 * (level 1 re-pushes every 3 s, §4.2) changes nothing; deltas before the first snapshot are ignored and counted.
 * The topic → index map is built at subscribe time and only read on the hot path.
 *
 * The rest lives beside it: connection-plan.ts (topics → connections within the limits), connection-lifecycle.ts
 * (connect, backoff, heartbeats, deadlines, staleness), subscription-control.ts (requests and acks),
 * connection.ts (one connection's state and frame entry).
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { BookSink, Subscription, VenueAdapter, VenueConnectionState, VenueMetric } from "../venue.ts";
import { bybitMetrics } from "./metrics.ts";
import { fetchInstrumentSpecs, makeInstrument, readInstrumentCache, resolveInstruments, writeInstrumentCache } from "./instruments.ts";
import { BYBIT_DEPTHS, RESYNC_BACKOFF_BASE_MS, RESYNC_BACKOFF_MAX_MS, RESYNC_BACKOFF_RESET_MS } from "./protocol.ts";
import { type BybitConnection, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState } from "./connection.ts";
import { planConnections } from "./connection-plan.ts";
import { ConnectionLifecycle, staleAfterFromConfig } from "./connection-lifecycle.ts";
import { SubscriptionControl } from "./subscription-control.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES } from "./scanner.ts";

export { defaultStaleAfterMs, staleAfterFromConfig } from "./connection-lifecycle.ts";

/** Receives every raw frame: market, connection name, the frame text, receive time µs. */
export type RawFrameTap = (market: MarketName, connection: string, frame: string, tsRecvUs: number) => void;

export interface BybitAdapterOptions {
  log: Logger;
  /** REST client (tests pass one bound to the simulator). Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Wall clock in ms for heartbeats, staleness and backoff. Defaults to Date.now. */
  now?: () => number;
  /** Jitter source in [0, 1). Defaults to Math.random. */
  random?: () => number;
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
  /** Connection-rate budget (Bybit: 500 per 5 min per domain, §2.3). */
  maxConnectsPerWindow?: number;
  connectWindowMs?: number;
  /** Cap on topics per connection (tests use it to force several connections); the 21,000-char rule always applies. */
  maxTopicsPerConnection?: number;
  /**
   * Args per subscribe request. Replaces the per-category default (spot 10, others 50), so tests can exceed spot's
   * limit on purpose to exercise the `args size >10` recovery.
   */
  maxArgsPerRequest?: number;
  /** Re-check the instrument over REST after u = 1 or a price/qty that does not fit the exponent. Default true. */
  recheckInstruments?: boolean;
  /**
   * Start even when none of the symbols resolves (logged as an error, no connection opened). A worker or shard
   * sets it: its share may hold only bad symbols while the whole config has good ones. Default false: throw.
   */
  allowNoInstruments?: boolean;
  /** Called with every raw frame received, before parsing (feeder record). */
  onRawFrame?: RawFrameTap;
}

export class BybitAdapter implements VenueAdapter {
  readonly venue;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly allowNoInstruments: boolean;
  private readonly recheck: boolean;
  private readonly random: () => number;
  private readonly resyncBaseMs: number;
  private readonly resyncMaxMs: number;
  private readonly resyncResetMs: number;
  /** See BybitAdapterOptions.onRawFrame; read by every connection on the hot path. */
  readonly rawFrameTap: RawFrameTap | undefined;

  /** One per subscription, by subscription index. */
  private readonly topics: TopicState[];
  private readonly conns: BybitConnection[];
  private readonly control: SubscriptionControl;
  private readonly lifecycle: ConnectionLifecycle;
  /** By subscription index; undefined for a symbol that could not be resolved (never subscribed). */
  private instruments: (Instrument | undefined)[] | null = null;
  private instrumentsUnresolved = 0;
  /** Frames rejected before their topic could be read: every live book of that connection was resynced. */
  private unattributedParseErrors = 0;
  private sink: BookSink | null = null;
  /** Started by startReplay(): no connections, no housekeeping, no resync backoff. */
  private replaying = false;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;
  private readonly resyncDelayLog: RateLimitedLog;

  // Counters (hot increments, cold reads). Request, ack and connection counters live in control and lifecycle.
  private snapshots = 0;
  private deltas = 0;
  private gaps = 0;
  private duplicates = 0;
  private resyncs = 0;
  private resyncsDelayed = 0;
  private ignoredBeforeSnapshot = 0;
  private ignoredWhileUnsubscribed = 0;
  private repeatedSnapshots = 0;
  private venueResets = 0;
  private instrumentChanges = 0;
  private readonly parseErrorsByCode = new Map<string, number>();

  constructor(
    private readonly config: VenueConfig,
    private readonly subscriptions: readonly Subscription[],
    opts: BybitAdapterOptions,
  ) {
    this.venue = config.venue;
    this.log = opts.log;
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.recheck = opts.recheckInstruments ?? true;
    this.allowNoInstruments = opts.allowNoInstruments ?? false;
    this.random = opts.random ?? Math.random;
    this.resyncBaseMs = opts.resyncBackoffBaseMs ?? RESYNC_BACKOFF_BASE_MS;
    this.resyncMaxMs = opts.resyncBackoffMaxMs ?? RESYNC_BACKOFF_MAX_MS;
    this.resyncResetMs = opts.resyncBackoffResetMs ?? RESYNC_BACKOFF_RESET_MS;
    this.rawFrameTap = opts.onRawFrame;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "bybit: order-book frames rejected");
    this.gapLog = new RateLimitedLog(this.log, "warn", "bybit: sequence gaps; topics resynced");
    this.resyncDelayLog = new RateLimitedLog(this.log, "warn", "bybit: topic keeps failing; its resync waits (backoff)");
    const plan = planConnections(this, config.wsUrl, subscriptions, opts.maxTopicsPerConnection ?? Infinity);
    this.conns = plan.conns;
    this.topics = plan.topics;
    const invalidate = (t: TopicState, state: BookState, reason: StatusReason) => this.invalidate(t, state, reason);
    this.control = new SubscriptionControl(this.log, this.now, opts.maxArgsPerRequest, invalidate);
    this.lifecycle = new ConnectionLifecycle(
      this.conns,
      this.control,
      { invalidate, resync: (t, state, reason) => this.resync(t, state, reason) },
      { ...opts, staleAfterMs: opts.staleAfterMs ?? staleAfterFromConfig(config) },
    );
  }

  /**
   * A symbol that cannot be resolved (delisted, misspelt, REST down and not cached) is left out and logged as
   * an error naming it and why, so one bad symbol does not stop every other book; none resolvable throws.
   */
  async loadInstruments(): Promise<(Instrument | undefined)[]> {
    const { instruments, problems } = await resolveInstruments(this.config, this.subscriptions, this.fetchFn, this.log);
    if (problems.length > 0) {
      const message = `bybit: cannot resolve instruments for ${problems.join(", ")}`;
      if (!instruments.some((i) => i !== undefined) && !this.allowNoInstruments) throw new Error(message);
      this.log.error(`${message}; those books are not subscribed, the others start`, { unresolved: problems.length, of: instruments.length });
    }
    this.instrumentsUnresolved = problems.length;
    this.instruments = instruments;
    return instruments;
  }

  start(sink: BookSink): void {
    if (!this.instruments) throw new Error("bybit: start() before loadInstruments()");
    if (this.sink) throw new Error("bybit: start() called twice");
    this.sink = sink;
    for (const t of this.topics) {
      const inst = this.instruments[t.index];
      if (inst === undefined) {
        t.sub = SUB_REJECTED; // never subscribed: there is no instrument to build its book with
        continue;
      }
      t.entry = t.conn.table.add(t.topic, t.index, inst.priceExp, inst.qtyExp);
      t.conn.used = true;
      if (!BYBIT_DEPTHS[t.market].includes(t.depth)) {
        // Not fatal: the venue's answer is authoritative and is reported per topic when it comes.
        this.log.warn("depth not in the documented list; Bybit will probably reject it", { market: t.market, topic: t.topic, valid: BYBIT_DEPTHS[t.market] });
      }
    }
    this.lifecycle.start(); // opens only the connections with a subscribable topic
    const used = this.conns.filter((c) => c.used).length;
    this.log.info("bybit adapter started", { connections: used, unused: this.conns.length - used, topics: this.topics.length });
  }

  /**
   * Replay: no connections. Every topic counts as subscribed, frames come from ingestFrame with their recorded
   * receive times, and a resync waits for the next snapshot in the capture (the one the live run received
   * after its own resync) instead of asking a server.
   */
  startReplay(sink: BookSink): void {
    if (!this.instruments) throw new Error("bybit: startReplay() before loadInstruments()");
    if (this.sink) throw new Error("bybit: started twice");
    this.sink = sink;
    this.replaying = true;
    for (const t of this.topics) {
      const inst = this.instruments[t.index];
      if (inst === undefined) {
        t.sub = SUB_REJECTED;
        continue;
      }
      t.entry = t.conn.table.add(t.topic, t.index, inst.priceExp, inst.qtyExp);
      t.conn.used = true;
      t.sub = SUB_ACTIVE;
    }
  }

  /** Feeds one recorded frame (replay). `connection` is the recorded connection name; unknown names use the market's first connection. */
  ingestFrame(market: MarketName, connection: string, frame: string, tsRecvUs: number): boolean {
    const conn = this.conns.find((c) => c.name === connection) ?? this.conns.find((c) => c.market === market);
    if (!conn) return false;
    conn.onFrameAt(frame, tsRecvUs);
    return true;
  }

  requestResync(index: number, reason: StatusReason): void {
    const t = this.topics[index];
    if (!t || t.sub === SUB_REJECTED) return;
    this.resync(t, BookState.RESYNCING, reason);
  }

  stop(): Promise<void> {
    return this.lifecycle.stop();
  }

  stats(): Record<string, number> {
    // Connections whose topics all failed to resolve are never opened: they count nowhere.
    const conns = this.conns.filter((c) => c.used);
    const out: Record<string, number> = {
      connections: conns.length,
      connectionsOpen: this.conns.filter((c) => c.open).length,
      topics: this.topics.length,
      topicsLive: this.topics.filter((t) => t.book === BookState.LIVE).length,
      snapshots: this.snapshots,
      deltas: this.deltas,
      gaps: this.gaps,
      duplicates: this.duplicates,
      resyncs: this.resyncs,
      resyncsDelayed: this.resyncsDelayed,
      ignoredBeforeSnapshot: this.ignoredBeforeSnapshot,
      ignoredWhileUnsubscribed: this.ignoredWhileUnsubscribed,
      repeatedSnapshots: this.repeatedSnapshots,
      venueResets: this.venueResets,
      staleResyncs: this.lifecycle.staleResyncs,
      subscribeRejected: this.control.subscribeRejected,
      subscribeRetries: this.control.subscribeRetries,
      argsSizeErrors: this.control.argsSizeErrors,
      alreadySubscribed: this.control.alreadySubscribed,
      instrumentChanges: this.instrumentChanges,
      instrumentsUnresolved: this.instrumentsUnresolved,
      unattributedParseErrors: this.unattributedParseErrors,
      connectBudget: this.lifecycle.maxConnectsPerWindow,
      messages: 0,
      bytes: 0,
      parseErrors: 0,
      fallbacks: 0,
      unknownTopic: 0,
      connects: 0,
      reconnects: 0,
      pongs: 0,
      pongTimeouts: 0,
      ackTimeouts: 0,
    };
    for (const [code, n] of this.parseErrorsByCode) out[`parseErrors.${code}`] = n;
    for (const c of conns) {
      const p = `conn${c.id}.${c.market}.`;
      out[p + "open"] = c.open ? 1 : 0;
      out[p + "topics"] = c.topics.length;
      out[p + "messages"] = c.messages;
      out[p + "bytes"] = c.bytes;
      out[p + "parseErrors"] = c.parseErrors;
      out[p + "connects"] = c.connects;
      out[p + "reconnects"] = c.reconnects;
      out[p + "pongs"] = c.pongs;
      out[p + "pongTimeouts"] = c.pongTimeouts;
      out.messages! += c.messages;
      out.bytes! += c.bytes;
      out.parseErrors! += c.parseErrors;
      out.fallbacks! += c.fallbacks;
      out.unknownTopic! += c.unknownTopic;
      out.connects! += c.connects;
      out.reconnects! += c.reconnects;
      out.pongs! += c.pongs;
      out.pongTimeouts! += c.pongTimeouts;
      out.ackTimeouts! += c.ackTimeouts;
    }
    return out;
  }

  metrics(): VenueMetric[] {
    return bybitMetrics(this.stats());
  }

  connections(): VenueConnectionState[] {
    if (this.replaying) return [];
    return this.conns
      .filter((c) => c.used)
      .map((c) => ({ connection: `conn${c.id}`, market: c.market, url: c.url, up: c.open, lastError: c.open ? "" : c.lastError, downSinceMs: c.open ? 0 : c.downSinceMs }));
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
      lastU: t.lastU,
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
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED) {
      this.ignoredWhileUnsubscribed++; // in flight before an unsubscribe took effect
      return;
    }
    const u = update.venueSeq;
    if (update.isSnapshot) {
      // Only frames the book can use count as liveness (stale detection): see the delta branch below.
      const now = this.now();
      t.lastMsgMs = now;
      if (t.book === BookState.LIVE && u === t.lastU) {
        this.repeatedSnapshots++; // level-1 re-push with the same u (§4.2): nothing changed
        return;
      }
      if (u === 1 && t.lastU > 1) this.onVenueReset(t);
      this.snapshots++;
      t.lastU = u;
      if (t.book !== BookState.LIVE) t.liveSinceMs = now;
      t.book = BookState.LIVE;
      // A fresh snapshot on a subscribed topic ends any resync backoff (it can arrive before the ack of a subscribe
      // during which a further resync was asked for; in replay nothing else would end it): the book is valid, and a
      // backoff left set would later resubscribe it without invalidating it and ignore its parse errors meanwhile.
      t.resyncDelayed = false;
      t.resyncDueMs = 0;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    if (t.book !== BookState.LIVE) {
      // Not liveness: a topic that gets only deltas (its snapshot was lost) must still go stale and be resynced.
      this.ignoredBeforeSnapshot++;
      return;
    }
    t.lastMsgMs = this.now();
    if (u === t.lastU + 1) {
      this.deltas++;
      t.lastU = u;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    this.onSequenceBreak(t, u);
  }

  // ───────────────────────── cold paths ─────────────────────────

  private onSequenceBreak(t: TopicState, u: number): void {
    if (u === 1) {
      this.onVenueReset(t);
      this.resync(t, BookState.RESYNCING, StatusReason.VENUE_RESET);
      return;
    }
    if (u <= t.lastU) this.duplicates++;
    else this.gaps++;
    this.gapLog.hit(`${t.market} ${t.topic}: u ${u} after ${t.lastU}`);
    this.resync(t, BookState.RESYNCING, StatusReason.SEQUENCE_GAP);
  }

  /** u = 1: the service restarted or the tick/lot changed (full-ob.mdx table, §4.4): re-check the instrument. */
  private onVenueReset(t: TopicState): void {
    this.venueResets++;
    this.log.warn("bybit: u reset to 1 (service restart or instrument change)", { market: t.market, topic: t.topic, lastU: t.lastU });
    this.recheckInstrument(t);
  }

  onParseError(conn: BybitConnection, entry: number, code: number, frame: string): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.parseErrorsByCode.set(name, (this.parseErrorsByCode.get(name) ?? 0) + 1);
    let t = entry >= 0 ? conn.byTopic.get(conn.table.topics[entry]!) : undefined;
    t ??= topicNamedIn(conn, frame);
    this.parseErrorLog.hit(`${name} at ${conn.scanner.errorPos} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    if (!t) {
      // Unreadable down to its topic: the lost message may have been an update of any book on this connection,
      // so none of them can be trusted until its next snapshot; or it may have been the snapshot a subscribed
      // topic is waiting for (just subscribed, or mid-resync), after which only deltas would come. Every such
      // topic gets a fresh snapshot, except ones whose resync is already waiting out its backoff or unsubscribing.
      this.unattributedParseErrors++;
      for (const x of conn.topics) {
        if ((x.sub === SUB_ACTIVE || x.sub === SUB_PENDING) && x.book !== BookState.HALTED && !x.resyncDelayed) {
          this.resync(x, BookState.RESYNCING, StatusReason.PARSE_ERROR);
        }
      }
      return;
    }
    if (t.sub === SUB_REJECTED) return;
    // In flight from before a resync already under way (or waiting out its backoff): nothing new to do.
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.resyncDelayed) return;
    if (code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY) this.recheckInstrument(t);
    this.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /**
   * Marks the book untrusted (once per state change) and re-requests a snapshot for this topic only, with a per-topic
   * backoff: the first resync goes out at once; while the topic keeps failing (not live for resyncBackoffResetMs in
   * between) each further one is unsubscribed at once but subscribed again only after base · 2^(n-1) ms, capped,
   * with equal jitter. The lifecycle's housekeeping sends the delayed subscribe; until then the book stays invalid.
   */
  private resync(t: TopicState, state: BookState, reason: StatusReason): void {
    const now = this.now();
    const liveForMs = t.liveSinceMs >= 0 && t.book === BookState.LIVE ? now - t.liveSinceMs : -1;
    this.invalidate(t, state, reason);
    if (t.resyncDelayed) return; // one resync is already waiting: the book stays invalid until it is done
    this.resyncs++;
    t.resyncs++;
    if (liveForMs >= this.resyncResetMs) t.resyncAttempt = 0;
    const attempt = t.resyncAttempt++;
    // Replay asks no server: a resync just waits for the capture's next snapshot, so there is nothing to back off.
    if (attempt > 0 && !this.replaying) {
      const exp = Math.min(this.resyncMaxMs, this.resyncBaseMs * 2 ** Math.min(attempt - 1, 30));
      const delay = exp / 2 + (this.random() * exp) / 2;
      t.resyncDelayed = true;
      t.resyncDueMs = now + delay;
      this.resyncsDelayed++;
      this.resyncDelayLog.hit(`${t.market} ${t.topic}: ${STATUS_REASON_NAMES[reason]}, resync ${attempt + 1} in a row, next subscribe in ${Math.round(delay)} ms`);
    }
    this.control.restartTopic(t);
  }

  private invalidate(t: TopicState, state: BookState, reason: StatusReason): void {
    t.lastU = 0;
    t.liveSinceMs = -1;
    if (t.book === state) return;
    const wasNeverLive = t.book === BookState.AWAITING_SNAPSHOT && state !== BookState.HALTED;
    t.book = state;
    if (wasNeverLive && reason === StatusReason.DISCONNECTED) return;
    this.log.debug("bybit: book invalid", { market: t.market, topic: t.topic, state: BOOK_STATE_NAMES[state], reason: STATUS_REASON_NAMES[reason] });
    this.sink?.onBookInvalid(t.index, state, reason);
  }

  /** A frame that is not an order book (from connection.ts). Cold. */
  onControl(conn: BybitConnection, msg: unknown): void {
    this.control.onControl(conn, msg);
  }

  /** Asks REST for one instrument; on a tick/lot change, swaps exponents, tells the sink, resyncs the topic. */
  private recheckInstrument(t: TopicState): void {
    if (!this.recheck || t.checkingInstrument || this.config.overrides.has(`${t.market}:${t.symbol}`)) return;
    t.checkingInstrument = true;
    void (async () => {
      try {
        const specs = await fetchInstrumentSpecs(this.fetchFn, this.config.restUrl, t.market, [t.symbol], t.symbol);
        const spec = specs.get(t.symbol);
        const cur = this.instruments?.[t.index];
        if (!spec || !cur || this.lifecycle.stopping) return;
        if (spec.tickSize === cur.tickSize && spec.lotSize === cur.lotSize) return;
        const inst = makeInstrument(this.config, t.market, t.symbol, spec);
        this.instruments![t.index] = inst;
        t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
        this.instrumentChanges++;
        this.log.warn("bybit: instrument changed", { market: t.market, symbol: t.symbol, from: `${cur.tickSize}/${cur.lotSize}`, to: `${spec.tickSize}/${spec.lotSize}` });
        this.invalidate(t, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
        this.sink?.onInstrumentChanged(t.index, inst);
        this.resyncs++;
        t.resyncs++;
        t.resyncDelayed = false; // new exponents: worth a snapshot now, whatever the backoff said
        this.control.restartTopic(t);
        if (this.config.instrumentCachePath) {
          const cache = await readInstrumentCache(this.config.instrumentCachePath).catch(() => new Map());
          cache.set(`${t.market}:${t.symbol}`, spec);
          await writeInstrumentCache(this.config.instrumentCachePath, cache);
        }
      } catch (err) {
        this.log.warn("bybit: instrument re-check failed", { market: t.market, symbol: t.symbol, error: String(err) });
      } finally {
        t.checkingInstrument = false;
      }
    })();
  }
}

/** Cold: the connection's topic whose name appears quoted in a frame the scanner could not attribute, if any. */
function topicNamedIn(conn: BybitConnection, frame: string): TopicState | undefined {
  for (const t of conn.topics) if (frame.includes(`"${t.topic}"`)) return t;
  return undefined;
}
