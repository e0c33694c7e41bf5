/**
 * Bybit's metrics(): Prometheus conventions and no double counting, against the simulator over several
 * connections: per-connection series carry {market, connection} and sum to the stats() totals; no name has a
 * total beside its parts; every (name, labels) appears once.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("metrics(): snake_case names, counters end in _total, per-connection series sum to the totals, nothing counted twice", async () => {
  const markets = [
    { market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "XRPUSDT"] },
    { market: "spot" as const, depth: 50, symbols: ["BTCUSDT"] },
  ];
  const sim = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 3 });
  cleanups.push(() => sim.stop());
  const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, maxTopicsPerConnection: 2 });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  await waitFor(() => adapter.stats().topicsLive === 4, "all live");
  sim.step(10);
  sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
  sim.step(2);
  await waitFor(() => adapter.stats().gaps === 1 && adapter.stats().topicsLive === 4, "gap resynced");

  const metrics = adapter.metrics();
  const stats = adapter.stats();
  const seen = new Set<string>();
  const labelled = new Map<string, boolean>();
  for (const m of metrics) {
    expect(m.name).toMatch(/^[a-z][a-z0-9_]*$/);
    if (m.type === "counter") expect(m.name).toMatch(/_total$/);
    else expect(m.name).not.toMatch(/_total$/);
    const key = `${m.name}${JSON.stringify(Object.entries(m.labels).sort())}`;
    expect(seen.has(key), key).toBe(false);
    seen.add(key);
    const hasLabels = Object.keys(m.labels).length > 0;
    // A name is either one venue-wide series or only labelled parts: never a total beside its parts.
    expect(labelled.get(m.name) ?? hasLabels, m.name).toBe(hasLabels);
    labelled.set(m.name, hasLabels);
    expect(Number.isFinite(m.value)).toBe(true);
  }
  const sum = (name: string) => metrics.filter((m) => m.name === name).reduce((a, m) => a + m.value, 0);
  const conns = new Set(metrics.filter((m) => m.name === "messages_received_total").map((m) => m.labels.connection));
  expect(conns.size).toBe(3); // linear ×2 (two topics each at most), spot ×1
  expect(sum("messages_received_total")).toBe(stats.messages);
  expect(sum("received_bytes_total")).toBe(stats.bytes);
  expect(sum("connects_total")).toBe(stats.connects);
  expect(sum("connection_up")).toBe(stats.connectionsOpen);
  expect(sum("sequence_gaps_total")).toBe(1);
  expect(sum("resyncs_total")).toBe(stats.resyncs);
  expect(sum("topics_live")).toBe(4);
});
