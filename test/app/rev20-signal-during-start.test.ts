/**
 * A stop asked for while the feeder starts (SIGTERM from systemd while instruments resolve). Before, `feeder run`
 * did not look at the signal until the start-up had finished: it went on to connect to the venues and publish, and
 * only then stopped; with the instrument REST not answering it ran until the request timed out and exited 1
 * ("could not start"). A Supervisor stopped while it resolved instruments started its workers afterwards anyway,
 * with nothing left to stop them (today its workers resolve their own shares, and stop() stops them where they are). The venue's instrument REST is held by a small proxy, so the order is certain.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
/** Generous bound for the child to exit; it is killed (and the test fails) if it has not. */
const EXIT_BOUND_MS = 30_000;

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** The simulator behind a proxy that holds every instruments-info request until release(); the rest passes through. */
async function heldVenue(): Promise<{ sim: BybitSim; restUrl: string; held: () => number; release: () => void }> {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 5 });
  stops.push(() => sim.stop());
  let held = 0;
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") {
        held++;
        await released;
      }
      return fetch(new URL(url.pathname + url.search, sim.restUrl));
    },
  });
  stops.push(() => proxy.stop(true));
  stops.push(() => release()); // before the proxy stops: a held request is answered, not left hanging
  return { sim, restUrl: `http://127.0.0.1:${proxy.port}`, held: () => held, release };
}

function configWith(sim: BybitSim, restUrl: string, workers: number, seed: number): Record<string, unknown> {
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(seed), workers });
  (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = restUrl;
  raw.log = { level: "info", format: "json" };
  return raw;
}

describe("a stop asked for during start-up", { timeout: 60_000 }, () => {
  for (const workers of [1, 2]) {
    test(`feeder run (workers = ${workers}): SIGTERM while instruments resolve exits 0 without connecting to the venue`, async () => {
      const venue = await heldVenue();
      const file = join(tempDir("feeder-rev20-signal-"), "feeder.toml");
      writeFileSync(file, toToml(configWith(venue.sim, venue.restUrl, workers, 171 + workers)));
      const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "run", "--config", file], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      stops.push(() => void proc.kill("SIGKILL"));
      await waitFor(() => venue.held() > 0, "the instrument request held", 20_000);
      proc.kill("SIGTERM");
      const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
      const stderr = await new Response(proc.stderr).text();
      expect(code, stderr).toBe(0);
      expect(stderr).toContain("stopped during start-up");
      expect(stderr).not.toContain("could not start");
      expect(venue.sim.stats.connectionsTotal).toBe(0);
    });
  }

  test("feeder record: SIGINT while instruments resolve exits 0 without connecting to the venue", async () => {
    const venue = await heldVenue();
    const dir = tempDir("feeder-rev20-signal-record-");
    const file = join(dir, "feeder.toml");
    writeFileSync(file, toToml(configWith(venue.sim, venue.restUrl, 1, 179)));
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "record", "--config", file, "--out", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    stops.push(() => void proc.kill("SIGKILL"));
    await waitFor(() => venue.held() > 0, "the instrument request held", 20_000);
    proc.kill("SIGINT");
    const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
    const stderr = await new Response(proc.stderr).text();
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("stopped during start-up");
    expect(venue.sim.stats.connectionsTotal).toBe(0);
  });

  test("Supervisor.stop() while the workers resolve instruments: start() resolves and no venue connection is made", async () => {
    const venue = await heldVenue();
    const supervisor = new Supervisor(validateConfig(configWith(venue.sim, venue.restUrl, 2, 174)), silentLogger);
    stops.push(() => supervisor.stop());
    const starting = supervisor.start();
    await waitFor(() => venue.held() > 0, "the instrument request held", 20_000);
    await supervisor.stop();
    venue.release();
    await expect(starting).resolves.toBeUndefined(); // stopped during start-up: no failure
    expect(venue.sim.stats.connectionsTotal).toBe(0);
  });
});
