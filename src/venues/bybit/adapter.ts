// HOT PATH: no allocation (BybitAdapter.onBook, called by connection.ts per frame; everything else here is cold)
/**
 * The Bybit v5 venue adapter: connections per market within the documented limits, subscribe/ack bookkeeping,
 * heartbeats, reconnects, and the per-topic sequencing rule (shared/docs/bybit-v5.md §4.4):
 * a snapshot resets the book; a delta must carry u = last u + 1, otherwise that topic alone is resynced
 * (unsubscribe, wait for the ack, subscribe: a duplicate subscribe would poison its batch, §6.3); u = 1 is a venue
 * reset and triggers an instrument re-check (a tick-size change restarts u at 1); a snapshot repeating the last u
 * (level 1 re-pushes every 3 s, §4.2) changes nothing; deltas before the first snapshot are ignored and counted.
 * The topic → index map is built at subscribe time and only read on the hot path.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BOOK_STATE_NAMES, BookState, STATUS_REASON_NAMES, StatusReason, type Instrument, type MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { BookSink, Subscription, VenueAdapter } from "../venue.ts";
import { fetchInstrumentSpecs, makeInstrument, readInstrumentCache, resolveInstruments, writeInstrumentCache } from "./instruments.ts";
import {
  ACK_TIMEOUT_MS,
  BYBIT_DEPTHS,
  CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW,
  MAX_ARGS_CHARS_PER_CONNECTION,
  OPTION_MAX_ARGS_PER_CONNECTION,
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_MS,
  RECONNECT_MAX_MS,
  bookTopic,
  classifyControl,
  maxArgsPerRequest,
  parseAckError,
} from "./protocol.ts";
import {
  BybitConnection,
  SUB_ACTIVE,
  SUB_IDLE,
  SUB_PENDING,
  SUB_REJECTED,
  SUB_UNSUBSCRIBING,
  TopicState,
} from "./connection.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES } from "./scanner.ts";

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
  /** How long a subscribed topic may stay silent before it is marked stale and resynced. */
  staleAfterMs?: (depth: number, market: MarketName) => number;
  /** Period of the housekeeping timer (pings, deadlines, staleness). Defaults to a fraction of the smallest interval. */
  housekeepingMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
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
  /** Called with every raw frame received, before parsing (feeder record). */
  onRawFrame?: RawFrameTap;
}

/**
 * Level 1 re-pushes its snapshot every 3 s even when nothing changes (§4.2); deeper topics push only on change,
 * so a quiet book is not necessarily a dead one: their default is generous.
 */
export function defaultStaleAfterMs(depth: number, market: MarketName): number {
  if (market !== "option" && depth === 1) return 10_000;
  return market === "option" ? 300_000 : 60_000;
}

export class BybitAdapter implements VenueAdapter {
  readonly venue;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly staleAfter: (depth: number, market: MarketName) => number;
  private readonly housekeepingMs: number;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly maxConnectsPerWindow: number;
  private readonly connectWindowMs: number;
  private readonly argsPerRequestOverride: number | undefined;
  private readonly recheck: boolean;
  /** See BybitAdapterOptions.onRawFrame; read by every connection on the hot path. */
  readonly rawFrameTap: RawFrameTap | undefined;

  private readonly topics: TopicState[] = [];
  private readonly conns: BybitConnection[] = [];
  private instruments: Instrument[] | null = null;
  private sink: BookSink | null = null;
  private housekeeping: ReturnType<typeof setInterval> | null = null;
  private readonly connectTimesMs: number[] = [];
  private stopping = false;
  private reqSeq = 0;
  private readonly parseErrorLog: RateLimitedLog;
  private readonly gapLog: RateLimitedLog;

  // Counters (hot increments, cold reads).
  private snapshots = 0;
  private deltas = 0;
  private gaps = 0;
  private duplicates = 0;
  private resyncs = 0;
  private ignoredBeforeSnapshot = 0;
  private ignoredWhileUnsubscribed = 0;
  private repeatedSnapshots = 0;
  private venueResets = 0;
  private staleResyncs = 0;
  private subscribeRejected = 0;
  private subscribeRetries = 0;
  private argsSizeErrors = 0;
  private alreadySubscribed = 0;
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
    this.random = opts.random ?? Math.random;
    this.pingIntervalMs = opts.pingIntervalMs ?? PING_INTERVAL_MS;
    this.pongTimeoutMs = opts.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.staleAfter = opts.staleAfterMs ?? defaultStaleAfterMs;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? RECONNECT_BASE_MS;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? RECONNECT_MAX_MS;
    this.maxConnectsPerWindow = opts.maxConnectsPerWindow ?? CONNECTS_PER_WINDOW;
    this.connectWindowMs = opts.connectWindowMs ?? CONNECT_WINDOW_MS;
    this.argsPerRequestOverride = opts.maxArgsPerRequest;
    this.recheck = opts.recheckInstruments ?? true;
    this.rawFrameTap = opts.onRawFrame;
    this.parseErrorLog = new RateLimitedLog(this.log, "warn", "bybit: order-book frames rejected");
    this.gapLog = new RateLimitedLog(this.log, "warn", "bybit: sequence gaps; topics resynced");
    let minStale = Infinity;
    for (const s of subscriptions) minStale = Math.min(minStale, this.staleAfter(s.depth, s.market));
    this.housekeepingMs =
      opts.housekeepingMs ?? Math.max(10, Math.min(1000, this.pingIntervalMs / 4, this.pongTimeoutMs / 4, this.ackTimeoutMs / 4, minStale / 4));
    this.assignConnections(opts.maxTopicsPerConnection ?? Infinity);
  }

  /** Spreads topics of each market over connections: ≤ 21,000 args characters, ≤ 2000 args on option (§2.3). */
  private assignConnections(maxTopics: number): void {
    const seen = new Set<string>();
    const current = new Map<MarketName, BybitConnection>();
    const base = this.config.wsUrl.replace(/\/+$/, "");
    this.subscriptions.forEach((s, index) => {
      const topic = bookTopic(s.depth, s.symbol);
      const key = `${s.market}|${topic}`;
      if (seen.has(key)) throw new Error(`bybit: ${s.market} ${topic} is subscribed twice`);
      seen.add(key);
      const argChars = JSON.stringify(topic).length + 1;
      const limit = Math.min(maxTopics, s.market === "option" ? OPTION_MAX_ARGS_PER_CONNECTION : Infinity);
      let conn = current.get(s.market);
      if (!conn || conn.argsChars + argChars > MAX_ARGS_CHARS_PER_CONNECTION || conn.topics.length >= limit) {
        conn = new BybitConnection(this, this.conns.length, s.market, `${base}/${s.market}`);
        this.conns.push(conn);
        current.set(s.market, conn);
      }
      const t = new TopicState(index, s.market, s.symbol, s.depth, topic, conn);
      conn.argsChars += argChars;
      conn.topics.push(t);
      conn.byTopic.set(topic, t);
      this.topics.push(t);
    });
  }

  async loadInstruments(): Promise<Instrument[]> {
    const instruments = await resolveInstruments(this.config, this.subscriptions, this.fetchFn, this.log);
    this.instruments = instruments;
    return instruments;
  }

  start(sink: BookSink): void {
    if (!this.instruments) throw new Error("bybit: start() before loadInstruments()");
    if (this.sink) throw new Error("bybit: start() called twice");
    this.sink = sink;
    for (const t of this.topics) {
      const inst = this.instruments[t.index]!;
      t.entry = t.conn.table.add(t.topic, t.index, inst.priceExp, inst.qtyExp);
      if (!BYBIT_DEPTHS[t.market].includes(t.depth)) {
        // Not fatal: the venue's answer is authoritative and is reported per topic when it comes.
        this.log.warn("depth not in the documented list; Bybit will probably reject it", { market: t.market, topic: t.topic, valid: BYBIT_DEPTHS[t.market] });
      }
    }
    for (const conn of this.conns) this.scheduleConnect(conn, 0);
    this.housekeeping = setInterval(() => this.onHousekeeping(), this.housekeepingMs);
    this.log.info("bybit adapter started", { connections: this.conns.length, topics: this.topics.length });
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
    for (const t of this.topics) {
      const inst = this.instruments[t.index]!;
      t.entry = t.conn.table.add(t.topic, t.index, inst.priceExp, inst.qtyExp);
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

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.housekeeping = null;
    const closing: Promise<void>[] = [];
    for (const conn of this.conns) {
      if (conn.reconnectTimer) clearTimeout(conn.reconnectTimer);
      conn.reconnectTimer = null;
      const ws = conn.ws;
      conn.ws = null;
      conn.open = false;
      conn.generation++;
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

  stats(): Record<string, number> {
    const out: Record<string, number> = {
      connections: this.conns.length,
      connectionsOpen: this.conns.filter((c) => c.open).length,
      topics: this.topics.length,
      topicsLive: this.topics.filter((t) => t.book === BookState.LIVE).length,
      snapshots: this.snapshots,
      deltas: this.deltas,
      gaps: this.gaps,
      duplicates: this.duplicates,
      resyncs: this.resyncs,
      ignoredBeforeSnapshot: this.ignoredBeforeSnapshot,
      ignoredWhileUnsubscribed: this.ignoredWhileUnsubscribed,
      repeatedSnapshots: this.repeatedSnapshots,
      venueResets: this.venueResets,
      staleResyncs: this.staleResyncs,
      subscribeRejected: this.subscribeRejected,
      subscribeRetries: this.subscribeRetries,
      argsSizeErrors: this.argsSizeErrors,
      alreadySubscribed: this.alreadySubscribed,
      instrumentChanges: this.instrumentChanges,
      messages: 0,
      bytes: 0,
      parseErrors: 0,
      fallbacks: 0,
      unknownTopic: 0,
      reconnects: 0,
      pongTimeouts: 0,
      ackTimeouts: 0,
    };
    for (const [code, n] of this.parseErrorsByCode) out[`parseErrors.${code}`] = n;
    for (const c of this.conns) {
      const p = `conn${c.id}.${c.market}.`;
      out[p + "open"] = c.open ? 1 : 0;
      out[p + "topics"] = c.topics.length;
      out[p + "messages"] = c.messages;
      out[p + "bytes"] = c.bytes;
      out[p + "parseErrors"] = c.parseErrors;
      out[p + "reconnects"] = c.reconnects;
      out[p + "pongTimeouts"] = c.pongTimeouts;
      out.messages! += c.messages;
      out.bytes! += c.bytes;
      out.parseErrors! += c.parseErrors;
      out.fallbacks! += c.fallbacks;
      out.unknownTopic! += c.unknownTopic;
      out.reconnects! += c.reconnects;
      out.pongTimeouts! += c.pongTimeouts;
      out.ackTimeouts! += c.ackTimeouts;
    }
    return out;
  }

  /** Cold: the adapter's view of one subscription, for tests and diagnostics. */
  topicInfo(index: number): { state: string; lastU: number; subscribed: boolean; rejected: boolean; connection: number; resyncs: number } {
    const t = this.topics[index]!;
    return {
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
    t.lastMsgMs = this.now();
    if (t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.sub === SUB_REJECTED) {
      this.ignoredWhileUnsubscribed++; // in flight before an unsubscribe took effect
      return;
    }
    const u = update.venueSeq;
    if (update.isSnapshot) {
      if (t.book === BookState.LIVE && u === t.lastU) {
        this.repeatedSnapshots++; // level-1 re-push with the same u (§4.2): nothing changed
        return;
      }
      if (u === 1 && t.lastU > 1) this.onVenueReset(t);
      this.snapshots++;
      t.lastU = u;
      t.book = BookState.LIVE;
      this.sink!.onBookUpdate(index, update);
      return;
    }
    if (t.book !== BookState.LIVE) {
      this.ignoredBeforeSnapshot++;
      return;
    }
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
    const t = entry >= 0 ? conn.byTopic.get(conn.table.topics[entry]!) : undefined;
    this.parseErrorLog.hit(`${name} at ${conn.scanner.errorPos} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    if (!t || t.sub === SUB_REJECTED) return; // no topic: the lost message shows up as a gap on the next delta
    if (code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY) this.recheckInstrument(t);
    this.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /** Marks the book untrusted (once per state change) and re-requests a snapshot for this topic only. */
  private resync(t: TopicState, state: BookState, reason: StatusReason): void {
    this.resyncs++;
    t.resyncs++;
    this.invalidate(t, state, reason);
    this.restartTopic(t);
  }

  private invalidate(t: TopicState, state: BookState, reason: StatusReason): void {
    t.lastU = 0;
    if (t.book === state) return;
    const wasNeverLive = t.book === BookState.AWAITING_SNAPSHOT && state !== BookState.HALTED;
    t.book = state;
    if (wasNeverLive && reason === StatusReason.DISCONNECTED) return;
    this.log.debug("bybit: book invalid", { market: t.market, topic: t.topic, state: BOOK_STATE_NAMES[state], reason: STATUS_REASON_NAMES[reason] });
    this.sink?.onBookInvalid(t.index, state, reason);
  }

  /** Gets a fresh snapshot: unsubscribe, wait for the ack, subscribe (never a duplicate subscribe, §6.3). */
  private restartTopic(t: TopicState): void {
    const conn = t.conn;
    switch (t.sub) {
      case SUB_ACTIVE:
        if (!conn.open) return;
        t.resubscribeAfterUnsub = true;
        this.sendRequest(conn, "unsubscribe", [t]);
        return;
      case SUB_PENDING:
        t.resyncAfterAck = true;
        return;
      case SUB_UNSUBSCRIBING:
        t.resubscribeAfterUnsub = true;
        return;
      case SUB_IDLE:
        if (conn.open) this.sendRequest(conn, "subscribe", [t]);
        return;
      default:
        return; // rejected: nothing to do
    }
  }

  private sendRequest(conn: BybitConnection, op: "subscribe" | "unsubscribe", topics: TopicState[]): void {
    if (topics.length === 0 || !conn.ws || !conn.open) return;
    const perRequest = this.argsPerRequestOverride ?? maxArgsPerRequest(conn.market);
    const now = this.now();
    for (let i = 0; i < topics.length; i += perRequest) {
      const batch = topics.slice(i, i + perRequest);
      const reqId = `${op === "subscribe" ? "s" : "u"}${++this.reqSeq}`;
      for (const t of batch) {
        t.sub = op === "subscribe" ? SUB_PENDING : SUB_UNSUBSCRIBING;
        if (op === "subscribe") t.lastMsgMs = now; // staleness counts from the request
      }
      conn.pending.set(reqId, { reqId, op, topics: batch, sentMs: now });
      this.send(conn, JSON.stringify({ req_id: reqId, op, args: batch.map((t) => t.topic) }));
    }
  }

  private send(conn: BybitConnection, text: string): void {
    try {
      conn.ws?.send(text);
    } catch (err) {
      this.log.warn("bybit: send failed", { conn: conn.id, error: String(err) });
    }
  }

  onControl(conn: BybitConnection, msg: unknown): void {
    const c = classifyControl(msg);
    if (c.kind === "pong") {
      conn.pongs++;
      conn.pongDeadlineMs = 0;
      return;
    }
    if (c.kind === "other") {
      this.log.debug("bybit: unhandled frame", { conn: conn.id, frame: JSON.stringify(msg).slice(0, 200) });
      return;
    }
    if ((c.successTopics && c.successTopics.length > 0) || (c.failTopics && c.failTopics.length > 0)) {
      this.onTopicAck(conn, c.successTopics ?? [], c.failTopics ?? [], c.retMsg);
      return;
    }
    let req = c.reqId !== undefined ? conn.pending.get(c.reqId) : undefined;
    if (!req) {
      // Acks without req_id (spot examples omit it, §2.2): the oldest request with that op.
      for (const p of conn.pending.values()) {
        if (c.op === "" || p.op === c.op) {
          req = p;
          break;
        }
      }
    }
    if (!req) {
      this.log.debug("bybit: ack for no pending request", { conn: conn.id, reqId: c.reqId, op: c.op, retMsg: c.retMsg });
      return;
    }
    conn.pending.delete(req.reqId);
    if (c.success) {
      for (const t of req.topics) this.onTopicConfirmed(conn, t, req.op);
      if (req.op === "subscribe") conn.attempt = 0; // the connection works: reset the backoff
      return;
    }
    if (req.op === "unsubscribe") {
      // Not subscribed after all (e.g. it never took effect): proceed as if unsubscribed.
      this.log.warn("bybit: unsubscribe rejected; treating topics as unsubscribed", { conn: conn.id, retMsg: c.retMsg, topics: req.topics.map((t) => t.topic) });
      for (const t of req.topics) this.onTopicConfirmed(conn, t, "unsubscribe");
      return;
    }
    this.onSubscribeFailed(conn, req.topics, c.retMsg);
  }

  /** Option COMMAND_RESP: per-topic success and failure lists (§2.2). */
  private onTopicAck(conn: BybitConnection, ok: string[], failed: string[], retMsg: string): void {
    const resolve = (name: string): TopicState | undefined => {
      const t = conn.byTopic.get(name);
      if (!t) return undefined;
      for (const [id, p] of conn.pending) {
        const i = p.topics.indexOf(t);
        if (i >= 0) {
          p.topics.splice(i, 1);
          if (p.topics.length === 0) conn.pending.delete(id);
          break;
        }
      }
      return t;
    };
    for (const name of ok) {
      const t = resolve(name);
      if (t) this.onTopicConfirmed(conn, t, t.sub === SUB_UNSUBSCRIBING ? "unsubscribe" : "subscribe");
    }
    for (const name of failed) {
      const t = resolve(name);
      if (!t) continue;
      if (t.sub === SUB_UNSUBSCRIBING) this.onTopicConfirmed(conn, t, "unsubscribe");
      else this.reject(t, retMsg || "listed in failTopics");
    }
  }

  private onTopicConfirmed(conn: BybitConnection, t: TopicState, op: "subscribe" | "unsubscribe"): void {
    if (op === "subscribe") {
      if (t.sub !== SUB_PENDING) return;
      t.sub = SUB_ACTIVE;
      conn.attempt = 0;
      if (t.resyncAfterAck) {
        t.resyncAfterAck = false;
        if (t.book !== BookState.LIVE) this.restartTopic(t);
      }
      return;
    }
    if (t.sub !== SUB_UNSUBSCRIBING) return;
    t.sub = SUB_IDLE;
    if (t.resubscribeAfterUnsub) {
      t.resubscribeAfterUnsub = false;
      this.sendRequest(conn, "subscribe", [t]);
    }
  }

  /**
   * A rejected subscribe batch (§2.4): the named topic is dealt with, the rest of the batch is sent again, so one bad
   * topic never takes its batch or its connection down. Each retry removes at least one topic, so this ends.
   */
  private onSubscribeFailed(conn: BybitConnection, topics: TopicState[], retMsg: string): void {
    const err = parseAckError(retMsg);
    const named = "topic" in err ? topics.find((t) => t.topic === err.topic) : undefined;
    if (err.kind === "handler_not_found" && named) {
      this.reject(named, retMsg);
      this.retry(conn, topics.filter((t) => t !== named));
      return;
    }
    if (err.kind === "already_subscribed" && named) {
      // Subscribed on the venue side after all. Our book is not live, so get a fresh snapshot the safe way.
      this.alreadySubscribed++;
      named.sub = SUB_ACTIVE;
      if (named.book !== BookState.LIVE) this.restartTopic(named);
      this.retry(conn, topics.filter((t) => t !== named));
      return;
    }
    if (err.kind === "args_size" && topics.length > 1) {
      this.argsSizeErrors++;
      const half = Math.ceil(topics.length / 2);
      this.retry(conn, topics.slice(0, half));
      this.retry(conn, topics.slice(half));
      return;
    }
    if (topics.length > 1) {
      // Unknown reason for a batch: find the culprit by trying each topic alone.
      for (const t of topics) this.retry(conn, [t]);
      return;
    }
    if (topics.length === 1) this.reject(topics[0]!, retMsg);
  }

  private retry(conn: BybitConnection, topics: TopicState[]): void {
    const again = topics.filter((t) => t.sub === SUB_PENDING);
    if (again.length === 0) return;
    this.subscribeRetries++;
    for (const t of again) t.sub = SUB_IDLE;
    this.sendRequest(conn, "subscribe", again);
  }

  /** Gives up on a topic the venue refuses; its book is halted with SUBSCRIBE_REJECTED. */
  private reject(t: TopicState, retMsg: string): void {
    if (t.sub === SUB_REJECTED) return;
    this.subscribeRejected++;
    t.sub = SUB_REJECTED;
    this.log.error("bybit: subscription rejected; this book will not be published", {
      market: t.market,
      topic: t.topic,
      venueMessage: retMsg,
      hint: `valid ${t.market} depths: ${BYBIT_DEPTHS[t.market].join(", ")}; check that the symbol is listed and trading`,
    });
    this.invalidate(t, BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED);
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
        if (!spec || !cur || this.stopping) return;
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
        this.restartTopic(t);
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

  // ───────────────────────── connections ─────────────────────────

  private scheduleConnect(conn: BybitConnection, delayMs: number): void {
    if (this.stopping) return;
    const wait = Math.max(delayMs, this.connectBudgetWaitMs());
    if (wait <= 0) {
      this.connect(conn);
      return;
    }
    conn.reconnectTimer = setTimeout(() => {
      conn.reconnectTimer = null;
      this.scheduleConnect(conn, 0);
    }, wait);
  }

  /** Sliding-window connection budget shared by all connections (Bybit counts per domain, §2.3). */
  private connectBudgetWaitMs(): number {
    const now = this.now();
    const times = this.connectTimesMs;
    while (times.length > 0 && now - times[0]! >= this.connectWindowMs) times.shift();
    return times.length < this.maxConnectsPerWindow ? 0 : times[0]! + this.connectWindowMs - now;
  }

  private connect(conn: BybitConnection): void {
    if (this.stopping) return;
    conn.connectStartedMs = this.now();
    this.connectTimesMs.push(conn.connectStartedMs);
    conn.connects++;
    const gen = ++conn.generation;
    let ws: WebSocket;
    try {
      ws = new WebSocket(conn.url);
    } catch (err) {
      this.log.error("bybit: cannot open WebSocket", { url: conn.url, error: String(err) });
      this.onDisconnected(conn, gen, "open failed");
      return;
    }
    conn.ws = ws;
    ws.onopen = () => {
      if (gen !== conn.generation) return;
      conn.open = true;
      conn.openedMs = this.now();
      conn.lastPingMs = conn.openedMs;
      conn.pongDeadlineMs = 0;
      this.log.info("bybit: connected", { conn: conn.id, url: conn.url, topics: conn.topics.length });
      const toSubscribe = conn.topics.filter((t) => t.sub === SUB_IDLE);
      this.sendRequest(conn, "subscribe", toSubscribe);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== conn.generation) return;
      const data = ev.data;
      conn.onFrame(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer));
    };
    ws.onclose = (ev: CloseEvent) => {
      this.onDisconnected(conn, gen, `close ${ev.code} ${ev.reason}`);
    };
    ws.onerror = () => {
      // onclose follows; nothing else to do here.
    };
  }

  /** Connection lost (or recycled): every book on it is invalid until its new snapshot; reconnect with backoff. */
  private onDisconnected(conn: BybitConnection, gen: number, why: string): void {
    if (gen !== conn.generation || this.stopping) return;
    conn.generation++; // ignore anything else from that socket
    const ws = conn.ws;
    conn.ws = null;
    const wasOpen = conn.open;
    conn.open = false;
    conn.pending.clear();
    conn.pongDeadlineMs = 0;
    if (ws && ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING) {
      try {
        ws.close(4000, "recycled");
      } catch {
        // already gone
      }
    }
    for (const t of conn.topics) {
      if (t.sub === SUB_REJECTED) continue;
      t.sub = SUB_IDLE;
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      if (t.book === BookState.LIVE || t.book === BookState.STALE) this.invalidate(t, BookState.RESYNCING, StatusReason.DISCONNECTED);
      t.lastU = 0;
    }
    conn.reconnects++;
    const delay = this.backoffMs(conn);
    this.log.warn("bybit: disconnected; reconnecting", { conn: conn.id, market: conn.market, why, wasOpen, delayMs: Math.round(delay) });
    this.scheduleConnect(conn, delay);
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so reconnects of many clients spread out. */
  private backoffMs(conn: BybitConnection): number {
    const exp = Math.min(this.reconnectMaxMs, this.reconnectBaseMs * 2 ** Math.min(conn.attempt, 30));
    conn.attempt++;
    return exp / 2 + (this.random() * exp) / 2;
  }

  /** Pings, pong deadlines, ack deadlines, stale topics. Cold, runs every housekeepingMs. */
  private onHousekeeping(): void {
    if (this.stopping) return;
    const now = this.now();
    for (const conn of this.conns) {
      if (!conn.open && conn.ws && now - conn.connectStartedMs > this.ackTimeoutMs) {
        // A handshake that neither completes nor fails (e.g. a black-holed SYN) must not stall the topics forever.
        this.onDisconnected(conn, conn.generation, `WebSocket handshake not done within ${this.ackTimeoutMs} ms`);
        continue;
      }
      if (!conn.open || !conn.ws) continue;
      if (conn.pongDeadlineMs !== 0 && now > conn.pongDeadlineMs) {
        conn.pongTimeouts++;
        this.onDisconnected(conn, conn.generation, `no pong within ${this.pongTimeoutMs} ms`);
        continue;
      }
      let expired = false;
      for (const p of conn.pending.values()) {
        if (now - p.sentMs > this.ackTimeoutMs) {
          expired = true;
          break;
        }
      }
      if (expired) {
        conn.ackTimeouts++;
        this.onDisconnected(conn, conn.generation, `no ack within ${this.ackTimeoutMs} ms`);
        continue;
      }
      if (now - conn.lastPingMs >= this.pingIntervalMs) {
        conn.lastPingMs = now;
        if (conn.pongDeadlineMs === 0) conn.pongDeadlineMs = now + this.pongTimeoutMs;
        this.send(conn, JSON.stringify({ req_id: `p${++this.reqSeq}`, op: "ping" }));
      }
      for (const t of conn.topics) {
        if (t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) continue;
        if (now - t.lastMsgMs <= this.staleAfter(t.depth, t.market)) continue;
        this.staleResyncs++;
        this.log.warn("bybit: topic stale; resyncing", { market: t.market, topic: t.topic, silentMs: now - t.lastMsgMs });
        t.lastMsgMs = now;
        this.resync(t, BookState.STALE, StatusReason.STALE_FEED);
      }
    }
  }
}
