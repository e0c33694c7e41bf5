/** The one polling helper: its bound holds whatever a test does to the clocks, and its failure names the wait. */
import { afterEach, expect, test, vi } from "vitest";
import { until } from "./until.ts";

afterEach(() => void vi.restoreAllMocks());

test("a wait past its bound fails naming what was awaited, with Date.now and performance.now stubbed still", { timeout: 5_000 }, async () => {
  // Tests stub both (a stepped wall clock, a driven publisher clock): a bound on either never came.
  vi.spyOn(Date, "now").mockImplementation(() => 0);
  vi.spyOn(performance, "now").mockImplementation(() => 0);
  await expect(until(() => false, "the thing", 30)).rejects.toThrow("timed out after 30 ms waiting for: the thing");
});

test("polls until the condition holds, onPoll before each later try", async () => {
  let tries = 0;
  let polls = 0;
  await until(() => ++tries === 4, "the fourth try", 10_000, () => polls++);
  expect([tries, polls]).toEqual([4, 3]);
});

test("a `what` given as a function is asked at the timeout, not at the call", { timeout: 5_000 }, async () => {
  // As a child's stderr named in it: empty when the wait starts, written while it waits.
  let stderr = "";
  const waiting = until(() => false, () => `the thing (stderr: ${stderr})`, 30);
  stderr = "written meanwhile";
  await expect(waiting).rejects.toThrow("timed out after 30 ms waiting for: the thing (stderr: written meanwhile)");
});
