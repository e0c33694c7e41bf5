/**
 * Subscribe/unsubscribe requests and their acks, for every venue (cold): batching per the venue's limit, matching
 * acks to requests written to the socket (by request id, else the oldest of that op, naming the topic when a refusal
 * names one; a refusal naming none of them with several out answers each the safe way; never one still queued for pacing),
 * per-topic ack lists, recovery from a rejected batch (the named topic rejected, an oversized batch bisected, an
 * unexplained one split to single topics; a single topic rejected only for words the venue's parser lists as
 * permanent, else sent again after its own backoff), message pacing (token buckets or sliding windows), and the
 * unsubscribe → ack → subscribe dance that gets one topic a fresh snapshot without a duplicate subscribe (Bybit:
 * docs/venues/bybit.md). The venue's RequestProtocol encodes requests and reads acks.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import { equalJitterMs } from "./backoff.ts";
import { budgetLink, type BudgetLedger } from "./budget-ledger.ts";
import { SlidingWindowBudget, splitBudget, TokenBucket, type MessageLimit } from "./budgets.ts";
import type { BucketSpec, ControlFrame, RequestProtocol, WindowSpec } from "./hooks.ts";
import { type PendingRequest, replayHeldSubscribeGone, type VenueConnection, SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState } from "./connection.ts";
import type { RecordedRequest } from "./recorded-request.ts";


/** Backoff of a request the venue refused as over its rate limit (AckError rate_limited). */
export const RATE_LIMIT_BACKOFF_BASE_MS = 500;
export const RATE_LIMIT_BACKOFF_MAX_MS = 10_000;

/**
 * Backoff of a single topic's subscribe refused for a reason that may pass (AckError `other`: a server error, a code
 * we do not know): 1 s doubling to 60 s while its refusals continue. With equal jitter the capped wait is 30–60 s, so a
 * topic still refused costs 60–120 requests an hour (~80): on OKX, whose 480 an hour are per connection, six such
 * topics on one connection spend it all (its resyncs then wait for room: requestWaitMs, okx/budget-wait.ts).
 */
export const SUBSCRIBE_ERROR_BACKOFF_BASE_MS = 1_000;
export const SUBSCRIBE_ERROR_BACKOFF_MAX_MS = 60_000;

/**
 * A topic refused without a reason (RequestProtocol.failTopicsUnexplained) is `resyncing` while its listing is asked;
 * refused so this many times in a row (each after its listing said it trades and it was subscribed again), it is
 * `halted`: a refusal that lasts (a depth the venue does not serve) is no longer shown as about to recover. Its
 * listing is still asked, on the rejected books' wait (1 min doubling to 1 h).
 */
export const UNEXPLAINED_REFUSALS_BEFORE_HALT = 3;

/**
 * A limit of `spec` for worker `index`'s `share` of it (1 = the whole; budgets.ts splitBudget): the workers' parts
 * add up to at most the venue's. A bucket whose capacity would split below one message becomes one message per a
 * longer window, in the worker's slot of the venue's rate (a bucket of 1 each, all full at t = 0, let N workers send
 * N at once past a burst of fewer).
 */
export function limitOf(spec: BucketSpec | WindowSpec, share: number, index: number, now: () => number): TokenBucket | SlidingWindowBudget {
  if ("windowMs" in spec) {
    const w = splitBudget(spec.count, spec.windowMs, share, index, now);
    return new SlidingWindowBudget(w.count, w.windowMs, w);
  }
  const s = Math.min(1, Math.max(0, share));
  const capacity = Math.floor(spec.capacity * s + 1e-9);
  if (capacity >= 1) return new TokenBucket(capacity, spec.perSecond * s, now());
  const w = splitBudget(spec.perSecond, 1_000, share, index, now);
  return new SlidingWindowBudget(w.count, w.windowMs, w);
}

/** Whether a request has been written to its socket (not waiting in the outbox): only then can an ack answer it. */
function written(p: PendingRequest): boolean {
  return p.sentMs !== Infinity;
}

/**
 * A request waiting to go on a connection's current socket (SubscriptionControl.waitingOn): held for the venue's request
 * count (holdForBudget) or refused and waiting out its backoff. Those held go in the order they were held, each before
 * any newer request: `ahead`, held and to go before the request asking the count now (a new one is behind them all);
 * `behind`, held after the one asking (a held one whose turn it is). Neither: the one asking, or a refused one whose
 * backoff is not over (it joins the line when it comes due without room).
 */
export interface WaitingRequest {
  readonly op: "subscribe" | "unsubscribe";
  readonly topics: readonly TopicState[];
  readonly ahead: boolean;
  readonly behind: boolean;
}

/** Marks a topic's book untrusted and tells the sink (the adapter owns book state). */
export type InvalidateTopic = (t: TopicState, state: BookState, reason: StatusReason) => void;

export class SubscriptionControl {
  private reqSeq = 0;
  /** Replay: refusals by a planned reconnect's replacement of topics the old socket served, until the overlap's end says whose they were. */
  private refusedInOverlap: { t: TopicState; retMsg: string; retiringGen: number; permanent: boolean; unexplained?: boolean }[] = [];
  // Counters (cold), read by the adapter's stats().
  subscribeRejected = 0;
  subscribeRetries = 0;
  argsSizeErrors = 0;
  alreadySubscribed = 0;
  /** Requests the venue refused as over its rate limit (AckError rate_limited), each sent again after a backoff. */
  rateLimited = 0;
  /** Single-topic subscribes refused for a reason that may pass (AckError other), each sent again after a backoff. */
  subscribeErrors = 0;
  /** Requests held because the venue's own request count had no room (holdForBudget), each sent by retriesDue. */
  budgetHeld = 0;
  /**
   * Requests refused as over the rate limit, each waiting out its backoff (retryLater) on the adapter's clock: sent
   * again by retriesDue once `dueMs` has come; `waitMs` bounds the wait after that clock stepped back.
   */
  private readonly retries: { conn: VenueConnection; gen: number; op: "subscribe" | "unsubscribe"; topics: TopicState[]; dueMs: number; waitMs: number; heldSeq?: number }[] = [];
  /** The last place given in the line of requests held for the venue's count (a retry's heldSeq: first held, first sent). */
  private heldSeqs = 0;
  /**
   * The place of the held request retriesDue asks the count for and sends now (Infinity: a new request, behind every
   * held one; -Infinity: one a resync under way owes, ahead of them all: owed).
   */
  private askingSeq = Infinity;
  /**
   * The backoff's jitter in [0, 1): set by the lifecycle to the adapter's (CommonAdapterOptions.random), as its `now`
   * is this class's clock. Until 2026-12-06 Math.random, and the wait a real setTimeout that no test clock drove.
   */
  random: () => number = Math.random;

  /** Per-IP limit shared by every connection of the venue (this process's share); null = no per-IP limit. */
  private readonly ipBucket: MessageLimit | null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed flush timer fires (the clock's ms); Infinity = none armed. */
  private flushDueMs = Infinity;
  /** Connections with queued messages. */
  private readonly waiting = new Set<VenueConnection>();
  /** Counter (cold): messages that had to wait for a token. */
  paced = 0;
  /** Counter (cold): server test requests answered (sent at once, never queued behind paced requests). */
  testReplies = 0;
  /**
   * Set by the lifecycle: a planned reconnect's replacement refused a topic the old socket still serves. That is the
   * replacement failing, not the venue refusing the book (which it still delivers): true when the old socket is gone
   * back to (it is still open); false, and the topic is rejected, otherwise.
   */
  onReplacementRefused: ((conn: VenueConnection, why: string) => boolean) | null = null;
  /**
   * Set by the lifecycle: the topic's resync through its per-topic backoff (TopicResync.resync). A subscribe
   * answered "already subscribed" restarts the topic this way, so a venue that refuses the unsubscribe (or acks it
   * without effect) and answers "already subscribed" again waits out a growing backoff instead of looping
   * unsubscribe / subscribe at round-trip speed. Null (this class alone, in tests): restartTopic directly.
   */
  resync: InvalidateTopic | null = null;
  /**
   * Set by the lifecycle (LifecycleHooks.resyncMany): resync for several topics of a connection at once, each in its
   * own state, their requests batched (OKX: the hourly budget asked once). Null: resync for each.
   */
  resyncMany: ((ts: readonly TopicState[], reason: StatusReason) => void) | null = null;
  /**
   * Set by the lifecycle (LifecycleHooks.resyncKeepsSubscription): false when the venue's resync sends no request, its
   * stream left subscribed as it is (rest_snapshot: Binance), so a topic whose subscribe may not have been taken is
   * subscribed again by this class (unmatchedRefusal).
   */
  resyncResubscribes = true;
  /**
   * Set by the lifecycle: told of each request written to its socket (`feeder record` keeps it for replay: replayRecorded),
   * an unsubscribe of a venue whose replay holds unsubscribed topics (RequestProtocol.replayHoldsUnsubscribed) when it is
   * queued for the pacing budget instead (send).
   */
  onWritten: ((conn: VenueConnection, p: PendingRequest) => void) | null = null;
  /**
   * Set by the lifecycle: told of each topic rejected (reject), so its listing can bring it back; `soon`: ask at once
   * (the first of a streak of refusals without a reason). Returns whether its listing will be asked.
   */
  onRejected: ((t: TopicState, soon: boolean) => boolean) | null = null;
  /**
   * Set by the lifecycle: told, in replay, of each topic replayResubscribed brings back (ConnectionLifecycle
   * onReplayReopened: the instrument watch counts a closed one's reopening, as live's).
   */
  onReplayResubscribed: ((t: TopicState) => void) | null = null;

  constructor(
    private readonly protocol: RequestProtocol,
    private readonly log: Logger,
    private readonly now: () => number,
    /** Replaces protocol.maxArgsPerRequest (tests exceed a venue limit on purpose). */
    private readonly argsPerRequestOverride: number | undefined,
    private readonly invalidate: InvalidateTopic,
    /** This process's share of the per-IP message budget (1 / workers). */
    budgetShare = 1,
    /** This worker's index among those sharing the IP (its slot when its share is below one message a window). */
    budgetIndex = 0,
    /**
     * With workers, the supervisor's ledger (CommonAdapterOptions.budgetLedger): the per-IP budget starts from the
     * messages the slot's previous worker sent that the venue still counts, under `<venue>:messages`. Until
     * 2026-12-07 it started full: a worker restarted inside the venue's window could send its whole share again.
     */
    budgetLedger?: BudgetLedger,
  ) {
    const ip = protocol.pacing?.perIp;
    this.ipBucket = ip ? limitOf(ip, budgetShare, budgetIndex, now).trackUses(budgetLink(budgetLedger, `${protocol.venue}:messages`)) : null;
  }

  /**
   * Gets a fresh snapshot: unsubscribe, wait for the ack, subscribe (never a duplicate subscribe: Bybit refuses one). While the
   * topic waits out its resync backoff (t.resyncDelayed) only the unsubscribe goes out; the lifecycle calls this
   * again once the wait is over, which sends the subscribe.
   */
  restartTopic(t: TopicState): void {
    const conn: VenueConnection = t.conn;
    if (conn.retiringWs !== null) t.restartWanted = true; // redone on the old socket if the replacement fails
    switch (t.sub) {
      case SUB_ACTIVE:
        if (!conn.open) return;
        t.resubscribeAfterUnsub = !t.resyncDelayed;
        this.sendRequest(conn, "unsubscribe", [t]);
        return;
      case SUB_PENDING:
        t.resyncAfterAck = true;
        return;
      case SUB_UNSUBSCRIBING:
        t.resubscribeAfterUnsub = !t.resyncDelayed;
        return;
      case SUB_IDLE:
        if (conn.open && !t.resyncDelayed) this.sendRequest(conn, "subscribe", [t]);
        return;
      default:
        return; // rejected: nothing to do
    }
  }

  /**
   * restartTopic for many topics at once (a planned reconnect's go-back redoing the books restarted during its
   * overlap): the active ones' unsubscribes go batched (maxArgsPerRequest a request, per connection), and their
   * subscribes batched too once the venue has answered the whole unsubscribe request (onTopicConfirmed's collector; a
   * venue answering topic by topic: the answers wait in the request, `answered`). N books: ⌈N/k⌉ requests of each,
   * where restartTopic one by one sends N of each (OKX counts both against 480 an hour). The others as restartTopic.
   */
  restartTopics(topics: readonly TopicState[]): void {
    const unsubscribe = new Map<VenueConnection, TopicState[]>();
    for (const t of topics) {
      const conn: VenueConnection = t.conn;
      if (t.sub !== SUB_ACTIVE || !conn.open) {
        this.restartTopic(t);
        continue;
      }
      if (conn.retiringWs !== null) t.restartWanted = true; // as restartTopic
      t.resubscribeAfterUnsub = !t.resyncDelayed;
      let batch = unsubscribe.get(conn);
      if (!batch) unsubscribe.set(conn, (batch = []));
      batch.push(t);
    }
    for (const [conn, batch] of unsubscribe) this.sendRequest(conn, "unsubscribe", batch);
  }

  /** How many topics one request of `conn`'s names at most. */
  private argsPerRequest(conn: VenueConnection): number {
    return this.argsPerRequestOverride ?? this.protocol.maxArgsPerRequest(conn.market);
  }

  /**
   * Writes (or queues for pacing) the requests for `topics`, argsPerRequest a message. A message the venue's own count
   * has no room for (RequestProtocol.requestWaitMs: OKX's 480 an hour per socket) waits with the rest, as a refused one
   * (retries: sent by retriesDue once there is room; its topics unsubscribing or pending meanwhile, a subscribe's
   * silence not judged stale until it goes). Until 2026-12-07 only a resync's restart asked the count: the subscribe
   * owed after an unsubscribe's answer and a closed instrument's unsubscribe went past it (OKX refuses the 481st, 60014).
   */
  sendRequest(conn: VenueConnection, op: "subscribe" | "unsubscribe", topics: TopicState[]): void {
    if (topics.length === 0 || !conn.ws || !conn.open) return;
    // This request ends what the venue streams on this socket (an old socket's mark is goBack's: planned-reconnect.ts).
    if (op === "unsubscribe") for (const t of topics) if (t.streamedOn === conn.generation) t.streamedOn = -1;

    const perRequest = this.argsPerRequest(conn);
    const now = this.now();
    for (let i = 0; i < topics.length; i += perRequest) {
      const budgetWaitMs = this.protocol.requestWaitMs?.(conn) ?? 0;
      if (budgetWaitMs > 0) {
        this.holdForBudget(conn, op, topics.slice(i), budgetWaitMs);
        return;
      }
      const batch = topics.slice(i, i + perRequest);
      if (op === "subscribe" && this.retries.length > 0) this.subscribeGoes(conn, batch);
      const reqId = `${op === "subscribe" ? "s" : "u"}${++this.reqSeq}`;
      for (const t of batch) {
        t.sub = op === "subscribe" ? SUB_PENDING : SUB_UNSUBSCRIBING;
        if (op === "subscribe") {
          t.lastMsgMs = now; // staleness counts from the send (flush: from when a queued one goes)
          // A hold's mark ends here (send sets it again if this one waits for pacing): until 2026-12-07 only a held
          // request that went cleared it, and one dropped (its topic closed meanwhile) left it on the reopened topic,
          // whose silence was then never judged (AWAITING_SNAPSHOT for good).
          t.subscribeQueued = false;
        }
      }
      conn.pending.set(reqId, { reqId, op, topics: batch, sentMs: now });
      const text = this.protocol.encodeRequest(op, batch, reqId);
      this.protocol.requested?.(op, batch, false);
      this.send(conn, text, reqId);
    }
  }

  /**
   * `topics`' subscribe goes on `conn` (written, or queued for pacing): an unsubscribe of theirs still waiting there from
   * a closure (held for the venue's count, refused as over its rate limit) is theirs no more; should they close again,
   * that closure unsubscribes them (its own request, or this subscribe's answer: onTopicConfirmed). Until s-rd20a it
   * still named them and, once they were given up again, went as well: two unsubscribes of one channel. Those taken
   * off are marked as still streamed on this socket (TopicState.streamedOn).
   */
  private subscribeGoes(conn: VenueConnection, topics: readonly TopicState[]): void {
    for (const r of this.retries) {
      if (r.op !== "unsubscribe" || r.conn !== conn || r.gen !== conn.generation) continue;
      if (!r.topics.some((t) => topics.includes(t))) continue;
      for (const t of r.topics) if (topics.includes(t)) t.streamedOn = conn.generation;
      r.topics = r.topics.filter((t) => !topics.includes(t));
    }
  }

  /**
   * A closure's unsubscribe refused as over the rate limit: those of `topics` listed again since it was written, whose
   * subscribe is out (subscribeOut), are that subscribe's now, as subscribeGoes takes them off one waiting; marked as
   * still streamed on this socket (TopicState.streamedOn: the venue refused their unsubscribe). Returns the others, to go again. Until s-rd21c all went
   * again: closed again, such a book was unsubscribed twice (by its subscribe's answer, then by the retry).
   */
  private resubscribedSince(conn: VenueConnection, topics: TopicState[]): TopicState[] {
    const out: TopicState[] = [];
    for (const t of topics) {
      if (this.subscribeOut(conn, t)) t.streamedOn = conn.generation;
      else out.push(t);
    }
    return out;
  }

  /** Whether `t`'s subscribe is held for the venue's count (or refused as over its rate limit) on `conn`'s current socket. */
  private subscribeWaits(conn: VenueConnection, t: TopicState): boolean {
    return t.sub === SUB_PENDING && this.retryNames(conn, "subscribe", t);
  }

  /** Whether a request of `op` naming `t` waits in `retries` (held for the venue's count, or refused) on `conn`'s current socket. */
  private retryNames(conn: VenueConnection, op: "subscribe" | "unsubscribe", t: TopicState): boolean {
    for (const r of this.retries) if (r.op === op && r.conn === conn && r.gen === conn.generation && r.topics.includes(t)) return true;
    return false;
  }

  /** sendRequest's `topics` wait `waitMs` for the venue's request count (cold): held as a refused request's retry. */
  private holdForBudget(conn: VenueConnection, op: "subscribe" | "unsubscribe", topics: TopicState[], waitMs: number): void {
    this.budgetHeld++;
    for (const t of topics) {
      t.sub = op === "subscribe" ? SUB_PENDING : SUB_UNSUBSCRIBING;
      if (op === "subscribe") t.subscribeQueued = true; // its silence starts when it goes (retriesDue)
    }
    this.log.warn(`${this.protocol.venue}: the connection's request count has no room; request waits`, { conn: conn.id, op, topics: topics.length, waitMs: Math.round(waitMs) });
    // Its place in line: a held one's part that still finds no room keeps the place it had (retriesDue: askingSeq).
    const heldSeq = this.askingSeq !== Infinity ? this.askingSeq : ++this.heldSeqs;
    this.retries.push({ conn, gen: conn.generation, op, topics, dueMs: this.now() + waitMs, waitMs, heldSeq });
  }

  /**
   * A new place at the end of the line of requests held for the venue's count, for a wait of the venue's own that is in
   * that line too (OKX: a resync waiting before it starts, okx/budget-wait.ts): one numbering, so each counts only those
   * ahead of it (two lines counting each other livelock: each waits for the other).
   */
  takePlace(): number {
    return ++this.heldSeqs;
  }

  /** The place of the request asking the venue's count now (askingSeq: Infinity a new one, -Infinity one owed). */
  get askingPlace(): number {
    return this.askingSeq;
  }

  /** Runs `ask` (asks of the venue's count, sends) as the one at `place` in line (takePlace): those behind it are not counted. */
  askingAt<T>(place: number, ask: () => T): T {
    const before = this.askingSeq;
    this.askingSeq = place;
    try {
      return ask();
    } finally {
      this.askingSeq = before;
    }
  }

  /**
   * The requests waiting to go on `conn`'s current socket, and where each stands against the request asking the venue's
   * count now (WaitingRequest): OKX's count reserves room for those ahead of it. Cold (each request, each restart).
   */
  waitingOn(conn: VenueConnection): WaitingRequest[] {
    const out: WaitingRequest[] = [];
    for (const r of this.retries) {
      if (r.conn !== conn || r.gen !== conn.generation) continue;
      const held = r.heldSeq !== undefined;
      out.push({ op: r.op, topics: r.topics, ahead: held && r.heldSeq! < this.askingSeq, behind: held && r.heldSeq! > this.askingSeq });
    }
    return out;
  }

  /**
   * Whether a subscribe naming `t` is out on its connection's current socket: sent or queued and not answered, or
   * refused as over the rate limit and waiting to go again (retryLater sends it for a topic still PENDING).
   */
  subscribeOut(conn: VenueConnection, t: TopicState): boolean {
    return this.pendingNames(conn, "subscribe", t, false) || this.retryNames(conn, "subscribe", t);
  }

  /** Whether a request of `op` naming `t` is in conn.pending (`unwritten`: only one queued for pacing, not written yet). Cold. */
  private pendingNames(conn: VenueConnection, op: "subscribe" | "unsubscribe", t: TopicState, unwritten: boolean): boolean {
    for (const p of conn.pending.values()) if (p.op === op && (!unwritten || !written(p)) && p.topics.includes(t)) return true;
    return false;
  }

  /**
   * Whether an unsubscribe naming `t` waits to go on its connection's current socket (held for the venue's request
   * count, refused as over the rate limit, or queued for the pacing budget: until s-rd19c not that one): until it goes,
   * the venue still streams `t`.
   */
  unsubscribeWaiting(conn: VenueConnection, t: TopicState): boolean {
    return this.pendingNames(conn, "unsubscribe", t, true) || this.retryNames(conn, "unsubscribe", t);
  }

  /**
   * Whether the venue still streams the closed topic `t` on its connection's current socket because nothing written
   * there has ended it (ConnectionLifecycle.activateAll: reopened, its frames are taken from its subscribe on): its
   * unsubscribe waits (unsubscribeWaiting). Upbit/Bithumb, which send no unsubscribe, override it. Not asked at a
   * planned reconnect's swap (that one is unsubscribeWaiting's).
   */
  closedStillStreamed(conn: VenueConnection, t: TopicState): boolean {
    return this.unsubscribeWaiting(conn, t);
  }

  /** Sends a keepalive or reply text; a ping's number shares the request numbering. */
  nextSeq(): number {
    return ++this.reqSeq;
  }

  /**
   * Sends now when the connection's and the IP's buckets have a token and nothing is queued before it (its own
   * outbox, and under a per-IP budget any connection's: until 2026-12-06 one sending as the budget refilled, before
   * the flush timer, took the token a waiting connection was due); otherwise queues it (in order) and flushes when
   * tokens are there. A queued request's ack deadline starts when it goes, and so does a queued subscribe's topics'
   * stale clock (subscribeQueued): until 2026-12-06 it started at the queueing, so under a per-IP budget split between
   * many workers (one message in ~27 s each on Deribit) topics went STALE and resynced while their subscribe still
   * waited, which queued more messages.
   */
  send(conn: VenueConnection, text: string, reqId?: string): void {
    if (conn.outbox.length > 0 || (this.ipBucket !== null && this.waiting.size > 0) || !this.takeToken(conn)) {
      conn.outbox.push({ text, reqId });
      const p = reqId !== undefined ? conn.pending.get(reqId) : undefined;
      if (p) {
        p.sentMs = Infinity;
        if (p.op === "subscribe") for (let i = 0; i < p.topics.length; i++) p.topics[i]!.subscribeQueued = true;
        // Its topics are unsubscribing from here (sendRequest), their frames ignored, though the request waits (Deribit:
        // the per-IP budget, ~27 s a slot with 64 workers): recorded now, so replay holds them from here as well
        // (TopicState.replayUnsubscribing). Until 2026-12-07 recorded when written: replay took the whole books between.
        if (p.op === "unsubscribe" && this.protocol.replayHoldsUnsubscribed && this.onWritten !== null && p.recordedQueued !== true) {
          p.recordedQueued = true;
          this.onWritten(conn, p);
        }
      }
      this.paced++;
      this.waiting.add(conn);
      this.scheduleFlush(this.waitMs(conn, this.now()));
      return;
    }
    this.write(conn, text);
    this.heartbeatAsked(conn, reqId);
    this.tellWritten(conn, reqId, reqId !== undefined ? conn.pending.get(reqId) : undefined);
  }

  /**
   * The server was asked for its heartbeat on the connection's socket (RequestProtocol.heartbeatAskTag): its promise
   * holds from now (lifecycle: silence past the heartbeat and the dead-connection time is death, whatever waits in the
   * outbox), counted from this write at the earliest. Until 2026-12-07 only the first test request started it, so a
   * server dead between the two, messages kept waiting for the budget, kept its books LIVE until an ack was late.
   */
  private heartbeatAsked(conn: VenueConnection, reqId: string | undefined): void {
    if (reqId === undefined || reqId !== this.protocol.heartbeatAskTag || conn.serverTested) return;
    conn.serverTested = true;
    conn.heardMs = Math.max(conn.heardMs, this.now());
  }

  /** Tells onWritten of a request written (`p`), or of a tagged message the protocol records (recordedTags). */
  private tellWritten(conn: VenueConnection, reqId: string | undefined, p: PendingRequest | undefined): void {
    if (this.onWritten === null || reqId === undefined) return;
    if (p) this.onWritten(conn, p);
    else if (this.protocol.recordedTags?.includes(reqId)) this.onWritten(conn, { reqId, op: "subscribe", topics: [], sentMs: this.now() });
  }

  /**
   * Replay: a request the live run wrote to connection `conn`'s socket (venue.ts SOCKET_REQUEST_URL_PREFIX), read once
   * by the lifecycle (recorded-request.ts), pending as live's was, so the recorded answer is matched to it as live
   * matched it (a refusal rejects the topic it names). The topics' states are not changed (replay keeps them subscribed;
   * one rejected is subscribed again, as live's activateAll, unless the record names it still closed): an acceptance
   * then changes nothing, and a refusal acts where it needs no topic left pending (reject: `subscribe_rejected`). The
   * protocol is told of each (RequestProtocol.replayRequest, then requested as sendRequest tells it live), also of a
   * tagged subscribe naming no topic (recordedTags) and of one naming none of conn's topics (false; a record that is
   * not a request live writes the lifecycle refuses before). A venue's own lists override it (Upbit).
   */
  replayRecorded(conn: VenueConnection, req: RecordedRequest): boolean {
    const names = new Set(req.names);
    const topics = conn.topics.filter((t) => names.has(t.topic));
    if (topics.length === 0) {
      // A tagged subscribe naming no topic (Coinbase's heartbeats), or one of topics this config does not give conn:
      // its answer still comes in turn with the others' (Coinbase), so the protocol learns of it all the same.
      this.protocol.replayRequest?.(conn, req.id, req.op, []);
      return req.names.length === 0 && req.op === "subscribe" && this.protocol.recordedTags?.includes(req.id) === true;
    }
    conn.pending.set(req.id, { reqId: req.id, op: req.op, topics, sentMs: this.now() });
    this.protocol.replayRequest?.(conn, req.id, req.op, topics);
    this.protocol.requested?.(req.op, topics, true);
    if (this.protocol.replayHoldsUnsubscribed) this.replayHold(req.op, topics);
    // A rejected topic subscribed again: its listing's re-check found it trading (ConnectionLifecycle.activateAll).
    // Its silence counts from this write, as live's from the send (sendRequest): until s-rd13b it counted from its
    // last frame before the closure (venues without replayHold), and a stale round before its answer made it STALE
    // where live never had it so.
    // Books the request names that were closed when live wrote it (a fourth element, since s-replaymark:
    // ConnectionLifecycle.recordWritten) stay closed: live's subscribe did not bring them back.
    if (req.op === "subscribe") for (const t of topics) if (!req.stillClosed.has(t.topic)) this.replayResubscribed(t);
    return true;
  }

  /**
   * Replay: a closed or refused topic (SUB_REJECTED) subscribed again, by a recorded subscribe or a recorded reopening
   * while its subscribe was out (venue.ts INSTRUMENTS_REOPENED_URL): awaiting its snapshot, its silence counted from
   * now. Replay keeps its topics subscribed (SUB_ACTIVE): the answer then changes nothing. Others are left as they are.
   * One whose go-back subscribe is still held (subscribeQueued, ws:back-held before its closure) is SUB_PENDING, as
   * live's activateAll leaves it while that subscribe is out, until its ws:req (replayHeldSubscribeGone). Until s-subdiff
   * it was SUB_ACTIVE here but SUB_PENDING in a replay begun at a later file's head (ws:back-heldset): OKX resynced it on
   * a bad frame (parse-errors.ts subscribeHeld) only in the replay that had read the records, not live.
   */
  replayResubscribed(t: TopicState): void {
    if (t.sub !== SUB_REJECTED) return;
    t.book = BookState.AWAITING_SNAPSHOT;
    t.lastSeq = 0;
    t.hasSeq = false;
    t.sub = t.subscribeQueued ? SUB_PENDING : SUB_ACTIVE;
    t.lastMsgMs = this.now();
    this.onReplayResubscribed?.(t);
  }

  /**
   * Replay (RequestProtocol.replayHoldsUnsubscribed): live's resync unsubscribes a topic and ignores its frames until
   * the subscribe that follows the ack (or a backoff); in flight, they may be of the sequence before a venue reset the
   * other socket of an overlap delivered, which a full-book snapshot would have made the book's, LIVE. A recorded
   * unsubscribe holds the topic likewise (TopicState.replayUnsubscribing: the venue's frame path ignores it) until a
   * recorded subscribe of it, which starts its silence as live's send does. Not a rejected topic, nor a book replay
   * holds LIVE: live unsubscribes none (a resync invalidates first) but one it closes (an instrument closed), whose
   * recorded closure comes right after (ConnectionLifecycle.replayClosed halts it): its frames are judged as before.
   * Bybit and OKX each had this rule in its adapter until 2026-12-07 (OKX held a LIVE book too, frozen until stale).
   */
  private replayHold(op: "subscribe" | "unsubscribe", topics: readonly TopicState[]): void {
    for (const t of topics) {
      if (op === "subscribe") {
        t.replayUnsubscribing = false;
        replayHeldSubscribeGone(t); // a go-back's held subscribe written (SOCKET_BACK_HELD_URL)
        t.lastMsgMs = this.now();
      } else if (t.sub !== SUB_REJECTED && t.book !== BookState.LIVE) {
        t.replayUnsubscribing = true;
      }
    }
  }

  /**
   * Sends what the buckets allow from every outbox, one message a connection at a time: a connection that sent goes
   * behind the others (re-added, so this pass visits it again after them). Before, each was emptied in the order they
   * began waiting, so under a shared per-IP budget one whose outbox kept refilling took every token and another's
   * queued request never went (its ack deadline, counted from the send, never started). Reschedules itself while
   * anything waits, for the first connection that can send again. Cold.
   */
  flush(): void {
    this.flushTimer = null;
    this.flushDueMs = Infinity;
    const now = this.now();
    for (const conn of this.waiting) {
      if (!conn.ws || !conn.open) {
        this.dropQueued(conn);
        continue;
      }
      if (conn.outbox.length === 0) {
        // Emptied by a withdrawal (Upbit: a list or probe whose codes all closed), the socket still there: not dropped.
        // Until 2026-12-07 dropQueued, which cleared the hold of codes asked by no queued message yet (Upbit: those
        // subscribed during a bisection), whose stale clock then ran before they were asked.
        this.waiting.delete(conn);
        continue;
      }
      if (!this.takeToken(conn)) continue;
      const m = conn.outbox.shift()!;
      const p = m.reqId !== undefined ? conn.pending.get(m.reqId) : undefined;
      this.write(conn, m.text);
      this.heartbeatAsked(conn, m.reqId);
      if (p) p.sentMs = now;
      if (p?.recordedQueued === true) p.recordedQueued = false; // recorded when queued (send)
      else this.tellWritten(conn, m.reqId, p);
      if (p) {
        if (p.op === "subscribe") {
          for (let i = 0; i < p.topics.length; i++) {
            const t = p.topics[i]!;
            t.subscribeQueued = false;
            if (t.sub === SUB_PENDING) t.lastMsgMs = now; // its stale clock starts now (sendRequest: at once)
          }
        }
      } else if (m.reqId !== undefined) this.queuedWritten(conn, m.reqId, now);
      this.waiting.delete(conn);
      if (conn.outbox.length > 0) this.waiting.add(conn);
    }
    let waitMs = Infinity;
    for (const conn of this.waiting) waitMs = Math.min(waitMs, this.waitMs(conn, now));
    this.scheduleFlush(waitMs);
  }

  /**
   * A tagged message that waited for the pacing and is no pending request was written now (flush). A venue whose
   * requests await no ack (Upbit: whole lists, probes) starts here what waited for it, as flush does for a pending
   * subscribe: the one moment a queued message counts as written.
   */
  protected queuedWritten(_conn: VenueConnection, _reqId: string, _nowMs: number): void {}

  private takeToken(conn: VenueConnection): boolean {
    const per = this.protocol.pacing?.perConnection;
    if (!per && !this.ipBucket) return true;
    const now = this.now();
    if (per && !conn.bucket) conn.bucket = limitOf(per, 1, 0, this.now);
    if (conn.bucket && conn.bucket.waitMs(now) > 0) return false;
    if (this.ipBucket && this.ipBucket.waitMs(now) > 0) return false;
    conn.bucket?.tryTake(now);
    this.ipBucket?.tryTake(now);
    return true;
  }

  /** How long `conn`'s next message must wait for its own and the IP's budget. */
  private waitMs(conn: VenueConnection, now: number): number {
    return Math.max(conn.bucket?.waitMs(now) ?? 0, this.ipBucket?.waitMs(now) ?? 0);
  }

  /**
   * Arms the flush timer `waitMs` from now (Infinity: nothing waits), or earlier than one already armed. Until
   * 2026-12-06 it was set from the first waiting connection's wait and an armed one was kept, so a message whose own
   * bucket had a token sooner waited out another connection's longer wait (up to a whole refill, more with a window).
   */
  private scheduleFlush(waitMs: number): void {
    if (waitMs === Infinity) return;
    const now = this.now();
    const delayMs = Math.max(waitMs, 1);
    if (this.flushTimer && this.flushDueMs <= now + delayMs) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushDueMs = now + delayMs;
    this.flushTimer = setTimeout(() => this.flush(), delayMs);
  }

  /**
   * Closed topics of one open connection (ConnectionLifecycle.retireAll), still ACTIVE or PENDING there: the active
   * ones are unsubscribed; a pending one's subscribe is answered later, and that answer unsubscribes it
   * (onTopicConfirmed). A venue without acks overrides this (Upbit: the list without them replaces the last).
   */
  unsubscribeClosed(conn: VenueConnection, active: TopicState[], _pending: TopicState[]): void {
    if (active.length > 0) this.sendRequest(conn, "unsubscribe", active);
  }

  /** Drops a connection's queued messages (its socket is gone): none of its topics has a subscribe waiting now. */
  dropQueued(conn: VenueConnection): void {
    conn.outbox.length = 0;
    this.waiting.delete(conn);
    for (const t of conn.topics) t.subscribeQueued = false;
  }

  /** Stops the flush timer (adapter stop). */
  stop(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushDueMs = Infinity;
    this.retries.length = 0;
  }

  /** Writes `text` now on `ws` (unpaced, as test replies are): the keepalive probe of a planned reconnect's old socket. */
  writeTo(conn: VenueConnection, text: string, ws: WebSocket): void {
    this.write(conn, text, ws);
  }

  private write(conn: VenueConnection, text: string, ws: WebSocket | null = conn.ws): void {
    try {
      ws?.send(text);
      if (ws === conn.ws) conn.sentOnSocket = true;
    } catch (err) {
      this.log.warn(`${this.protocol.venue}: send failed`, { conn: conn.id, error: String(err) });
    }
  }

  /**
   * A frame that is not JSON: the bare-text keepalive answers (`pong` to OKX's text `ping`, `PONG`) are control
   * frames that prove the connection alive, never parse errors that would resync its books. False for anything
   * else (the caller reports it as malformed). Cold.
   */
  onText(conn: VenueConnection, text: string): boolean {
    if (text !== "pong" && text !== "PONG") return false;
    conn.onPong();
    return true;
  }

  /**
   * A frame that is not an order book: pong, ack, test request, or something unknown. Returns the kind, so the
   * caller can act on a planned close.
   */
  onControl(conn: VenueConnection, msg: unknown): ControlFrame["kind"] {
    const c = this.protocol.classifyControl(msg);
    if (c.kind === "pong") {
      conn.onPong();
      return c.kind;
    }
    if (c.kind === "test_request") {
      // Answered at once, ahead of any paced requests: the venue closes a connection that answers late (Deribit).
      this.testReplies++;
      // On the socket that asked: the old socket of a planned reconnect is still alive and must stay so.
      this.write(conn, c.reply, conn.fromRetiring ? conn.retiringWs : conn.ws);
      conn.onPong(); // the server is alive and we answered it
      // Its heartbeat promise holds on this socket (lifecycle); the old socket's is kept for a go-back.
      if (conn.fromRetiring) conn.retiringServerTested = true;
      else conn.serverTested = true;
      return c.kind;
    }
    if (conn.fromRetiring && c.kind === "ack") {
      // The old socket of a planned reconnect has no request in flight (the swap waits for that): not an answer to ours.
      this.log.debug(`${this.protocol.venue}: answer on the old socket of a planned reconnect ignored`, { conn: conn.id, frame: JSON.stringify(msg).slice(0, 200) });
      return c.kind;
    }
    if (c.kind === "other" || c.kind === "planned_close") {
      this.log.debug(`${this.protocol.venue}: ${c.kind === "other" ? "unhandled frame" : "planned close"}`, { conn: conn.id, frame: JSON.stringify(msg).slice(0, 200) });
      return c.kind;
    }
    this.onAck(conn, c);
    return c.kind;
  }

  private onAck(conn: VenueConnection, c: Extract<ControlFrame, { kind: "ack" }>): void {
    if ((c.successTopics && c.successTopics.length > 0) || (c.failTopics && c.failTopics.length > 0)) {
      this.onTopicAck(conn, c.op, c.reqId, c.successTopics ?? [], c.failTopics ?? [], c.retMsg);
      return;
    }
    let req = c.reqId !== undefined ? conn.pending.get(c.reqId) : undefined;
    if (req !== undefined && !written(req)) req = undefined; // its id has not gone out: not its answer
    // Replay (no socket): an answer naming no request is matched by order only while the capture holds every one
    // since the socket's open (VenueConnection.replayAcksKnown: not after a capture gap, nor in a replay begun mid-socket).
    if (c.reqId === undefined && (conn.ws !== null || conn.replayAcksKnown)) {
      // Acks without req_id (Bybit spot examples omit it): the oldest request with that op, or, for a refusal naming
      // a topic, the oldest of that op naming it. Until 2026-12-06 always the oldest: a refusal of a topic in a later
      // request failed the oldest one instead (its topics split and sent again, the named one never rejected), and
      // the later request stayed pending until its ack deadline. One naming a request no longer out (a repeat)
      // answers none: taken for the oldest, it would confirm a request the venue has not answered. Only a request
      // written can be answered: until 2026-12-06 a repeated ack could take one still queued for pacing (its topics
      // ACTIVE unasked; written later, nothing cleared their subscribeQueued, so the stale rule never judged them).
      const err = c.success ? undefined : this.protocol.parseAckError(c.retMsg);
      const named = err !== undefined && "topic" in err ? err.topic : undefined;
      if (err !== undefined && named === undefined && c.op === "" && err.kind !== "rate_limited" && this.writtenCount(conn) > 1) {
        this.unmatchedRefusal(conn, c.retMsg);
        return;
      }
      for (const p of conn.pending.values()) {
        if (!written(p) || (c.op !== "" && p.op !== c.op)) continue;
        if (named === undefined) {
          req = p;
          break;
        }
        if (p.topics.some((t) => t.topic === named)) {
          req = p;
          break;
        }
        req ??= p; // none names it: the oldest of that op, as before
      }
    }
    if (!req) {
      this.log.debug(`${this.protocol.venue}: ack for no pending request`, { conn: conn.id, reqId: c.reqId, op: c.op, retMsg: c.retMsg });
      return;
    }
    conn.pending.delete(req.reqId);
    // Topics of it the venue answered one by one before this (onTopicAck): confirmed now, the request being over.
    const resubscribe: TopicState[] = [];
    if (req.answered) for (const t of req.answered) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
    if (c.success) {
      conn.rateLimitStreak = 0;
      const givenUp: TopicState[] = [];
      for (const t of req.topics) this.onTopicConfirmed(conn, t, req.op, givenUp, resubscribe);
      this.unsubscribeGivenUp(conn, givenUp);
      if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
      return;
    }
    // Refused: the topics answered before it are subscribed again with those taken as unsubscribed below, in one
    // request (until 2026-12-07 two: the budget, okx/request-budget.ts, counts one per unsubscribe request).
    if (this.protocol.parseAckError(c.retMsg).kind === "rate_limited") {
      if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
      this.retryLater(conn, req.op, req.op === "unsubscribe" ? this.resubscribedSince(conn, req.topics) : req.topics, c.retMsg);
      return;
    }
    if (req.op === "unsubscribe" && req.topics.length > 1 && req.topics.some((t) => t.sub === SUB_REJECTED)) {
      // Closed books unsubscribed together (ConnectionLifecycle.retireAll): one the venue no longer knows (a delisted
      // symbol's topic) fails the whole request, and the others are still subscribed there. Each half goes again, down
      // to the one refused alone (then taken as unsubscribed, below). Any other topic of it proceeds as before.
      const givenUp = req.topics.filter((t) => t.sub === SUB_REJECTED);
      this.log.warn(`${this.protocol.venue}: unsubscribe of closed books refused as a whole; sending it again in halves`, { conn: conn.id, retMsg: c.retMsg, topics: givenUp.length });
      for (const t of req.topics) if (t.sub !== SUB_REJECTED) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
      const half = Math.ceil(givenUp.length / 2);
      this.unsubscribeGivenUp(conn, givenUp.slice(0, half));
      this.unsubscribeGivenUp(conn, givenUp.slice(half));
      return;
    }
    if (req.op === "unsubscribe") {
      // Not subscribed after all (e.g. it never took effect): proceed as if unsubscribed.
      this.log.warn(`${this.protocol.venue}: unsubscribe rejected; treating topics as unsubscribed`, { conn: conn.id, retMsg: c.retMsg, topics: req.topics.map((t) => t.topic) });
      for (const t of req.topics) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
      return;
    }
    this.onSubscribeFailed(conn, req.topics, c.retMsg);
  }

  /** Requests written on the connection's socket and not answered (an answer naming none can be theirs only). Cold. */
  private writtenCount(conn: VenueConnection): number {
    let n = 0;
    for (const p of conn.pending.values()) if (written(p)) n++;
    return n;
  }

  /**
   * A refusal naming no request, op or topic (a Bybit option COMMAND_RESP with `success:false` and no lists, a
   * decode error) while several written requests are out: whose it is cannot be told, so it answers them all, each
   * the safe way, and none is left waiting for an answer that no longer comes. A subscribe's topics may be subscribed
   * on the venue or not: each is taken as subscribed and restarted through its resync backoff (unsubscribe, then
   * subscribe, as after `already subscribed`: a fresh snapshot either way, never a duplicate subscribe, which
   * Bybit's option socket refuses), batched where the venue can (freshStarts); on a venue whose resync keeps the
   * stream (Binance), subscribed again for real. An unsubscribe's topics are taken as unsubscribed (as a refused unsubscribe's).
   * One request written: it is that one's (onAck). Until 2026-12-07 the oldest written request of any op took it: the
   * request really refused waited for its ack deadline, and an unsubscribe taken so had its real answer confirm
   * the subscribe after it, its book ACTIVE without data until the stale rule. Cold.
   */
  private unmatchedRefusal(conn: VenueConnection, retMsg: string): void {
    const answered = [...conn.pending.values()].filter(written);
    // A planned reconnect's replacement, asking for books the old socket serves: the refusal may be of one of them, the
    // replacement failing (go back, as retryAfterError). Taken as subscribed, a LIVE book was left as it was, the old
    // socket closed as replaced, and the book stayed LIVE fed by nothing until the stale rule.
    const served = conn.ws !== null && conn.retiringGeneration >= 0 && answered.some((p) => p.op === "subscribe" && p.topics.some((t) => t.onRetiring));
    if (served && this.onReplacementRefused?.(conn, `replacement refused a request (which not named): ${retMsg}`)) return;
    this.log.warn(`${this.protocol.venue}: a refusal naming no request, op or topic with ${answered.length} requests out; each taken as answered, its topics resynced`, { conn: conn.id, retMsg, requests: answered.map((p) => p.reqId) });
    const resubscribe: TopicState[] = [];
    const subscribed: TopicState[] = [];
    for (const p of answered) {
      conn.pending.delete(p.reqId);
      if (p.answered) for (const t of p.answered) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      if (p.op === "unsubscribe") for (const t of p.topics) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      else subscribed.push(...p.topics);
    }
    if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
    // Still in the overlap (its old socket closing: no go-back), a LIVE book the old socket fed may be the refused one:
    // it leaves LIVE and restarts, as retryAfterError's (else the old socket's close took it for carried here).
    const restart = subscribed.filter((t) => this.subscribedAfterAll(conn, t, served));
    if (restart.length === 0) return;
    if (this.resyncResubscribes) {
      this.freshStarts(restart);
      return;
    }
    // A resync that keeps the stream (Binance) leaves one whose subscribe was the refused one unserved: until
    // 2026-12-07 its book waited until the connection was replaced, up to ~24 h. Each is taken as refused for now (its
    // bridge dropped, its frames ignored until a subscribe of it is accepted), resynced, and subscribed again for
    // real, unsubscribe then subscribe, batched: two requests, where replacing the connection (as the ack deadline
    // did before that day) resyncs every book on it.
    for (const t of restart) this.invalidate(t, t.book, StatusReason.SUBSCRIBE_REJECTED);
    this.freshStarts(restart);
    this.restartTopics(restart);
  }

  /**
   * A topic whose subscribe the venue may hold after all (`already subscribed`, or a refusal that may not be its own):
   * taken as subscribed; true when, its book not live, it is to get a fresh snapshot the safe way (freshStarts);
   * given up while that subscribe was out (instrument closed), it is unsubscribed instead, not brought back.
   * `evenLive`: a LIVE book too (invalidated first: its feed may be gone).
   */
  private subscribedAfterAll(conn: VenueConnection, t: TopicState, evenLive = false): boolean {
    if (t.sub === SUB_REJECTED) {
      this.unsubscribeGivenUp(conn, [t]);
      return false;
    }
    t.sub = SUB_ACTIVE;
    t.refusedUntilAck = false;
    if (t.book === BookState.LIVE) {
      if (!evenLive) return false;
      this.invalidate(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    }
    // A resync asked for while the subscribe was out is this fresh start: until 2026-12-07 it stayed asked for, and the
    // fresh start's own subscribe ack restarted the topic once more (one more unsubscribe and subscribe).
    t.resyncAfterAck = false;
    return true;
  }

  /**
   * Fresh starts for topics taken as subscribed (subscribedAfterAll), through their resync backoff (their states
   * unchanged: nothing new to tell), their requests batched when the venue can (resyncMany: until 2026-12-07 each
   * restarted alone, two requests a topic, 58 of OKX's 480 an hour for a connection's 29 books). Cold.
   */
  private freshStarts(ts: readonly TopicState[]): void {
    if (this.resyncMany) this.resyncMany(ts, StatusReason.SUBSCRIBE_REJECTED);
    else if (this.resync) for (const t of ts) this.resync(t, t.book, StatusReason.SUBSCRIBE_REJECTED);
    else this.restartTopics(ts);
  }

  /**
   * An answer matched to `req` (its topics when matched: `topics`) whose handling threw (a venue's frame fault: Coinbase,
   * whose answers carry no request id, so no later frame can answer it instead). The request is over at once rather
   * than left pending for its ack deadline, which fails the socket and resyncs every book on it. `taken`: the answer
   * is taken as accepting every topic (a subscriptions event that could not be handled proves no refusal, as one whose
   * lists cannot be read); else as a refusal for a reason that proves nothing (`why`): a subscribe's batch split to
   * single topics, one alone sent again after its backoff (retryAfterError), an unsubscribe's topics taken as
   * unsubscribed (onAck). Then, as its handling may have been cut short after the common layer took the request or a
   * part of it (a batch answered topic by topic: the topics resolved before the throw are off `req.topics`), a topic of
   * it left waiting for no request (a subscribe's still PENDING, an unsubscribe's still UNSUBSCRIBING, none out naming
   * it) is settled alone the same way (a subscribe's taken as accepted when `taken`; until s-rd26a sent again after a
   * backoff, its book RESYNCING / SUBSCRIBE_REJECTED, whatever the answer; and a topic resolved before the throw of a
   * request still pending was left PENDING for good: a resync of it then waited for an ack that never came); an
   * unsubscribe's topic confirmed but whose subscribe did not go (IDLE, not LIVE, not waiting out its resync backoff,
   * no subscribe out) is subscribed: until s-rd26a it sat RESYNCING with nothing out, which the stale rule never
   * judges (an idle topic), until the socket's end. Cold.
   */
  answerLost(conn: VenueConnection, req: PendingRequest, topics: readonly TopicState[], taken: boolean, why: string): void {
    if (conn.pending.get(req.reqId) === req) {
      if (taken) this.onTopicAck(conn, req.op, req.reqId, req.topics.map((t) => t.topic), [], why);
      else this.onAck(conn, { kind: "ack", op: req.op, success: false, retMsg: why, reqId: req.reqId, successTopics: undefined, failTopics: undefined });
    }
    const resubscribe: TopicState[] = [];
    for (const t of topics) {
      if (req.op === "subscribe" && t.sub === SUB_PENDING && !this.subscribeOut(conn, t)) {
        if (taken) this.onTopicConfirmed(conn, t, "subscribe", [], resubscribe);
        else this.retryAfterError(conn, t, why);
      } else if (req.op === "unsubscribe" && t.sub === SUB_UNSUBSCRIBING && !this.unsubscribeOut(conn, t)) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      else if (req.op === "unsubscribe" && t.sub === SUB_IDLE && !t.resyncDelayed && t.book !== BookState.LIVE && !this.subscribeOut(conn, t)) resubscribe.push(t);
    }
    if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
  }

  /** Whether an unsubscribe naming `t` is out on its connection's current socket (sent or queued and not answered, or waiting to go again). */
  private unsubscribeOut(conn: VenueConnection, t: TopicState): boolean {
    return this.pendingNames(conn, "unsubscribe", t, false) || this.retryNames(conn, "unsubscribe", t);
  }

  /**
   * Per-topic success and failure lists (OKX's one ack per arg, Bybit option's COMMAND_RESP, Deribit's partial
   * result, Coinbase's subscriptions event). `op`: the op the ack says it answers ("" when it does not say: Bybit
   * option's COMMAND_RESP may not); `reqId`: the request it names, if it names one.
   */
  private onTopicAck(conn: VenueConnection, op: string, reqId: string | undefined, ok: string[], failed: string[], retMsg: string): void {
    // An ack naming its request (OKX, Deribit, Coinbase; Bybit's when it has req_id) answers that request only, if
    // written and naming the topic. Until 2026-12-07 the id was ignored: a late repeat of an old subscribe's ack
    // confirmed a newer written resubscribe of the topic, whose real answer (a refusal) then answered nothing, and the
    // topic sat ACTIVE without data until the stale rule. Without an id, the op answered is that of the oldest written
    // request naming the topic, of the ack's op when it says one (a topic given up sends an unsubscribe and stays
    // rejected, so its state cannot tell). Until 2026-12-06 any pending one: a repeated subscribe ack confirmed a
    // resubscribe still queued for pacing (ACTIVE unasked, its stale clock held for good), and a repeated unsubscribe
    // ack confirmed the subscribe that followed it.
    const named = reqId !== undefined ? conn.pending.get(reqId) : undefined;
    const byOrder = conn.ws !== null || conn.replayAcksKnown; // as onAck's
    const resolve = (name: string): { t: TopicState; op: "subscribe" | "unsubscribe"; p: PendingRequest } | undefined => {
      const t = conn.byTopic.get(name);
      if (!t || (reqId === undefined && !byOrder)) return undefined;
      for (const [id, p] of conn.pending) {
        if (reqId !== undefined && p !== named) continue;
        if (!written(p) || (op !== "" && p.op !== op)) continue;
        const i = p.topics.indexOf(t);
        if (i >= 0) {
          p.topics.splice(i, 1);
          if (p.topics.length === 0) conn.pending.delete(id);
          return { t, op: p.op, p };
        }
      }
      // None pending names it: a repeated answer (or none of ours), which answers nothing. Taken by the topic's state,
      // a repeated refusal rejected a live book for good, a repeated acceptance made a topic whose subscribe waits out
      // a rate-limit backoff active (the retry then never went), and a given-up topic sent one more unsubscribe per
      // repeat (a venue repeating every answer would keep them going).
      return undefined;
    };
    if (ok.length > 0) conn.rateLimitStreak = 0; // accepted (OKX acks only this way): the backoff starts over
    const givenUp: TopicState[] = [];
    const resubscribe: TopicState[] = [];
    // An unsubscribe's topic answered while others of its request are not: confirmed with the last of them, so the
    // subscribes that follow (restartTopics) go as one request, not one a topic.
    const unsubscribed = (r: { t: TopicState; p: PendingRequest }) => {
      if (r.p.topics.length > 0) {
        (r.p.answered ??= []).push(r.t);
        return;
      }
      if (r.p.answered) for (const t of r.p.answered) this.onTopicConfirmed(conn, t, "unsubscribe", [], resubscribe);
      r.p.answered = undefined;
      this.onTopicConfirmed(conn, r.t, "unsubscribe", [], resubscribe);
    };
    for (const name of ok) {
      const r = resolve(name);
      if (!r) continue;
      if (r.op === "unsubscribe") unsubscribed(r);
      else this.onTopicConfirmed(conn, r.t, r.op, givenUp, resubscribe);
    }
    this.unsubscribeGivenUp(conn, givenUp);
    for (const name of failed) {
      const r = resolve(name);
      if (!r) continue;
      if (r.op === "unsubscribe") unsubscribed(r);
      else this.reject(r.t, retMsg || "listed in failTopics", this.protocol.failTopicsUnexplained === true && !this.provesUnserved(retMsg));
    }
    if (resubscribe.length > 0) this.owed(() => this.sendRequest(conn, "subscribe", resubscribe));
  }

  /**
   * Sends what a resync under way owes once an answer came (the subscribe after its unsubscribe's, the unsubscribe
   * after its subscribe's): counted as owed by the venue's count for every request asked before (OKX: stillToSend), so
   * ahead of every request held for it (askingSeq -Infinity; held itself, first in line).
   */
  private owed(send: () => void): void {
    this.askingAt(-Infinity, send);
  }

  /**
   * `givenUp`: topics of the answer to unsubscribe, collected so that one request (per batch) unsubscribes them all;
   * `resubscribe`: topics unsubscribed for a fresh start, collected so that one request (per batch) subscribes them.
   */
  private onTopicConfirmed(conn: VenueConnection, t: TopicState, op: "subscribe" | "unsubscribe", givenUp: TopicState[], resubscribe: TopicState[]): void {
    if (op === "subscribe") {
      if (t.streamedOn === conn.generation) t.streamedOn = -1; // its subscribe's own now (given up: unsubscribed below)
      if (t.sub === SUB_REJECTED) {
        // Given up while its subscribe was out (an instrument closed: the lifecycle's retire() sends an unsubscribe
        // only for an active topic): the venue now serves it unasked for, and a later subscribe would be refused as
        // already subscribed. Unsubscribed with the answer's others (a venue-wide break closes a whole batch: one
        // request, not one per book); that ack finds it rejected, so nothing follows.
        givenUp.push(t);
        return;
      }
      t.refusedUntilAck = false; // accepted: its updates are taken again (replay's topics stay ACTIVE: before the check)
      // The refusals' streak ends here, before the check too: replay's re-subscribed topic is ACTIVE (replayRecorded).
      // Until 2026-12-07 replay kept it, and a third refusal without a reason (Bybit option) however far apart halted
      // the book live had RESYNCING (reject: UNEXPLAINED_REFUSALS_BEFORE_HALT).
      if (t.subscribeErrorStreak > 0) {
        this.log.info(`${this.protocol.venue}: subscribe accepted after refusals`, { market: t.market, topic: t.topic, refusals: t.subscribeErrorStreak });
        t.subscribeErrorStreak = 0;
      }
      if (t.sub !== SUB_PENDING) return;
      t.sub = SUB_ACTIVE;
      if (t.resyncAfterAck) {
        t.resyncAfterAck = false;
        if (t.book !== BookState.LIVE) this.owed(() => this.restartTopic(t));
      }
      return;
    }
    if (t.sub !== SUB_UNSUBSCRIBING) return;
    t.sub = SUB_IDLE;
    if (t.resubscribeAfterUnsub) {
      t.resubscribeAfterUnsub = false;
      resubscribe.push(t);
    }
  }

  /**
   * A rejected subscribe batch: the named topic is dealt with, the rest of the batch is sent again, so one bad
   * topic never takes its batch or its connection down. Each retry removes at least one topic, so this ends.
   */
  private onSubscribeFailed(conn: VenueConnection, topics: TopicState[], retMsg: string): void {
    const err = this.protocol.parseAckError(retMsg);
    const named = "topic" in err ? topics.find((t) => t.topic === err.topic) : undefined;
    // One still streamed (TopicState.streamedOn) given up again while this was out is unsubscribed now, as this
    // subscribe's acceptance would have (not the one the refusal names: already subscribed, unsubscribed below; not
    // found, by reject()); the others keep the mark through their retries. Until s-fr3a the mark went with a 60014
    // retry only: a retry after any other refusal dropped it, and nothing unsubscribed the channel (subscribed for
    // good). The batch is judged whole (retry() sends only those still wanted): until s-rd22a judged without them, one
    // left alone was rejected for a refusal of the batch, maybe of them.
    const gone = topics.filter((t) => t.sub === SUB_REJECTED && t.streamedOn === conn.generation && t !== named);
    if (gone.length > 0) this.unsubscribeGivenUp(conn, gone);
    if (err.kind === "handler_not_found" && named) {
      this.reject(named, retMsg);
      this.retry(conn, topics.filter((t) => t !== named));
      return;
    }
    if (err.kind === "already_subscribed" && named) {
      // Subscribed on the venue side after all: a fresh snapshot the safe way.
      this.alreadySubscribed++;
      if (this.subscribedAfterAll(conn, named)) this.freshStarts([named]);
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
    if (topics.length !== 1) return;
    // Alone: given up only when the venue's words prove it cannot be served (its parseAckError lists them). "Not
    // found" naming a spelling other than the topic's (the venue's case or form of the name) is still about the one
    // topic asked for: sent again, it would be refused so every 30-60 s for ever.
    if (err.kind === "refused" || err.kind === "handler_not_found") this.reject(topics[0]!, retMsg);
    else this.retryAfterError(conn, topics[0]!, retMsg);
  }

  /**
   * A single topic's subscribe refused for a reason that may pass (AckError `other`: "system busy", a code we do not
   * know): its book is RESYNCING / SUBSCRIBE_REJECTED (subscribers see it is not to be trusted) and the subscribe goes
   * again on the same socket after a backoff of its own (1 s doubling to 60 s while its refusals continue, never
   * before the venue's request count allows: requestWaitMs), sent by retriesDue; counted (subscribeErrors,
   * subscribeRetries), logged once per streak of refusals (and once when one is accepted). Until 2026-12-06 it was
   * rejected: one transient error at a resync's single-topic subscribe halted the book for good.
   */
  private retryAfterError(conn: VenueConnection, t: TopicState, retMsg: string): void {
    // Replay (no socket) keeps its topics subscribed (replayRecorded): the recorded retry's request and answer follow.
    const replaying = conn.ws === null;
    if (t.sub !== SUB_PENDING && !(replaying && t.sub === SUB_ACTIVE)) return;
    if (t.onRetiring && conn.retiringGeneration >= 0) {
      if (replaying) {
        this.refusedInOverlap.push({ t, retMsg, retiringGen: conn.retiringGeneration, permanent: false });
        this.holdRefusals(conn);
        return;
      }
      if (this.onReplacementRefused?.(conn, `replacement refused ${t.topic}: ${retMsg}`)) return;
    }
    this.subscribeErrors++;
    this.subscribeRetries++;
    const streak = t.subscribeErrorStreak++;
    const budgetWaitMs = this.protocol.requestWaitMs?.(conn) ?? 0;
    const delayMs = Math.max(equalJitterMs(streak, SUBSCRIBE_ERROR_BACKOFF_BASE_MS, SUBSCRIBE_ERROR_BACKOFF_MAX_MS, this.random), budgetWaitMs);
    if (streak === 0) {
      this.log.warn(`${this.protocol.venue}: subscribe refused for a reason that may pass; sending it again after a backoff (1 s doubling to 60 s) until accepted`, {
        market: t.market,
        topic: t.topic,
        venueMessage: retMsg,
        delayMs: Math.round(delayMs),
      });
    }
    this.invalidate(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
    if (!replaying) this.retries.push({ conn, gen: conn.generation, op: "subscribe", topics: [t], dueMs: this.now() + delayMs, waitMs: delayMs });
  }

  /**
   * The venue refused a request as over its rate limit: the same request goes again after an equal-jitter backoff
   * (0.5 s doubling to 10 s while the connection's refusals continue; a request it has accepted, answered by id or
   * per topic, starts it over: one accepted on another connection does not, as the limit may be the connection's,
   * OKX's hour), or once the venue's request count has room (RequestProtocol.requestWaitMs) if that is later, on the same
   * socket only; nothing is rejected for it. Timed on the adapter's clock and jitter (`now`, `random`): sent by
   * retriesDue, which the lifecycle's housekeeping calls each round.
   */
  private retryLater(conn: VenueConnection, op: "subscribe" | "unsubscribe", topics: TopicState[], retMsg: string): void {
    this.rateLimited++;
    // Replay (no socket): the live run's retry is in the capture (its ws:req and answer); until 2026-12-07 replay warned
    // of one more and queued it, never to go out.
    if (conn.ws === null) return;
    // Never before the venue's own count allows one more request (OKX's hour): each retry sooner is refused again.
    const budgetWaitMs = this.protocol.requestWaitMs?.(conn) ?? 0;
    const delayMs = Math.max(equalJitterMs(conn.rateLimitStreak++, RATE_LIMIT_BACKOFF_BASE_MS, RATE_LIMIT_BACKOFF_MAX_MS, this.random), budgetWaitMs);
    this.log.warn(`${this.protocol.venue}: request over the venue's rate limit; sending it again`, { conn: conn.id, op, topics: topics.length, retMsg, delayMs: Math.round(delayMs) });
    this.retries.push({ conn, gen: conn.generation, op, topics, dueMs: this.now() + delayMs, waitMs: delayMs });
  }

  /**
   * Sends again the refused requests whose backoff is over by `now` (the adapter's clock), in the order they were
   * refused, each only if the venue's request count has room for it now (requestWaitMs; else it waits for that room);
   * one whose socket went is dropped (its reconnect subscribes afresh). Cold: the lifecycle's housekeeping.
   * Those held for the count go first held, first sent: each waits only for the room of those held before it, and is
   * counted against any newer request (waitingOn), so it keeps its place (one that still finds no room stays in line,
   * a refused one comes due without room joins it). Each round asks for every one in line, in its order (on a
   * socket, until one finds no room: those behind it have none either), whatever its dueMs (an estimate made when
   * held: those ahead of it may have been dropped since, so one behind could be due first). Until s-okxheld a held one reserved nothing: a request asked in between (another book's resync, a closed
   * book's unsubscribe) took the room it waited for, again and again.
   */
  retriesDue(now: number): void {
    if (this.retries.length === 0) return;
    const due: typeof this.retries = [];
    for (const r of this.retries) {
      // A clock stepped back would hold it for the step's length more: at most its own wait from here.
      if (r.dueMs > now + r.waitMs) r.dueMs = now + r.waitMs;
      if (now >= r.dueMs || r.heldSeq !== undefined) due.push(r);
    }
    due.sort((x, y) => (x.heldSeq ?? Infinity) - (y.heldSeq ?? Infinity) || 0);
    // Each stays in `retries` while it asks (the one asking: none ahead of it is counted as gone) and goes from it once sent.
    const drop = (r: (typeof due)[number]) => {
      const i = this.retries.indexOf(r);
      if (i >= 0) this.retries.splice(i, 1);
    };
    let full: Set<VenueConnection> | undefined; // sockets whose count had no room for a held one this round
    for (const r of due) {
      const { conn, gen, op, topics } = r;
      if (conn.generation !== gen || !conn.open) {
        drop(r); // the socket went: its reconnect subscribes afresh
        continue;
      }
      const still = topics.filter((t) => t.sub === (op === "subscribe" ? SUB_PENDING : SUB_UNSUBSCRIBING));
      // A topic given up meanwhile (or whose unsubscribe this was: ConnectionLifecycle.retire) is still subscribed at
      // the venue, which refused the unsubscribe: it goes again too, the topic staying given up. So is one of a
      // subscribe that took its closure's unsubscribe off (TopicState.streamedOn) and was refused, given up again
      // since: until s-rd21c dropped here, nothing unsubscribed its channel (subscribed for good).
      const givenUp = topics.filter((t) => t.sub === SUB_REJECTED && (op === "unsubscribe" || t.streamedOn === gen));
      // A closed book listed again whose subscribe waits too (behind this one): its channel still subscribed, this stays
      // its unsubscribe should it close again before that subscribe goes (subscribeGoes ends it). Until s-rd20a dropped
      // here: closed again, nothing unsubscribed the channel (its subscribe never went), subscribed for good.
      const keep = () => {
        const reopened = op === "unsubscribe" ? topics.filter((t) => this.subscribeWaits(conn, t)) : [];
        if (reopened.length > 0) r.topics = reopened;
        else drop(r);
      };
      if (still.length === 0 && givenUp.length === 0) {
        keep();
        continue;
      }
      // One held before it on this socket found no room: neither does it, behind that one (counted with it), so it is not
      // asked (each ask walks every waiting request: a round asking each of thousands held took ~75 ms, s-rd20a).
      if (r.heldSeq !== undefined && full?.has(conn) === true) continue;
      this.askingAt(r.heldSeq ?? Infinity, () => {
        // The venue's count asked again as each goes (OKX's hour): retries refused together while it had room for one
        // were all due at once, and all went past it (each then refused 60014, and due together again at the next room).
        const budgetWaitMs = this.protocol.requestWaitMs?.(conn) ?? 0;
        if (budgetWaitMs > 0) {
          r.dueMs = now + budgetWaitMs;
          r.waitMs = budgetWaitMs;
          r.heldSeq ??= ++this.heldSeqs;
          (full ??= new Set()).add(conn);
          return;
        }
        this.unsubscribeGivenUp(conn, givenUp);
        if (still.length > 0) {
          if (op === "subscribe") for (const t of still) t.sub = SUB_IDLE; // sendRequest starts its stale clock (a hold's too)
          this.sendRequest(conn, op, still);
        }
        keep();
      });
    }
  }

  /**
   * Going back to a planned reconnect's old socket (planned-reconnect.ts goBack): `givenUp`, closed during the overlap
   * while the old socket served them, are unsubscribed there, and `resubscribe`, which it does not serve, subscribed.
   * A venue whose every request carries the whole list (Upbit) sends one list for both.
   */
  requestsGoingBack(conn: VenueConnection, givenUp: TopicState[], resubscribe: TopicState[]): void {
    this.unsubscribeGivenUp(conn, givenUp);
    this.sendRequest(conn, "subscribe", resubscribe);
  }

  /**
   * Those of `topics` whose subscribe waits on `conn`'s current socket for the venue's request count (OKX's hour:
   * holdForBudget) or is queued for the pacing budget (Deribit's per-IP one: ~27 s a slot with 64 workers; since
   * s-rd27a), not written, so not recorded yet (goBack names them for replay: venue.ts SOCKET_BACK_HELD_URL). Cold.
   */
  subscribesHeld(conn: VenueConnection, topics: readonly TopicState[]): TopicState[] {
    // Queued for pacing: only where replay holds a recorded unsubscribe (the divergence; and only there does a recorded
    // subscribe end the mark: replayHold).
    const paced = this.replayHoldsUnsubscribed;
    return topics.filter((t) => this.subscribeWaits(conn, t) || (paced && t.sub === SUB_PENDING && this.pendingNames(conn, "subscribe", t, true)));
  }

  /** Whether replay holds a recorded unsubscribe's topics (RequestProtocol.replayHoldsUnsubscribed). */
  get replayHoldsUnsubscribed(): boolean {
    return this.protocol.replayHoldsUnsubscribed === true;
  }

  /** Unsubscribes topics given up (SUB_REJECTED) that the venue may still serve; they stay given up, so the ack ends it. */
  unsubscribeGivenUp(conn: VenueConnection, topics: TopicState[]): void {
    if (topics.length === 0 || !conn.open) return;
    this.sendRequest(conn, "unsubscribe", topics);
    for (const t of topics) t.sub = SUB_REJECTED;
  }

  private retry(conn: VenueConnection, topics: TopicState[]): void {
    const again = topics.filter((t) => t.sub === SUB_PENDING);
    if (again.length === 0) return;
    this.subscribeRetries++;
    for (const t of again) t.sub = SUB_IDLE;
    this.sendRequest(conn, "subscribe", again);
  }

  /**
   * Replay: the overlap of `conn` ended by the old socket's retirement (`venues`: the refusals of topics it served that
   * the replacement met in this overlap were the venue's, rejected now; called before the overlap is cleared) or
   * otherwise (going back: they failed the replacement; a close; an end lost from the capture: none rejected).
   */
  replayOverlapOver(conn: VenueConnection, venues: boolean): void {
    conn.replayRefusalHeld = null;
    const refused = this.refusedInOverlap.filter((r) => r.t.conn === conn);
    if (refused.length === 0) return;
    this.refusedInOverlap = this.refusedInOverlap.filter((r) => r.t.conn !== conn);
    const gen = conn.retiringGeneration;
    conn.retiringGeneration = -1; // reject() asks whether the overlap is open: it is over
    for (const r of refused) {
      if (!venues || r.retiringGen !== gen) continue;
      if (r.permanent) this.reject(r.t, r.retMsg, r.unexplained);
      else this.retryAfterError(r.t.conn, r.t, r.retMsg);
    }
    conn.retiringGeneration = gen;
  }

  /** Replay: conn's next record says whose the held refusals were (VenueConnection.replayRefusalHeld). */
  private holdRefusals(conn: VenueConnection): void {
    conn.replayRefusalHeld ??= () => this.replayOverlapOver(conn, true);
  }

  /** Whether the venue's words for a refusal prove the topic cannot be served (parseAckError: handler_not_found, refused). */
  private provesUnserved(retMsg: string): boolean {
    if (retMsg === "") return false;
    const kind = this.protocol.parseAckError(retMsg).kind;
    return kind === "handler_not_found" || kind === "refused";
  }

  /**
   * Gives up on a topic the venue refuses; its book is halted with SUBSCRIBE_REJECTED and its listing asked after a
   * wait (onRejected). `unexplained` (a refusal without a reason: RequestProtocol.failTopicsUnexplained): its book is
   * RESYNCING / SUBSCRIBE_REJECTED instead (never LIVE; not halted, as the refusal may pass) and its listing asked at
   * once, which subscribes it again if it is listed as trading and closes it (HALTED / INSTRUMENT_CLOSED) if not;
   * halted only once refused so UNEXPLAINED_REFUSALS_BEFORE_HALT times in a row, or when no listing will be asked
   * (re-checks off, a config override). Until 2026-12-07 it was halted at once like any rejection (Bybit option).
   * Upbit's replay refuses by it too.
   */
  protected reject(t: TopicState, retMsg: string, unexplained = false): void {
    // Still streamed on this socket by our own account (TopicState.streamedOn: its subscribe took its closure's waiting
    // unsubscribe's place): the refusal judges that subscribe, not the channel the socket already has, so the channel is
    // unsubscribed (one request; a refusal of it is taken as unsubscribed). Until s-streamleft nothing did: a book given
    // up again whose subscribe was refused topic by topic (Deribit, Coinbase failTopics) or refused for good (OKX 60018)
    // left its channel subscribed until the socket went. Another socket's mark is not this refusal's (s-rd23a).
    const streamed = t.streamedOn === t.conn.generation;
    // Its subscribe's refusal ends it (on this socket). Where an unsubscribe goes below, sendRequest would end it too;
    // this ends it where none goes: the replay and replacement-refused returns (that generation is never current again,
    // goBack takes a new one) and replay (no socket: sendRequest returns first). Kept so the rule holds on every path.
    if (streamed) t.streamedOn = -1;
    if (t.sub === SUB_REJECTED) {
      if (streamed) this.unsubscribeGivenUp(t.conn, [t]);
      return;
    }
    if (t.onRetiring && t.conn.retiringGeneration >= 0 && t.conn.ws === null) {
      // Replay (no socket): whether live took it for the replacement's failure (then went back: ws:back) or, the old
      // socket closing, for the venue's (ws:retired, recorded right after) is told by the record that follows.
      this.refusedInOverlap.push({ t, retMsg, retiringGen: t.conn.retiringGeneration, permanent: true, unexplained });
      this.holdRefusals(t.conn);
      return;
    }
    if (t.onRetiring && t.conn.retiringGeneration >= 0 && this.onReplacementRefused?.(t.conn, `replacement refused ${t.topic}: ${retMsg}`)) {
      // The venue refuses it only if a socket that is the connection's alone does (after going back, or a reconnect).
      this.log.warn(`${this.protocol.venue}: replacement socket refused a topic the old socket serves; the planned reconnect fails`, { market: t.market, topic: t.topic, venueMessage: retMsg });
      return;
    }
    this.subscribeRejected++;
    t.sub = SUB_REJECTED;
    if (streamed) this.unsubscribeGivenUp(t.conn, [t]);
    const streak = unexplained ? ++t.subscribeErrorStreak : 0; // an acceptance ends it (onTopicConfirmed)
    const asked = this.onRejected?.(t, streak === 1) === true;
    // Replay (no socket) asks no listing: it publishes what live did, whose listing was asked (re-checks are on live).
    if (unexplained && streak < UNEXPLAINED_REFUSALS_BEFORE_HALT && (asked || t.conn.ws === null)) {
      this.log.warn(`${this.protocol.venue}: subscription refused without a reason; its listing is asked, and it is subscribed again if listed as trading`, {
        market: t.market,
        topic: t.topic,
        venueMessage: retMsg,
        refusals: streak,
      });
      this.invalidate(t, BookState.RESYNCING, StatusReason.SUBSCRIBE_REJECTED);
      return;
    }
    this.log.error(`${this.protocol.venue}: subscription rejected; this book is not published until a re-check of its listing finds it served`, {
      market: t.market,
      topic: t.topic,
      venueMessage: retMsg,
      hint: this.protocol.rejectHint(t),
      ...(unexplained ? { refusals: streak } : {}),
    });
    this.invalidate(t, BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED);
  }
}
