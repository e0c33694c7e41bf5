/**
 * Whether a periodic timer's round may judge a deadline (a silence, a timeout) or ran after a stall of this thread
 * (a GC pause, a long listener, a burst of work): datagrams, frames and answers that arrived meanwhile still sit
 * unread behind the timer, so a silence measured across the stall is this thread's, not the peer's. A round more
 * than STALL_LATE_MS later than its interval judges nothing; the next one, after the sockets are read, does; never
 * two skipped in a row, so an overloaded thread still finds a silent peer. Real time (performance.now()): a test
 * clock's jump is no stall. The venue connections' housekeeping applies the same rule (connection-lifecycle.ts).
 * Plain JS: the subscriber, which runs on Node too, uses it.
 * @module
 */

/** A round this much later than its interval ran after a stall of this thread. */
export const STALL_LATE_MS = 100;

export class LateRounds {
  /** performance.now() at the last round, or when the timer started (a stall before the first round counts too). */
  private lastRoundMs = performance.now();
  /** The last round judged nothing: the next one judges, late or not. */
  private skipped = false;
  /** Rounds that judged nothing because this thread had stalled (cold: counters and tests read it). */
  skippedRounds = 0;

  /** Construct it when the timer starts. */
  constructor(private readonly intervalMs: number) {}

  /** Call once per timer round: true = judge the deadlines now; false = this round ran after a stall, judge none. */
  judge(): boolean {
    const nowMs = performance.now();
    const late = nowMs - this.lastRoundMs > this.intervalMs + STALL_LATE_MS;
    this.lastRoundMs = nowMs;
    const judge = !late || this.skipped;
    this.skipped = !judge;
    if (!judge) this.skippedRounds++;
    return judge;
  }

  /**
   * For a verdict asked between rounds (an HTTP request): true when the rounds are on time, i.e. the last one ran
   * within its interval and judged; false while this thread is (or just was) stalled: the sockets may be unread yet.
   */
  onTime(): boolean {
    return !this.skipped && performance.now() - this.lastRoundMs <= this.intervalMs + STALL_LATE_MS;
  }
}
