/**
 * A Bybit lot or tick change (u restarts at 1) that lands while the topic is not subscribed: a disconnect, or a
 * resync under way. The reset u = 1 is never seen, the next subscribe's snapshot carries a small u, and before the
 * fix the adapter only re-checked the instrument on u = 1 after a non-zero last u (which every invalidation zeroes):
 * a coarser step (every number still fits the old exponents) was never noticed, and the feed went on publishing the
 * old lot/tick size for good. Found by the instrument chaos run (test/e2e/chaos-instruments.test.ts, seeds 1006 and
 * 1010). Now a snapshot whose u is below the last snapshot's u (u went backwards: a venue reset) re-checks too, and a
 * re-check that fails (REST down) is retried (the instrument schedule's retry: 2 s doubling to 1 min) instead of dropped, and a reset that comes while a
 * re-check is in flight gets one of its own after it (seed 1008 under load: the first had read the old listing).
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger, silentLogger } from "../../../src/core/log.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const MARKETS = [{ market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];

async function setup(log = silentLogger, fetchFn: typeof fetch = fetch) {
  const sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 77, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  const adapter = createBybitAdapter(venueConfig(sim, MARKETS), subsOf(MARKETS), { log, fetch: fetchFn, pingIntervalMs: 200, pongTimeoutMs: 5_000, reconnectBaseMs: 5, reconnectMaxMs: 20 });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  await waitFor(() => adapter.stats().topicsLive === 2, "both books live");
  for (let i = 0; i < 5; i++) sim.step(1);
  await waitFor(() => (sink.lastU[0] ?? 0) > 1000, "BTCUSDT past its first updates");
  return { sim, adapter, sink };
}

describe("bybit: an instrument change while the topic is not subscribed", { timeout: 30_000 }, () => {
  test.each([
    ["lotSize", "0.01", 2, "qtyExp"],
    ["tickSize", "1", 0, "priceExp"],
  ] as const)("a coarser %s set during a disconnect is found after the reconnect", async (field, value, exp, key) => {
    const { sim, adapter, sink } = await setup();
    const before = sink.instruments[0]!;
    expect(before[key]).toBeGreaterThan(exp); // BTCUSDT: tick 0.10, lot 0.001
    const reconnects = adapter.stats().reconnects;
    sim.inject("disconnect");
    // The change lands while nobody is subscribed: its u = 1 snapshot reaches no one.
    sim.changeInstrument("linear", "BTCUSDT", { [field]: value });
    sim.step(1);
    await waitFor(() => adapter.stats().reconnects > reconnects && adapter.stats().topicsLive === 2, "reconnected, both books live");
    // The next snapshot's u is below the last one's: a venue reset, so the instrument is re-checked.
    await waitFor(() => sink.changed.length === 1, `the ${field} change reported`);
    expect(sink.changed[0]!.index).toBe(0);
    expect(sink.changed[0]!.instrument[field]).toBe(value);
    expect(sink.changed[0]!.instrument[key]).toBe(exp);
    await waitFor(() => adapter.topicInfo(0).state === "live", "live in the new units");
  });

  test("a re-check that fails (instruments REST down) is retried until it answers", async () => {
    const lines: string[] = [];
    const { sim, adapter, sink } = await setup(createLogger({ level: "warn", format: "json", write: (l) => void lines.push(l) }));
    sim.setRestAvailable(false);
    sim.changeInstrument("linear", "BTCUSDT", { lotSize: "0.01" }); // u = 1 seen while subscribed: re-checked at once
    await waitFor(() => lines.some((l) => l.includes("instrument reload failed; retrying")), "the first re-check failed");
    sim.setRestAvailable(true); // after the first re-check failed; only a retry can find the change now
    await waitFor(() => sink.changed.length === 1, "the lot change found by a retry");
    expect(sink.changed[0]!.instrument.qtyExp).toBe(2);
    await waitFor(() => adapter.topicInfo(0).state === "live", "live in the new units");
  });

  test("a second reset while a re-check is in flight is re-checked after it (that one may have read the old listing)", async () => {
    // Instrument answers reach the adapter 400 ms after the simulator wrote them (a slow link): the first re-check
    // reads the listing before the change below.
    const slow = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (String(input).includes("instruments-info")) await new Promise((r) => setTimeout(r, 400));
      return res;
    }) as typeof fetch;
    const { sim, adapter, sink } = await setup(silentLogger, slow);
    const resets = adapter.stats().venueResets;
    sim.inject("reset", { market: "linear", symbol: "BTCUSDT" }); // u = 1, nothing changed: re-check 1 starts
    await waitFor(() => adapter.stats().venueResets === resets + 1, "the first reset seen");
    for (let i = 0; i < 3; i++) sim.step(1);
    await waitFor(() => (sink.lastU[0] ?? 0) > 1, "u past 1 again");
    sim.changeInstrument("linear", "BTCUSDT", { lotSize: "0.01" }); // u = 1 again, while re-check 1 is in flight
    await waitFor(() => adapter.stats().venueResets === resets + 2, "the second reset seen");
    await waitFor(() => sink.changed.length === 1, "the lot change found");
    expect(sink.changed[0]!.instrument.qtyExp).toBe(2);
  });
});
