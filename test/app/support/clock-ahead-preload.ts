/**
 * Imported before the worker's own modules (clock-ahead-worker.ts): while the file clockAheadMarker() exists, this
 * thread's wall clock reads CLOCK_AHEAD_MS ahead (performance.timeOrigin, which core/clock.ts reads as it loads, and
 * Date.now, which it checks nowUs against), as if the host's clock stepped back by that much after this thread
 * started. A worker started once the marker is gone reads the real clock.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Below the subscriber's SEND_AHEAD_MAX_US (60 s): the ahead worker's send times are still taken. */
export const CLOCK_AHEAD_MS = 30_000;

/** One per test process (the workers are its threads). */
export function clockAheadMarker(): string {
  return join(tmpdir(), `feeder-test-clock-ahead-${process.pid}`);
}

if (existsSync(clockAheadMarker())) {
  const origin = performance.timeOrigin + CLOCK_AHEAD_MS;
  Object.defineProperty(performance, "timeOrigin", { value: origin, configurable: true });
  const realDateNow = Date.now.bind(Date);
  Date.now = () => realDateNow() + CLOCK_AHEAD_MS;
}
