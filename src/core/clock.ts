/**
 * Wall-clock time in integer microseconds since the Unix epoch.
 * Integer µs stay exact in a JS number until year 2255 (2^53 µs); the wire carries ns as i64 (see core/i64.ts).
 * `performance.timeOrigin + performance.now()` agrees with CLOCK_REALTIME to < 0.5 µs on this machine kind
 * (docs/runtime-costs.md §5), and unlike Date.now() it has sub-ms resolution. It is the wall clock at start plus the
 * monotonic time since, so a step of the host's clock (NTP, a VM resumed, `date -s`) would leave it off by the step
 * until a restart: nowUs's origin is moved to the wall clock when they are found more than WALL_DRIFT_MAX_MS apart
 * (checked at a turn's end, at most every WALL_CHECK_MS; see checkWallClock; each move counted in wallClockSteps and
 * told to the hooks the app registers with addWallStepHook). monoEpochMs never moves.
 * @module
 */
const ORIGIN_US = performance.timeOrigin * 1000;
const ORIGIN_MS = performance.timeOrigin;

/** How often nowUs is compared with the wall clock (Date.now), at the end of the next turn someone armed. */
export const WALL_CHECK_MS = 1_000;
/** nowUs is moved to the wall clock when it is further than this from it (beyond Date.now's own 1 ms steps). */
export const WALL_DRIFT_MAX_MS = 1;
/** A wall-clock tick read between two monotonic readings further apart than this (preempted) is not anchored to. */
const TICK_BRACKET_MAX_MS = 0.05;
/** How long a re-anchoring waits for Date.now's next tick (to read the wall clock to µs) before taking its mid-ms. */
const TICK_WAIT_MAX_MS = 3;

/** What nowUs's origin has been moved by in all, integer µs (0 until the wall clock steps). */
let wallShiftUs = 0;
/** nowUs's origin: ORIGIN_US + wallShiftUs. */
let wallOriginUs = ORIGIN_US;

/** The moves of nowUs's origin on this thread (each a step of the host's clock seen); the app reads it for /metrics. */
export const wallClockSteps = {
  count: 0,
  /** The last move, integer µs: positive when the wall clock stepped ahead, negative back; 0 before any. */
  lastStepUs: 0,
};
/** Told of each move (the app logs it: core has no logger). */
const wallStepHooks: ((stepUs: number) => void)[] = [];

/** Registers a hook called after each move of nowUs's origin with its size (µs, + ahead); returns its removal. Cold. */
export function addWallStepHook(hook: (stepUs: number) => void): () => void {
  wallStepHooks.push(hook);
  return () => {
    const i = wallStepHooks.indexOf(hook);
    if (i >= 0) wallStepHooks.splice(i, 1);
  };
}

/**
 * Current time, integer µs since the Unix epoch: the wall clock, to within WALL_DRIFT_MAX_MS once a step of it has
 * been seen (at most WALL_CHECK_MS and a turn later). Monotonic between those moves; a step back moves it back.
 */
export function nowUs(): number {
  return Math.round(wallOriginUs + performance.now() * 1000);
}

/**
 * What nowUs() read at the instant monoMs() read `monoMs` (integer µs since the epoch): one performance.now() read
 * serving both clocks (the publisher's flush: the channel's monotonic send time and the receipt → sent histogram's
 * end). Valid for a reading of the current turn (nowUs's origin moves only at a turn's end).
 */
export function nowUsAtMonoMs(monoMs: number): number {
  return Math.round(wallOriginUs + monoMs * 1000);
}

/**
 * A nowUs / turnReceiptUs stamp of this turn on the process's monotonic timeline (the wall clock at start plus the
 * monotonic time since, as monoEpochMs): what a capture records, so a wall-clock step moves no record (replay
 * paces by them). Valid for stamps taken in the current turn (the origin moves only at a turn's end).
 */
export function monoStampUs(stampUs: number): number {
  return stampUs - wallShiftUs;
}

/**
 * The monoStampUs of the instant monoMs() read `monoMs`: where that instant falls among the records of a capture
 * (the capture writer's split of a block at its file's UTC boundary, record/capture.ts recordUsAtMonoMs).
 */
export function monoStampUsAtMonoMs(monoMs: number): number {
  return Math.round(ORIGIN_US + monoMs * 1000);
}

/**
 * Compares nowUs with the wall clock and, if they are more than WALL_DRIFT_MAX_MS apart, moves nowUs's origin to it
 * (reading Date.now's next tick, so the stamps keep their sub-ms accuracy); returns whether it moved. Run at a turn's
 * end (endTurn) at most every WALL_CHECK_MS, so every stamp of one turn is on one origin; tests call it. Cold.
 */
export function checkWallClock(): boolean {
  if (!wallDrifted(wallOriginUs)) return false;
  const originMs = wallOriginAtTick();
  const oldShiftUs = wallShiftUs;
  wallShiftUs = Math.round(originMs * 1000 - ORIGIN_US);
  wallOriginUs = ORIGIN_US + wallShiftUs;
  wallClockSteps.count++;
  wallClockSteps.lastStepUs = wallShiftUs - oldShiftUs;
  for (let i = 0; i < wallStepHooks.length; i++) wallStepHooks[i]!(wallClockSteps.lastStepUs);
  return true;
}

/**
 * Whether the clock `originUs + performance.now()` (µs) is more than WALL_DRIFT_MAX_MS from the wall clock (Date.now):
 * the host's clock stepped since that origin was read. Cold (also the subscriber's receipt clock, mono-clock.ts).
 */
export function wallDrifted(originUs: number): boolean {
  // Date.now() read between two monotonic readings: a preemption between them widens the bracket and can only hide
  // a drift until the next check, never show one that is not there (both clocks count the same seconds: NTP slews
  // CLOCK_MONOTONIC with CLOCK_REALTIME; only a step or a VM's resume parts them).
  const p0 = performance.now();
  const wallMs = Date.now(); // floored: the wall clock was in [wallMs, wallMs + 1) when it was read
  const p1 = performance.now();
  const aheadMs = (originUs / 1000 + p0) - (wallMs + 1);
  const behindMs = wallMs - (originUs / 1000 + p1);
  return aheadMs > WALL_DRIFT_MAX_MS || behindMs > WALL_DRIFT_MAX_MS;
}

/**
 * The wall clock's origin for performance.now(), read at one of Date.now's ticks (the wall clock is then exactly the
 * new ms): its monotonic time is bracketed by the readings either side. Spins for up to about TICK_WAIT_MAX_MS (once
 * per step of the host's clock); with no clean tick by then, the mid-ms of the reading with the tightest bracket
 * (±0.5 ms plus half that bracket: a reading preempted between Date.now and performance.now is not taken, or the
 * origin would be off by the preemption and the next check would move it again). Cold.
 */
export function wallOriginAtTick(): number {
  let before = performance.now();
  let lastWallMs = Date.now();
  let lastMonoMs = performance.now();
  const giveUpMs = before + TICK_WAIT_MAX_MS;
  let bestBracketMs = lastMonoMs - before;
  let bestOriginMs = lastWallMs + 0.5 - (before + lastMonoMs) / 2;
  for (;;) {
    const wallMs = Date.now();
    const monoMs = performance.now();
    // The tick came between the previous Date.now read (after `before`) and this one (before `monoMs`).
    if (wallMs !== lastWallMs && monoMs - before <= TICK_BRACKET_MAX_MS) return wallMs - lastMonoMs;
    // This Date.now read lies between lastMonoMs and monoMs.
    if (monoMs - lastMonoMs < bestBracketMs) {
      bestBracketMs = monoMs - lastMonoMs;
      bestOriginMs = wallMs + 0.5 - (lastMonoMs + monoMs) / 2;
    }
    if (monoMs > giveUpMs) return bestOriginMs;
    before = lastMonoMs;
    lastWallMs = wallMs;
    lastMonoMs = monoMs;
  }
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
/** The wall-clock check's timer (started at the first armed turn, unref'd) sets this; the next turn's end checks. */
let wallCheckDue = false;
let wallCheckTimer: ReturnType<typeof setInterval> | undefined;
let receiptUs = 0;
const turnEndHooks: (() => void)[] = [];

function endTurn(): void {
  turnEndArmed = false;
  receiptValid = false;
  for (let i = 0; i < turnEndHooks.length; i++) turnEndHooks[i]!();
  // After the hooks (the publisher's flush): every stamp of a turn is on one origin.
  if (wallCheckDue) {
    wallCheckDue = false;
    checkWallClock();
  }
}

/** Makes the registered turn-end hooks run once after this turn's I/O callbacks (idempotent within a turn). */
export function armTurnEnd(): void {
  if (turnEndArmed) return;
  turnEndArmed = true;
  setImmediate(endTurn);
  if (wallCheckTimer === undefined) {
    // Not per message, nor per turn: a timer's flag. Unref'd: it keeps no process alive.
    wallCheckTimer = setInterval(() => (wallCheckDue = true), WALL_CHECK_MS);
    (wallCheckTimer as { unref?: () => void }).unref?.();
  }
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
