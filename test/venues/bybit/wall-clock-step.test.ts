/**
 * The host's wall clock stepped forward an hour (NTP, a VM resumed, `date -s`) under an adapter on its default
 * clocks: Date.now jumps ahead. Before, the deadline clock defaulted to Date.now: at the next housekeeping round every
 * deadline (nothing received for the dead-connection time, staleness) looked an hour overdue, every connection was
 * dropped and every book resynced at once. The deadlines now run on monoEpochMs (performance.now), which the step
 * does not move; a server that goes silent after the step is still found on it.
 * Bybit against its simulator (spot and linear: two connections); Date.now is stubbed, waits are on performance.now.
 */
import { expect, test } from "vitest";
import { untilMono, useSteppedWallClock } from "../../support/stepped-wall-clock.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason, type MarketName } from "../../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter, type BybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig } from "./helpers.ts";

const HOUR_MS = 3_600_000;
const clock = useSteppedWallClock();
const cleanups = clock.cleanups;
const until = untilMono;

const MARKETS: { market: MarketName; depth: number; symbols: string[] }[] = [
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
];

async function setup(reconnectBaseMs = 5): Promise<{ sim: BybitSim; adapter: BybitAdapter; sink: RecordingSink }> {
  const sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 7, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  // No `now`: the production default. Pings every 100 ms (their pongs count housekeeping rounds); a dead connection
  // after 1.5 s of nothing at all; a book stale after 5 s; the pong deadline generous (a loaded machine).
  const adapter = createBybitAdapter(venueConfig(sim, MARKETS), subsOf(MARKETS), {
    log: silentLogger,
    pingIntervalMs: 100,
    pongTimeoutMs: 60_000,
    deadConnectionMs: 1_500,
    staleAfterMs: () => 5_000,
    reconnectBaseMs,
    reconnectMaxMs: Math.max(20, reconnectBaseMs),
  });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  await until(() => adapter.stats().topicsLive === 3, "every book live");
  return { sim, adapter, sink };
}

/** Steps the simulator and waits until every book equals the simulator's. */
async function stepAndMatch(sim: BybitSim, sink: RecordingSink, n = 5): Promise<void> {
  sim.step(n);
  await until(() => [0, 1, 2].every((i) => sink.matches(sim, i)), "books equal the simulator's");
}

/** Waits for `rounds` more pongs on every connection: each was pinged by a housekeeping round after the call. */
async function housekeepingRounds(adapter: BybitAdapter, rounds: number): Promise<void> {
  const keys = ["conn0.spot.pongs", "conn1.linear.pongs"];
  const from = keys.map((k) => adapter.stats()[k] ?? 0);
  await until(() => keys.every((k, i) => (adapter.stats()[k] ?? 0) >= from[i]! + rounds), `${rounds} housekeeping rounds on each connection`);
}

test("bybit: the wall clock stepped an hour ahead drops no connection and leaves every book LIVE", { timeout: 30_000 }, async () => {
  const { sim, adapter, sink } = await setup();
  await stepAndMatch(sim, sink);
  const before = adapter.stats();
  const invalidBefore = sink.invalid.length;
  clock.step(HOUR_MS);
  // Rounds that judged the deadlines after the step (before: the first one dropped both connections).
  await housekeepingRounds(adapter, 4);
  const after = adapter.stats();
  expect(after.reconnects - before.reconnects).toBe(0);
  expect(after.deadConnections - before.deadConnections).toBe(0);
  expect(after.staleResyncs - before.staleResyncs).toBe(0);
  expect(after.resyncs - before.resyncs).toBe(0);
  expect(sink.invalid.length).toBe(invalidBefore);
  expect(adapter.stats().topicsLive).toBe(3);
  await stepAndMatch(sim, sink); // and the books go on equal to the venue's
  expect(adapter.connections().every((c) => c.up && c.downSinceMs === 0)).toBe(true);
});

test("bybit: after the wall clock stepped ahead, a silent server is still found on the monotonic clock", { timeout: 30_000 }, async () => {
  const { sim, adapter, sink } = await setup(3_000); // a reconnect waits 1.5–3 s: the connections are seen down
  const resyncsBefore = adapter.stats().resyncs;
  clock.step(HOUR_MS);
  await housekeepingRounds(adapter, 4);
  // The step alone recycled and resynced nothing (before: every book "stale", connections dropped).
  expect(adapter.stats().reconnects).toBe(0);
  expect(adapter.stats().staleResyncs).toBe(0);
  expect(adapter.stats().resyncs).toBe(resyncsBefore);
  const invalidBefore = sink.invalid.length;
  // The server says nothing more (no data, no pong): the dead-connection deadline (1.5 s) must still come.
  sim.inject("stall", undefined, { stallMs: 600_000 });
  await until(() => adapter.stats().deadConnections >= 2, "both silent connections found dead");
  expect(sink.invalid.slice(invalidBefore).filter((e) => e.reason === StatusReason.DISCONNECTED)).toHaveLength(3);
  // Shown as a time of day: the wall clock's (stepped) reading, not the monotonic one an hour behind it.
  const down = adapter.connections().filter((c) => !c.up);
  expect(down).toHaveLength(2);
  for (const c of down) expect(Math.abs(c.downSinceMs - Date.now())).toBeLessThan(HOUR_MS / 2);
});
