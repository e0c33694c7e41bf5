/**
 * `skippedBy` (frames no configured venue and market takes, by "venue/market") names at most 1,000 pairs; the frames
 * of the others are counted under "(others)". A crafted capture can name a new pair in every record: each was a key
 * held to the end of the replay (or export) and printed in its summary, memory growing with the file. Here 1,500
 * pairs through replayCaptures with a feeder that takes none; before, skippedBy had 1,500 keys.
 */
import { expect, test } from "vitest";
import type { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { SKIPPED_BY_MAX_KEYS, SKIPPED_BY_OTHERS } from "../../src/app/skipped-by.ts";
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
