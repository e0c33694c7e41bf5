/**
 * A host wall clock that tests can step (NTP, a VM resumed, `date -s`): Date.now is stubbed as the real clock plus
 * `step(ms)`'s total; waits run on performance.now, which the step does not move. Call `useSteppedWallClock()` at a
 * test file's top level: it registers the stub and the cleanups (run newest first after each test).
 */
import { afterEach, beforeEach, vi } from "vitest";
import { until } from "./until.ts";

export interface SteppedWallClock {
  /** Moves Date.now by `ms` (negative: back) for the rest of the test. */
  step(ms: number): void;
  /** Run after the test, newest first; errors ignored. */
  readonly cleanups: (() => Promise<void>)[];
}

export function useSteppedWallClock(): SteppedWallClock {
  const realDateNow = Date.now.bind(Date);
  let wallStepMs = 0;
  const cleanups: (() => Promise<void>)[] = [];
  beforeEach(() => {
    wallStepMs = 0;
    vi.spyOn(Date, "now").mockImplementation(() => realDateNow() + wallStepMs);
  });
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
    vi.restoreAllMocks();
  });
  return { step: (ms) => void (wallStepMs += ms), cleanups };
}

/** Polls a condition until it holds; its bound is on the real monotonic clock, not the stepped Date.now (test/support/until.ts). */
export { until as untilMono };
