/** Shared helpers of the OKX adapter tests: a simulator + adapter pair on 127.0.0.1 and its config. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFixed } from "../../../src/core/fixed.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { BookState, Instrument, MarketName, StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { OkxSim } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { applyToMaps } from "../contract.ts";
import { until } from "../../support/until.ts";

export function tempCachePath(): string {
  return join(mkdtempSync(join(tmpdir(), "okx-test-")), "instruments-okx.json");
}

export function okxConfig(sim: OkxSim, subs: readonly Subscription[], overrides = new Map<string, { tickSize: string; lotSize: string }>()): VenueConfig {
  const markets = [...new Set(subs.map((s) => s.market))].map((market: MarketName) => {
    const own = subs.filter((s) => s.market === market);
    return { market, depth: own[0]!.depth, symbols: own.map((s) => s.symbol) };
  });
  return { venue: "okx", wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets, overrides };
}

/** Spot BTC-USDT at `depth`, resolved from overrides (tick 0.1, lot `lotSize`): no venue reached (replay). */
export function btcUsdtConfig(depth: number, lotSize = "0.0001"): VenueConfig {
  return {
    venue: "okx",
    wsUrl: "ws://127.0.0.1:9/ws/v5/public",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: tempCachePath(),
    markets: [{ market: "spot", depth, symbols: ["BTC-USDT"] }],
    overrides: new Map([["spot:BTC-USDT", { tickSize: "0.1", lotSize }]]),
  };
}

/** Spot BTC-USDT on books5 (depth 5), tick 0.1, lot 0.0001: no venue reached. */
export function books5Config(): VenueConfig {
  return btcUsdtConfig(5);
}

/** An adapter of books5Config's one book, its instruments loaded (not started). */
export async function books5Adapter(config: VenueConfig = books5Config()): Promise<OkxAdapter> {
  const adapter = new OkxAdapter(config, [{ market: "spot", symbol: "BTC-USDT", depth: 5 }], { log: silentLogger });
  await adapter.loadInstruments();
  return adapter;
}

/** The simulator's published book of a subscription, in the instrument's mantissas. */
export function expectedBook(sim: OkxSim, sub: Subscription, instrument: Instrument): { bids: Map<number, number>; asks: Map<number, number>; seq: number } {
  const b = sim.book(sub.symbol, sub.depth);
  const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
  return { bids: conv(b.bids), asks: conv(b.asks), seq: b.seqId };
}

/** Whether the sink's book `i` is the simulator's, level for level, at the same seqId. */
export function sameAsSim(sim: OkxSim, sub: Subscription, sink: MapSink, i: number): boolean {
  const e = expectedBook(sim, sub, sink.instruments[i]!);
  const same = (a: Map<number, number> | undefined, b: Map<number, number>) => a !== undefined && a.size === b.size && [...b].every(([k, v]) => a.get(k) === v);
  return sink.seq[i] === e.seq && same(sink.bids[i], e.bids) && same(sink.asks[i], e.asks);
}

/** Polls a condition until it holds, failing naming what was awaited (test/support/until.ts). */
export { until };

/** A sink that keeps each book as price → qty maps (dropped when the book goes invalid), to compare with the simulator's. */
export class MapSink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  /** Updates handed over without a receive time (the wire's local timestamp would say 0). */
  noRecvTime = 0;
  constructor(readonly instruments: Instrument[]) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    if (!(u.tsRecvUs > 0)) this.noRecvTime++;
    if (u.isSnapshot || u.replace) {
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    }
    if (!this.bids[index]) throw new Error("delta without a book");
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.seq[index] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
  }
  onInstrumentChanged(): void {}
}
