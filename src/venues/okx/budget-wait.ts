/**
 * Resyncs held back by the connection's hourly request budget (cold; request-budget.ts says how long). Out of
 * adapter.ts so that file stays readable: the adapter's hot path only reads `waiting` (the same array, by index).
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { RequestProtocol } from "../common/hooks.ts";
import type { OkxConnection, OkxTopic } from "./connection.ts";
import { OKX_REQUESTS } from "./protocol.ts";
import type { OkxRequestBudget } from "./request-budget.ts";
import type { OkxCounters } from "./stats.ts";

// The records of a resync's wait for the request budget: venue.ts (the capture's file head reads them too).
export { BUDGET_WAIT_SET_URL, BUDGET_WAIT_URL, BUDGET_WAITED_URL } from "../venue.ts";

export class BudgetWaits {
  /** Per subscription: a resync waits for the connection's hourly request budget. */
  readonly waiting: boolean[];
  /**
   * Per subscription, replay: 1, its resync waits for the request budget (recorded `ws:wait`, until `ws:waited`, a
   * recorded request of it, the connection's close (not a book closed by its listing: live's wait runs on; adapter.ts
   * `disconnected`; but the recorder's stop ends that one too: live's process ended) or a capture gap): its frames are
   * ignored as live's (`waiting`);
   * before 2026-12-07 a full book was LIVE from its next one in replay only. A recorded unsubscribe holds the topic
   * too, the venues' common rule (TopicState.replayUnsubscribing: until its recorded subscribe,
   * through a go-back too). Read on the adapter's hot path (by index).
   */
  readonly replaying: Uint8Array;
  /** Per subscription: the timer that ends the wait (null = none). */
  private readonly timers: (ReturnType<typeof setTimeout> | null)[];
  /**
   * Per subscription: its resync's place in the connection's line (SubscriptionControl.takePlace, shared with the
   * requests held for the count; 0 = none), taken when it starts waiting and kept, its wait restarted, until it goes.
   * Until s-okxwait a waiting resync had none: a request asked later took the room it waited for, and it counted every
   * held request as ahead of it, so newer ones kept passing it.
   */
  readonly places: Float64Array;
  /** The line shared with the held requests (set by the adapter: its SubscriptionControl); null, no line (tests). */
  line: { takePlace(): number; askingAt<T>(place: number, ask: () => T): T } | null = null;

  constructor(
    n: number,
    private readonly budget: OkxRequestBudget,
    private readonly log: Logger,
    private readonly c: OkxCounters,
    /** Called when a wait is over (the topic may want its restart again). */
    private readonly retry: (t: OkxTopic) => void,
    /** Told when a wait starts (true) and when its time is over (false), before `retry`: `feeder record` keeps both. */
    private readonly recorded?: (t: OkxTopic, waiting: boolean) => void,
  ) {
    this.waiting = new Array<boolean>(n).fill(false);
    this.replaying = new Uint8Array(n);
    this.timers = new Array<ReturnType<typeof setTimeout> | null>(n).fill(null);
    this.places = new Float64Array(n);
  }

  /**
   * `t`'s restart: `go` (its requests) runs now unless it must wait (hold), as its place in line if it has one (so its
   * requests count only those ahead of it), and then it leaves the line.
   */
  restart(t: OkxTopic, go: () => void): void {
    if (this.hold(t)) return;
    const place = this.places[t.index]!;
    this.places[t.index] = 0;
    if (place > 0 && this.line) this.line.askingAt(place, go);
    else go();
  }

  /** Topic `index`'s place in the connection's line while its resync waits for the request budget (0 = none). */
  placeOf(index: number): number {
    return this.waiting[index] ? this.places[index]! : 0;
  }

  /**
   * True when `t`'s restart must not send now: it already waits, or the budget is spent (then it waits, and
   * `retry` runs once the wait is over, so topics that waited together go one after another).
   */
  hold(t: OkxTopic): boolean {
    if (this.waiting[t.index]) return true;
    const i = t.index;
    const place = this.places[i]!;
    // Asked at its place (a wait restarted): those held or waiting behind it are not counted; a new one counts all.
    const waitMs = place > 0 && this.line ? this.line.askingAt(place, () => this.budget.restartWaitMs(t)) : this.budget.restartWaitMs(t);
    if (waitMs <= 0) return false;
    this.c.requestBudgetWaits++;
    if (place === 0 && this.line) this.places[i] = this.line.takePlace();
    this.waiting[i] = true;
    this.log.warn("okx: the connection's 480 requests per hour are spent; resync waits", { topic: t.topic, waitMs });
    this.recorded?.(t, true);
    this.timers[i] = setTimeout(() => {
      this.end(i);
      this.recorded?.(t, false);
      this.retry(t);
      if (!this.waiting[i]) this.places[i] = 0; // gone, or no longer restarted (LIVE, stopping): out of line
    }, waitMs);
    return true;
  }

  /** Topic `index` was subscribed afresh (a new socket's subscribe), or stop: its wait is over, its place gone. */
  leave(index: number): void {
    this.end(index);
    this.places[index] = 0;
  }

  /** Topic `index` no longer waits for the request budget (its wait is over: its place kept until it goes). */
  end(index: number): void {
    this.waiting[index] = false;
    const timer = this.timers[index];
    if (timer) clearTimeout(timer);
    this.timers[index] = null;
  }

  /** Replay: a recorded `ws:wait` (true) or `ws:waited` (false) of topic `index`. */
  replayRecorded(index: number, waiting: boolean): void {
    this.replaying[index] = waiting ? 1 : 0;
  }

  /**
   * A request asking `op` for `topics` (RequestProtocol.requested). Live: a subscribe (a new socket's, say) is the fresh
   * start a resync waiting for the budget waited for: its wait is over, its place gone (an unsubscribe is not: a
   * restart's goes once its wait's timer ended it). Replay: any recorded request of a topic ends its recorded wait, as
   * its restart went (ws:waited, written before it, may be in a block the disk could not take).
   */
  requested(op: "subscribe" | "unsubscribe", topics: readonly OkxTopic[], replay: boolean): void {
    if (replay) for (const t of topics) this.replayEnd(t.index);
    else if (op === "subscribe") {
      for (const t of topics) {
        // A planned reconnect's replacement subscribing a book the old socket still serves: should the replacement fail,
        // the fresh start it waited for is owed on the old socket (goBack redoes restartWanted). Until s-rd26b the wait
        // simply ended, and gone back to, the book stayed ACTIVE and RESYNCING there with nothing asked for it.
        if (this.waiting[t.index] && t.onRetiring && t.conn.retiringGeneration >= 0) t.restartWanted = true;
        this.leave(t.index);
      }
    }
  }

  /** Replay: topic `index`'s recorded wait is over (a recorded request of it, its connection's close). */
  replayEnd(index: number): void {
    this.replaying[index] = 0;
  }

  /** Replay: records were lost (a capture gap): every recorded wait may have ended there. */
  replayGap(): void {
    this.replaying.fill(0);
  }

  stop(): void {
    for (let i = 0; i < this.timers.length; i++) this.leave(i);
  }
}

/**
 * OKX's requests, each counted against its connection's 480 per hour. A subscribe (a new socket's, say) is the
 * fresh start a topic waiting for the budget waited for: its wait is over (requested: BudgetWaits.requested). A request refused with 60014 goes again
 * once the hour has room for it and for the subscribes resyncs under way still owe (requestWaitMs), not every backoff
 * step (each one more request refused); any other request the hour has no room for waits so too (sendRequest).
 */
export function budgetedRequests(budget: OkxRequestBudget, waits: BudgetWaits): RequestProtocol {
  return {
    ...OKX_REQUESTS,
    requestWaitMs: (conn) => budget.nextRequestWaitMs(conn as OkxConnection),
    encodeRequest: (op, topics, reqId) => {
      const conn = topics[0]?.conn as OkxConnection | undefined;
      if (conn) budget.spend(conn);
      return OKX_REQUESTS.encodeRequest(op, topics, reqId);
    },
    requested: (op, topics, replay) => waits.requested(op, topics as readonly OkxTopic[], replay),
  };
}
