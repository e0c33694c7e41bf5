/**
 * A step of the host's wall clock moves the published timestamps (core/clock.ts checkWallClock, at a turn's end).
 * Nothing said so: no log line, no metric. Now each move is logged once (direction, size) and counted in
 * feeder_wall_clock_steps_total, with the last step in feeder_wall_clock_last_step_seconds. Date.now is stubbed;
 * a Feeder without venues (its publisher on 127.0.0.1, TTL 1), /metrics rendered in process.
 */
import { afterEach, expect, test, vi } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { renderMetrics } from "../../src/app/metrics.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { checkWallClock } from "../../src/core/clock.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const realNow = Date.now.bind(Date);
const stops: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  checkWallClock(); // back to the real wall clock for the next file in this thread
  while (stops.length > 0) await stops.pop()!();
});

function metric(feeder: Feeder, name: string): number | undefined {
  return parsePrometheusText(renderMetrics({ pipelines: [feeder.metricsSnapshot()] })).samples.find((s) => s.name === name)?.value;
}

test("a wall-clock step a minute ahead, then back: one warning each (direction, size), counted on /metrics", async () => {
  const { log, lines } = captureLog();
  const config = validateConfig({
    publish: { heartbeat_interval_ms: 1000, startup_listen_ms: 0, destinations: [{ ...uniqueDestination(271), interface: "127.0.0.1", ttl: 1, channel: 1 }] },
  }, { requireVenue: false });
  const feeder = new Feeder({ config, log });
  stops.push(() => feeder.stop());
  await feeder.start();
  checkWallClock(); // on the real clock: whatever another file's stub left is not this test's step
  const before = metric(feeder, "feeder_wall_clock_steps_total")!;
  expect(before).toBeGreaterThanOrEqual(0);
  lines.length = 0;

  vi.spyOn(Date, "now").mockImplementation(() => realNow() + 60_000);
  expect(checkWallClock()).toBe(true);
  expect(checkWallClock()).toBe(false); // moved: nothing more to log
  const steps = lines.filter((l) => l.msg === "host wall clock stepped; timestamps moved to it");
  expect(steps).toHaveLength(1);
  expect(steps[0]!.level).toBe("warn");
  expect(steps[0]!.fields.direction).toBe("ahead");
  expect(Math.abs((steps[0]!.fields.stepMs as number) - 60_000)).toBeLessThan(100);
  expect(metric(feeder, "feeder_wall_clock_steps_total")).toBe(before + 1);
  expect(Math.abs(metric(feeder, "feeder_wall_clock_last_step_seconds")! - 60)).toBeLessThan(0.1);

  vi.restoreAllMocks();
  expect(checkWallClock()).toBe(true);
  const back = lines.filter((l) => l.msg === "host wall clock stepped; timestamps moved to it");
  expect(back).toHaveLength(2);
  expect(back[1]!.fields.direction).toBe("back");
  expect(metric(feeder, "feeder_wall_clock_steps_total")).toBe(before + 2);
  expect(Math.abs(metric(feeder, "feeder_wall_clock_last_step_seconds")! + 60)).toBeLessThan(0.1);

  await feeder.stop(); // the warning is this feeder's: gone with it
  vi.spyOn(Date, "now").mockImplementation(() => realNow() + 60_000);
  expect(checkWallClock()).toBe(true);
  expect(lines.filter((l) => l.msg === "host wall clock stepped; timestamps moved to it")).toHaveLength(2);
});
