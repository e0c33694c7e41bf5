/** Books deeper than their snapshots for the cut-side tests (cut-flag, refresh-cut-back, rev36, rev41). */
import type { BookView } from "../../src/core/book-view.ts";
import type { ChangeSet } from "../../src/core/change-set.ts";
import { makeInstrument, randInt, TestBook } from "../wire/helpers.ts";
import { T0 } from "./feed-harness.ts";

/** First rank where the subscriber's book shows a level the publisher's does not have there, or "". */
export function firstWrongRank(sb: BookView, pub: TestBook): string {
  for (let r = 0; r < sb.bidCount; r++) if (sb.bidPriceAt(r) !== pub.bidPriceAt(r) || sb.bidQtyAt(r) !== pub.bidQtyAt(r)) return `bid rank ${r}: ${sb.bidPriceAt(r)} × ${sb.bidQtyAt(r)} where the publisher has ${pub.bidPriceAt(r)} × ${pub.bidQtyAt(r)}`;
  for (let r = 0; r < sb.askCount; r++) if (sb.askPriceAt(r) !== pub.askPriceAt(r) || sb.askQtyAt(r) !== pub.askQtyAt(r)) return `ask rank ${r}: ${sb.askPriceAt(r)} × ${sb.askQtyAt(r)} where the publisher has ${pub.askPriceAt(r)} × ${pub.askQtyAt(r)}`;
  return "";
}

/** `levels` a side, bids from `bestBidTicks` down and asks from two ticks above it up, `stepTicks` apart. */
export function deepBook(levels: number, stepTicks = 1, bestBidTicks = 1_000_000): TestBook {
  const book = new TestBook(makeInstrument("coinbase", "spot", "BTC-USD", 2, 8));
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < levels; i++) {
    bids.push([bestBidTicks - i * stepTicks, 100 + i]);
    asks.push([bestBidTicks + 2 + i * stepTicks, 100 + i]);
  }
  book.load(bids, asks, 1, T0);
  return book;
}

/**
 * Fills `cs` (cleared first) with 1 to 30 random levels within 90 ticks of `bestBidTicks` / its ask two ticks above,
 * half of those the publisher has removed, the rest set to a random quantity.
 */
export function randomChange(cs: ChangeSet, r: () => number, pub: TestBook, bestBidTicks: number): void {
  cs.clear();
  const used = new Set<number>();
  for (let n = randInt(r, 1, 30); n > 0; n--) {
    const bid = r() < 0.5;
    const px = bid ? bestBidTicks - randInt(r, 0, 90) : bestBidTicks + 2 + randInt(r, 0, 90);
    if (used.has(px)) continue;
    used.add(px);
    const exists = (bid ? pub.bids : pub.asks).has(px);
    const qty = exists && r() < 0.5 ? 0 : randInt(r, 1, 1000);
    if (bid) cs.addBid(px, qty);
    else cs.addAsk(px, qty);
  }
}
