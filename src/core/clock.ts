/**
 * Wall-clock time in integer microseconds since the Unix epoch.
 * Integer µs stay exact in a JS number until year 2255 (2^53 µs); the wire carries ns as i64 (see core/i64.ts).
 * `performance.timeOrigin + performance.now()` agrees with CLOCK_REALTIME to < 0.5 µs on this machine kind
 * (docs/runtime-costs.md §5), and unlike Date.now() it has sub-ms resolution.
 * @module
 */
const ORIGIN_US = performance.timeOrigin * 1000;
const ORIGIN_MS = performance.timeOrigin;

/** Current time, integer µs since the Unix epoch. */
export function nowUs(): number {
  return Math.round(ORIGIN_US + performance.now() * 1000);
}

/**
 * Monotonic time in ms (process-relative): for deadlines and silences that are neither shown nor sent, so a step of
 * the host's wall clock (NTP stepping it back, a VM resumed) neither stretches nor ends them. Cold callers.
 */
export function monoMs(): number {
  return performance.now();
}

/**
 * Monotonic time in ms that reads like epoch ms (performance.timeOrigin + performance.now(): the wall clock at this
 * thread's start plus the time since): the venues' deadline clock (CommonAdapterOptions.now). A wall-clock step
 * neither ends nor stretches a deadline on it; after one it differs from Date.now by the step, so it is never shown
 * as a time of day nor compared with a venue's time (that is CommonAdapterOptions.wallNow). Cold callers.
 */
export function monoEpochMs(): number {
  return ORIGIN_MS + performance.now();
}

/** Bun's ns clock when running under Bun; the library half of the code base also runs in Node (no `Bun`). */
const bunRuntime = (globalThis as { Bun?: { nanoseconds(): number } }).Bun;

/**
 * Monotonic time in ns (process-relative); for measuring intervals only. Chosen once at load: Bun.nanoseconds()
 * under Bun, performance.now() (sub-µs resolution) elsewhere.
 */
export const monoNs: () => number =
  bunRuntime !== undefined ? () => bunRuntime.nanoseconds() : () => Math.round(performance.now() * 1e6);

// ---- the event-loop turn -----------------------------------------------------------------------------------
// One setImmediate per turn, shared by everything that needs the turn's end: the receipt stamp below and the
// publisher's flush. (Each setImmediate allocates its Immediate object: one per turn, not one per user.)

let turnEndArmed = false;
let receiptValid = false;
let receiptUs = 0;
const turnEndHooks: (() => void)[] = [];

function endTurn(): void {
  turnEndArmed = false;
  receiptValid = false;
  for (let i = 0; i < turnEndHooks.length; i++) turnEndHooks[i]!();
}

/** Makes the registered turn-end hooks run once after this turn's I/O callbacks (idempotent within a turn). */
export function armTurnEnd(): void {
  if (turnEndArmed) return;
  turnEndArmed = true;
  setImmediate(endTurn);
}

/** Registers a hook run at the end of every turn someone armed; returns its removal. Cold. */
export function addTurnEndHook(hook: () => void): () => void {
  turnEndHooks.push(hook);
  return () => {
    const i = turnEndHooks.indexOf(hook);
    if (i >= 0) turnEndHooks.splice(i, 1);
  };
}

/**
 * Receipt time of input handled in this event-loop turn: nowUs() at the turn's first call, the same value for
 * every later call in the turn. The runtime hands the frames of one socket read (and of the other sockets ready
 * in the same poll) to JS one after another in one turn; the later ones were received with the first, so their
 * receipt must not move past the handling (and any sends) of the frames before them.
 */
export function turnReceiptUs(): number {
  if (!receiptValid) {
    receiptUs = nowUs();
    receiptValid = true;
    armTurnEnd();
  }
  return receiptUs;
}
