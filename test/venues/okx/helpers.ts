/** Shared helpers of the OKX adapter tests: a simulator + adapter pair on 127.0.0.1 and its config. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFixed } from "../../../src/core/fixed.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { OkxSim } from "../../../src/sim/okx-sim.ts";
import type { Subscription } from "../../../src/venues/venue.ts";

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

/** The simulator's published book of a subscription, in the instrument's mantissas. */
export function expectedBook(sim: OkxSim, sub: Subscription, instrument: Instrument): { bids: Map<number, number>; asks: Map<number, number>; seq: number } {
  const b = sim.book(sub.symbol, sub.depth);
  const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp)] as [number, number]));
  return { bids: conv(b.bids), asks: conv(b.asks), seq: b.seqId };
}
