/**
 * `skippedBy` (frames no configured venue and market takes, by "venue/market") names at most 1,000 pairs; the frames
 * of the others are counted under "(others)". A crafted capture can name a new pair in every record: each was a key
 * held to the end of the replay (or export) and printed in its summary, memory growing with the file. Here 1,500
 * pairs through replayCaptures with a feeder that takes none; before, skippedBy had 1,500 keys.
 */
import { expect, test } from "vitest";
import type { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { countSkipped, SKIPPED_BY_MAX_KEYS, SKIPPED_BY_OTHERS } from "../../src/app/skipped-by.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("skippedBy names the first 1,000 venue/market pairs and counts the rest together", async () => {
  const w = new CaptureWriter({ dir: makeTempDir("feeder-codec8-skipped-"), prefix: "feeder" });
  for (let i = 0; i < 1500; i++) w.write(1_733_011_200_000_000 + i, `v${i}`, "spot", "c", "{}");
  w.write(1_733_011_200_002_000, "v0", "spot", "c", "{}");
  w.close();
  const feeder = { ingest: () => false, ingestRest: () => false } as unknown as Feeder;
  const result = await replayCaptures(feeder, w.files, { pace: "fast" });
  expect(result.skipped).toBe(1501);
  expect(SKIPPED_BY_MAX_KEYS).toBe(1000);
  expect(Object.keys(result.skippedBy)).toHaveLength(1001);
  expect(result.skippedBy["v0/spot"]).toBe(2);
  expect(result.skippedBy["v999/spot"]).toBe(1);
  expect(result.skippedBy["v1000/spot"]).toBeUndefined();
  expect(result.skippedBy[SKIPPED_BY_OTHERS]).toBe(500);
});

/**
 * Past the 1,000 pairs, a frame of a pair not named does not go through the names: before, each did (Object.keys of
 * all 1,000, 27 µs: a crafted capture naming a new pair in every record took minutes a block). Counted here as the
 * enumerations of the count's own keys (a Proxy), not as time.
 */
test("a frame of a new pair past the 1,000 does not go through the pairs named", () => {
  let enumerations = 0;
  const by = new Proxy<Record<string, number>>({}, { ownKeys: (t) => (enumerations++, Reflect.ownKeys(t)) });
  for (let i = 0; i < 5_000; i++) countSkipped(by, `v${i}`, "spot");
  expect(Object.keys(by)).toHaveLength(1001); // enumerates once itself
  expect(by[SKIPPED_BY_OTHERS]).toBe(4_000);
  expect(enumerations).toBeLessThanOrEqual(2);
});
