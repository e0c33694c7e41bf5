/**
 * The Bybit venue of the chaos runs (test/support/chaos.ts): the Bybit simulator (linear BTCUSDT and ETHUSDT at
 * depth 50, spot BTCUSDT at depth 200, by default) with its faults, as a ChaosVenue for an in-process Feeder or,
 * through feederConfig, for workers. Used by test/e2e/chaos-bybit.test.ts and chaos-workers.test.ts.
 * @module
 */
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { exponentOf, formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { Rng } from "../../src/sim/rng.ts";
import { defaultSpec } from "../../src/sim/sim-book.ts";
import { rawConfig, type Markets } from "../e2e/harness.ts";
import type { ChaosDestination, ChaosFault, ChaosTopic, ChaosVenue } from "./chaos.ts";
import { simulatorsOfEachTest } from "./chaos-venue.ts";

export const BYBIT_MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 200, symbols: ["BTCUSDT"] },
];
const STALE_AFTER_MS = 600;

const sims = simulatorsOfEachTest<BybitSim>();

export interface BybitChaosOptions {
  /**
   * Instrument changes while running: tick and lot changes both ways (finer, coarser: the simulator re-prices the
   * book), a delisting and relisting (instruments-info drops the symbol for a while; u restarts at 1 so the
   * adapter re-checks it), and `lateSymbol` ("market:SYMBOL") unlisted at start, listed 0.3–2.5 s in (a
   * LateInstruments join).
   */
  instruments?: { lateSymbol?: string };
}

export async function bybitVenue(seed: number, markets: Markets = BYBIT_MARKETS, opts: BybitChaosOptions = {}): Promise<ChaosVenue & { sim: BybitSim }> {
  const late = opts.instruments?.lateSymbol;
  const sim = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), seed, messagesPerSecond: 0, history: true, unlisted: late ? [late] : [] });
  sims.push(sim);
  let stalledUntilMs = 0;
  /** Symbols not listed now ("market:SYMBOL"): the venue cannot converge until they are listed again. */
  const unlisted = new Set<string>(late ? [late] : []);
  const listLater = (key: string, ms: number) =>
    setTimeout(() => {
      const [market, symbol] = key.split(":") as [MarketName, string];
      sim.setListed(market, symbol, true);
      unlisted.delete(key);
    }, ms);
  if (late) listLater(late, new Rng(seed * 31).int(300, 2500));
  const topics: (ChaosTopic & { market: MarketName; symbol: string })[] = markets.flatMap((m) =>
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
    ...(opts.instruments ? instrumentFaults() : []), // replaces tickChange above (see the filter below)
    {
      name: "restDown",
      weight: 0.3,
      inject: (r) => {
        sim.setRestAvailable(false);
        setTimeout(() => sim.setRestAvailable(true), r.int(50, 1500));
      },
    },
  ];
  /** Each symbol's tick and lot now (instrument faults change them). */
  const steps = new Map(topics.map((t) => [t.id, { tickSize: defaultSpec(t.market, t.symbol).tickSize, lotSize: defaultSpec(t.market, t.symbol).lotSize }]));
  /** Tick and lot changes both ways and a delisting, at most 4 changes a run (mantissas grow tenfold with each finer step). */
  function instrumentFaults(): ChaosFault[] {
    let changes = 0;
    const change = (field: "tickSize" | "lotSize") => (r: Rng, t: ChaosTopic) => {
      const x = targetOf(t);
      if (changes >= 4 || unlisted.has(`${x.market}:${x.symbol}`)) return;
      // Not on a book whose u restarted lately: missed while unsubscribed, a second reset whose new u has already
      // passed the small u before it looks like progress (u alone cannot tell; real u are in the millions).
      if (sim.book(x.market, x.symbol, markets.find((m) => m.market === x.market)!.depth).u < 100_000) return;
      const cur = steps.get(t.id)!;
      const e = exponentOf(cur[field]);
      const coarser = e > 0 && r.next() < 0.5;
      const m = parseFixed(cur[field], e);
      const next = formatFixed(m, coarser ? e - 1 : e + 1); // the same mantissa one place over: ten times coarser or finer
      try {
        sim.changeInstrument(x.market, x.symbol, { [field]: next });
      } catch {
        return; // a step the simulated book cannot take (a tick above the price): no change
      }
      changes++;
      steps.set(t.id, { ...cur, [field]: next });
    };
    return [
      { name: "tickChange", weight: 0.4, inject: change("tickSize") },
      { name: "lotChange", weight: 0.4, inject: change("lotSize") },
      {
        // Delisted for a while: a publisher restart meanwhile leaves the symbol out until it is listed again.
        name: "delistRelist",
        weight: 0.4,
        inject: (r, t) => {
          const x = targetOf(t);
          const key = `${x.market}:${x.symbol}`;
          if (unlisted.size > 0) return; // one at a time: a market keeps a listed symbol
          unlisted.add(key);
          sim.setListed(x.market, x.symbol, false);
          sim.inject("reset", x); // u restarts at 1: the adapter re-checks the instrument and finds it gone
          listLater(key, r.int(100, 2000));
        },
      },
    ];
  }
  // With instrument faults their tickChange (both ways) replaces the finer-only one.
  if (opts.instruments) faults.splice(faults.findIndex((f) => f.name === "tickChange"), 1);
  const raws = new Map<string, Record<string, unknown>>();
  // One raw config (one instrument cache file) per shard for every restart.
  const rawFor = (dest: ChaosDestination, workers: number) => {
    const key = dest.shard?.spec ?? "";
    let raw = raws.get(key);
    // Workers log through the config: errors only (the faults are expected).
    if (!raw) {
      raws.set(key, (raw = { ...rawConfig({ sim, markets, group: dest.group, port: dest.port, snapshotIntervalMs: 500, workers }), log: { level: "error", format: "json" } }));
      // Stale after 1 s (the configurable minimum), as the in-process runs' 600 ms: a topic whose frames are all
      // ignored (a reset whose snapshot a stall ate) is resynced within the run, not after the 60 s default.
      const bybit = (raw.venues as Record<string, Record<string, Record<string, unknown>>>).bybit!;
      for (const m of markets) bybit[m.market]!.stale_after_ms = 1000;
    }
    const publish = raw.publish as Record<string, unknown>;
    if (dest.retransmitListen) publish.retransmit = { listen: dest.retransmitListen };
    if (dest.authKeyFile) publish.auth_key_file = dest.authKeyFile;
    if (dest.shard) {
      raw.shard = dest.shard.spec;
      publish.source_id = dest.shard.sourceId;
    }
    return raw;
  };
  return {
    sim,
    // Only with instrument faults: the other runs' finer-only tickChange keeps its own account (ticks above).
    ...(opts.instruments ? { exponentsNow: (id: number) => [exponentOf(steps.get(id)!.tickSize), exponentOf(steps.get(id)!.lotSize)] as [number, number] } : {}),
    topics,
    faults,
    step: (n) => sim.step(n),
    ready: () => Date.now() >= stalledUntilMs && unlisted.size === 0,
    makeFeeder: (dest, dropFilter) =>
      new Feeder({
        config: validateConfig(rawFor(dest, 1)),
        // CHAOS_LOG=debug|info|warn: the in-process feeder's log on stderr (to follow one failing seed).
        log: process.env.CHAOS_LOG ? createLogger({ level: process.env.CHAOS_LOG as "warn", format: "json" }) : silentLogger,
        dropFilter,
        adapterOptions: {
          ...{ pingIntervalMs: 200, pongTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 200, staleAfterMs: () => STALE_AFTER_MS, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 500 },
          // A symbol left out (not listed yet, or delisted at a restart) is looked for again within 200 ms.
          ...{ lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 200, lateCheckMs: 20 },
        },
      }),
    // Workers get the config alone: the venue's default ping, stale and reconnect timings.
    feederConfig: (dest, workers) => validateConfig(rawFor(dest, workers)),
  };
}
