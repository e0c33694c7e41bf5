/**
 * A fast replay yields to the event loop every YIELD_EVERY_FRAMES frames: that is where a SIGINT/SIGTERM (the stop
 * signal) gets in. Before, the replay looked at the signal only before the next record's pace step, so the frame
 * after the yield that let the signal in was still fed (and its datagrams published) after the stop was seen. The
 * signal is given while frame 511 is fed: its reaction runs at the yield before frame 512, so the order is certain.
 */
import { describe, expect, test } from "vitest";
import type { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** replayCaptures' YIELD_EVERY_FRAMES: the yield comes before the frame numbered this. */
const YIELD_AT_FRAME = 512;

describe("a fast replay stops at the yield that let the signal in", () => {
  test("no frame is fed after the yield where the signal was seen", async () => {
    const dir = makeTempDir("feeder-rev26-yield-");
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    for (let i = 0; i < YIELD_AT_FRAME + 100; i++) w.write(1_700_000_000_000_000 + i, "bybit", "linear", "linear-0", `{"n":${i}}`);
    w.close();
    let signal!: (s: string) => void;
    const stopSignal = new Promise<string>((resolve) => (signal = resolve));
    let fed = 0;
    let fedAfterSignal = 0;
    let signalled = false;
    void stopSignal.then(() => (signalled = true));
    // Only ingest/ingestRest are used by replayCaptures: a counting stand-in for the feeder.
    const feeder = {
      ingest: () => {
        fed++;
        if (signalled) fedAfterSignal++;
        if (fed === YIELD_AT_FRAME - 1) signal("SIGTERM");
        return true;
      },
      ingestRest: () => true,
    } as unknown as Feeder;
    const result = await replayCaptures(feeder, w.files, { pace: "fast", stopSignal });
    expect(fedAfterSignal).toBe(0);
    expect(result).toMatchObject({ frames: YIELD_AT_FRAME - 1, ingested: YIELD_AT_FRAME - 1, stoppedEarly: true });
  });
});
