/**
 * The host's wall clock stepped forward an hour (NTP, a VM resumed, `date -s`) under an OKX adapter on its default
 * clocks: Date.now jumps ahead. Before, the deadline clock defaulted to Date.now: the next housekeeping round found
 * every book an hour stale and every connection's deadlines overdue, and resynced or dropped them all at once. The
 * deadlines now run on monoEpochMs (performance.now); a server that goes silent after the step is still found on it.
 * Date.now is stubbed; the waits are on performance.now or count housekeeping rounds.
 */
import { expect, test } from "vitest";
import { untilMono, useSteppedWallClock } from "../../support/stepped-wall-clock.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startOkxSimulator, type OkxSim } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { okxConfig, sameAsSim, MapSink } from "./helpers.ts";
import { housekeepingRounds } from "../../support/housekeeping-rounds.ts";

const HOUR_MS = 3_600_000;
const clock = useSteppedWallClock();
const cleanups = clock.cleanups;
const until = untilMono;

const SUBS: Subscription[] = [
  { market: "spot", symbol: "BTC-USDT", depth: 400 },
  { market: "linear", symbol: "BTC-USDT-SWAP", depth: 400 },
];

async function start(): Promise<{ sim: OkxSim; adapter: OkxAdapter; sink: MapSink; equal: () => boolean; rounds: (n: number) => Promise<void> }> {
  const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }, { market: "linear", symbols: ["BTC-USDT-SWAP"] }], seed: 3, messagesPerSecond: 0 });
  // No `now`: the production default. Pings every 100 ms; dead after 1.5 s of nothing; stale after 5 s.
  const adapter = new OkxAdapter(okxConfig(sim, SUBS), SUBS, {
    log: silentLogger,
    pingIntervalMs: 100,
    pongTimeoutMs: 60_000,
    deadConnectionMs: 1_500,
    staleAfterMs: () => 5_000,
    reconnectBaseMs: 3_000, // a reconnect waits 1.5–3 s: the dropped connections are seen down
    reconnectMaxMs: 3_000,
  });
  cleanups.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const rounds = housekeepingRounds(adapter);
  const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
  adapter.start(sink);
  const equal = () => sameAsSim(sim, SUBS[0]!, sink, 0) && sameAsSim(sim, SUBS[1]!, sink, 1);
  sim.step(1);
  await until(equal, "both books live and equal the simulator's");
  return { sim, adapter, sink, equal, rounds };
}

/** Housekeeping rounds that judged every deadline after the step, and pings answered meanwhile (the sockets were read). */
async function roundsAfterStep(adapter: OkxAdapter, rounds: (n: number) => Promise<void>): Promise<void> {
  await rounds(3);
  const pongs = adapter.stats().pongs;
  await until(() => adapter.stats().pongs >= pongs + 2, "pings answered after the step");
  await rounds(3);
}

test("okx: the wall clock stepped an hour ahead resyncs no book and drops no connection", { timeout: 30_000 }, async () => {
  const { sim, adapter, sink, equal, rounds } = await start();
  const before = adapter.stats();
  clock.step(HOUR_MS);
  await roundsAfterStep(adapter, rounds);
  const after = adapter.stats();
  expect([after.reconnects, after.deadConnections, after.staleResyncs, after.resyncs]).toEqual([before.reconnects, before.deadConnections, before.staleResyncs, before.resyncs]);
  expect(sink.invalid).toEqual([]);
  expect(after.topicsLive).toBe(2);
  sim.step(3);
  await until(equal, "books equal after more messages");
});

test("okx: after the wall clock stepped ahead, a silent server is still found dead on the monotonic clock", { timeout: 30_000 }, async () => {
  const { sim, adapter, sink, rounds } = await start();
  clock.step(HOUR_MS);
  await roundsAfterStep(adapter, rounds);
  expect([adapter.stats().reconnects, adapter.stats().staleResyncs]).toEqual([0, 0]); // before: every book and connection
  expect(sink.invalid).toEqual([]);
  sim.inject("stall", undefined, { stallMs: 600_000 });
  const conns = adapter.stats().connections!;
  await until(() => adapter.stats().deadConnections >= conns, "every silent connection found dead");
  expect(sink.invalid.map((e) => e.reason).sort()).toEqual([StatusReason.DISCONNECTED, StatusReason.DISCONNECTED]);
  // Shown as a time of day: the wall clock's (stepped) reading, not the monotonic one an hour behind it.
  const down = adapter.connections().filter((c) => !c.up);
  expect(down).toHaveLength(conns);
  for (const c of down) expect(Math.abs(c.downSinceMs - Date.now())).toBeLessThan(HOUR_MS / 2);
});
