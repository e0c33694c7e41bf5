/**
 * /metrics across a worker restart (`workers = 2`). A restarted worker's thread counts from 0 under the same `worker`
 * label, so before, every counter and histogram of that worker went down at the restart (feeder_datagrams_sent_total
 * from hundreds back to a few). Now the supervisor carries what the last worker showed into its successor's series:
 * no counter goes down; gauges (books by state) are the new worker's own. Destination uniqueDestination(381),
 * interface 127.0.0.1, TTL 1.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { tableMismatches } from "../support/operations-metrics.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"];
const share = (worker: number) => CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, worker, 2));
const SYMBOLS = [share(0)[0]!, share(1)[0]!];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
const TOPICS = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));

let sim: BybitSim;
let supervisor: Supervisor;
let subscriber: FeedSubscriber;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 381, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(381);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await subscriber.start();
  supervisor = new Supervisor(validateConfig(rawConfig({ sim, markets: MARKETS, group, port, workers: 2 })), silentLogger);
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  await supervisor?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

/** Worker 1's series by name and labels (the text before the value), with their types. */
async function workerOneSeries(): Promise<{ values: Map<string, number>; types: Map<string, string> }> {
  const { samples, types } = parsePrometheusText(await supervisor.metricsText());
  const values = new Map<string, number>();
  for (const s of samples) if (s.labels.worker === "1") values.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  return { values, types };
}

function typeOf(series: string, types: Map<string, string>): string | undefined {
  const name = series.slice(0, series.indexOf("{"));
  return types.get(name) ?? types.get(name.replace(/_(bucket|sum|count)$/, ""));
}

test("a restarted worker's counters and histograms go on from where its predecessor's were; gauges are its own", { timeout: 90_000 }, async () => {
  expect(share(0).length > 0 && share(1).length > 0).toBe(true);
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both workers' books at the subscriber", 20_000);
  for (let i = 0; i < 40; i++) {
    sim.step(1);
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), `books after step ${i}`, 20_000);
  }
  const before = await workerOneSeries();
  const sentKey = [...before.values.keys()].find((k) => k.startsWith("feeder_datagrams_sent_total{"))!;
  expect(before.values.get(sentKey)).toBeGreaterThan(40);

  supervisor.kill(1);
  await waitFor(() => supervisor.restarts === 1, "worker 1 restarted", 20_000);
  sim.step(1);
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both workers' books after the restart", 20_000);
  let after = await workerOneSeries();
  for (const deadline = Date.now() + 20_000; !after.values.has(sentKey); after = await workerOneSeries()) {
    if (Date.now() > deadline) throw new Error("worker 1 not in /metrics again within 20 s");
    await new Promise((r) => setTimeout(r, 20));
  }

  const fell: string[] = [];
  const missing: string[] = [];
  let counters = 0;
  for (const [series, was] of before.values) {
    const type = typeOf(series, before.types);
    if (type !== "counter" && type !== "histogram") continue;
    const now = after.values.get(series);
    // Carried on while the new worker has not written it (s-rev61): never left out, so sum() never dips.
    if (now === undefined) {
      missing.push(series);
      continue;
    }
    counters++;
    if (now < was) fell.push(`${series}: ${was} -> ${now}`);
  }
  expect(counters).toBeGreaterThan(10);
  expect(fell).toEqual([]);
  expect(missing).toEqual([]);
  // The gauge is the new worker's: its one book, live, counted once (not carried onto the old worker's 1).
  const live = [...after.values].filter(([k]) => k.startsWith("feeder_books{") && k.includes('"state":"live"')).map(([, v]) => v);
  expect(live).toEqual([1]);
});

test("with workers: every family, the workers-only ones too, has its docs/operations.md row (type, labels); pipeline samples carry worker", async () => {
  const { samples, types } = parsePrometheusText(await supervisor.metricsText());
  // metrics-live checks the table against one process, which has no feeder_workers* (nor a worker label).
  for (const name of ["feeder_workers", "feeder_workers_ready", "feeder_worker_restarts_total"]) expect(types.has(name), name).toBe(true);
  expect(tableMismatches(samples, types)).toEqual([]);
  // Send errors by destination, from each worker (its own sockets): the one destination, 0 here.
  const byDestination = samples.filter((s) => s.name === "feeder_destination_send_errors_total").map((s) => [s.labels.worker, s.labels.destination, s.value]);
  expect(byDestination.map(([worker]) => worker).sort()).toEqual(["0", "1"]);
  expect(byDestination.every(([, destination, value]) => typeof destination === "string" && destination !== "" && value === 0)).toBe(true);
  // The process's own appear once, without worker; every other sample is one pipeline's, with it.
  const OWN = /^(process_|feeder_build_info$|feeder_workers$|feeder_workers_ready$|feeder_worker_restarts_total$|feeder_venue_metrics_rejected$)/;
  const wrong = samples.filter((s) => OWN.test(s.name) === "worker" in s.labels).map((s) => `${s.name}${JSON.stringify(s.labels)}`);
  expect(wrong).toEqual([]);
});
