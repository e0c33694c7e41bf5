/**
 * Planned reconnects, make before break (Binance's 24 h close and `serverShutdown`, OKX notice 64008, the maximum
 * connection age), for every venue (cold). A replacement socket is opened while the old one keeps delivering; once
 * it is open it becomes the connection's socket and every topic is subscribed on it, while the old socket's frames
 * are still accepted (retiringGeneration) until the replacement carries every topic the old one served; then the
 * old socket is closed. No book leaves LIVE: both sockets carry the same per-topic sequences, a repeat is a
 * duplicate and an older snapshot is ignored. (Except one whose only feed was the old socket, gone before the
 * replacement carries the book: retired.)
 *
 * A replacement that fails (it does not open, an ack does not come within the ack deadline, it closes, its ping goes
 * unanswered, or it refuses a topic the old socket still serves) is abandoned while the old socket is open: the old
 * socket is the connection's socket again with its topics as they were (one closed meanwhile is unsubscribed there;
 * their sequences continue, nothing resyncs; a book only the replacement fed leaves LIVE until the old socket's; it gets a new generation, as a replacement would, so the venue treats
 * the two streams as it does during a swap), the failure is counted (`plannedReconnectFailures`), and the planned reconnect is tried again after a backoff
 * (equal jitter, reconnectBaseMs doubling to plannedRetryMaxMs, 5 min by default: the old socket still works, and
 * each attempt spends a connect and the replacement's subscribes); a failure is logged as a warning when its retry
 * step or its reason differs from the last one logged, else at debug. The venue's close (or a dead old socket)
 * still forces the ordinary reconnect if it comes first, and so does the age deadline (connection-lifecycle.ts:
 * maxConnectionAgeMs + plannedAgeGraceMs; once a connect may go: not during the venue's connect hold). If the old socket closes first, the replacement carries on alone (the books it does not carry yet leave LIVE: retired).
 *
 * Keepalive: during the overlap the connection's ping and pong deadline are the replacement's; the old socket keeps
 * its own (its last ping, its outstanding pong, its frames: retiring*; pinged on the interval and when idle, one ping
 * in flight), so a pong is credited to the socket it came on, an old socket silent for deadConnectionMs (or, its
 * server's heartbeat promised, nothing heard for serverSilentMs) or late with its pong is given up (closed; the
 * replacement carries on alone), and one gone back to is watched from its own last frame, heard time and ping, not
 * the replacement's.
 *
 * The swap waits until the old socket has no request in flight, so what the old socket serves is known exactly (its
 * ACTIVE topics: TopicState.onRetiring) and nothing it answers later can be taken for the replacement's answer.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { BookState } from "../../core/types.ts";
import { equalJitterMs } from "./backoff.ts";
import type { Keepalive } from "./hooks.ts";
import { SOCKET_BACK_HELD_URL, SOCKET_BACK_URL, SOCKET_OLD_FRAME_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL } from "../venue.ts";
import { keepaliveQueued, ownMessages, seqReached, seqSocketRenamed, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState, type VenueConnection } from "./connection.ts";
import type { SubscriptionControl } from "./subscription-control.ts";

/**
 * The longest wait before a failed planned reconnect is tried again: the old socket still delivers, so there is no
 * hurry, and each attempt costs a connect and the replacement's subscribes (~10 attempts in PLANNED_AGE_GRACE_MS).
 */
export const PLANNED_RETRY_MAX_MS = 300_000;
/**
 * A connection still not replaced this long after its maximum age takes the ordinary reconnect: Binance's age limit
 * (23 h 50) + this is its 24 h lifetime; elsewhere it bounds how long past its age limit a connection is kept.
 */
export const PLANNED_AGE_GRACE_MS = 600_000;

/** What the planned reconnects need of the lifecycle (connection-lifecycle.ts). */
export interface PlannedHost {
  readonly venue: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly control: SubscriptionControl;
  readonly ackTimeoutMs: number;
  readonly reconnectBaseMs: number;
  /** The failed-replacement retry backoff's cap. */
  readonly plannedRetryMaxMs: number;
  /** Nothing received for this long: the socket is dead (the old one too). */
  readonly deadConnectionMs: number;
  /**
   * A server_test keepalive's heartbeat + deadConnectionMs (Infinity: none): nothing heard for this long on a socket whose
   * server promised its heartbeat is death (the old one too: retiringServerTested, retiringHeardMs).
   */
  readonly serverSilentMs: number;
  /** A socket idle this long is sent the keepalive's ping or probe (0: the keepalive sends none). */
  readonly probeIdleMs: number;
  /** A client_ping keepalive's interval (Infinity for the others). */
  readonly pingIntervalMs: number;
  readonly keepalive: Keepalive;
  readonly pongTimeoutMs: number;
  /** Every connection of the lifecycle (the connect budget's wake looks at each). */
  readonly conns: readonly VenueConnection[];
  stopping(): boolean;
  /** How long until the connect budget of `conn`'s host allows one more connect (0 = now). */
  connectBudgetWaitMs(conn: VenueConnection): number;
  takeConnect(conn: VenueConnection, nowMs: number): void;
  /** The replacement's handshake completed: the host takes connects again (the connect hold's count starts over). */
  connectOpened(conn: VenueConnection): void;
  /** Installs the socket's message, close and error handlers for generation `gen`. */
  bind(conn: VenueConnection, ws: WebSocket, gen: number): void;
  /**
   * Gets topics of one connection their fresh start (the venue's restart, as after a resync backoff), batched where
   * the venue's restart writes requests (LifecycleHooks.restartManyAfterBackoff, SubscriptionControl.restartTopics).
   */
  restartMany(ts: readonly TopicState[]): void;
  /** The venue still needs the old socket (its streams not yet joined by the replacement's); bounded by ackTimeoutMs. */
  awaitingJoin?(conn: VenueConnection): boolean;
  /**
   * The overlap is over. `carrier`: the socket that carries the streams on: the replacement (the old one closed), the
   * old one (gone back to: it delivered continuously, so what only the replacement brought comes again), or none (the
   * connection is recycled or stopped: its books are invalidated or no longer matter). Gone back to the old socket,
   * `oldGen` is the generation it had during the overlap (it has a new one now, conn.generation): what a venue keeps
   * by generation of the old socket's is its own (Upbit's books of one stamp, equal-stamps.ts).
   */
  overlapOver?(conn: VenueConnection, carrier: OverlapCarrier, oldGen?: number): void;
  /**
   * The replacement became the connection's socket (the swap), before its subscribes: what the venue sends first on a
   * socket of its own goes now (LifecycleHooks.socketInUse). A swap that waited for the old socket's requests comes
   * after the replacement's open, when that socket was not the connection's (Deribit's set_heartbeat was then never
   * sent); until 2026-12-07 it was called after the subscribes, which went first.
   */
  replacementInUse?(conn: VenueConnection): void;
  /** For the capture (feeder record): a change of the connection's sockets, as venue.ts's SOCKET_* pseudo-URL (body: SOCKET_RETIRED_URL's, SOCKET_BACK_HELD_URL's). */
  socketEvent?(conn: VenueConnection, url: string, body?: string): void;
  /** The book lost its only feed: it leaves LIVE as on an ordinary disconnect (RESYNCING / DISCONNECTED). */
  unfed(t: TopicState): void;
  /**
   * Going back to the old socket: the topics it served (onRetiring) that it may not stream all the same (Upbit: a
   * probe there left them out before the swap), unfed as those it did not serve.
   */
  oldMayNotStream?(conn: VenueConnection): ReadonlySet<TopicState> | undefined;
  /**
   * The old socket gone: the topics the replacement may not stream though their books are LIVE (Upbit: a probe there
   * left them out during the overlap), unfed and named by SOCKET_RETIRED_URL as those it does not carry yet.
   */
  replacementMayNotStream?(conn: VenueConnection): ReadonlySet<TopicState> | undefined;
}

/** Which socket carries the streams once a planned reconnect's overlap is over (PlannedHost.overlapOver). */
export type OverlapCarrier = "replacement" | "old" | "none";

export class PlannedReconnects {
  /** One timer for the planned reconnects waiting for connect budget (wakeAfter); null = none armed. */
  private wake: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly h: PlannedHost) {}

  /** The lifecycle stops: no budget wake is left. */
  stop(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
  }

  /**
   * Starts a planned reconnect of `conn` now, or remembers it (plannedWhy) while a failed one's backoff runs, the
   * connect budget is spent (then the lifecycle wakes us when it has room: OKX's 64008 reaches every connection at
   * once, 3 connects per second) or the socket has a request in flight (housekeeping tries again). While one is under
   * way: nothing, or, announced on the replacement during the overlap, kept for when it is done (plannedNextWhy).
   */
  start(conn: VenueConnection, why: string): void {
    const h = this.h;
    // Announced on the replacement during the overlap: that socket is to be replaced in turn (on the old one: stale).
    if (conn.retiringWs && !conn.fromRetiring) conn.plannedNextWhy = why;
    if (!conn.open || !conn.ws || conn.replacing || conn.retiringWs || h.stopping()) return;
    // A new reason while a failed one waits out its step (the venue announces a close during an age-limit retry's
    // backoff: "reconnect promptly") is tried now, once; if it fails too the steps go on growing.
    if (conn.plannedWhy !== "" && why !== conn.plannedWhy) conn.plannedRetryAtMs = 0;
    conn.plannedWhy = why;
    const now = h.now();
    if (now < conn.plannedRetryAtMs || !settled(conn)) return;
    const budgetWaitMs = h.connectBudgetWaitMs(conn);
    if (budgetWaitMs > 0) {
      this.wakeAfter(budgetWaitMs);
      return;
    }
    conn.plannedReconnects++;
    conn.connectStartedMs = now;
    h.takeConnect(conn, now);
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
      h.connectOpened(conn);
      if (conn.replacing !== ws) return;
      conn.replacingOpen = true;
      this.swapWhenSettled(conn);
    };
    h.bind(conn, ws, gen);
  }

  /**
   * Housekeeping, once per connection that is open: deadlines, the deferred swap, completion, retries. judge false (a
   * round right after a stall of this thread, core/late-rounds.ts): no deadline, as for the connection itself.
   */
  onHousekeeping(conn: VenueConnection, now: number, judge = true): void {
    if (conn.replacing) {
      if (conn.replacingOpen) this.swapWhenSettled(conn);
      if (judge && conn.replacing && now - conn.connectStartedMs > this.h.ackTimeoutMs) {
        this.dropReplacement(conn);
        this.abandon(conn, `replacement WebSocket not in use within ${this.h.ackTimeoutMs} ms`);
      }
    }
    if (conn.retiringWs) this.watchRetiring(conn, now, judge);
    this.retryDue(conn, now);
  }

  /** Planned reconnects that found no connect budget start when it has room (each asks; one timer serves them all). */
  private wakeAfter(delayMs: number): void {
    if (this.wake || this.h.stopping()) return;
    this.wake = setTimeout(() => {
      this.wake = null;
      if (this.h.stopping()) return;
      const now = this.h.now();
      for (const conn of this.h.conns) if (conn.open && conn.ws) this.retryDue(conn, now);
    }, delayMs);
  }

  /** A planned reconnect wanted and due (its backoff over, none under way): started now if it can be. */
  retryDue(conn: VenueConnection, now: number): void {
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
    this.retiringGone(conn);
  }

  /** The old socket went silent (or its pong is late) during the overlap: closed now, as if the venue had closed it (the replacement carries on). */
  private retiringDead(conn: VenueConnection, why: string): void {
    const ws = conn.retiringWs;
    this.h.log.warn(`${this.h.venue}: old socket silent during the planned reconnect; closed, the replacement carries on`, { conn: conn.id, market: conn.market, why });
    this.retiringGone(conn);
    try {
      ws?.close(4000, "dead");
    } catch {
      // already gone
    }
  }

  private retiringGone(conn: VenueConnection): void {
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    this.retired(conn);
    clearOverlap(conn);
    // Over, as when we close the old socket: the retry steps start over (if the replacement fails now, the ordinary reconnect).
    planOver(conn);
    this.h.overlapOver?.(conn, "replacement");
  }

  /**
   * The old socket is gone, the replacement carries on alone: recorded (SOCKET_RETIRED_URL, naming the books below),
   * then each book the old socket served that the replacement does not carry yet (its subscribe not acked; Upbit: no
   * first book) leaves LIVE as on an ordinary disconnect: the old socket was its only feed, and the replacement's
   * subscribe, still out, brings the book that makes it LIVE again. Until 2026-12-07 such a book stayed LIVE with
   * nothing feeding it until the replacement's first frame or its ack deadline (10 s on). Before clearOverlap (onRetiring).
   * A book acked on the replacement but with no frame there yet stays LIVE: the venue streams it there from its
   * subscribe on, and that first frame (a snapshot, or a diff whose ids join the book's or are a break) decides, as when
   * we close the old socket on the last ack; a needless flap otherwise on every planned reconnect whose old socket goes
   * before the replacement's first frames. (An old socket silent since before the swap may have lost diffs the
   * replacement never carries: on a diff-only venue, Binance, found only at the replacement's first diff of the book.)
   */
  private retired(conn: VenueConnection): void {
    const unsure = this.h.replacementMayNotStream?.(conn);
    const unfed: TopicState[] = [];
    for (const t of conn.topics) {
      if (t.sub === SUB_REJECTED) continue;
      // Resyncing too (not the unsure ones): a REST bridge on the old socket's diffs (Binance, OKX) is dropped, else its
      // snapshot made the book LIVE fed by nothing (until s-rdbin it went on as it was: binance/retired-bridge.test.ts).
      const live = t.book === BookState.LIVE || t.book === BookState.STALE;
      if ((t.onRetiring && t.sub !== SUB_ACTIVE) || (live && (unsure?.has(t) ?? false))) unfed.push(t);
    }
    this.h.socketEvent?.(conn, SOCKET_RETIRED_URL, unfedBody(unfed));
    for (const t of unfed) this.h.unfed(t);
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
    if (!ws) {
      clearOverlap(conn);
      return;
    }
    // An ordinary disconnect ("none") is recorded as the connection's close, which ends the overlap too.
    if (carrier === "replacement") this.retired(conn);
    clearOverlap(conn);
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
    conn.plannedLoggedStepMs = 0;
    conn.plannedLoggedWhy = "";
  }

  /**
   * The replacement (the connection's socket) failed while the old one is open: the old socket is the connection's
   * again. Topics it served continue as they were (a fresh start asked for meanwhile, or one closed and listed again
   * meanwhile still without its book, is redone on it: restartWanted, in batched requests: restartMany); the others are subscribed on it, their books leaving LIVE until its answer (named by SOCKET_BACK_URL); the
   * replacement's requests are forgotten.
   */
  goBack(conn: VenueConnection, why: string): void {
    const h = this.h;
    const failed = conn.ws;
    const old = conn.retiringWs!;
    const oldGen = conn.retiringGeneration;
    this.sampleRetiring(conn, h.now());
    conn.ws = old;
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    conn.plannedNextWhy = ""; // announced on the replacement, which is gone
    // A new generation for the old socket (its handlers bound afresh): as after a swap, the connection's one socket
    // has yet to deliver a message its books took, so the venue still knows the replacement's frames may have led
    // (OKX: what the old socket then delivers of the book's run is a repeat, not a break).
    conn.generation = ++conn.genSeq;
    // A book the old socket does not stream (subscribed only on the replacement, during the overlap or after a resync
    // there; Upbit: one the old socket may not stream, oldMayNotStream) may be LIVE by the failed replacement's frames
    // alone: it leaves LIVE as on a disconnect until the old socket's book re-establishes it (the resubscribe below).
    // One the old socket does not serve, LIVE or not, ends with the replacement as on a disconnect: a REST bridge built
    // on the replacement's diffs (Binance, OKX) is dropped, else its snapshot, answered after the go-back, made the book
    // LIVE over the updates lost until the old socket's resubscribe (until s-rdbin: binance/goback-bridge.test.ts).
    // Recorded first, naming them, so replay does the same here. Until 2026-12-07 it stayed LIVE, fed by nothing, until
    // the old socket answered (through an Upbit bisection, long).
    const unsure = h.oldMayNotStream?.(conn);
    const unfed: TopicState[] = [];
    for (const t of conn.topics) {
      if (t.sub === SUB_REJECTED) continue;
      if (!t.onRetiring || ((t.book === BookState.LIVE || t.book === BookState.STALE) && (unsure?.has(t) ?? false))) unfed.push(t);
    }
    h.socketEvent?.(conn, SOCKET_BACK_URL, unfedBody(unfed));
    for (const t of unfed) h.unfed(t);
    h.bind(conn, old, conn.generation);
    // The same socket still: a book whose last sequence it delivered keeps it as the socket of record (an older frame
    // on it is a venue reset, not the failed replacement's trail; TopicState.seqSocket).
    // Also one it delivered before or after the replacement repeated it (seqReached: the record moved to the replacement).
    // And one trailing the replacement keeps its own last id under its new generation (Deribit: a lower frame on it is a reset).
    if (oldGen >= 0) for (const t of conn.topics) seqSocketRenamed(t, oldGen, conn.generation);
    conn.openedMs = conn.retiringOpenedMs;
    // Its own keepalive, not the replacement's: watched from its own last frame (silent for deadConnectionMs: dead),
    // pinged from its own last ping, its pong still due if one was outstanding at the swap.
    conn.lastPingMs = conn.retiringLastPingMs;
    conn.pongDeadlineMs = conn.retiringPongDeadlineMs;
    conn.lastFrameMs = conn.retiringLastFrameMs;
    conn.heardMs = conn.retiringHeardMs;
    // Its own promise, as at the swap or shown by its test requests since (until 2026-12-07 cleared here: its server
    // dead at the go-back, a message waiting for the budget, its books stayed LIVE until an ack was late).
    conn.serverTested = conn.retiringServerTested;
    conn.sentOnSocket = conn.retiringSentOnSocket;
    conn.messagesSeen = ownMessages(conn); // its frames count as the connection's from here (its handler bound afresh)
    conn.pending.clear();
    h.control.dropQueued(conn);
    const resubscribe: TopicState[] = [];
    const restart: TopicState[] = [];
    const givenUp: TopicState[] = [];
    for (const t of conn.topics) {
      const served = t.onRetiring;
      const wanted = t.restartWanted;
      t.onRetiring = false;
      t.restartWanted = false;
      // Still streamed there though not served (TopicState.streamedOn: its closure's unsubscribe taken off by a
      // subscribe refused as over the rate limit, that retry dropped at the swap): the same socket, its new generation.
      const streamed = oldGen >= 0 && t.streamedOnRetiring === oldGen;
      t.streamedOnRetiring = -1;
      if (streamed) t.streamedOn = conn.generation;
      if (t.sub === SUB_REJECTED) {
        // Closed during the overlap (ConnectionLifecycle.retire) while the old socket served or still streamed it:
        // still subscribed there (its unsubscribe, if any, went on the replacement; until s-rd23a one streamed but not
        // served was left subscribed there for good). Else refused for a topic the old socket did not serve.
        if (served || streamed) givenUp.push(t);
        continue;
      }
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
    h.control.requestsGoingBack(conn, givenUp, resubscribe);
    // A resubscribe held for the venue's count (OKX's hour) is recorded only once written, and live takes the book's
    // frames meanwhile (SUB_PENDING; the old socket may still stream its channel): named now so replay does too.
    const held = h.socketEvent ? h.control.subscribesHeld(conn, resubscribe) : [];
    if (held.length > 0) h.socketEvent!(conn, SOCKET_BACK_HELD_URL, unfedBody(held));
    // Batched (⌈N/k⌉ unsubscribes and subscribes, not N of each): OKX counts every request against 480 an hour.
    if (restart.length > 0) h.restartMany(restart);
    h.overlapOver?.(conn, "old", oldGen);
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
    // A keepalive still waiting for the pacing budget (one ping is in flight at a time, so it is the one the deadline is
    // for) is dropped below, never sent: its ping time and pong deadline are not the old socket's (it is pinged when
    // due, as any). Only the keepalive: until 2026-12-07 anything queued (a later ping; Upbit's whole-list resend,
    // which no ack is awaited for) dropped a sent ping's deadline, and the old socket went unjudged for its pong.
    const unsent = keepaliveQueued(conn);
    conn.retiringLastPingMs = unsent ? 0 : conn.lastPingMs;
    conn.retiringPongDeadlineMs = unsent ? 0 : conn.pongDeadlineMs;
    // Frames housekeeping has not looked at yet were all the old socket's.
    // lastFrameMs may be held by a message waiting for the budget (dropped below); heardMs never is: the heartbeat
    // promise counts from it (watchRetiring; goBack).
    const unseen = ownMessages(conn) !== conn.messagesSeen;
    conn.retiringLastFrameMs = unseen ? h.now() : conn.lastFrameMs;
    conn.retiringHeardMs = unseen ? h.now() : conn.heardMs;
    conn.retiringServerTested = conn.serverTested;
    conn.retiringSentOnSocket = conn.sentOnSocket;
    conn.retiringMessages = 0;
    conn.retiringMessagesSeen = 0;
    this.markRetiringFrames(conn, old);
    // A closed book whose unsubscribe waits (held for the venue's request count, or refused as over its rate limit) is
    // still subscribed on the old socket, and that request goes with it: served there (onRetiring), a go-back owes it
    // there again (goBack's givenUp). Until s-okxheld it was left subscribed on the old socket for good (OKX: one of its
    // channels, its pushes ignored). Asked before the generation moves on (unsubscribeWaiting: the socket's own).
    const stillServed = conn.topics.filter((t) => t.sub === SUB_REJECTED && h.control.unsubscribeWaiting(conn, t));
    // The old socket's marks (TopicState.streamedOn, this generation's) kept apart in streamedOnRetiring: the
    // replacement may mark the book as well. One listed again since, its subscribe waiting too (held: not written, so
    // no subscribeGoes marked it), is marked there too: the old socket streams its channel, which it does not serve, and
    // a go-back then unsubscribes it if it closed meanwhile. Until s-okxgoback it was left subscribed there for good.
    for (const t of conn.topics) {
      const streamed = t.streamedOn === conn.generation || (t.sub !== SUB_REJECTED && h.control.unsubscribeWaiting(conn, t));
      t.streamedOnRetiring = streamed ? conn.generation : -1;
      if (streamed) t.streamedOn = -1;
    }
    conn.ws = ws;
    conn.generation = conn.replacingGeneration;
    h.socketEvent?.(conn, SOCKET_SWAP_URL);
    conn.openedMs = h.now();
    conn.lastPingMs = conn.openedMs;
    conn.pongDeadlineMs = 0;
    // The replacement's own liveness from its open (as a reconnect's): not the old socket's last frame, which may be
    // nearly the dead-connection time ago (a dying old socket is given up; the fresh replacement is not).
    conn.lastFrameMs = conn.openedMs;
    conn.heardMs = conn.openedMs;
    conn.serverTested = false; // the old socket's test requests promised nothing for this one
    // Nothing sent on it yet: its first messages waiting for the pacing budget hold its dead-connection time, as a fresh
    // socket's (lifecycle). Until 2026-12-07 the old socket's "sent" was kept, and a replacement whose subscribe waited
    // past that time (a client-ping venue's budget spent) was found dead before it could ask anything.
    conn.sentOnSocket = false;
    conn.messagesSeen = ownMessages(conn);
    conn.pending.clear(); // empty (settled); keepalives queued for the old socket are not sent on the new one
    h.control.dropQueued(conn);
    const toSubscribe: TopicState[] = [];
    for (const t of conn.topics) {
      t.onRetiring = t.sub === SUB_ACTIVE || stillServed.includes(t);
      t.restartWanted = false;
      if (t.sub === SUB_REJECTED) continue;
      t.resubscribeAfterUnsub = false;
      t.resyncAfterAck = false;
      t.sub = SUB_IDLE;
      if (!t.resyncDelayed) toSubscribe.push(t);
    }
    h.replacementInUse?.(conn);
    h.control.sendRequest(conn, "subscribe", toSubscribe);
    this.completeIfCarried(conn);
  }

  /** The old socket's frames are marked while handled (conn.fromRetiring): its acks and notices are not the replacement's. */
  private markRetiringFrames(conn: VenueConnection, old: WebSocket): void {
    const own = old.onmessage; // the venue's handler; bound afresh if the old socket is gone back to
    const h = this.h;
    old.onmessage = function (this: WebSocket, ev: MessageEvent) {
      conn.retiringMessages++;
      // Recorded before the frame (the venue's tap records it as it is handled); not once the old socket is given up
      // (its handler then drops the frame unrecorded).
      if (conn.retiringWs === old) h.socketEvent?.(conn, SOCKET_OLD_FRAME_URL);
      conn.fromRetiring = true;
      const before = conn.messages;
      try {
        own?.call(this, ev);
      } finally {
        conn.fromRetiring = false;
        conn.retiringCounted += conn.messages - before; // not the replacement's: its own silence is judged (ownMessages)
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
    planOver(conn);
    this.h.log.info(`${this.h.venue}: planned reconnect done; old socket closed`, { conn: conn.id, market: conn.market });
  }

  /**
   * A failed planned reconnect: counted, tried again after a growing backoff (plannedWhy is kept), logged as a
   * warning when its step or reason is not the last one logged (a replacement failing the same way every 5 min is one
   * line, not one per attempt; the counter has every failure).
   */
  private abandon(conn: VenueConnection, why: string): void {
    const h = this.h;
    conn.plannedReconnectFailures++;
    const attempt = conn.plannedFailuresInRow++;
    const stepMs = Math.min(h.plannedRetryMaxMs, h.reconnectBaseMs * 2 ** Math.min(attempt, 30));
    const delayMs = equalJitterMs(attempt, h.reconnectBaseMs, h.plannedRetryMaxMs, h.random);
    conn.plannedRetryAtMs = h.now() + delayMs;
    const fields = { conn: conn.id, market: conn.market, why, plannedWhy: conn.plannedWhy, failuresInRow: conn.plannedFailuresInRow, retryInMs: Math.round(delayMs) };
    const msg = `${h.venue}: planned reconnect failed; the old socket keeps the connection, trying again later`;
    if (stepMs === conn.plannedLoggedStepMs && why === conn.plannedLoggedWhy) {
      h.log.debug(msg, fields);
      return;
    }
    conn.plannedLoggedStepMs = stepMs;
    conn.plannedLoggedWhy = why;
    h.log.warn(stepMs === h.plannedRetryMaxMs ? `${msg} (at the longest retry step: the same failure again is not logged)` : msg, fields);
  }

  /**
   * The old socket's own keepalive during the overlap, as the lifecycle's for the connection's socket: probed when idle
   * (a quiet but live old socket stays one to go back to) and pinged on the keepalive's interval, one ping in flight,
   * given up when silent for deadConnectionMs or its pong is late; else closed once the replacement carries every
   * topic it served.
   */
  private watchRetiring(conn: VenueConnection, now: number, judge: boolean): void {
    const h = this.h;
    this.sampleRetiring(conn, now);
    const idleMs = now - conn.retiringLastFrameMs;
    // Its heartbeat promise too, as the lifecycle's for the connection's socket: a message of its that waited for the
    // budget at the swap held its lastFrameMs (until 2026-12-07 its books stayed LIVE up to that held time + deadConnectionMs).
    const promiseBroken = conn.retiringServerTested && now - conn.retiringHeardMs > h.serverSilentMs;
    const silent = idleMs > h.deadConnectionMs || promiseBroken;
    if (judge && (silent || (conn.retiringPongDeadlineMs !== 0 && now > conn.retiringPongDeadlineMs))) {
      if (silent) conn.deadConnections++;
      else conn.pongTimeouts++;
      const why = promiseBroken ? `nothing received on the old socket for ${h.serverSilentMs} ms (its server's heartbeat interval and the dead-connection time)` : `nothing received on the old socket for ${h.deadConnectionMs} ms`;
      this.retiringDead(conn, silent ? why : "no pong on the old socket in time");
      return;
    }
    // One ping in flight, as on the connection's socket: a late pong of an earlier ping must not meet a later one's deadline.
    const pingOut = h.keepalive.kind === "client_ping" && conn.retiringPongDeadlineMs !== 0;
    const idleDue = h.probeIdleMs > 0 && idleMs >= h.probeIdleMs && now - conn.retiringLastPingMs >= h.probeIdleMs;
    // Pinged on the interval too: one that keeps delivering but no longer answers is found by its pong during an overlap
    // of any length. Until 2026-12-07 only when idle, so its pong was judged only after a go-back, an ack deadline on.
    if (!pingOut && (idleDue || now - conn.retiringLastPingMs >= h.pingIntervalMs)) {
      conn.retiringLastPingMs = now;
      this.probeRetiring(conn, now);
    }
    this.completeIfCarried(conn);
  }

  /** The keepalive's ping (with its pong deadline) or idle probe, on the old socket (unpaced, as its test replies). */
  private probeRetiring(conn: VenueConnection, now: number): void {
    const ws = conn.retiringWs;
    const ka = this.h.keepalive;
    if (!ws) return;
    if (ka.kind === "client_ping") {
      conn.retiringPongDeadlineMs = now + this.h.pongTimeoutMs;
      this.h.control.writeTo(conn, ka.encodePing(this.h.control.nextSeq()), ws);
    } else if (ka.kind === "server_test" && ka.encodeProbe) {
      this.h.control.writeTo(conn, ka.encodeProbe(this.h.control.nextSeq()), ws);
    }
  }

  /** Frames of the old socket since housekeeping last looked: it was alive then. */
  private sampleRetiring(conn: VenueConnection, now: number): void {
    if (conn.retiringMessages === conn.retiringMessagesSeen) return;
    conn.retiringMessagesSeen = conn.retiringMessages;
    conn.retiringLastFrameMs = now;
    conn.retiringHeardMs = now;
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

/** A planned reconnect is over (the replacement is the only socket): a close announced on it meanwhile is the next one; the retry steps start over. */
function planOver(conn: VenueConnection): void {
  conn.plannedWhy = conn.plannedNextWhy;
  conn.plannedNextWhy = "";
  conn.plannedFailuresInRow = 0;
  conn.plannedLoggedStepMs = 0;
  conn.plannedLoggedWhy = "";
}

/** SOCKET_RETIRED_URL's body: the topics left without a feed, space-separated (venue topic names have no space). */
export function unfedBody(topics: readonly TopicState[]): string {
  let body = "";
  for (const t of topics) body = body === "" ? t.topic : `${body} ${t.topic}`;
  return body;
}

/** The overlap is over, the connection's socket carrying on: it is the socket of record of each book whose sequence it reached. */
function clearOverlap(conn: VenueConnection): void {
  for (const t of conn.topics) {
    t.onRetiring = false;
    t.restartWanted = false;
    t.streamedOnRetiring = -1; // the old socket gone: what it streamed with it
    if (seqReached(t, conn.generation)) t.seqSocket = conn.generation;
  }
}
