/**
 * Coinbase, randomized fault schedules end to end (test/support/chaos.ts): the Coinbase simulator (BTC-USD and
 * ETH-USD on one connection, SOL-USD on its own; one sequence_num per connection) → the Coinbase adapter over a real
 * WebSocket → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Venue faults: gap (across the connection's products),
 * duplicate, malformed frame, reset (a new snapshot event), disconnect, stall (heartbeats included), an error frame,
 * REST products down; feed faults: publisher restart, subscriber restart, datagram loss, reordering, corruption,
 * replay, garbage. Every usable book must equal one a frame with its sequence_num carried.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { join } from "node:path";
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../src/sim/coinbase-sim.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { chaosFeeder, expectCleanRun, simulatorsOfEachTest } from "../support/chaos-venue.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];
const DEAD_MS = 600;

const sims = simulatorsOfEachTest<CoinbaseSim>();

async function coinbaseVenue(seed: number): Promise<ChaosVenue> {
  const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed, levels: 80, heartbeatMs: 100, history: true });
  sims.push(sim);
  let stalledUntilMs = 0;
  const topics: (ChaosTopic & { product: string })[] = PRODUCTS.map((product) => ({
    product,
    id: instrumentIdOf("coinbase", "spot", product),
    label: `spot:${product}`,
    booksAt: (seq: number) => sim.booksAt(product, seq),
    now: () => {
      const b = sim.book(product);
      return { bids: b.bids, asks: b.asks, seq: b.seq };
    },
  }));
  const product = (t: ChaosTopic) => topics.find((x) => x.id === t.id)!.product;
  const faults: ChaosFault[] = [
    { name: "gap", weight: 2, inject: (_r, t) => void sim.inject("gap", product(t)) },
    { name: "duplicate", inject: (_r, t) => void sim.inject("duplicate", product(t)) },
    { name: "malformed", weight: 2, inject: (_r, t) => void sim.inject("malformed", product(t)) },
    { name: "reset", inject: (_r, t) => void sim.inject("reset", product(t)) },
    { name: "disconnect", inject: (r, t) => void sim.inject("disconnect", r.next() < 0.5 ? product(t) : undefined) },
    {
      name: "stall",
      weight: 0.5,
      inject: (r, t) => {
        const stallMs = r.int(200, DEAD_MS * 3);
        sim.inject("stall", product(t), { stallMs });
        stalledUntilMs = Date.now() + stallMs;
      },
    },
    { name: "error", weight: 0.5, inject: (_r, t) => void sim.inject("error", product(t)) },
    {
      name: "restDown",
      weight: 0.3,
      inject: (r) => {
        sim.setRestAvailable(false);
        setTimeout(() => sim.setRestAvailable(true), r.int(50, 1500));
      },
    },
  ];
  const cache = join(tempDir("feeder-chaos-coinbase-"), "instruments.json");
  return {
    topics,
    faults,
    step: (n) => sim.step(n),
    ready: () => Date.now() >= stalledUntilMs,
    makeFeeder: chaosFeeder(() => ({ coinbase: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, spot: { symbols: PRODUCTS } } }), {
      ...{ maxProductsPerConnection: 2, reconnectBaseMs: 20, reconnectMaxMs: 200, deadConnectionMs: DEAD_MS },
    }),
  };
}

describe("coinbase: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const seed of chaosSeeds([601])) {
    test(`seed ${seed}: every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(95);
      const r = await runChaos(await coinbaseVenue(seed), { seed, ops: chaosOps(150), ...dest });
      if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
      expectCleanRun(r);
    });
  }
});
