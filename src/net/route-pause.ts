// HOT PATH: skips and resends while paused allocate nothing (starting or doubling a pause is cold).
/**
 * The pause of a send target whose route is gone (send-batch.ts isRouteGone): a multicast destination, or one
 * unicast receiver of a destination (publish-channel.ts, one RoutePause each, made once). A refused try starts it
 * at ROUTE_BACKOFF_FIRST_MS or doubles it up to ROUTE_BACKOFF_MAX_MS; until its end the target's datagrams are
 * skipped (counted here, told when it ends); from its end the target is tried again at each send, still paused,
 * until a try gets through (`resume`) or is refused again (`refused`: doubled). What counts as getting through, and
 * the logging and the send counters, are the channel's.
 * @module
 */

/** A target whose route is gone is not sent to for this long after its first refusal, ... */
export const ROUTE_BACKOFF_FIRST_MS = 100;
/** ... doubling on each refused try up to this. */
export const ROUTE_BACKOFF_MAX_MS = 2000;

export class RoutePause {
  /** The pause's length (ms; 0: not paused, sending as usual). */
  backoffMs = 0;
  /** True while the target's datagrams are skipped (the pause on and its end not yet seen by `skips`). */
  skipping = false;
  /** Datagrams skipped in the current pause (told when it ends). */
  skipped = 0;
  /**
   * Datagrams of the current send refused to this target for another reason than its route (EPERM from a firewall,
   * a datagram too big): counted by the channel while the target is tried, so that a send that took none of the
   * target's own datagrams does not end its pause. Cleared by the channel after each send.
   */
  refusedInTry = 0;
  /** The rate-limited log line's detail while paused, made once per refused try (a skip allocates nothing). */
  detail = "";
  /** The pause's end (monoMs). */
  private untilMonoMs = 0;

  /** True while paused (skipping, or tried again and not through yet). */
  get paused(): boolean {
    return this.backoffMs !== 0;
  }

  /**
   * HOT PATH: whether the target's datagrams are still skipped at nowMonoMs; false from the pause's end on (the
   * target is tried again: `skipping` cleared). Call only while `skipping`, so a target never paused reads no clock.
   */
  skips(nowMonoMs: number): boolean {
    if (nowMonoMs < this.untilMonoMs) return true;
    this.skipping = false;
    return false;
  }

  /** HOT PATH while skipping: n datagrams not sent. */
  skip(n: number): void {
    this.skipped += n;
  }

  /** Cold: a try met a lost route at nowMonoMs: the pause starts or doubles (capped) and skipping starts. */
  refused(nowMonoMs: number): void {
    this.backoffMs = this.backoffMs === 0 ? ROUTE_BACKOFF_FIRST_MS : Math.min(2 * this.backoffMs, ROUTE_BACKOFF_MAX_MS);
    this.untilMonoMs = nowMonoMs + this.backoffMs;
    this.skipping = true;
  }

  /** Cold: the next send tries the target even within the pause (a stop's END_OF_SESSION). */
  tryNow(): void {
    this.untilMonoMs = 0;
  }

  /** Cold: a try got through: sending as usual. Returns the datagrams skipped in the pause. */
  resume(): number {
    const skipped = this.skipped;
    this.backoffMs = 0;
    this.untilMonoMs = 0;
    this.skipping = false;
    this.skipped = 0;
    return skipped;
  }
}
