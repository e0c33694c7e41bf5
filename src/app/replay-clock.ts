/**
 * Replay's clock for the venue adapters (their `now`, CommonAdapterOptions): the capture's receive times, so their
 * deadlines (a book's stale time, Upbit's quiet answer) run on the time the live run ran them on, not on how fast the
 * records are fed (docs/operations.md, Replay). Until the first record it is the monotonic clock: the instrument REST at
 * start counts its budgets on it. From then on it is the latest receive time fed, never going back (files given out of
 * time order: it stands until their records pass it), except at a time jump (MAX_RECORD_STEP_US): there it is rebased.
 * @module
 */
import { monoEpochMs } from "../core/clock.ts";

/**
 * A receive time further than this from the previous record's (either way) is a damage point for the books (export
 * --books and replay): before, a record stamped years ahead (a damaged or forged time in an intact block) made
 * `--every-ms` write a grid row per book for every step up to it, and replay's clock run housekeeping over all of it.
 * A running recorder writes a record at least every minute per connection (pongs, `ws:state`), so an hour without one
 * is a recorder that was not running, or a wrong time: either way nothing is known of the books over it.
 */
export const MAX_RECORD_STEP_US = 3_600_000_000;

/** Whether a record received at `tsRecvUs` after one at `previousUs` (-1: none) is a time jump. */
export function isTimeJump(previousUs: number, tsRecvUs: number): boolean {
  return previousUs >= 0 && Math.abs(tsRecvUs - previousUs) > MAX_RECORD_STEP_US;
}

export class ReplayClock {
  private atMs = -Infinity;
  /** The adapters' `now` (ms). */
  readonly now = (): number => (this.atMs === -Infinity ? monoEpochMs() : this.atMs);

  /** A record's receive time (µs) is reached: the clock (ms) after it. */
  advance(tsRecvUs: number): number {
    const ms = tsRecvUs / 1000;
    if (ms > this.atMs) this.atMs = ms;
    return this.atMs;
  }

  /** A time jump: the clock is this record's receive time (µs), behind or ahead; returns it in ms. */
  rebase(tsRecvUs: number): number {
    this.atMs = tsRecvUs / 1000;
    return this.atMs;
  }
}
