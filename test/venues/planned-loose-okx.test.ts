/**
 * OKX 64008 reaches every connection at once, but connects are budgeted: the replacements that find no budget start
 * when it has room again, woken by the lifecycle's one budget timer, not by housekeeping (set to 10 minutes here,
 * so it never runs) nor by a per-connection polling loop (planned-replace.ts polled every 100 ms until 2026-12-05).
 * Four connections, two connects per 300 ms: the notice's four replacements go out in two waves.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../src/venues/okx/index.ts";
import type { Subscription } from "../../src/venues/venue.ts";
import { okxConfig, sameAsSim, MapSink, until } from "./okx/helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("okx: 64008 on four connections with budget for two connects: every replacement starts once the budget has room", { timeout: 30_000 }, async () => {
  const symbols = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"];
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 400 }));
  // The adapter's budget is shortened (2 per 300 ms, past OKX's 3 per second) to make the test quick: the
  // simulator's connect limit is raised to match.
  const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols }], seed: 41, noticeCloseMs: 60_000, connectLimit: [{ max: 2, windowMs: 300 }] });
  const adapter = new OkxAdapter(okxConfig(sim, subs), subs, {
    log: silentLogger,
    maxTopicsPerConnection: 1,
    maxConnectsPerWindow: 2,
    connectWindowMs: 300,
    housekeepingMs: 600_000,
  });
  cleanups.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const sink = new MapSink((await adapter.loadInstruments()) as never);
  adapter.start(sink);
  sim.step(1);
  const allEqual = () => subs.every((s, i) => sameAsSim(sim, s, sink, i));
  await until(allEqual, "four books live");
  sim.inject("notice");
  await until(() => adapter.stats().plannedReconnects === 4, "four replacements started");
  sim.step(2);
  await until(allEqual, "four books equal");
  expect(sink.invalid).toEqual([]);
  expect(adapter.stats().reconnects).toBe(0);
});
