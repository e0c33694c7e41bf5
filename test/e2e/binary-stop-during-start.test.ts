/**
 * SIGTERM to the compiled binary while start-up waits for the venue's instrument REST (held by a proxy that never
 * answers it): the process stops at once and exits 0, logging that it stopped, the held request abandoned (the proxy
 * sees the client go), no venue connection made. Before, `feeder run` awaited the whole start-up before it looked at
 * the signal: the held request ran into its 10 s timeout, the venue resolved nothing and the process exited 1
 * ("feeder could not start"). In process (workers = 1) and in a worker's own resolution (workers = 2).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { sharedBinary, spawnFeeder } from "./binary-build.ts";
import { rawConfig, tempDir, toToml, uniqueDestination, waitFor } from "./harness.ts";

let binary: string;
beforeAll(() => {
  binary = sharedBinary();
}, 120_000);

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

// With workers = 2 both symbols are worker 0's share: its request is the one held (the supervisor makes none).
const cases: { name: string; workers: number }[] = [
  { name: "in process (workers = 1)", workers: 1 },
  { name: "a worker resolving its share (workers = 2)", workers: 2 },
];

describe("SIGTERM while start-up waits for the instrument REST", { timeout: 60_000 }, () => {
  for (const c of cases) {
    test(c.name, async () => {
      const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 17 });
      stops.push(() => sim.stop());
      // instruments-info requests are held until the client goes.
      let held = 0;
      let clientGone = 0;
      const proxy = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        idleTimeout: 0,
        async fetch(req) {
          const url = new URL(req.url);
          if (url.pathname === "/v5/market/instruments-info") {
            held++;
            await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
            clientGone++;
            return new Response("gone", { status: 499 });
          }
          return fetch(new URL(url.pathname + url.search, sim.restUrl));
        },
      });
      stops.push(() => proxy.stop(true));
      const { group, port } = uniqueDestination(93);
      const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }], group, port, workers: c.workers });
      (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = `http://127.0.0.1:${proxy.port}`;
      raw.log = { level: "info", format: "json" };
      const configPath = join(tempDir("feeder-stop-start-"), "feeder.toml");
      writeFileSync(configPath, toToml(raw));
      const { proc, stderr } = spawnFeeder(binary, configPath);
      stops.push(() => void proc.kill("SIGKILL"));

      await waitFor(() => held > 0, () => `the instrument request held (feeder stderr: ${stderr()})`, 20_000);
      proc.kill("SIGTERM");
      const code = await proc.exited;
      expect(code, stderr()).toBe(0);
      expect(stderr()).toContain("stopped during start-up");
      expect(stderr()).not.toContain("could not start");
      await waitFor(() => clientGone === held, "every held request abandoned by the feeder");
      expect(sim.stats.connectionsTotal).toBe(0);
    });
  }
});
