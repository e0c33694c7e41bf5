/**
 * OKX, randomized fault schedules end to end (test/support/chaos.ts): the OKX simulator with real checksums (spot
 * BTC-USDT and ETH-USDT and linear BTC-USDT-SWAP on `books`, inverse BTC-USD-SWAP on `books5`) → the OKX adapter over
 * a real WebSocket → Feeder → multicast on 127.0.0.1 → FeedSubscriber. Two modes: `books` with its initial snapshot,
 * and without it (the REST snapshot bridged by seqId, with refused (429) and stale REST snapshots). Venue faults:
 * gap, duplicate, malformed frame, maintenance reset (seqId < prevSeqId), wrong checksum, keepalive, disconnect,
 * whole-server stall, the 64008 notice (planned reconnect); feed faults: publisher restart, subscriber restart,
 * datagram loss, reordering, corruption, replay, garbage. Every usable book must equal one the simulator had at its
 * seqId.
 *
 * More seeds: CHAOS_SEEDS=1,2,3 (exactly these) or CHAOS_RUNS=20 (20 seeds from the first default); CHAOS_OPS=N
 * lengthens each schedule; CHAOS_VERBOSE=1 prints each run's faults and counters. A failure names its seed and
 * schedule.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { MarketName } from "../../src/core/types.ts";
import { exponentOf, formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { startOkxSimulator, type OkxSim } from "../../src/sim/okx-sim.ts";
import { Rng } from "../../src/sim/rng.ts";
import { defaultSpec } from "../../src/sim/sim-book.ts";
import { chaosOps, chaosSeeds, describeRun, runChaos, type ChaosFault, type ChaosTopic, type ChaosVenue } from "../support/chaos.ts";
import { BookHistory, chaosFeeder, expectCleanRun, simulatorsOfEachTest } from "../support/chaos-venue.ts";
import { tempDir, uniqueDestination } from "./harness.ts";

const MARKETS: { market: MarketName; depth: number; symbols: string[] }[] = [
  { market: "spot", depth: 400, symbols: ["BTC-USDT", "ETH-USDT"] },
  { market: "linear", depth: 400, symbols: ["BTC-USDT-SWAP"] },
  { market: "inverse", depth: 5, symbols: ["BTC-USD-SWAP"] },
];
/** Long enough that a hiccup of this shared VM never marks a book stale: a stall is caught by the pong timeout. */
const STALE_AFTER_MS = 5_000;

const sims = simulatorsOfEachTest<OkxSim>();

async function okxVenue(seed: number, initialSnapshot: boolean): Promise<ChaosVenue & { changes: ReturnType<typeof announceChanges> }> {
  const sim = await startOkxSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed, checksums: true, initialSnapshot, noticeCloseMs: 1500 });
  sims.push(sim);
  const changes = announceChanges(sim, seed);
  // The simulator's books change only in sim.step() (its own clock steps nothing here: no messagesPerSecond), so
  // recorded at the start and after each, every state is known. Each state is formatted once (sim.book copies a book
  // into Maps of decimal strings) and kept until the next sim.step for every check's now(): formatting it per record
  // (twice a step) and per check took about half of this file's CPU.
  const history = new BookHistory(); // by "instId|seqId"
  const all = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ ...m, symbol })));
  const current = new Map<string, ReturnType<OkxSim["book"]>>(); // by symbol (one depth each): the book since the last sim.step
  const bookNow = (symbol: string, depth: number) => {
    let b = current.get(symbol);
    if (b === undefined) current.set(symbol, (b = sim.book(symbol, depth)));
    return b;
  };
  const record = () => {
    current.clear();
    for (const t of all) {
      const b = bookNow(t.symbol, t.depth);
      history.record(`${t.symbol}|${b.seqId}`, b);
    }
  };
  record();
  const topics: (ChaosTopic & { symbol: string })[] = all.map((t) => ({
    symbol: t.symbol,
    id: instrumentIdOf("okx", t.market, t.symbol),
    label: `${t.market}:${t.symbol}`,
    booksAt: (seq: number) => history.at(`${t.symbol}|${seq}`),
    now: () => {
      const b = bookNow(t.symbol, t.depth);
      return { bids: b.bids, asks: b.asks, seq: b.seqId };
    },
  }));
  const sym = (t: ChaosTopic) => topics.find((x) => x.id === t.id)!.symbol;
  // The units the venue lists now: an announced change counts from its effTime, so convergence (and the end of the
  // run) waits for the feeder's reload after it instead of racing it (a run can end before effTime + the reload).
  const startExponents = new Map(all.map((t) => {
    const spec = defaultSpec(t.market, t.symbol);
    return [instrumentIdOf("okx", t.market, t.symbol), [exponentOf(spec.tickSize), exponentOf(spec.lotSize)] as [number, number]];
  }));
  const exponentsNow = (id: number): [number, number] => {
    const e: [number, number] = [...startExponents.get(id)!];
    for (const c of changes) if (c.id === id && Date.now() >= c.effTimeMs) e[c.param === "tickSz" ? 0 : 1] = c.exp;
    return e;
  };
  const faults: ChaosFault[] = [
    { name: "gap", weight: 2, inject: (_r, t) => sim.inject("gap", sym(t)) },
    { name: "duplicate", inject: (_r, t) => sim.inject("duplicate", sym(t)) },
    { name: "malformed", weight: 2, inject: (_r, t) => sim.inject("malformed", sym(t)) },
    { name: "reset", inject: (_r, t) => sim.inject("reset", sym(t)) },
    { name: "checksum", inject: (_r, t) => sim.inject("checksum", sym(t)) },
    { name: "keepalive", weight: 0.5, inject: (_r, t) => sim.inject("keepalive", sym(t)) },
    { name: "disconnect", inject: (r, t) => sim.inject("disconnect", r.next() < 0.5 ? sym(t) : undefined) },
    { name: "stall", weight: 0.3, inject: (r) => sim.inject("stall", undefined, { stallMs: r.int(200, 1800) }) },
    { name: "notice", weight: 0.3, inject: () => sim.inject("notice") },
  ];
  if (!initialSnapshot) {
    // The next REST snapshot of the book is refused (429) or older than the buffered updates; a gap makes it fetch one.
    faults.push({
      name: "restFault",
      inject: (r, t) => {
        sim.restFault(r.next() < 0.5 ? "refuse" : "no_bridge", sym(t));
        sim.inject("gap", sym(t));
      },
    });
  }
  const cache = join(tempDir("feeder-chaos-okx-"), "instruments.json");
  const okx: Record<string, unknown> = { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache };
  for (const m of MARKETS) okx[m.market] = { depth: m.depth, symbols: m.symbols };
  return {
    changes,
    topics,
    faults,
    step: (n) => {
      for (let i = 0; i < n; i++) {
        sim.step(1);
        record();
      }
    },
    ready: () => !sim.stalled,
    exponentsNow,
    makeFeeder: chaosFeeder(() => ({ okx }), { pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 500 }),
  };
}

/**
 * Instrument changes while running: from the seed, two instruments get an announced (`upcChg`) tick or lot change,
 * ten times finer (every price and size of the book fits it), effective 1–4 s into the run; the adapter learns it
 * from the listing at start (and at every publisher restart) and reloads just after effTime. The book must never be
 * shown usable in the old units once mantissas are in the new ones, nor the reverse (the check parses the
 * venue's book at the exponents the subscriber shows).
 */
function announceChanges(sim: OkxSim, seed: number): { id: number; param: "tickSz" | "lotSz"; exp: number; effTimeMs: number }[] {
  const out: { id: number; param: "tickSz" | "lotSz"; exp: number; effTimeMs: number }[] = [];
  const rng = new Rng(seed * 7919);
  const all = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol })));
  for (let k = 0; k < 2; k++) {
    const t = all.splice(rng.int(0, all.length - 1), 1)[0]!;
    const spec = defaultSpec(t.market, t.symbol);
    const param = rng.next() < 0.5 ? "tickSz" : "lotSz";
    const step = param === "tickSz" ? spec.tickSize : spec.lotSize;
    const e = exponentOf(step);
    const effTimeMs = Date.now() + rng.int(1000, 4000);
    sim.announceChange(t.symbol, { param, newValue: formatFixed(parseFixed(step, e), e + 1), effTimeMs });
    out.push({ id: instrumentIdOf("okx", t.market, t.symbol), param, exp: e + 1, effTimeMs });
  }
  return out;
}

describe("okx: randomized fault schedules, simulator → feeder → multicast → subscriber", () => {
  for (const seed of chaosSeeds([201, 202])) {
    const initialSnapshot = seed % 2 === 1;
    test(`seed ${seed} (${initialSnapshot ? "books with its snapshot" : "REST snapshot bridged"}): every usable book equals the venue's; all LIVE and equal at the end`, { timeout: 120_000 }, async () => {
      const dest = uniqueDestination(91);
      const venue = await okxVenue(seed, initialSnapshot);
      // The run ends after the last announced change took effect; convergence then waits for the units it lists.
      const r = await runChaos(venue, { seed, ops: chaosOps(150), ...dest, endNotBeforeMs: Math.max(...venue.changes.map((c) => c.effTimeMs)) });
      if (process.env.CHAOS_VERBOSE) console.log(describeRun(r));
      expectCleanRun(r);
      // Both announced changes took effect during the run: the books ended in the new units.
      for (const c of venue.changes) expect(r.finalExponents.get(c.id)?.[c.param === "tickSz" ? 0 : 1], `${c.param} of ${c.id}`).toBe(c.exp);
    });
  }
});
