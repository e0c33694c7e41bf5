/**
 * core/await-within.ts, the one "wait for a promise, at most N ms" of the stops (run/record's stopWithin, the CLI's
 * stopBounded and startOrStop, the worker's failed-start stop) and of the NATS reader's consumer deletions (unref'd).
 * On fake timers: what is asserted is the outcome and the timer left behind, not how long anything took.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { awaitWithin, CUT_OFF } from "../../src/core/await-within.ts";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const never = new Promise<never>(() => {});

describe("awaitWithin", () => {
  test("the promise's value when it settles first; its rejection thrown; no timer left either way", async () => {
    await expect(awaitWithin(Promise.resolve(7), 1000)).resolves.toBe(7);
    expect(vi.getTimerCount()).toBe(0);
    await expect(awaitWithin(Promise.reject(new Error("stop failed")), 1000)).rejects.toThrow("stop failed");
    expect(vi.getTimerCount()).toBe(0);
  });

  test("CUT_OFF once the deadline passed, not before", async () => {
    let outcome: unknown = "pending";
    void awaitWithin(never, 1000).then((o) => (outcome = o));
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBe(CUT_OFF);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("the timer holds the process unless unref'd (a wait no one needs to outlast)", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    for (const unref of [false, true]) {
      set.mockClear();
      const waiting = awaitWithin(never, 1000, unref);
      const timer = set.mock.results[0]!.value as ReturnType<typeof setTimeout>;
      expect(timer.hasRef(), `unref ${unref}`).toBe(!unref);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await waiting).toBe(CUT_OFF);
    }
    set.mockRestore();
  });
});
