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
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startUpbitSimulator, type UpbitSim } from "../../src/sim/upbit-sim.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { BookHistory, chaosFeeder, expectCleanRun, simulatorsOfEachTest } from "../support/chaos-venue.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

const CODES = [
  { symbol: "KRW-BTC", depth: 30 },
  { symbol: "KRW-XRP", depth: 15 },
  { symbol: "USDT-BTC", depth: 5 },
  { symbol: "BTC-ETH", depth: 5 },
];
const configSymbol = (c: { symbol: string; depth: number }) => (c.depth === 30 ? c.symbol : `${c.symbol}@${c.depth}`);
const STALE_AFTER_MS = 600;

const sims = simulatorsOfEachTest<UpbitSim>();

async function upbitVenue(venue: "upbit" | "bithumb", seed: number): Promise<ChaosVenue> {
  const sim = await startUpbitSimulator({ venue, codes: CODES.map((c) => c.symbol), seed });
  sims.push(sim);
  // The books change in step() only (a subscription gets the current book; no messagesPerSecond, so no timer
  // steps them; zero_size marks the next book only): recorded after each. Each state is formatted once (sim.book
  // copies a book into Maps of decimal strings) and kept for every check's now() until the next step, not formatted
  // and converted again per check.
  const history = new BookHistory(); // by "code@depth|ts"
  const current = new Map<string, ReturnType<UpbitSim["book"]>>(); // by code (one depth each)
  const bookNow = (c: (typeof CODES)[number]) => {
    let b = current.get(c.symbol);
    if (b === undefined) current.set(c.symbol, (b = sim.book(c.symbol, c.depth)));
    return b;
  };
  const record = () => {
    current.clear();
    for (const c of CODES) {
      const b = bookNow(c);
      history.record(`${configSymbol(c)}|${b.ts}`, b);
    }
  };
  record();
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { symbol: string })[] = CODES.map((c) => ({
    symbol: c.symbol,
    id: instrumentIdOf(venue, "spot", configSymbol(c)),
    label: `spot:${configSymbol(c)}`,
    booksAt: (ts: number) => history.at(`${configSymbol(c)}|${ts}`),
    now: () => {
      const b = bookNow(c);
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
    makeFeeder: chaosFeeder(
      () => ({ [venue]: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, spot: { depth: 30, symbols: CODES.map(configSymbol) } } }),
      // Requests and pings share the venue's pacing (1.5/s per connection): pings no faster than that.
      { pingIntervalMs: 2000, pongTimeoutMs: 5000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, errorWaitMs: 700, connectHoldMs: { 429: 50 } },
      { channel: 7 },
    ),
  };
}

for (const [n, venue] of (["upbit", "bithumb"] as const).entries()) {
  describe(`${venue}: randomized fault schedules, simulator → feeder → multicast → subscriber`, () => {
    for (const seed of chaosSeeds(venue === "upbit" ? [701] : [801])) {
      test(`seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
        const dest = uniqueDestination(96 + n);
        const r = await runChaos(await upbitVenue(venue, seed), { seed, ops: chaosOps(150), ...dest });
        if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
        expectCleanRun(r);
      });
    }
  });
}
