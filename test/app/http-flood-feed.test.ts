/**
 * A running feeder (Bybit simulator, real WebSocket, real multicast on 127.0.0.1, TTL 1) under an HTTP flood past
 * `http.max_in_flight`: while requests are refused (503, retry-after) the feed keeps publishing (every step of the
 * simulator reaches the subscriber's books), and once the flood stops ordinary requests are answered again.
 * Counted events only: refusals seen, books equal after each step, a 200 after the flood. Coverage of the bound
 * (s-httpcap): passes on the code it was written against. Destination uniqueDestination(382).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
const TOPICS = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
const MAX_IN_FLIGHT = 2;
const CLIENTS = 40;

let sim: BybitSim;
let runtime: Runtime;
let subscriber: FeedSubscriber;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 382, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(382);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await subscriber.start();
  const raw = rawConfig({ sim, markets: MARKETS, group, port, http: true });
  raw.http = { enabled: true, listen: "127.0.0.1:0", max_in_flight: MAX_IN_FLIGHT };
  runtime = await startRuntime(validateConfig(raw), silentLogger);
}, 30_000);

afterAll(async () => {
  await runtime?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

test("past http.max_in_flight requests are refused while the feed keeps publishing; after the flood they are answered", { timeout: 120_000 }, async () => {
  const base = runtime.http!.url;
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "books at the subscriber", 20_000);
  const counts = { ok: 0, refused: 0, other: 0 };
  let flooding = true;
  const client = async () => {
    while (flooding) {
      const r = await fetch(`${base}/status`);
      await r.arrayBuffer();
      if (r.status === 200) counts.ok++;
      else if (r.status === 503 && r.headers.get("retry-after") === "1") counts.refused++;
      else counts.other++;
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  try {
    await waitFor(() => counts.refused > 0, "a request refused at the bound", 30_000);
    const datagramsBefore = subscriber.counters.datagrams;
    for (let i = 0; i < 20; i++) {
      const refusedBefore = counts.refused;
      sim.step(1);
      await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), `books at the subscriber after step ${i}, during the flood`, 20_000);
      // Still refusing: the step was published while the bound was hit.
      await waitFor(() => counts.refused > refusedBefore, `refusals go on after step ${i}`, 20_000);
    }
    expect(subscriber.counters.datagrams).toBeGreaterThan(datagramsBefore);
  } finally {
    flooding = false;
    await Promise.all(clients);
  }
  expect(counts.other).toBe(0);
  expect(counts.ok).toBeGreaterThan(0);
  // The flood over: answered again (a slot freed is seen by the server once it has read the close: poll, with a deadline).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await fetch(`${base}/status`);
    await r.arrayBuffer();
    if (r.status === 200) break;
    if (Date.now() > deadline) throw new Error(`/status still ${r.status} after the flood`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  sim.step(1);
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "books at the subscriber after the flood", 20_000);
  // Ready again (polled with a deadline: on a loaded machine a quiet book may have been judged stale meanwhile).
  for (const readyBy = Date.now() + 20_000; ; sim.step(1)) {
    const r = await fetch(`${base}/readyz`);
    await r.arrayBuffer();
    if (r.status === 200) break;
    if (Date.now() > readyBy) throw new Error(`/readyz still ${r.status} after the flood`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
