/**
 * `feeder replay --pace recorded` stops on SIGINT/SIGTERM (the stop signal) during a wait between frames, not only
 * between frames. Before, the wait was an uninterruptible sleep: a capture with a quiet hour between two frames (or
 * a clock stepped forward while recording) kept the replay running for that hour after Ctrl-C.
 */
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const HOUR_US = 3_600_000_000;

describe("a recorded-pace replay stops at the signal, in the middle of a long gap", { timeout: 20_000 }, () => {
  test("the frame an hour later is never fed; the replay returns stoppedEarly", async () => {
    const dir = makeTempDir("feeder-review-stop-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(68)));
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    w.write(XRP_T0_US, "bybit", "linear", "linear-0", XRP_LINES[0]!);
    w.write(XRP_T0_US + HOUR_US, "bybit", "linear", "linear-0", XRP_LINES[1]!);
    w.close();
    const feeder = new Feeder({ config: { ...config, publish: { ...config.publish, snapshotIntervalMs: 0 } }, log: silentLogger, replay: true });
    await feeder.start();
    let signal!: () => void;
    const stopSignal = new Promise<void>((resolve) => (signal = resolve));
    // The signal comes once the first frame has been published (its snapshot made the book live).
    const live = setInterval(() => {
      if (feeder.books()[0]?.state === 1) {
        clearInterval(live);
        signal();
      }
    }, 5);
    const result = await replayCaptures(feeder, w.files, { pace: "recorded", stopSignal });
    await feeder.stop();
    expect(result).toMatchObject({ frames: 1, ingested: 1, skipped: 0, stoppedEarly: true });
  });
});
