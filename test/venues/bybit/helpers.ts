/** Test helpers: a book-keeping sink, condition waits, config for a simulator. */
import { makeTempDir } from "../../support/temp-dirs.ts";
import { join } from "node:path";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import type { BookState, Instrument, MarketName, StatusReason } from "../../../src/core/types.ts";
import type { InstrumentOverride, VenueConfig } from "../../../src/config/types.ts";
import type { BybitSim } from "../../../src/sim/bybit-sim.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { applyToMaps } from "../contract.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { until } from "../../support/until.ts";

export interface InvalidEvent {
  index: number;
  state: BookState;
  reason: StatusReason;
}

/** Keeps a book per subscription the way the app's builder would (snapshot replaces, qty 0 deletes). */
/** loadInstruments() output where every symbol must have resolved (throws naming the first that did not). */
export function allResolved(list: readonly (Instrument | undefined)[]): Instrument[] {
  const missing = list.findIndex((i) => i === undefined);
  if (missing >= 0) throw new Error(`subscription ${missing} did not resolve`);
  return list as Instrument[];
}

export class RecordingSink implements BookSink {
  readonly bids: Map<number, number>[] = [];
  readonly asks: Map<number, number>[] = [];
  readonly invalid: InvalidEvent[] = [];
  readonly changed: { index: number; instrument: Instrument }[] = [];
  readonly updates: number[] = [];
  readonly snapshots: number[] = [];
  /** Deltas before any snapshot would be a bug in the adapter. */
  deltaWithoutBook = 0;
  lastU: number[] = [];

  constructor(public instruments: Instrument[]) {
    for (let i = 0; i < instruments.length; i++) {
      this.updates.push(0);
      this.snapshots.push(0);
    }
  }

  onBookUpdate(index: number, u: BookUpdate): void {
    this.updates[index] = (this.updates[index] ?? 0) + 1;
    if (u.isSnapshot) {
      this.snapshots[index] = (this.snapshots[index] ?? 0) + 1;
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    } else if (!this.bids[index]) {
      this.deltaWithoutBook++;
      return;
    }
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.lastU[index] = u.venueSeq;
  }

  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
  }

  onInstrumentChanged(index: number, instrument: Instrument): void {
    this.changed.push({ index, instrument });
    this.instruments[index] = instrument;
    delete this.bids[index];
    delete this.asks[index];
  }

  /** The sim's book for the subscription, converted with the instrument's exponents. */
  expected(sim: BybitSim, index: number, depth?: number): { bids: Map<number, number>; asks: Map<number, number>; u: number } {
    const inst = this.instruments[index]!;
    const b = sim.book(inst.market, inst.symbol, depth);
    const conv = (m: Map<string, string>) => {
      const out = new Map<number, number>();
      for (const [p, q] of m) out.set(parseFixed(p, inst.priceExp), parseFixed(q, inst.qtyExp));
      return out;
    };
    return { bids: conv(b.bids), asks: conv(b.asks), u: b.u };
  }

  matches(sim: BybitSim, index: number, depth?: number): boolean {
    const e = this.expected(sim, index, depth);
    return this.lastU[index] === e.u && sameMap(this.bids[index], e.bids) && sameMap(this.asks[index], e.asks);
  }
}

export function sameMap(a: Map<number, number> | undefined, b: Map<number, number>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

/** Polls a condition until it holds, failing naming what was awaited (test/support/until.ts). */
export { until as waitFor };

export function tempCachePath(): string {
  return join(makeTempDir("feeder-bybit-"), "instruments.json");
}

export function venueConfig(
  sim: { wsUrl: string; restUrl: string },
  markets: { market: MarketName; depth: number; symbols: string[]; staleAfterMs?: number }[],
  extra: { cachePath?: string; overrides?: Map<string, InstrumentOverride>; restUrl?: string } = {},
): VenueConfig {
  return {
    venue: "bybit",
    wsUrl: sim.wsUrl,
    restUrl: extra.restUrl ?? sim.restUrl,
    instrumentCachePath: extra.cachePath ?? tempCachePath(),
    markets,
    overrides: extra.overrides ?? new Map(),
  };
}

export function subsOf(markets: { market: MarketName; depth: number; symbols: string[] }[]) {
  return markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
}

/**
 * Linear AAAUSDT (tick 0.1, lot 0.1) at `depth` against a scripted server on 127.0.0.1:`port`, started into a
 * RecordingSink: stale after 300 ms, a ping every 20 ms (so the script can answer pings with frames). Stopping the
 * adapter is pushed onto `cleanups`.
 */
export async function startPingedAAAUSDT(port: number, depth: number, cleanups: (() => Promise<void> | void)[]) {
  const config = {
    venue: "bybit" as const,
    wsUrl: `ws://127.0.0.1:${port}/v5/public`,
    restUrl: `http://127.0.0.1:${port}`,
    instrumentCachePath: "",
    markets: [{ market: "linear" as const, depth, symbols: ["AAAUSDT"] }],
    overrides: new Map([["linear:AAAUSDT", { tickSize: "0.1", lotSize: "0.1" }]]),
  };
  const adapter = createBybitAdapter(config, [{ market: "linear", symbol: "AAAUSDT", depth }], { log: silentLogger, staleAfterMs: () => 300, pingIntervalMs: 20, pongTimeoutMs: 5_000 });
  cleanups.push(() => adapter.stop());
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.start(sink);
  return { adapter, sink };
}
