/** Test helpers for Coinbase: config for a simulator, a temp instrument cache, a sink compared with the simulator. */
import { join } from "node:path";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import type { BookState, Instrument, StatusReason } from "../../../src/core/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { type CoinbaseSim, type CoinbaseSimOptions, startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { applyToMaps } from "../contract.ts";
import { startWsProxy } from "../ws-proxy.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { until } from "../../support/until.ts";

export function coinbaseConfig(sim: { wsUrl: string; restUrl: string }, products: string[]): VenueConfig {
  return {
    venue: "coinbase",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("feeder-coinbase-"), "instruments.json"),
    markets: [{ market: "spot", depth: 0, symbols: products }],
    overrides: new Map(),
  };
}

/** One thing `feeder record` writes of a live adapter: a frame, or a REST answer / socket event (`ws:req`, `ws:open`, …). */
export type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number };

/** The adapter options that record into `recorded` as `feeder record` does (onRawFrame, onRawRest), in arrival order. */
export function recordInto(recorded: Recorded[]) {
  return {
    onRawFrame: (_m: string, connection: string, frame: string, tsRecvUs: number) => void recorded.push({ frame, connection, tsRecvUs }),
    onRawRest: (_m: string, connection: string, url: string, body: string, tsRecvUs: number) => void recorded.push({ url, body, connection, tsRecvUs }),
  };
}

export function subsOf(products: string[]): Subscription[] {
  return products.map((symbol) => ({ market: "spot" as const, symbol, depth: 0 }));
}

/** Each book as price → qty maps, its last venueSeq, every invalid status and update, to compare with the simulator. */
export class Sink implements BookSink {
  bids: Map<number, number>[] = [];
  asks: Map<number, number>[] = [];
  seq: number[] = [];
  readonly invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  /** Every update in arrival order: [index, venueSeq, snapshot]. */
  readonly log: [number, number, boolean][] = [];
  constructor(public instruments: Instrument[]) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    this.log.push([index, u.venueSeq, u.isSnapshot]);
    if (u.isSnapshot) {
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    }
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.seq[index] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
  }
  onInstrumentChanged(index: number, instrument: Instrument): void {
    this.instruments[index] = instrument;
  }
  matches(sim: CoinbaseSim, index: number, product: string): boolean {
    const inst = this.instruments[index]!;
    const b = sim.book(product);
    const same = (m: Map<number, number> | undefined, e: Map<string, string>) =>
      m !== undefined && m.size === e.size && [...e].every(([p, q]) => m.get(parseFixed(p, inst.priceExp)) === parseFixed(q, inst.qtyExp));
    return this.seq[index] === b.seq && same(this.bids[index], b.bids) && same(this.asks[index], b.asks);
  }
}

/** Polls a condition until it holds, failing naming what was awaited (test/support/until.ts). */
export { until as waitFor };

/**
 * A simulator with `simOptions` and an adapter on its products, started into a Sink; stopping both (adapter first)
 * is pushed onto `cleanup`.
 */
export async function startSimAndAdapter(simOptions: CoinbaseSimOptions, cleanup: (() => Promise<void>)[]) {
  const sim = await startCoinbaseSimulator(simOptions);
  const adapter = createCoinbaseAdapter(coinbaseConfig(sim, simOptions.products), subsOf(simOptions.products), { log: silentLogger });
  const sink = await startIntoSink(sim, adapter, cleanup);
  return { sim, adapter, sink };
}

/**
 * A live adapter on `config`'s `products` recording into `recorded` as `feeder record` does, started into a new Sink;
 * stopping it is pushed onto `cleanup` (the simulator's stop is the caller's).
 */
export async function startRecording(config: VenueConfig, products: string[], cleanup: (() => Promise<void> | void)[]) {
  const recorded: Recorded[] = [];
  const live = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, ...recordInto(recorded) });
  cleanup.push(() => live.stop());
  const liveSink = new Sink((await live.loadInstruments()) as Instrument[]);
  live.start(liveSink);
  return { live, liveSink, recorded };
}

/**
 * `sim`'s `products` behind a proxy that passes each frame its first four connections get through `rewrite`, two
 * products a connection, started into a Sink and waited for until every book equals the simulator's (allMatch).
 * Stopping the adapter, the simulator, then the proxy is pushed onto `cleanup`.
 */
export async function startRewritten(sim: CoinbaseSim, products: string[], rewrite: (frame: string) => string, cleanup: (() => Promise<void> | void)[]) {
  const proxy = startWsProxy(sim.wsUrl.replace(/\/$/, ""));
  for (let i = 0; i < 4; i++) proxy.byIndex.set(i, { rewriteDown: rewrite });
  cleanup.push(() => proxy.stop());
  const config = { ...coinbaseConfig(sim, products), wsUrl: proxy.origin };
  const adapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, maxProductsPerConnection: 2, resyncBackoffBaseMs: 5, resyncBackoffMaxMs: 20 });
  const sink = await startIntoSink(sim, adapter, cleanup);
  sim.step(1);
  const allMatch = () => products.every((p, i) => sink.matches(sim, i, p));
  await until(allMatch, "books live");
  return { adapter, sink, allMatch };
}

/** Pushes stopping `adapter`, then `sim`, onto `cleanup`; loads the adapter's instruments and starts it into a new Sink. */
export async function startIntoSink(sim: { stop(): Promise<void> }, adapter: ReturnType<typeof createCoinbaseAdapter>, cleanup: (() => Promise<void> | void)[]): Promise<Sink> {
  cleanup.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
  adapter.start(sink);
  return sink;
}

/**
 * Housekeeping rounds seen, counted at the adapter's per-connection hook (heartbeatsDue; one call a round for each
 * open connection): a test that moves the adapter's clock waits for a round after the move, which read the new time,
 * instead of sleeping and hoping the adapter's timer got a turn.
 */
export function countRounds(adapter: ReturnType<typeof createCoinbaseAdapter>): { n: number } {
  const counter = { n: 0 };
  const a = adapter as unknown as { heartbeatsDue: (c: unknown, now: number) => void };
  const due = a.heartbeatsDue.bind(adapter);
  a.heartbeatsDue = (c, now) => {
    counter.n++;
    due(c, now);
  };
  return counter;
}
