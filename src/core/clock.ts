/**
 * Wall-clock time in integer microseconds since the Unix epoch.
 * Integer µs stay exact in a JS number until year 2255 (2^53 µs); the wire carries ns as i64 (see core/i64.ts).
 * `performance.timeOrigin + performance.now()` agrees with CLOCK_REALTIME to < 0.5 µs on this machine kind
 * (shared/docs/runtime-limits.md §5), and unlike Date.now() it has sub-ms resolution.
 * @module
 */
const ORIGIN_US = performance.timeOrigin * 1000;

/** Current time, integer µs since the Unix epoch. */
export function nowUs(): number {
  return Math.round(ORIGIN_US + performance.now() * 1000);
}

/** Monotonic time in ns (process-relative); for measuring intervals only. */
export function monoNs(): number {
  return Bun.nanoseconds();
}

let turnReceiptUsValue = 0;
let turnArmed = false;
const disarmTurn = (): void => {
  turnArmed = false;
};

/**
 * Receipt time of input handled in this event-loop turn: nowUs() at the turn's first call, the same value for
 * every later call in the turn. The runtime hands the frames of one socket read to JS one after another in one
 * turn; the later ones were received with the first, so their receipt must not move past the handling (and any
 * sends) of the frames before them. One setImmediate per turn re-arms it.
 */
export function turnReceiptUs(): number {
  if (!turnArmed) {
    turnReceiptUsValue = nowUs();
    turnArmed = true;
    setImmediate(disarmTurn);
  }
  return turnReceiptUsValue;
}
