/**
 * Does our book hold the same levels as the ccxt and tardis-dev books fed the same frames? A bench reports ratios
 * only when they do (harness.ts agreed()). Prices and sizes compared as numbers within 1e-9 relative.
 * @module
 */
import type { BookBuilder } from "../src/book/book-builder.ts";

type Levels = { [i: number]: number[]; length: number };
type TardisLevels = { bids(): Iterable<{ price: number; amount: number }>; asks(): Iterable<{ price: number; amount: number }> };

/** What differs between our book and the peers' ("NO: …"), or undefined when every level agrees. */
export function peerDifference(b: BookBuilder, ccxt: { bids: Levels; asks: Levels }, tardis: TardisLevels): string | undefined {
  const sym = b.instrument.symbol;
  const tb = [...tardis.bids()];
  const ta = [...tardis.asks()];
  const ps = 10 ** b.instrument.priceExp;
  const qs = 10 ** b.instrument.qtyExp;
  const near = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y));
  if (b.bidCount !== ccxt.bids.length || b.bidCount !== tb.length || b.askCount !== ccxt.asks.length || b.askCount !== ta.length) {
    return `NO: level counts differ for ${sym} (ours ${b.bidCount}+${b.askCount}, ccxt ${ccxt.bids.length}+${ccxt.asks.length}, tardis ${tb.length}+${ta.length})`;
  }
  for (let i = 0; i < b.bidCount; i++) {
    const p = b.bidPriceAt(i) / ps;
    const q = b.bidQtyAt(i) / qs;
    if (!near(p, ccxt.bids[i]![0]!) || !near(q, ccxt.bids[i]![1]!) || !near(p, tb[i]!.price) || !near(q, tb[i]!.amount)) return `NO: bid ${i} of ${sym}`;
  }
  for (let i = 0; i < b.askCount; i++) {
    const p = b.askPriceAt(i) / ps;
    const q = b.askQtyAt(i) / qs;
    if (!near(p, ccxt.asks[i]![0]!) || !near(q, ccxt.asks[i]![1]!) || !near(p, ta[i]!.price) || !near(q, ta[i]!.amount)) return `NO: ask ${i} of ${sym}`;
  }
  return undefined;
}
