/**
 * What send-ab.ts and split-ab.ts publish: one instrument, a 200-level view of it and a 7-level delta, and the
 * publish configuration around one destination (no heartbeats, no refresh).
 */
import { ChangeSet } from "../../../src/core/change-set.ts";
import type { BookView } from "../../../src/core/book-view.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import type { DestinationConfig } from "../../../src/config/types.ts";

const T0 = 1_764_000_000_000_000;
export const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "linear", "BTCUSDT"), venue: "bybit", market: "linear", symbol: "BTCUSDT", priceExp: 1, qtyExp: 3, tickSize: "0.10", lotSize: "0.001" };
export const view: BookView = {
  instrument, state: BookState.LIVE, reason: StatusReason.NONE, instrSeq: 1, venueSeq: 1, tsExchangeUs: T0, tsEventUs: T0, tsRecvUs: T0,
  bidCount: 200, askCount: 200,
  bidPriceAt: (r: number) => 302_472 - r, bidQtyAt: (r: number) => 1000 + r, askPriceAt: (r: number) => 302_473 + r, askQtyAt: (r: number) => 2000 + r,
} as unknown as BookView;
export const delta = new ChangeSet();
for (let i = 0; i < 3; i++) delta.addBid(302_472 - i, 1500 + i);
for (let i = 0; i < 4; i++) delta.addAsk(302_473 + i, i === 2 ? 0 : 250 + i);

export const match = { venue: "*", market: "*", symbols: ["*"] };
export function publishCfg(dest: DestinationConfig) {
  return { publish: { maxDatagramBytes: 1400, heartbeatIntervalMs: 0, snapshotIntervalMs: 0, snapshotDepth: 0, destinations: [dest] } } as never;
}
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
