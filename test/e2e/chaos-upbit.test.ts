/**
 * Upbit and Bithumb, randomized fault schedules end to end (test/support/chaos.ts): the Upbit / Bithumb simulator
 * (snapshot-only books: KRW-BTC at 30 units, KRW-XRP at 15, USDT-BTC and BTC-ETH at 5) → the adapter over a real
 * WebSocket → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Venue faults: duplicate, an older book (stamped
 * before the last), zero-size units, malformed frame, disconnect, whole-server stall, HTTP 429 on the next upgrades,
 * an error frame naming no code, REST down; feed faults: publisher restart, subscriber restart, datagram loss,
 * reordering, corruption, replay, garbage. Every usable book must equal the simulator's book at its timestamp.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startUpbitSimulator, type UpbitSim } from "../../src/sim/upbit-sim.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue, type SimSides } from "../support/chaos.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

const CODES = [
  { symbol: "KRW-BTC", depth: 30 },
  { symbol: "KRW-XRP", depth: 15 },
  { symbol: "USDT-BTC", depth: 5 },
  { symbol: "BTC-ETH", depth: 5 },
];
const configSymbol = (c: { symbol: string; depth: number }) => (c.depth === 30 ? c.symbol : `${c.symbol}@${c.depth}`);
const STALE_AFTER_MS = 600;

let sims: UpbitSim[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});

async function upbitVenue(venue: "upbit" | "bithumb", seed: number): Promise<ChaosVenue> {
  const sim = await startUpbitSimulator({ venue, codes: CODES.map((c) => c.symbol), seed });
  sims.push(sim);
  // The books change in step() only (a subscription gets the current book): recorded after each.
  const history = new Map<string, Set<string>>(); // "code@depth|ts" → books as text
  const record = () => {
    for (const c of CODES) {
      const b = sim.book(c.symbol, c.depth);
      const key = `${configSymbol(c)}|${b.ts}`;
      let set = history.get(key);
      if (!set) history.set(key, (set = new Set()));
      set.add(JSON.stringify([[...b.bids], [...b.asks]]));
    }
  };
  record();
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { symbol: string })[] = CODES.map((c) => ({
    symbol: c.symbol,
    id: instrumentIdOf(venue, "spot", configSymbol(c)),
    label: `spot:${configSymbol(c)}`,
    booksAt: (ts: number): SimSides[] =>
      [...(history.get(`${configSymbol(c)}|${ts}`) ?? [])].map((text) => {
        const [bids, asks] = JSON.parse(text) as [[string, string][], [string, string][]];
        return { bids: new Map(bids), asks: new Map(asks) };
      }),
    now: () => {
      const b = sim.book(c.symbol, c.depth);
      return { bids: b.bids, asks: b.asks, seq: b.ts };
    },
  }));
  const code = (t: ChaosTopic) => topics.find((x) => x.id === t.id)!.symbol;
  const faults: ChaosFault[] = [
    { name: "duplicate", inject: (_r, t) => sim.inject("duplicate", code(t)) },
    { name: "older", inject: (_r, t) => sim.inject("older", code(t)) },
    { name: "zero_size", inject: (_r, t) => sim.inject("zero_size", code(t)) },
    { name: "malformed", weight: 2, inject: (_r, t) => sim.inject("malformed", code(t)) },
    { name: "disconnect", inject: (r, t) => sim.inject("disconnect", r.next() < 0.5 ? code(t) : undefined) },
    {
      name: "stall",
      weight: 0.5,
      inject: (r) => {
        const stallMs = r.int(200, STALE_AFTER_MS * 3);
        sim.inject("stall", undefined, { stallMs });
        stalledUntilMs = Date.now() + stallMs;
      },
    },
    {
      name: "429",
      weight: 0.3,
      inject: (r) => {
        sim.inject("429", undefined, { count: r.int(1, 2) });
        sim.inject("disconnect");
      },
    },
    { name: "errorFrame", weight: 0.3, inject: () => sim.inject("error_frame") },
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
  const cache = join(tempDir(`feeder-chaos-${venue}-`), "instruments.json");
  return {
    topics,
    faults,
    step: (n) => {
      for (let i = 0; i < n; i++) {
        sim.step(1);
        record();
      }
    },
    ready: () => Date.now() >= stalledUntilMs,
    makeFeeder: (dest, dropFilter) => {
      raw ??= {
        log: { level: "warn", format: "json" },
        http: { enabled: false },
        publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "chaos", ...dest, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
        venues: { [venue]: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, spot: { depth: 30, symbols: CODES.map(configSymbol) } } },
      };
      return new Feeder({
        config: validateConfig(raw),
        log: silentLogger,
        dropFilter,
        // Requests and pings share the venue's pacing (1.5/s per connection): pings no faster than that.
        adapterOptions: { pingIntervalMs: 2000, pongTimeoutMs: 5000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, errorWaitMs: 700 },
      });
    },
  };
}

for (const [n, venue] of (["upbit", "bithumb"] as const).entries()) {
  describe(`${venue}: randomized fault schedules, simulator → feeder → multicast → subscriber`, () => {
    for (const seed of chaosSeeds(venue === "upbit" ? [701] : [801])) {
      test(`seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
        const dest = uniqueDestination(96 + n);
        const r = await runChaos(await upbitVenue(venue, seed), { seed, ops: chaosOps(150), ...dest });
        if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
        expect(r.violations, `seed ${seed}: ${r.schedule.join(" ")}`).toEqual([]);
        expect(r.usableChecks).toBeGreaterThan(100);
        expect(r.notUsableSeen).toBeGreaterThan(0);
        expect(r.applyErrors).toBe(0);
      });
    }
  });
}
