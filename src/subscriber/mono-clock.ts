/**
 * The subscriber's clocks. Plain JS (Node too).
 *
 * For silences, timeouts and ages (the stale check, retransmit deadlines, `lastRecvMs`, and the receipt stamps the
 * subscriber ages streams and assemblies by): monoEpochMs / monoEpochUs, epoch time as of this process's start,
 * read from the monotonic clock (performance.timeOrigin + performance.now()), so a step of the host's clock (NTP
 * stepping it, a VM resumed, `date -s`) is no silence of a stream, nor hides one. Date.now() stepped back an hour
 * kept a silent stream's books usable for that hour.
 *
 * For what is shown and set beside another process's times (an update's `recvTimeUs`, and its `latencyUs` against
 * the publisher's send time, which follows its host's wall clock: core/clock.ts nowUs): shownUs of such a stamp, the
 * wall clock as of the last check. A check each WALL_CHECK_MS (followWallClock; checkWallClock) moves it to the wall
 * clock after a step, as feeder's own stamps are moved: before, after a step forward of an hour every latency read
 * −1 h, and every receipt time an hour behind, until the subscriber restarted.
 * @module
 */
import { WALL_CHECK_MS, wallDrifted, wallOriginAtTick } from "../core/clock.ts";

const ORIGIN_MS = performance.timeOrigin;
const ORIGIN_US = ORIGIN_MS * 1000;

/** What shownUs adds to a monotonic stamp (integer µs): the wall clock's steps since this process started, as checked. */
let wallShiftUs = 0;
let wallTimer: ReturnType<typeof setInterval> | undefined;

/** Now, in ms since the epoch as of this process's start, advancing monotonically. */
export function monoEpochMs(): number {
  return ORIGIN_MS + performance.now();
}

/** Now in integer µs on monoEpochMs's timeline: the subscriber's receipt stamp (ages are differences of these). */
export function monoEpochUs(): number {
  return Math.round(ORIGIN_US + performance.now() * 1000);
}

/** A monoEpochUs stamp on the wall clock (as of the last check, within WALL_CHECK_MS of a step once followed). */
export function shownUs(monoUs: number): number {
  return monoUs + wallShiftUs;
}

/**
 * Compares shownUs's clock with the wall clock and, when they are more than WALL_DRIFT_MAX_MS apart (the host's
 * clock stepped), moves it to the wall clock, read at one of Date.now's ticks (sub-ms); returns whether it moved.
 * Its timer runs it (followWallClock); tests call it. Cold: at most once a second, spinning up to ~3 ms once per step.
 */
export function checkWallClock(): boolean {
  if (!wallDrifted(ORIGIN_US + wallShiftUs)) return false;
  wallShiftUs = Math.round(wallOriginAtTick() * 1000 - ORIGIN_US);
  return true;
}

/**
 * Checks the wall clock every WALL_CHECK_MS from now on (once per process: later calls do nothing). Unref'd: it keeps
 * no process alive. A timer, not a check per datagram: every stamp of one callback is on one origin, so a latency
 * between two stamps of this process (the NATS reader's repacked send time and its receipt) is never off by a step.
 */
export function followWallClock(): void {
  if (wallTimer !== undefined) return;
  wallTimer = setInterval(checkWallClock, WALL_CHECK_MS);
  (wallTimer as { unref?: () => void }).unref?.();
}
