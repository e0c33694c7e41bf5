/**
 * Retry-After is delta-seconds or an HTTP date; anything else falls back to the venue's default hold. Before, a
 * value Date.parse happens to read (JavaScriptCore reads "1.5" as 5 Jan 2001 and "-1" as 1 Jan 2001) was taken as
 * a date long past: a 429 held nothing, and the next request went out at once. Fractional seconds, which some
 * servers send, hold for that long.
 */
import { expect, test } from "vitest";
import { RestWeightBudget, retryAfterMs } from "../../../src/venues/common/budgets.ts";

const NOW_MS = Date.parse("2026-12-05T12:00:00Z");

test("a 429's Retry-After: seconds (fractional too), an HTTP date, or else the default hold", () => {
  expect(retryAfterMs("30", NOW_MS)).toBe(30_000);
  expect(retryAfterMs("1.5", NOW_MS)).toBe(1_500);
  expect(retryAfterMs("Sat, 05 Dec 2026 12:00:20 GMT", NOW_MS)).toBe(20_000);
  expect(retryAfterMs("Saturday, 05-Dec-26 12:00:20 GMT", NOW_MS)).toBe(20_000);
  for (const junk of ["-1", "1.5.2", "soon", "1e3"]) expect(retryAfterMs(junk, NOW_MS), junk).toBeUndefined();
  const budget = new RestWeightBudget(10, 1_000, 5_000);
  expect(budget.onResponse(NOW_MS, 429, "-1")).toBe(5_000);
  expect(budget.waitMs(NOW_MS + 1_000, 1)).toBe(4_000);
});
