/**
 * OKX's request budget per connection (cold): subscribe + unsubscribe requests, 480 per hour per socket, resyncs
 * included (docs/venues/okx.md [F2]). The adapter asks how long a topic's restart must wait; the wait counts the
 * requests other topics' resyncs still owe (a subscribe after its unsubscribe's ack) and those held for this count
 * (sent first held, first sent: SubscriptionControl.waitingOn) and the resyncs waiting ahead of it in that line
 * (resyncLine), so topics that waited together go one after another.
 * @module
 */
import { SUB_ACTIVE, SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING, type TopicState } from "../common/connection.ts";
import type { WaitingRequest } from "../common/subscription-control.ts";
import type { OkxConnection, OkxTopic } from "./connection.ts";
import { MAX_ARGS_PER_REQUEST } from "./protocol.ts";

export const HOUR_MS = 3_600_000;

export class OkxRequestBudget {
  /**
   * The requests waiting to go on a connection's socket (SubscriptionControl.waitingOn; set by the adapter): those held
   * for this count are sent first held, first sent, so every request counts the room of those held before it.
   */
  waitingOf: ((conn: OkxConnection) => readonly WaitingRequest[]) | null = null;
  /**
   * Resyncs waiting for this count before they start (budget-wait.ts, set by the adapter): each topic's place in the
   * line the held requests are in (0 = not waiting), and the place of the one asking now (SubscriptionControl
   * askingPlace: Infinity a new request, -Infinity one owed). Each counts the restarts of those waiting ahead of it.
   */
  resyncLine: { placeOf(index: number): number; askingPlace(): number } | null = null;

  constructor(
    private readonly now: () => number,
    /** Requests per window (OKX: 480). */
    readonly perWindow: number,
    /** The window (OKX: an hour; tests shorten it). */
    readonly windowMs: number,
    /** Topics a request names at most (SubscriptionControl.argsPerRequest): a batch's requests are counted per message. */
    readonly argsPerRequest = MAX_ARGS_PER_REQUEST,
  ) {}

  /** A request goes out on `conn`'s current socket now. */
  spend(conn: OkxConnection): void {
    conn.requestTimesMs.push(this.now());
  }

  /** How long until the requests restartTopic will send for `t` fit its connection's budget (0 = now). */
  restartWaitMs(t: OkxTopic): number {
    let n = requestsOfRestart(t);
    if (n === 0) return 0;
    const conn = t.conn;
    n += this.stillToSend(conn, (x) => x === t);
    return this.waitMs(conn, n);
  }

  /**
   * How long until the requests SubscriptionControl.restartTopics will send for `ts` (topics of one connection) fit
   * its budget (0 = now): the active ones' unsubscribes batched in their order, argsPerRequest a request, and after
   * each request's answer one subscribe of its books not waiting out a backoff (per message, not per topic); the
   * others' as restartTopic's. Until 2026-12-07 the subscribes were counted ⌈books/k⌉: a request whose books all wait
   * sends none, so one waiting book in the first of two requests made it 2 subscribes counted 1 (the 481st went).
   */
  restartManyWaitMs(ts: readonly OkxTopic[]): number {
    const perRequest = this.argsPerRequest;
    const conn = ts[0]?.conn;
    if (!conn) return 0;
    let n = 0;
    let unsubscribes = 0;
    let subscribes = 0;
    let requestSubscribes = false; // the current unsubscribe request has a book to subscribe after it
    for (const t of ts) {
      if (t.sub !== SUB_ACTIVE || !conn.open) {
        n += requestsOfRestart(t);
        continue;
      }
      if (unsubscribes++ % perRequest === 0) requestSubscribes = false;
      if (!t.resyncDelayed && !requestSubscribes) {
        requestSubscribes = true;
        subscribes++;
      }
    }
    n += Math.ceil(unsubscribes / perRequest) + subscribes;
    if (n === 0) return 0;
    n += this.stillToSend(conn, (x) => ts.includes(x as OkxTopic)); // ts: one connection's topics (< 30)
    return this.waitMs(conn, n);
  }

  /**
   * Requests the resyncs in progress on `conn` (but those `skip` names) have still to send, and the requests held for
   * this count before the one asking (SubscriptionControl.waitingOn: first held, first sent). The subscribes owed after
   * one unsubscribe request go together once it is answered (SubscriptionControl.restartTopics): ⌈n/k⌉ of them, not
   * one a topic (counted so, a go-back's batch held other books' resyncs back for requests that were never sent); so
   * do those owed after an unsubscribe waiting to go (held, or refused 60014), one per message it will go as: until
   * s-okxheld one a topic. Cold, but run for every restart, every request sendRequest writes and every retry due
   * (nextRequestWaitMs). Until s-okxheld a request held for this count was not counted: a restart or a closed book's
   * unsubscribe asked in between took the room it waited for, and it waited again.
   */
  private stillToSend(conn: OkxConnection, skip: (t: TopicState) => boolean): number {
    const k = this.argsPerRequest;
    let n = 0;
    for (const p of conn.pending.values()) {
      if (p.op !== "unsubscribe") continue;
      const owed = owedSubscribes(p.topics, skip) + (p.answered ? owedSubscribes(p.answered, skip) : 0);
      n += Math.ceil(owed / k);
    }
    const waiting = this.waitingOf?.(conn) ?? [];
    for (const w of waiting) {
      if (w.behind) continue; // held after the one asking: it goes after it
      if (w.ahead) n += messagesOf(w, k, conn.generation);
      if (w.op === "unsubscribe") n += subscribesAfter(conn, w.topics, skip, k);
      else n += 2 * restartsAfter(w.topics, skip);
    }
    const line = this.resyncLine;
    const asking = line?.askingPlace() ?? Infinity;
    for (const x of conn.topics) {
      // A resync waiting ahead of the one asking: its restart's requests (but those counted below as under way).
      const place = line?.placeOf(x.index) ?? 0;
      if (place > 0 && place < asking && !skip(x)) n += Math.max(0, requestsOfRestart(x) - requestsStillToSend(x));
      if (skip(x) || (owesSubscribe(x) && (inUnsubscribe(conn, x) || waiting.some((w) => w.op === "unsubscribe" && w.topics.includes(x))))) continue;
      if (restartsAfterAck(x) && waiting.some((w) => w.op === "subscribe" && w.topics.includes(x))) continue; // with its subscribe, above
      n += requestsStillToSend(x);
    }
    return n;
  }

  /**
   * How long until one more request fits `conn`'s budget with the requests its resyncs under way still owe (0 = now):
   * any request but a restart (RequestProtocol.requestWaitMs: a 60014 retry, a subscribe owed after an unsubscribe's
   * answer, a closed book's unsubscribe). Until 2026-12-07 one request alone: a retry took the room a resync's owed
   * subscribe was counted on, and that subscribe went as the 481st.
   */
  nextRequestWaitMs(conn: OkxConnection): number {
    return this.waitMs(conn, 1 + this.stillToSend(conn, () => false));
  }

  /** How long until `n` more requests fit `conn`'s current socket's budget (0 = now). */
  waitMs(conn: OkxConnection, n: number): number {
    const now = this.now();
    const times = conn.requestTimesMs;
    while (times.length > 0 && now - times[0]! >= this.windowMs) times.shift();
    if (times.length + n <= this.perWindow) return 0;
    const k = times.length + n - this.perWindow - 1;
    return k < times.length ? times[k]! + this.windowMs - now : this.windowMs;
  }
}

/** Requests restartTopic will send for `t`, now or after an ack (subscription-control.ts). */
function requestsOfRestart(t: OkxTopic): number {
  switch (t.sub) {
    case SUB_ACTIVE:
    case SUB_PENDING:
      return t.resyncDelayed ? 1 : 2; // unsubscribe (after the pending ack), then subscribe unless a backoff waits
    case SUB_UNSUBSCRIBING:
    case SUB_IDLE:
      return t.resyncDelayed ? 0 : 1;
    default:
      return 0;
  }
}

/** `t` restarts (unsubscribe, subscribe) once its subscribe is answered (restartTopic while it was pending). */
function restartsAfterAck(t: TopicState): boolean {
  return t.sub === SUB_PENDING && t.resyncAfterAck;
}

/**
 * How many of a waiting subscribe's `topics` (but those `skip` names) restart once it is answered: counted with that
 * subscribe, so not by a request ahead of it in line (until s-okxwait by every request: a resync waiting ahead of it
 * counted the restart that follows it, and waited for it, while it waited behind that resync, for good).
 */
function restartsAfter(topics: readonly TopicState[], skip: (t: TopicState) => boolean): number {
  let n = 0;
  for (const t of topics) if (!skip(t) && restartsAfterAck(t)) n++;
  return n;
}

/** `t` owes its subscribe once its unsubscribe is answered (a resync under way). */
function owesSubscribe(t: TopicState): boolean {
  return t.sub === SUB_UNSUBSCRIBING && t.resubscribeAfterUnsub;
}

/** How many of `topics` (but those `skip` names) owe their subscribe. */
function owedSubscribes(topics: readonly TopicState[], skip: (t: TopicState) => boolean): number {
  let owed = 0;
  for (const t of topics) if (!skip(t) && owesSubscribe(t)) owed++;
  return owed;
}

/**
 * The messages a waiting request still goes as on socket generation `gen` (SubscriptionControl.retriesDue: its topics
 * still in its op's state, and apart those given up since that it unsubscribes: all of an unsubscribe's, a subscribe's
 * still streamed there, TopicState.streamedOn). Until s-streamleft a subscribe's were counted 0: a newer request took
 * the room of the unsubscribe retriesDue sends for them, which then waited again.
 */
function messagesOf(w: WaitingRequest, k: number, gen: number): number {
  let still = 0;
  let givenUp = 0;
  for (const t of w.topics) {
    if (t.sub === (w.op === "subscribe" ? SUB_PENDING : SUB_UNSUBSCRIBING)) still++;
    else if (t.sub === SUB_REJECTED && (w.op === "unsubscribe" || t.streamedOn === gen)) givenUp++;
  }
  return Math.ceil(still / k) + Math.ceil(givenUp / k);
}

/**
 * The subscribes owed after a waiting unsubscribe of `topics` (but those `skip` names, and those already out in an
 * unsubscribe under way): one per message of k it goes as with a topic owing its subscribe.
 */
function subscribesAfter(conn: OkxConnection, topics: readonly TopicState[], skip: (t: TopicState) => boolean, k: number): number {
  let n = 0;
  let inMessage = 0;
  let owes = false;
  for (const t of topics) {
    if (t.sub !== SUB_UNSUBSCRIBING) continue;
    if (inMessage === k) {
      if (owes) n++;
      inMessage = 0;
      owes = false;
    }
    inMessage++;
    if (!skip(t) && owesSubscribe(t) && !inUnsubscribe(conn, t)) owes = true;
  }
  return owes ? n + 1 : n;
}

/** `t` is named by an unsubscribe under way on `conn` (its subscribe counted with that request's). */
function inUnsubscribe(conn: OkxConnection, t: TopicState): boolean {
  for (const p of conn.pending.values()) if (p.op === "unsubscribe" && (p.topics.includes(t) || p.answered?.includes(t) === true)) return true;
  return false;
}

/** Requests a topic's resync in progress has still to send (the subscribe after an unsubscribe's ack, …). */
function requestsStillToSend(t: OkxTopic): number {
  if (owesSubscribe(t)) return 1;
  if (t.sub === SUB_PENDING && t.resyncAfterAck) return 2;
  return 0;
}
