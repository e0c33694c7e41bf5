/**
 * Opening, watching and reopening the Bybit adapter's WebSocket connections (cold): a connection budget shared by
 * all connections (§2.3), reconnects with jittered exponential backoff, and a housekeeping timer for pings, pong
 * and ack deadlines, stuck handshakes and silent topics. Book state stays with the adapter, reached via hooks.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { VenueConfig } from "../../config/types.ts";
import { BookState, StatusReason, type MarketName } from "../../core/types.ts";
import {
  ACK_TIMEOUT_MS,
  CONNECT_WINDOW_MS,
  CONNECTS_PER_WINDOW,
  PING_INTERVAL_MS,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_MS,
  RECONNECT_MAX_MS,
  RECONNECT_RESET_AFTER_MS,
  RESYNC_BACKOFF_BASE_MS,
} from "./protocol.ts";
import type { BybitAdapterOptions } from "./adapter.ts";
import { type BybitConnection, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, type TopicState } from "./connection.ts";
import type { InvalidateTopic, SubscriptionControl } from "./subscription-control.ts";

/** The options this module reads (documented on BybitAdapterOptions). */
export type LifecycleOptions = Pick<
  BybitAdapterOptions,
  | "log"
  | "now"
  | "random"
  | "pingIntervalMs"
  | "pongTimeoutMs"
  | "ackTimeoutMs"
  | "staleAfterMs"
  | "housekeepingMs"
  | "reconnectBaseMs"
  | "reconnectMaxMs"
  | "reconnectResetAfterMs"
  | "resyncBackoffBaseMs"
  | "maxConnectsPerWindow"
  | "connectWindowMs"
>;

/** What the lifecycle asks of the adapter, which owns book state and sequencing. */
export interface LifecycleHooks {
  invalidate: InvalidateTopic;
  /** Invalidates and re-requests a snapshot for one topic. */
  resync: (t: TopicState, state: BookState, reason: StatusReason) => void;
}

/**
 * Default silence before a topic is stale, from the documented cadences (§4.1, §4.2). Level 1 re-pushes its
 * snapshot every 3 s even when nothing changes, so 10 s (three missed re-pushes) is certainly a fault. Deeper
 * topics push only when the book changes (their 20–200 ms push interval bounds batching, not silence), so a quiet
 * book is not necessarily a dead one: 60 s for spot and futures, 300 s for options, whose books are often
 * illiquid. A deployment with busy symbols tightens this per market (`stale_after_ms`, see staleAfterFromConfig).
 */
export function defaultStaleAfterMs(depth: number, market: MarketName): number {
  if (market !== "option" && depth === 1) return 10_000;
  return market === "option" ? 300_000 : 60_000;
}

/** The configured per-market thresholds (`[venues.bybit.<market>] stale_after_ms`, 0 = default), else the defaults. */
export function staleAfterFromConfig(config: VenueConfig): (depth: number, market: MarketName) => number {
  const byMarket = new Map<MarketName, number>();
  for (const m of config.markets) if (m.staleAfterMs !== undefined && m.staleAfterMs > 0) byMarket.set(m.market, m.staleAfterMs);
  if (byMarket.size === 0) return defaultStaleAfterMs;
  return (depth, market) => byMarket.get(market) ?? defaultStaleAfterMs(depth, market);
}

export class ConnectionLifecycle {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly staleAfter: (depth: number, market: MarketName) => number;
  private readonly housekeepingMs: number;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly reconnectResetAfterMs: number;
  /** Connects allowed per connectWindowMs (this process's share of the venue's per-IP budget). */
  readonly maxConnectsPerWindow: number;
  private readonly connectWindowMs: number;
  /** Start times of recent connects, oldest first (the sliding window of the connection budget). */
  private readonly connectTimesMs: number[] = [];
  private housekeeping: ReturnType<typeof setInterval> | null = null;
  private stoppingFlag = false;
  /** Counter (cold), read by the adapter's stats(). */
  staleResyncs = 0;

  constructor(
    private readonly conns: readonly BybitConnection[],
    private readonly control: SubscriptionControl,
    private readonly hooks: LifecycleHooks,
    opts: LifecycleOptions,
  ) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.pingIntervalMs = opts.pingIntervalMs ?? PING_INTERVAL_MS;
    this.pongTimeoutMs = opts.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.staleAfter = opts.staleAfterMs ?? defaultStaleAfterMs;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? RECONNECT_BASE_MS;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? RECONNECT_MAX_MS;
    this.reconnectResetAfterMs = opts.reconnectResetAfterMs ?? RECONNECT_RESET_AFTER_MS;
    const resyncBaseMs = opts.resyncBackoffBaseMs ?? RESYNC_BACKOFF_BASE_MS;
    this.maxConnectsPerWindow = opts.maxConnectsPerWindow ?? CONNECTS_PER_WINDOW;
    this.connectWindowMs = opts.connectWindowMs ?? CONNECT_WINDOW_MS;
    let minStale = Infinity;
    for (const conn of conns) for (const t of conn.topics) minStale = Math.min(minStale, this.staleAfter(t.depth, t.market));
    // Fine enough for the shortest deadline, including the first delayed resync (base / 2 at the earliest).
    this.housekeepingMs =
      opts.housekeepingMs ??
      Math.max(10, Math.min(1000, this.pingIntervalMs / 4, this.pongTimeoutMs / 4, this.ackTimeoutMs / 4, minStale / 4, resyncBaseMs));
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
    this.housekeeping = setInterval(() => this.onHousekeeping(), this.housekeepingMs);
  }

  /** Stops housekeeping and reconnects and closes every socket; resolves when they are closed (≤ 1 s each). */
  async stop(): Promise<void> {
    this.stoppingFlag = true;
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

  private scheduleConnect(conn: BybitConnection, delayMs: number): void {
    if (this.stoppingFlag) return;
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
    if (this.stoppingFlag) return;
    conn.connectStartedMs = this.now();
    if (conn.downSinceMs === 0) conn.downSinceMs = conn.connectStartedMs; // not up yet: down since the first attempt
    this.connectTimesMs.push(conn.connectStartedMs);
    conn.connects++;
    const gen = ++conn.generation;
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
      conn.lastError = "";
      conn.downSinceMs = 0;
      conn.failedConnects = 0;
      conn.lastPingMs = conn.openedMs;
      conn.pongDeadlineMs = 0;
      this.log.info("bybit: connected", { conn: conn.id, url: conn.url, topics: conn.topics.length });
      // Topics waiting out a resync backoff are subscribed by housekeeping when their wait is over.
      const toSubscribe = conn.topics.filter((t) => t.sub === SUB_IDLE && !t.resyncDelayed);
      this.control.sendRequest(conn, "subscribe", toSubscribe);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== conn.generation) return;
      const data = ev.data;
      conn.onFrame(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer));
    };
    ws.onclose = (ev: CloseEvent) => {
      this.onDisconnected(conn, gen, `close ${ev.code} ${ev.reason}`);
    };
    ws.onerror = (ev: Event) => {
      // onclose follows and reconnects; keep the cause (OS error code: ECONNREFUSED, ENOTFOUND, TLS) for the log and /readyz.
      if (gen === conn.generation) conn.lastError = describeSocketError(ev);
    };
  }

  /** Connection lost (or recycled): every book on it is invalid until its new snapshot; reconnect with backoff. */
  private onDisconnected(conn: BybitConnection, gen: number, why: string): void {
    if (gen !== conn.generation || this.stoppingFlag) return;
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
      if (t.book === BookState.LIVE || t.book === BookState.STALE) this.hooks.invalidate(t, BookState.RESYNCING, StatusReason.DISCONNECTED);
      t.lastU = 0;
    }
    conn.reconnects++;
    // Only a connection that stayed up for a while proves the venue is fine: a server that accepts, acks and then
    // drops us keeps growing the backoff (an ack alone does not reset it).
    if (wasOpen && this.now() - conn.openedMs >= this.reconnectResetAfterMs) conn.attempt = 0;
    const delay = this.backoffMs(conn);
    if (conn.downSinceMs === 0) conn.downSinceMs = this.now();
    if (!wasOpen) {
      // Never got up: the venue cannot be reached. The first failure of a streak is an error, the retries warnings.
      conn.failedConnects++;
      if (conn.lastError === "") conn.lastError = why;
      const fields = { conn: conn.id, market: conn.market, url: conn.url, error: conn.lastError, attempts: conn.failedConnects, retryInMs: Math.round(delay) };
      if (conn.failedConnects === 1) this.log.error("bybit: cannot reach the venue; retrying", fields);
      else this.log.warn("bybit: venue still unreachable; retrying", fields);
    } else {
      if (conn.lastError === "") conn.lastError = why;
      this.log.warn("bybit: disconnected; reconnecting", { conn: conn.id, market: conn.market, url: conn.url, why, error: conn.lastError, delayMs: Math.round(delay) });
    }
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
    if (this.stoppingFlag) return;
    const now = this.now();
    for (const conn of this.conns) {
      if (!conn.used) continue; // never opened: nothing to watch
      for (const t of conn.topics) {
        if (!t.resyncDelayed || now < t.resyncDueMs) continue;
        t.resyncDelayed = false;
        // A snapshot made the book live meanwhile (the adapter clears the flag then; this is the safety net):
        // never unsubscribe and resubscribe a live book without invalidating it first.
        if (t.book === BookState.LIVE) continue;
        // Backoff over: subscribe again (now if the connection is open, otherwise when it opens).
        this.control.restartTopic(t);
      }
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
        this.control.sendPing(conn);
      }
      for (const t of conn.topics) {
        if ((t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) || t.resyncDelayed) continue;
        if (now - t.lastMsgMs <= this.staleAfter(t.depth, t.market)) continue;
        this.staleResyncs++;
        this.log.warn("bybit: topic stale; resyncing", { market: t.market, topic: t.topic, silentMs: now - t.lastMsgMs });
        t.lastMsgMs = now;
        this.hooks.resync(t, BookState.STALE, StatusReason.STALE_FEED);
      }
    }
  }
}

/** "ECONNREFUSED: WebSocket connection to '…' failed: Failed to connect" from a WebSocket error event (Bun puts the OS code on `error.code`). */
export function describeSocketError(ev: Event): string {
  const e = ev as Event & { message?: unknown; error?: { code?: unknown; message?: unknown } };
  const code = typeof e.error?.code === "string" ? e.error.code : "";
  const message = typeof e.message === "string" && e.message !== "" ? e.message : typeof e.error?.message === "string" ? e.error.message : "WebSocket error";
  return code ? `${code}: ${message}` : message;
}
