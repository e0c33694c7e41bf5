/**
 * Bybit, randomized fault schedules end to end (test/support/chaos.ts): the Bybit simulator (three books: linear
 * BTCUSDT and ETHUSDT at depth 50, spot BTCUSDT at depth 200) → the Bybit adapter over a real WebSocket → Feeder →
 * multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap, duplicate, malformed frame, disconnect (one connection
 * or all), stall (one symbol or the whole server, shorter and longer than the pong timeout), reset (u restarts at 1
 * with a snapshot), a tick change (REST shows the new tick, u restarts at 1), a crossed book (a bid at the best ask),
 * REST instruments down; feed faults: publisher restart, subscriber restart, datagram loss, reordering, corruption,
 * replay, garbage. Every usable book must equal the simulator's at its u.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { MarketName } from "../../src/core/types.ts";
import { exponentOf, formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { defaultSpec } from "../../src/sim/sim-book.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { validateConfig } from "../../src/config/load.ts";
import { rawConfig, uniqueDestination, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 200, symbols: ["BTCUSDT"] },
];
const STALE_AFTER_MS = 600;

let sims: BybitSim[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});

async function bybitVenue(seed: number): Promise<ChaosVenue> {
  const sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed, messagesPerSecond: 0, history: true });
  sims.push(sim);
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { market: MarketName; symbol: string })[] = MARKETS.flatMap((m) =>
    m.symbols.map((symbol) => ({
      market: m.market,
      symbol,
      id: instrumentIdOf("bybit", m.market, symbol),
      label: `${m.market}:${symbol}`,
      booksAt: (u: number) => sim.booksAt(m.market, symbol, m.depth, u),
      now: () => {
        const b = sim.book(m.market, symbol, m.depth);
        return { bids: b.bids, asks: b.asks, seq: b.u };
      },
    })),
  );
  const targetOf = (t: ChaosTopic) => topics.find((x) => x.id === t.id)!;
  let tickChanges = 0;
  const ticks = new Map(topics.map((t) => [t.id, defaultSpec(t.market, t.symbol).tickSize]));
  const faults: ChaosFault[] = [
    { name: "gap", weight: 2, inject: (_r, t) => void sim.inject("gap", targetOf(t)) },
    { name: "duplicate", inject: (_r, t) => void sim.inject("duplicate", targetOf(t)) },
    { name: "malformed", weight: 2, inject: (_r, t) => void sim.inject("malformed", targetOf(t)) },
    { name: "reset", inject: (_r, t) => void sim.inject("reset", targetOf(t)) },
    { name: "crossed", inject: (_r, t) => void sim.inject("crossed", targetOf(t)) },
    { name: "disconnect", inject: (r, t) => void sim.inject("disconnect", r.next() < 0.5 ? targetOf(t) : undefined) },
    {
      name: "stall",
      weight: 0.5,
      inject: (r, t) => {
        const stallMs = r.int(200, 1800);
        const whole = r.next() < 0.4;
        sim.inject("stall", whole ? undefined : targetOf(t), { stallMs });
        if (whole) stalledUntilMs = Date.now() + stallMs;
      },
    },
    {
      // Bybit's tick change: REST shows the new tick and u restarts at 1 with a snapshot. Finer ticks only (every
      // price fits them), at most twice a run (mantissas grow tenfold each time).
      name: "tickChange",
      weight: 0.2,
      inject: (_r, t) => {
        const x = targetOf(t);
        if (tickChanges >= 2) return;
        tickChanges++;
        const tick = ticks.get(t.id)!;
        const e = exponentOf(tick);
        const finer = formatFixed(parseFixed(tick, e), e + 1);
        ticks.set(t.id, finer);
        sim.changeInstrument(x.market, x.symbol, { tickSize: finer });
      },
    },
    {
      name: "restDown",
      weight: 0.3,
      inject: (r) => {
        sim.setRestAvailable(false);
        setTimeout(() => sim.setRestAvailable(true), r.int(50, 1500));
      },
    },
  ];
  let raw: Record<string, unknown> | undefined;
  return {
    topics,
    faults,
    step: (n) => sim.step(n),
    ready: () => Date.now() >= stalledUntilMs,
    makeFeeder: (dest, dropFilter) => {
      // One raw config (one instrument cache file) for every restart.
      raw ??= rawConfig({ sim, markets: MARKETS, group: dest.group, port: dest.port, snapshotIntervalMs: 500 });
      const publish = raw.publish as Record<string, unknown>;
      if (dest.retransmitListen) publish.retransmit = { listen: dest.retransmitListen };
      return new Feeder({
        config: validateConfig(raw),
        log: silentLogger,
        dropFilter,
        adapterOptions: { pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 500 },
      });
    },
  };
}

describe("bybit: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const seed of chaosSeeds([101, 102])) {
    test(`seed ${seed}${seed % 2 === 0 ? " (with retransmission)" : ""}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(90);
      // Every other seed with retransmission: lost datagrams asked for again before the refresh repairs them.
      const r = await runChaos(await bybitVenue(seed), { seed, ops: chaosOps(150), ...dest, retransmit: seed % 2 === 0 });
      if (process.env.CHAOS_VERBOSE) console.log(`${describeRun(r)} retransmit ${r.subscriberCounters.retransmitRecovered}/${r.subscriberCounters.retransmitRequests}`);
      expect(r.violations, `seed ${seed}: ${r.schedule.join(" ")}`).toEqual([]);
      expect(r.usableChecks).toBeGreaterThan(100);
      expect(r.notUsableSeen).toBeGreaterThan(0);
      expect(r.feederStats.applyErrors).toBe(0);
    });
  }
});
