/**
 * Feeder.start() a second time. A Feeder's venue adapters and publisher are closed by stop() for good, and start()
 * reused them: before, a start after stop() resolved the instruments again, reopened the publisher's sockets (a
 * publisher stopped once sends nothing) and restarted the stopped adapters, so it "started" a feeder that published
 * nothing, or failed half-way with an adapter's own "called twice". Now both refuse at once with an error that says
 * what to do, opening nothing. The supervisor (workers > 1) refuses the same way.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { writeXrpConfig } from "../support/xrp-capture.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function replayFeeder(n: number): Feeder {
  const dir = tempDir("feeder-restart-");
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(n)));
  const feeder = new Feeder({ config: { ...config, publish: { ...config.publish, snapshotIntervalMs: 0 } }, log: silentLogger, replay: true });
  stops.push(() => feeder.stop());
  return feeder;
}

describe("starting a feeder again", () => {
  test("start() after stop() is refused with a clear error; the publisher stays closed", async () => {
    const feeder = replayFeeder(241);
    await feeder.start();
    await feeder.stop();
    await expect(feeder.start()).rejects.toThrow("feeder: start() after stop(): a stopped Feeder does not start again; create a new one");
    expect((feeder.publisher as unknown as { started: boolean }).started).toBe(false);
  });

  test("start() while started is refused; the running feeder goes on", async () => {
    const feeder = replayFeeder(242);
    await feeder.start();
    const sessionId = feeder.publisher.sessionId;
    await expect(feeder.start()).rejects.toThrow("feeder: start() called twice");
    expect(feeder.books().length).toBeGreaterThan(0);
    expect(feeder.publisher.sessionId).toBe(sessionId);
  });

  test("the supervisor: start() after stop() is refused the same way, starting no worker", async () => {
    const dir = tempDir("feeder-restart-sup-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(243)));
    const supervisor = new Supervisor({ ...config, workers: 2 }, silentLogger);
    await supervisor.stop();
    await expect(supervisor.start()).rejects.toThrow("supervisor: start() after stop(): a stopped Supervisor does not start again; create a new one");
  });

  test("the supervisor: a second start() while the first runs is refused (no second set of workers)", async () => {
    const dir = tempDir("feeder-restart-sup-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(244)));
    const supervisor = new Supervisor({ ...config, workers: 2 }, silentLogger);
    const first = supervisor.start();
    stops.push(async () => {
      await supervisor.stop();
      await first.catch(() => undefined);
    });
    await expect(supervisor.start()).rejects.toThrow("supervisor: start() called twice");
  });
});
