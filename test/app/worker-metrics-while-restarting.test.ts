/**
 * /metrics while a worker slot has no worker answering (`workers = 2`): its predecessor exited and the successor is
 * slow to come back (held at its start here; in production up to 10 s of backoff plus its start). Before, every
 * series of that `worker` was absent meanwhile, and rate() over the gap saw a series vanish and come back. Now
 * its counters and histograms are shown at the values last shown; its books as last shown, every one counted `stale`
 * (until s-leftops absent, read by alerting as "no books"); its heap absent. Destination uniqueDestination(383),
 * interface 127.0.0.1, TTL 1.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { HELD_START_CHANNEL } from "./support/held-start-worker.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"];
const share = (worker: number) => CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, worker, 2));
const SYMBOLS = [share(0)[0]!, share(1)[0]!];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];

let sim: BybitSim;
let supervisor: Supervisor;
let channel: BroadcastChannel;
/** Start requests per worker index; the first of each is let go at once, later ones when the test says. */
const asks = [0, 0];

beforeAll(async () => {
  channel = new BroadcastChannel(HELD_START_CHANNEL);
  channel.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask !== "start") return;
    if (++asks[ask.worker]! === 1) channel.postMessage({ worker: ask.worker, go: true });
  };
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 383, messagesPerSecond: 0 });
  supervisor = new Supervisor(validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(383), workers: 2 })), silentLogger, new URL("./support/held-start-worker.ts", import.meta.url).href);
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  channel?.close();
  await supervisor?.stop();
  await sim?.stop();
});

/** Worker 1's series (name and labels) with their values, and each family's type. */
async function workerOne(): Promise<{ values: Map<string, number>; types: Map<string, string> }> {
  const { samples, types } = parsePrometheusText(await supervisor.metricsText());
  const values = new Map<string, number>();
  for (const s of samples) if (s.labels.worker === "1") values.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  return { values, types };
}

const typeOf = (series: string, types: Map<string, string>) => {
  const name = series.slice(0, series.indexOf("{"));
  return types.get(name) ?? types.get(name.replace(/_(bucket|sum|count)$/, ""));
};

test("a restarting slot's counters and histograms stay in /metrics at their last values, its books as last shown counted stale, until its worker answers", { timeout: 60_000 }, async () => {
  for (let i = 0; i < 5; i++) sim.step(1);
  let before = await workerOne();
  const sent = (m: Map<string, number>) => [...m].find(([k]) => k.startsWith("feeder_datagrams_sent_total{"))?.[1];
  for (const deadline = Date.now() + 20_000; !((sent(before.values) ?? 0) > 0); before = await workerOne()) {
    if (Date.now() > deadline) throw new Error("worker 1 sent nothing within 20 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  const counters = [...before.values].filter(([k]) => ["counter", "histogram"].includes(typeOf(k, before.types) ?? ""));
  expect(counters.length).toBeGreaterThan(10);

  supervisor.kill(1);
  await waitFor(() => asks[1] === 2, "worker 1's successor held at its start", 20_000);
  const during = await workerOne();
  // Every counter and histogram series as last shown (the old worker was killed right after that scrape)...
  expect(counters.filter(([k, v]) => during.values.get(k) !== v).map(([k, v]) => `${k}: ${v} -> ${during.values.get(k)}`)).toEqual([]);
  // ... its books as last shown, all stale (their states are not known now), its unresolved as they were, no heap.
  const gauges = (m: Map<string, number>, types: Map<string, string>) => [...m].filter(([k]) => typeOf(k, types) === "gauge").sort();
  const books = (state: string, n: number) => [`feeder_books{"worker":"1","venue":"bybit","market":"linear","state":"${state}"}`, n];
  const states = ["awaiting_snapshot", "halted", "live", "resyncing", "stale", "unreadable"];
  const booksShown = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith("feeder_books{")).reduce((n, [, v]) => n + v, 0);
  expect(booksShown(before.values)).toBe(1); // in whatever state it was then
  expect(gauges(during.values, during.types)).toEqual([
    ...states.map((state) => books(state, state === "stale" ? 1 : 0)),
    ['feeder_symbols_unresolved{"worker":"1","venue":"bybit","market":"linear"}', 0],
  ]);
  // Asked again, the same (writing them changes nothing carried).
  expect((await workerOne()).values).toEqual(during.values);

  channel.postMessage({ worker: 1, go: true });
  let after = await workerOne();
  const answering = (m: Map<string, number>) => [...m].some(([k, v]) => k.startsWith("feeder_books{") && !k.includes('"stale"') && v > 0);
  for (const deadline = Date.now() + 20_000; !answering(after.values); after = await workerOne()) {
    if (Date.now() > deadline) throw new Error("worker 1's successor not in /metrics within 20 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(counters.filter(([k, v]) => !((after.values.get(k) ?? -1) >= v)).map(([k, v]) => `${k}: ${v} -> ${after.values.get(k)}`)).toEqual([]);
});
