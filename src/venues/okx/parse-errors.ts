/**
 * Rejected order-book frames (cold): counted by code, logged rate-limited, and pinned to the book they name so that
 * book alone resyncs; a frame unreadable down to its topic resyncs every book of its connection; a price or size
 * that does not fit has its market's instruments re-checked. Out of adapter.ts so that file stays readable; the
 * adapter's onParseError / onUnknownTopic forward here.
 * @module
 */
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import { SUB_IDLE, SUB_PENDING, SUB_REJECTED, SUB_UNSUBSCRIBING } from "../common/connection.ts";
import type { InstrumentWatch } from "../common/instrument-watch.ts";
import type { TopicResync } from "../common/topic-resync.ts";
import type { OkxConnection, OkxTopic } from "./connection.ts";
import { SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_RESULT_NAMES, SCAN_UNKNOWN_TOPIC } from "./scanner.ts";
import type { OkxCounters } from "./stats.ts";

export interface ParseErrorDeps {
  log: Logger;
  c: OkxCounters;
  books: TopicResync;
  /** Re-check instruments on a number that does not fit (OkxAdapterOptions.recheckInstruments). */
  recheck: boolean;
  /** The config's tick/lot overrides ("market:SYMBOL"): those instruments are never re-checked. */
  overrides: ReadonlyMap<string, unknown>;
  /** The venue's instrument schedule: a re-check goes through it (coalesced per market, and counted). */
  watch: Pick<InstrumentWatch, "requestNow">;
  /** Per subscription: its resync waits for the connection's hourly request budget (BudgetWaits.waiting). */
  budgetWait: readonly boolean[];
  /** Per subscription, replay: a recorded budget wait (live: budgetWait; BudgetWaits.replaying). */
  replayBudgetWait: Uint8Array;
}

export class ParseErrors {
  private readonly log: RateLimitedLog;
  private readonly c: OkxCounters;
  private readonly books: TopicResync;

  constructor(private readonly deps: ParseErrorDeps) {
    this.log = new RateLimitedLog(deps.log, "warn", "okx: order-book frames rejected");
    this.c = deps.c;
    this.books = deps.books;
  }

  /**
   * A book frame for a channel not on the connection (garbled): lost as one unreadable down to its topic (replay: also,
   * unless a recorded request named it, one its config leaves out: VenueConnection.replayUnknownToLive). Counted once,
   * in unknownTopic (unknown_topic_total): well-formed, so not a parse error too (until s-rd19d also in
   * parse_errors_total, parseErrors.unknown_topic and unattributedParseErrors).
   */
  onUnknownTopic(conn: OkxConnection, frame: string): void {
    if (!conn.unknownTopicLost(frame, this.books.replaying)) return; // replay: a topic live asked for (left out of this config) or requests not known: not counted
    const t = conn.topicOfFrame(frame);
    this.log.hit(`${SCAN_RESULT_NAMES[-SCAN_UNKNOWN_TOPIC]} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    this.lost(conn, t, SCAN_UNKNOWN_TOPIC);
  }

  /** `detail`: what was wrong, where the code and the frame's head do not say it (cold). */
  onParseError(conn: OkxConnection, entry: number, code: number, frame: string, detail?: string): void {
    conn.parseErrors++;
    const name = SCAN_RESULT_NAMES[-code] ?? String(code);
    this.c.parseErrorsByCode.set(name, (this.c.parseErrorsByCode.get(name) ?? 0) + 1);
    let t = entry >= 0 ? conn.byTopic.get(conn.table.topics[entry]!) : undefined;
    t ??= conn.topicOfFrame(frame);
    this.log.hit(`${name}${detail === undefined ? "" : " " + detail} (${conn.market}${t ? " " + t.topic : ""}): ${frame.slice(0, 160)}`);
    if (!t) this.c.unattributedParseErrors++;
    this.lost(conn, t, code);
  }

  /**
   * The books a frame lost may have cost: `t`, the one it names (`code`: why it was refused; 0 for none, as a frame
   * whose handling threw: the lifecycle's frameLost hook), or, none named, every book of the connection. One rule for
   * both: until s-faulthook a thrown frame resynced books this spares (waiting for the request budget: 2 more of 480/h).
   */
  lost(conn: OkxConnection, t: OkxTopic | undefined, code: number): void {
    if (!t) {
      // Unreadable down to its topic: any book of the connection may have lost a message.
      // Not the books whose frames are ignored meanwhile (resynced already: see below); replay's marks as live's
      // states (before 2026-12-07 replay resynced those again: counted, their overlap marks cleared, where live did not).
      // (resyncAll spares one refused for now or held by replay's unsubscribe itself.)
      const spared = (x: OkxTopic) => this.deps.budgetWait[x.index] === true || this.deps.replayBudgetWait[x.index] === 1 || subscribeHeld(x);
      this.books.resyncAll(conn.topics.some(spared) ? conn.topics.filter((x) => !spared(x)) : conn.topics, StatusReason.PARSE_ERROR);
      return;
    }
    // One whose resync waits (its backoff, or the hourly request budget: frames of the old subscription still come)
    // is resynced already: until 2026-12-06 one waiting for the budget was resynced again, its attempt count (so its
    // next backoff) growing with every bad frame of the stream it has stopped reading.
    // Replay too, while a recorded unsubscribe is out (before 2026-12-07 resynced again there, where live's was not).
    // And one whose subscribe was refused for now (its retry's acceptance brings its snapshot): until 2026-12-07 a bad
    // frame of the stream it ignores resynced it, so the accepted retry was answered by an unsubscribe and a subscribe
    // (2 more of the hourly 480, the book not LIVE meanwhile) and its backoff grew with every such frame.
    // And one whose subscribe is held for the hour's room (SubscriptionControl.holdForBudget): not subscribed, no frame
    // is its; until s-okxheld resynced, so once its held subscribe was answered an unsubscribe and a subscribe followed
    // (2 more of the hour's 480) and its backoff grew with each such frame.
    if (t.sub === SUB_REJECTED || t.sub === SUB_UNSUBSCRIBING || t.sub === SUB_IDLE || t.resyncDelayed || t.refusedUntilAck || this.deps.budgetWait[t.index] || subscribeHeld(t) || t.replayUnsubscribing || this.deps.replayBudgetWait[t.index] === 1) return;
    if (code === SCAN_ERR_PRICE || code === SCAN_ERR_QTY) this.recheckInstrument(t);
    this.books.resync(t, BookState.RESYNCING, StatusReason.PARSE_ERROR);
  }

  /**
   * A price or size that does not fit: its market's instruments are reloaded (re-checks of one market coalesce).
   * Also the REST bridge's, for a REST book that does not fit (rest-bridge.ts).
   */
  recheckInstrument(t: OkxTopic): void {
    if (!this.deps.recheck || this.books.replaying || this.deps.overrides.has(`${t.market}:${t.symbol}`)) return;
    this.deps.watch.requestNow(t.market);
  }
}

/**
 * `t`'s subscribe has not gone yet (OKX has no pacing: held for the connection's hourly request budget, sent by
 * retriesDue): the venue streams it nothing, so no lost frame was its, and its fresh start is on its way.
 */
function subscribeHeld(t: OkxTopic): boolean {
  return t.sub === SUB_PENDING && t.subscribeQueued;
}
