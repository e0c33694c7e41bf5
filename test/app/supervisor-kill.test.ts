/**
 * Supervisor.kill() ends a worker deliberately: it is restarted, but its end is logged as a kill (info), not as a
 * crash ("worker exited; restarting", a warning), and it adds no crash backoff: killed three times in a row, each
 * successor starts after the base wait (200 ms). Before, a kill was a crash: a warning each time, the wait doubling
 * (200, 400, 800 ms) as for a worker dying in a loop. The worker is a stand-in (support/plain-worker.ts).
 */
import { expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { until } from "../support/until.ts";
import { rawConfig, uniqueDestination } from "../e2e/harness.ts";

test("a killed worker is restarted without a crash's warning or backoff", { timeout: 30_000 }, async () => {
  const { log, lines } = captureLog({ info: true });
  // Never connected to: the stand-in worker opens nothing.
  const sim = { wsUrl: "ws://127.0.0.1:9/", restUrl: "http://127.0.0.1:9" } as BybitSim;
  const config = validateConfig(rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }], ...uniqueDestination(197), workers: 2 }));
  const supervisor = new Supervisor(config, log, new URL("./support/plain-worker.ts", import.meta.url).href);
  const started = () => lines.filter((l) => l.msg === "worker started" && l.fields.worker === 0).length;
  try {
    await supervisor.start();
    for (let kill = 1; kill <= 3; kill++) {
      supervisor.kill(0);
      await until(() => started() === kill + 1, `worker 0 started again after kill ${kill}`, 20_000);
    }
    expect(supervisor.restarts).toBe(3);
    const ends = lines.filter((l) => l.fields.worker === 0 && /restarting/.test(l.msg));
    expect(ends.map((l) => [l.level, l.msg, l.fields.inMs])).toEqual([
      ["info", "worker killed; restarting", 200],
      ["info", "worker killed; restarting", 200],
      ["info", "worker killed; restarting", 200],
    ]);
    expect(lines.filter((l) => l.level !== "info")).toEqual([]);
  } finally {
    await supervisor.stop();
  }
});
