/**
 * Replay's clock for the venue adapters (their `now`, CommonAdapterOptions): the capture's receive times, so their
 * deadlines (a book's stale time, Upbit's quiet answer) run on the time the live run ran them on, not on how fast the
 * records are fed (docs/operations.md, Replay). Until the first record it is the monotonic clock: the instrument REST at
 * start counts its budgets on it. From then on it is the latest receive time fed, never going back (files given out of
 * time order: it stands until their records pass it).
 * @module
 */
import { monoEpochMs } from "../core/clock.ts";

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
}
