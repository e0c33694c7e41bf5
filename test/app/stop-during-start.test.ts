/**
 * stop() while start() is still resolving instruments (a SIGTERM during start-up, a supervisor stopping a worker that
 * is starting): the feeder must end stopped, and at once. The venue's instrument REST is held by a small proxy, so
 * the order is certain. Before eb4fdaa, stop() returned while start() went on to open sockets and connect; after
 * it, stop() waited for the held request (up to the REST timeout). Now stop() ends the request (the adapter's
 * RestStop) and returns while the proxy still holds it: the proxy sees the client go, no socket stays open, no
 * venue connection is made, start() resolves without starting and nothing is written to the instrument cache.
 */
import { existsSync } from "node:fs";
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

test("stop() during start-up returns while the instrument request is held, leaving no socket, connection or cache file", async () => {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 5 });
  stops.push(() => sim.stop());
  // The REST proxy: instruments-info waits for release() (or for the client to go); everything else passes through.
  let held = 0;
  let clientGone = 0;
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  stops.push(() => release());
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") {
        held++;
        req.signal.addEventListener("abort", () => clientGone++);
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

  let startSettled = false;
  const starting = feeder.start().finally(() => void (startSettled = true));
  await waitFor(() => held > 0, "the instrument request held");
  let stopped = false;
  void feeder.stop().then(() => void (stopped = true));
  // The proxy still holds the request (release() is never called before this): stop() must not wait for it.
  await waitFor(() => stopped, "stop() to return while the instrument request is still held");
  expect(startSettled).toBe(true);
  await starting; // resolves: a start-up stopped is no failure
  await waitFor(() => clientGone > 0, "the held request abandoned by the feeder (its socket closed)");

  const channels = (feeder.publisher as unknown as { channels: { socket: unknown }[] }).channels;
  expect(channels.map((c) => c.socket)).toEqual([undefined]);
  expect(sim.stats.connectionsTotal).toBe(0);
  expect(existsSync(config.venues[0]!.instrumentCachePath!)).toBe(false);
});
