/**
 * A host wall clock that tests can step (NTP, a VM resumed, `date -s`): Date.now is stubbed as the real clock plus
 * `step(ms)`'s total; waits run on performance.now, which the step does not move. Call `useSteppedWallClock()` at a
 * test file's top level: it registers the stub and the cleanups (run newest first after each test).
 */
import { afterEach, beforeEach, vi } from "vitest";

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

/** Polls on the monotonic clock (Date.now may be the stepped one) until `cond` holds; past `timeoutMs` it throws. */
export async function untilMono(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
