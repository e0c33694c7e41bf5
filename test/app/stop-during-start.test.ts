/**
 * stop() while start() is still resolving instruments (a SIGTERM during start-up, a supervisor stopping a worker that
 * is starting): the feeder must end stopped. Before, stop() saw "not started", stopped the (idle) adapters and
 * returned; start() then went on to open the publisher's sockets and connect to the venue, with nothing left to stop
 * them. The venue's instrument REST is held by a small proxy until the test releases it, so the order is certain.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { validateConfig } from "../../src/config/load.ts";
import { rawConfig, uniqueDestination, waitFor } from "../e2e/harness.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

test("stop() during start-up waits for it and leaves no socket open and no venue connection", async () => {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 5 });
  stops.push(() => sim.stop());
  // The REST proxy: instruments-info waits for release(); everything else passes straight through.
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
  const { group, port } = uniqueDestination(91);
  const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], group, port });
  (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = `http://127.0.0.1:${proxy.port}`;
  const config = validateConfig(raw);
  const feeder = new Feeder({ config, log: silentLogger });
  stops.push(() => feeder.stop());

  const starting = feeder.start();
  await waitFor(() => held > 0, "the instrument request held");
  let stopped = false;
  const stopping = feeder.stop().then(() => void (stopped = true));
  await Promise.resolve();
  expect(stopped).toBe(false); // it waits for the start-up it interrupts
  release();
  await starting;
  await stopping;

  const channels = (feeder.publisher as unknown as { channels: { socket: unknown }[] }).channels;
  expect(channels.map((c) => c.socket)).toEqual([undefined]);
  expect(sim.stats.connectionsTotal).toBe(0);
});
