/**
 * Planned reconnects, make before break (Binance's 24 h close and `serverShutdown`, OKX notice 64008, the maximum
 * connection age), for every venue (cold). A replacement socket is opened while the old one keeps delivering; once
 * it is open it becomes the connection's socket and every topic is subscribed on it, while the old socket's frames
 * are still accepted (retiringGeneration) until the replacement carries every topic the old one served; then the
 * old socket is closed. No book leaves LIVE: both sockets carry the same per-topic sequences, a repeat is a
 * duplicate and an older snapshot is ignored.
 *
 * A replacement that fails (it does not open, an ack does not come within the ack deadline, it closes, its ping goes
 * unanswered, or it refuses a topic the old socket still serves) is abandoned while the old socket is open: the old
 * socket is the connection's socket again with its topics as they were (their sequences continue, nothing resyncs;
 * it gets a new generation, as a replacement would, so the venue treats the two streams as it does during a swap),
 * the failure is logged and counted (`plannedReconnectFailures`), and the planned reconnect is tried again after
 * the reconnect backoff. The venue's close (or a dead old socket) still forces the ordinary reconnect if it comes
 * first. If the old socket closes first, the replacement carries on alone.
 *
 * The swap waits until the old socket has no request in flight, so what the old socket serves is known exactly (its
 * ACTIVE topics: TopicState.onRetiring) and nothing it answers later can be taken for the replacement's answer.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { BookState } from "../../core/types.ts";
import { equalJitterMs } from "./backoff.ts";
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState, type VenueConnection } from "./connection.ts";
import type { SubscriptionControl } from "./subscription-control.ts";

/** What the planned reconnects need of the lifecycle (connection-lifecycle.ts). */
export interface PlannedHost {
  readonly venue: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly control: SubscriptionControl;
  readonly ackTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  stopping(): boolean;
  /** How long until the venue's connect budget allows one more connect (0 = now). */
  connectBudgetWaitMs(): number;
  takeConnect(nowMs: number): void;
  /** Installs the socket's message, close and error handlers for generation `gen`. */
  bind(conn: VenueConnection, ws: WebSocket, gen: number): void;
  /** Gets a topic its fresh start (the venue's restart, as after a resync backoff). */
  restart(t: TopicState): void;
  /** The venue still needs the old socket (its streams not yet joined by the replacement's); bounded by ackTimeoutMs. */
  awaitingJoin?(conn: VenueConnection): boolean;
  /**
   * The overlap is over. `carrier`: the socket that carries the streams on: the replacement (the old one closed), the
   * old one (gone back to: it delivered continuously, so what only the replacement brought comes again), or none (the
   * connection is recycled or stopped: its books are invalidated or no longer matter).
   */
  overlapOver?(conn: VenueConnection, carrier: OverlapCarrier): void;
}

/** Which socket carries the streams once a planned reconnect's overlap is over (PlannedHost.overlapOver). */
export type OverlapCarrier = "replacement" | "old" | "none";

export class PlannedReconnects {
  constructor(private readonly h: PlannedHost) {}

  /**
   * Starts a planned reconnect of `conn` now, or remembers it (plannedWhy) for housekeeping while a failed one's
   * backoff runs, the connect budget is spent or the socket has a request in flight. Nothing while one is under way.
   */
  start(conn: VenueConnection, why: string): void {
    const h = this.h;
    // Announced on the replacement during the overlap: that socket is to be replaced in turn (on the old one: stale).
    if (conn.retiringWs && !conn.fromRetiring) conn.plannedNextWhy = why;
    if (!conn.open || !conn.ws || conn.replacing || conn.retiringWs || h.stopping()) return;
    conn.plannedWhy = why;
    const now = h.now();
    if (now < conn.plannedRetryAtMs || h.connectBudgetWaitMs() > 0 || !settled(conn)) return;
    conn.plannedReconnects++;
    conn.connectStartedMs = now;
    h.takeConnect(now);
    conn.connects++;
    const gen = ++conn.genSeq;
    let ws: WebSocket;
    try {
      ws = new WebSocket(conn.url);
    } catch (err) {
      this.abandon(conn, `cannot open the replacement WebSocket: ${String(err)}`);
      return;
    }
    h.log.info(`${h.venue}: planned reconnect (make before break)`, { conn: conn.id, market: conn.market, why });
    conn.replacing = ws;
    conn.replacingGeneration = gen;
    conn.replacingOpen = false;
    ws.onopen = () => {
      if (conn.replacing !== ws) return;
      conn.replacingOpen = true;
      this.swapWhenSettled(conn);
    };
    h.bind(conn, ws, gen);
  }

  /** Housekeeping, once per connection that is open: deadlines, the deferred swap, completion, retries. */
  onHousekeeping(conn: VenueConnection, now: number): void {
    if (conn.replacing) {
      if (conn.replacingOpen) this.swapWhenSettled(conn);
      if (conn.replacing && now - conn.connectStartedMs > this.h.ackTimeoutMs) {
        this.dropReplacement(conn);
        this.abandon(conn, `replacement WebSocket not in use within ${this.h.ackTimeoutMs} ms`);
      }
    }
    if (conn.retiringWs) this.completeIfCarried(conn);
    if (conn.plannedWhy !== "" && !conn.replacing && !conn.retiringWs && now >= conn.plannedRetryAtMs) this.start(conn, conn.plannedWhy);
  }

  /**
   * The replacement closed: before it became the socket (abandoned), or after (the caller goes back to the old
   * socket through goBack()). True when handled here.
   */
  onReplacementClosed(conn: VenueConnection, ws: WebSocket, code: number): boolean {
    if (conn.replacing !== ws) return false;
    conn.replacing = null;
    conn.replacingOpen = false;
    this.abandon(conn, `replacement WebSocket closed (${code}) before it was in use`);
    return true;
  }

  /** Whether the current socket is a replacement that can still be abandoned for the open old socket. */
  canGoBack(conn: VenueConnection): boolean {
    return conn.retiringWs !== null && conn.retiringWs.readyState === WebSocket.OPEN;
  }

  /**
   * The old socket closed during the overlap (the venue's close came first): the replacement carries on alone; if it
   * fails now, the ordinary reconnect follows.
   */
  onRetiringClosed(conn: VenueConnection, why: string): void {
    this.h.log.info(`${this.h.venue}: old socket closed during the planned reconnect; the replacement carries on`, { conn: conn.id, market: conn.market, why });
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    conn.plannedWhy = conn.plannedNextWhy;
    conn.plannedNextWhy = "";
    clearOverlap(conn);
    this.h.overlapOver?.(conn, "replacement");
  }

  /** Abandons a replacement socket that is not the connection's yet. */
  dropReplacement(conn: VenueConnection): void {
    const ws = conn.replacing;
    conn.replacing = null;
    conn.replacingOpen = false;
    if (!ws) return;
    try {
      ws.close(1000, "not needed");
    } catch {
      // already gone
    }
  }

  /** Closes the old socket of a make-before-break (done, or the whole connection is going). */
  closeRetiring(conn: VenueConnection, why: string, carrier: OverlapCarrier = "none"): void {
    const ws = conn.retiringWs;
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    clearOverlap(conn);
    if (!ws) return;
    this.h.overlapOver?.(conn, carrier);
    try {
      ws.close(1000, why);
    } catch {
      // already gone
    }
  }

  /** The connection's socket is gone the ordinary way: nothing planned is left. */
  reset(conn: VenueConnection): void {
    this.dropReplacement(conn);
    this.closeRetiring(conn, "recycled");
    conn.plannedWhy = "";
    conn.plannedNextWhy = "";
    conn.plannedRetryAtMs = 0;
    conn.plannedFailuresInRow = 0;
  }

  /**
   * The replacement (the connection's socket) failed while the old one is open: the old socket is the connection's
   * again. Topics it served continue as they were (a fresh start asked for meanwhile is redone on
   * it); the others are subscribed on it; the replacement's requests are forgotten.
   */
  goBack(conn: VenueConnection, why: string): void {
    const h = this.h;
    const failed = conn.ws;
    const old = conn.retiringWs!;
    conn.ws = old;
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    conn.plannedNextWhy = ""; // announced on the replacement, which is gone
    // A new generation for the old socket (its handlers bound afresh): as after a swap, the connection's one socket
    // has yet to deliver a message its books took, so the venue still knows the replacement's frames may have led
    // (OKX: what the old socket then delivers of the book's run is a repeat, not a break).
    conn.generation = ++conn.genSeq;
    h.bind(conn, old, conn.generation);
    conn.openedMs = conn.retiringOpenedMs;
    conn.lastPingMs = h.now();
    conn.pongDeadlineMs = 0;
    conn.pending.clear();
    h.control.dropQueued(conn);
    const resubscribe: TopicState[] = [];
    const restart: TopicState[] = [];
    for (const t of conn.topics) {
      const served = t.onRetiring;
      const wanted = t.restartWanted;
      t.onRetiring = false;
      t.restartWanted = false;
      if (t.sub === SUB_REJECTED) continue; // refused by the venue for a topic the old socket did not serve
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      if (served) {
        t.sub = SUB_ACTIVE;
        if (wanted && t.book !== BookState.LIVE && t.book !== BookState.HALTED) restart.push(t);
      } else {
        t.sub = SUB_IDLE;
        if (!t.resyncDelayed) resubscribe.push(t);
      }
    }
    h.control.sendRequest(conn, "subscribe", resubscribe);
    for (const t of restart) h.restart(t);
    h.overlapOver?.(conn, "old");
    try {
      failed?.close(1000, "replacement failed");
    } catch {
      // already gone
    }
    this.abandon(conn, why);
  }

  /** The replacement is open: it becomes the connection's socket once the old one has no request in flight. */
  private swapWhenSettled(conn: VenueConnection): void {
    const ws = conn.replacing;
    if (!ws || !conn.replacingOpen || !conn.open || !conn.ws || !settled(conn)) return;
    const h = this.h;
    conn.replacing = null;
    conn.replacingOpen = false;
    const old = conn.ws;
    conn.retiringWs = old;
    conn.retiringGeneration = conn.generation;
    conn.retiringOpenedMs = conn.openedMs;
    this.markRetiringFrames(conn, old);
    conn.ws = ws;
    conn.generation = conn.replacingGeneration;
    conn.openedMs = h.now();
    conn.lastPingMs = conn.openedMs;
    conn.pongDeadlineMs = 0;
    conn.pending.clear(); // empty (settled); keepalives queued for the old socket are not sent on the new one
    h.control.dropQueued(conn);
    const toSubscribe: TopicState[] = [];
    for (const t of conn.topics) {
      t.onRetiring = t.sub === SUB_ACTIVE;
      t.restartWanted = false;
      if (t.sub === SUB_REJECTED) continue;
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      t.sub = SUB_IDLE;
      if (!t.resyncDelayed) toSubscribe.push(t);
    }
    h.control.sendRequest(conn, "subscribe", toSubscribe);
    this.completeIfCarried(conn);
  }

  /** The old socket's frames are marked while handled (conn.fromRetiring): its acks and notices are not the replacement's. */
  private markRetiringFrames(conn: VenueConnection, old: WebSocket): void {
    const own = old.onmessage; // the venue's handler; bound afresh if the old socket is gone back to
    old.onmessage = function (this: WebSocket, ev: MessageEvent) {
      conn.fromRetiring = true;
      try {
        own?.call(this, ev);
      } finally {
        conn.fromRetiring = false;
      }
    };
  }

  /**
   * Closes the old socket once the replacement carries every topic it served: every request answered, and none of
   * those topics still PENDING without a request (to be asked again after a "too frequent" refusal; Upbit: no first
   * book yet). One still PENDING at the ack deadline after the swap is a replacement that failed: the old socket,
   * which still serves that book, is gone back to (closing it would leave the book LIVE with nothing feeding it).
   */
  private completeIfCarried(conn: VenueConnection): void {
    if (conn.pending.size > 0) return;
    for (const t of conn.topics) {
      if (!t.onRetiring || t.sub !== SUB_PENDING) continue;
      if (this.h.now() - conn.openedMs < this.h.ackTimeoutMs) return;
      if (this.canGoBack(conn)) {
        this.goBack(conn, `replacement does not carry ${t.topic} within ${this.h.ackTimeoutMs} ms`);
        return;
      }
      break;
    }
    if (this.h.now() - conn.openedMs < this.h.ackTimeoutMs && this.h.awaitingJoin?.(conn)) return;
    this.closeRetiring(conn, "replaced", "replacement");
    conn.plannedWhy = conn.plannedNextWhy; // a close announced on the replacement meanwhile: replaced in turn
    conn.plannedNextWhy = "";
    conn.plannedFailuresInRow = 0;
    this.h.log.info(`${this.h.venue}: planned reconnect done; old socket closed`, { conn: conn.id, market: conn.market });
  }

  /** A failed planned reconnect: counted, logged, tried again after the reconnect backoff (plannedWhy is kept). */
  private abandon(conn: VenueConnection, why: string): void {
    const h = this.h;
    conn.plannedReconnectFailures++;
    const delayMs = equalJitterMs(conn.plannedFailuresInRow++, h.reconnectBaseMs, h.reconnectMaxMs, h.random);
    conn.plannedRetryAtMs = h.now() + delayMs;
    h.log.warn(`${h.venue}: planned reconnect failed; the old socket keeps the connection, trying again later`, {
      conn: conn.id,
      market: conn.market,
      why,
      plannedWhy: conn.plannedWhy,
      retryInMs: Math.round(delayMs),
    });
  }
}

/**
 * No request of the socket in flight or waiting to be sent: what it serves is exactly its ACTIVE topics. (A PENDING
 * topic without a request is one waiting to be asked for again after a refusal, or, where the venue sends no acks
 * (Upbit), waiting for its first book: the old socket does not serve it, and a retry timer of the old socket's
 * generation does nothing once the replacement is the socket.)
 */
function settled(conn: VenueConnection): boolean {
  if (conn.pending.size > 0) return false;
  for (const t of conn.topics) if (t.sub === SUB_UNSUBSCRIBING) return false;
  return true;
}

function clearOverlap(conn: VenueConnection): void {
  for (const t of conn.topics) {
    t.onRetiring = false;
    t.restartWanted = false;
  }
}
