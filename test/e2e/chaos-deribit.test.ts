/**
 * Deribit, randomized fault schedules end to end (test/support/chaos.ts): the Deribit simulator (inverse
 * BTC-PERPETUAL and ETH-PERPETUAL on `book.X.100ms`, option BTC-27MAR26-70000-C at depth 10) → the Deribit adapter
 * over a real WebSocket (JSON-RPC) → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap,
 * change_id_break, duplicate, malformed frame, reset (a new book with change_id far ahead), disconnect, stall (one
 * instrument or the whole server), rate_limit (10028 on the next requests), test_request; feed faults: publisher
 * restart, subscriber restart, datagram loss, reordering, corruption, replay, garbage. Every usable book must equal
 * one the simulator had at its change_id.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { join } from "node:path";
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startDeribitSimulator, type DeribitSim } from "../../src/sim/deribit-sim.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { BookHistory, chaosFeeder, expectCleanRun, simulatorsOfEachTest } from "../support/chaos-venue.ts";
import { mantissa } from "../venues/deribit/helpers.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

const BOOKS: { market: MarketName; symbol: string; depth: number }[] = [
  { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
  { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
  { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
];
/** Channels push only on change: long enough that the schedule's pauses never reach it (a stall does). */
const STALE_AFTER_MS = 1_500;

const sims = simulatorsOfEachTest<DeribitSim>();

async function deribitVenue(seed: number): Promise<ChaosVenue> {
  const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, { market: "option", symbols: ["BTC-27MAR26-70000-C"] }], seed, heartbeatIntervalMs: 300 });
  sims.push(sim);
  // A channel's book changes in step() and inject() only (a resubscribe sends it unchanged): recorded around each.
  // The one change outside them is the channel's creation (the feeder's first subscribe: change_id 0 until then).
  // So a state is formatted once (sim.book copies a book into Maps of decimal strings) and kept for every check's
  // now() until the next step or inject, but only once its channel exists (per check: ~a fifth of the file's CPU).
  const history = new BookHistory(); // by "symbol|change_id"
  const current = new Map<string, ReturnType<DeribitSim["book"]>>(); // by symbol (one depth each)
  const bookNow = (b: (typeof BOOKS)[number]) => {
    let s = current.get(b.symbol);
    if (s === undefined) {
      s = sim.book(b.market, b.symbol, b.depth);
      if (s.changeId !== 0) current.set(b.symbol, s); // 0: the channel does not exist yet
    }
    return s;
  };
  const record = () => {
    for (const b of BOOKS) {
      const s = bookNow(b);
      if (s.changeId !== 0) history.record(`${b.symbol}|${s.changeId}`, s);
    }
  };
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { market: MarketName; symbol: string })[] = BOOKS.map((b) => ({
    market: b.market,
    symbol: b.symbol,
    id: instrumentIdOf("deribit", b.market, b.symbol),
    label: `${b.market}:${b.symbol}`,
    booksAt: (seq: number) => history.at(`${b.symbol}|${seq}`),
    now: () => {
      const s = bookNow(b);
      return { bids: s.bids, asks: s.asks, seq: s.changeId };
    },
  }));
  const target = (t: ChaosTopic) => {
    const x = topics.find((y) => y.id === t.id)!;
    return { market: x.market, symbol: x.symbol };
  };
  const around = (f: () => unknown) => {
    record();
    f();
    current.clear();
    record();
  };
  const faults: ChaosFault[] = [
    { name: "gap", weight: 2, inject: (_r, t) => around(() => sim.inject("gap", target(t))) },
    { name: "change_id_break", inject: (_r, t) => around(() => sim.inject("change_id_break", target(t))) },
    { name: "duplicate", inject: (_r, t) => around(() => sim.inject("duplicate", target(t))) },
    { name: "malformed", weight: 2, inject: (_r, t) => around(() => sim.inject("malformed", target(t))) },
    { name: "reset", inject: (_r, t) => around(() => sim.inject("reset", target(t))) },
    { name: "disconnect", inject: (r, t) => around(() => sim.inject("disconnect", r.next() < 0.5 ? target(t) : undefined)) },
    {
      name: "stall",
      weight: 0.5,
      inject: (r, t) => {
        const stallMs = r.int(200, 2500);
        const whole = r.next() < 0.4;
        sim.inject("stall", whole ? undefined : target(t), { stallMs });
        if (whole) stalledUntilMs = Date.now() + stallMs;
      },
    },
    { name: "rate_limit", weight: 0.5, inject: (r) => void sim.inject("rate_limit", undefined, { count: r.int(1, 3) }) },
    { name: "test_request", weight: 0.3, inject: () => void sim.inject("test_request") },
  ];
  const cache = join(tempDir("feeder-chaos-deribit-"), "instruments.json");
  return {
    topics,
    faults,
    parse: mantissa,
    step: (n) => {
      for (let i = 0; i < n; i++) around(() => sim.step(1));
    },
    ready: () => Date.now() >= stalledUntilMs,
    makeFeeder: chaosFeeder(
      () => ({
        deribit: {
          ws_url: sim.wsUrl,
          rest_url: sim.restUrl,
          instrument_cache: cache,
          inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] },
          option: { depth: 10, symbols: ["BTC-27MAR26-70000-C"] },
        },
      }),
      { reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 500 },
      { log: { level: "error" } },
    ),
  };
}

describe("deribit: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const seed of chaosSeeds([501])) {
    test(`seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(94);
      const r = await runChaos(await deribitVenue(seed), { seed, ops: chaosOps(150), ...dest });
      if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
      expectCleanRun(r);
    });
  }
});
