/**
 * bench/peer-agreement.ts peerDifference: the check behind the Bybit, OKX, Coinbase, Binance and Upbit benches' "books
 * agree: yes" (their ratios are printed only after it). Each level's price and size against each peer, one tick or
 * one lot off, must be named: OKX's check once compared prices against ccxt and sizes against tardis-dev only.
 */
import { expect, test } from "vitest";
import type { BookBuilder } from "../../src/book/book-builder.ts";
import { peerDifference } from "../../bench/peer-agreement.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

// Prices in cents (priceExp 2), sizes in thousandths (qtyExp 3).
const BIDS: [number, number][] = [[10_000, 1_500], [9_990, 2_000]];
const ASKS: [number, number][] = [[10_010, 250], [10_020, 3_000]];

function ours(): BookBuilder {
  const b = new TestBook(makeInstrument("okx", "spot", "BTC-USDT", 2, 3));
  b.load(BIDS, ASKS, 1, 0);
  return b as unknown as BookBuilder; // peerDifference reads only the BookView part
}

const asNumbers = (side: [number, number][]) => side.map(([p, q]) => [p / 100, q / 1000]);

test("books holding the same levels agree; one tick or one lot off, at either peer, on either side, is named", () => {
  const peers = () => {
    const ccxt = { bids: asNumbers(BIDS), asks: asNumbers(ASKS) };
    const tardis = { bids: asNumbers(BIDS), asks: asNumbers(ASKS) };
    const view = (l: number[][]) => () => l.map(([price, amount]) => ({ price: price!, amount: amount! }));
    return { ccxt, tardis, check: () => peerDifference(ours(), ccxt, { bids: view(tardis.bids), asks: view(tardis.asks) }) };
  };
  expect(peers().check()).toBeUndefined();
  for (const peer of ["ccxt", "tardis"] as const) {
    for (const side of ["bids", "asks"] as const) {
      for (const [field, step] of [[0, 0.01], [1, 0.001]] as const) {
        const p = peers();
        p[peer][side][1]![field]! += step;
        expect(p.check(), `${peer} ${side} level 1 ${field === 0 ? "price" : "size"} one step off`).toBe(`NO: ${side === "bids" ? "bid" : "ask"} 1 of BTC-USDT`);
      }
      const p = peers();
      p[peer][side].pop();
      expect(p.check(), `${peer} ${side} a level short`).toMatch(/^NO: level counts differ for BTC-USDT/);
    }
  }
});
