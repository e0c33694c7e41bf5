/**
 * ReportLimit (the 5 s limiter of the subscriber's stranger-reply and off-socket RETRANSMIT reports): the first said at
 * once, then at most one per interval, each saying how many since the last one said (this one included), as the
 * 'error' text "N dropped since the last such report" and the docs promise (the first: "the first such report"). A
 * fake clock: no waiting.
 */
import { describe, expect, it } from "vitest";
import { ReportLimit } from "../../src/core/report-limit.ts";

describe("ReportLimit", () => {
  it("says the first at once, then one per interval with the count since the last said", () => {
    const limit = new ReportLimit(5000);
    const t0Ms = 1_000_000;
    expect(limit.due(t0Ms)).toBe(1);
    expect([limit.due(t0Ms + 1), limit.due(t0Ms + 4999)]).toEqual([0, 0]);
    expect(limit.due(t0Ms + 5000)).toBe(3); // the two held and this one
    expect(limit.due(t0Ms + 9999)).toBe(0);
    expect(limit.due(t0Ms + 10_000)).toBe(2); // only those since the last said, not all so far
    expect(limit.due(t0Ms + 60_000)).toBe(1); // after a quiet spell: at once again
  });

  it("words the count: the first report has no earlier one to count from, a later one says how many since", () => {
    const limit = new ReportLimit(5000);
    expect(limit.countWords(limit.due(0))).toBe("the first such report"); // before: "1 dropped since the last such report"
    limit.due(1);
    expect(limit.countWords(limit.due(5000))).toBe("2 dropped since the last such report");
    expect(limit.countWords(limit.due(60_000))).toBe("1 dropped since the last such report"); // there was one before it
  });
});
