/**
 * `feeder replay --pace recorded` with a wait beyond one timer (2^31 - 1 ms, 24.8 days: a quiet day at --speed
 * 0.01, or a tiny --speed): one setTimeout that long fires at once (TimeoutOverflowWarning), so the next frame was
 * fed about 1 ms after the previous one instead of at its recorded pace. The wait is now made of timers that fit.
 * Wall time is seen by counted events, not sleeps: the publisher's heartbeats (every 20 ms of an idle channel)
 * carry no message, so three of them after the first frame with no message in between show the second frame
 * was still waited for.
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
import { until } from "../support/until.ts";

describe("a recorded-pace wait longer than one timer holds", { timeout: 20_000 }, () => {
  test("two frames 1 ms apart at --speed 1e-10 (a wait of 10^10 ms): the second is not fed at once", async () => {
    const dir = makeTempDir("feeder-replay-long-wait-");
    const loaded = loadConfigFile(writeXrpConfig(dir, uniqueDestination(254)));
    const config = { ...loaded, publish: { ...loaded.publish, snapshotIntervalMs: 0, heartbeatIntervalMs: 20 } };
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    w.write(XRP_T0_US, "bybit", "linear", "linear-0", XRP_LINES[0]!);
    w.write(XRP_T0_US + 1000, "bybit", "linear", "linear-0", XRP_LINES[1]!);
    w.close();
    const feeder = new Feeder({ config, log: silentLogger, replay: true });
    await feeder.start();
    let signal!: () => void;
    const stopSignal = new Promise<void>((resolve) => (signal = resolve));
    const replaying = replayCaptures(feeder, w.files, { pace: "recorded", speed: 1e-10, stopSignal });
    const counters = feeder.publisher.counters;
    try {
      // The first frame (the snapshot) made the book live and was published.
      await until(() => feeder.books()[0]?.state === 1 && counters.messages > 0, "the first frame's book");
      const messages = counters.messages;
      const datagrams = counters.datagrams;
      await until(() => counters.datagrams >= datagrams + 3 || counters.messages !== messages, "three heartbeats");
      expect(counters.messages, "the second frame was published while its wait had barely begun").toBe(messages);
    } finally {
      signal();
      const result = await replaying;
      await feeder.stop();
      expect(result).toMatchObject({ frames: 1, ingested: 1, stoppedEarly: true });
    }
  });
});
