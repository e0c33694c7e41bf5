import { expect, test } from "vitest";
import { laneLimit } from "./lanes.ts";

test("laneLimit: every caller runs once, in the order it asked, never more than `lanes` at a time; a throw frees its lane", async () => {
  const inLane = laneLimit(3);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const results = await Promise.allSettled(
    [0, 1, 2, 3, 4, 5, 6].map((i) =>
      inLane(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise((res) => setImmediate(res));
        running--;
        if (i === 1) throw new Error("one fails");
        return i;
      }),
    ),
  );
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(most).toBe(3);
  expect(results.map((r) => (r.status === "fulfilled" ? r.value : "failed"))).toEqual([0, "failed", 2, 3, 4, 5, 6]);
  // All three lanes are free again: three more start at once.
  let now = 0;
  let peak = 0;
  await Promise.all([0, 1, 2].map(() => inLane(async () => ((peak = Math.max(peak, ++now)), await new Promise((res) => setImmediate(res)), now--))));
  expect(peak).toBe(3);
});
