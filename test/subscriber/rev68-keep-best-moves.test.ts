/**
 * keepBest's cost on a side deeper than the cap, counted in overflow entries moved (copyWithin), not timed. A
 * publisher's book deeper than the wire's 65,535 reaches the subscriber's cap with every level added above the floor,
 * and the worst level, dropped then, is the overflow's first entry (keys ascending, the best last): deleted through
 * set() it shifted the whole overflow, ~57k entries (35–100 µs) per level added. Ladder.dropWorst makes the arrays
 * start after it instead. The book shown is the same: the publisher's top 65,535 exactly, the floor its last level.
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE } from "../../src/wire/layout.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

const MAX = MAX_SNAPSHOT_LEVELS_PER_SIDE;

it("a side over the cap drops its worst levels without shifting the overflow; the book is still the publisher's top 65,535", () => {
  const pub = deepBook(MAX + 400, 2, 999_999); // bids 999,999 down, asks 1,000,001 up, 2 ticks apart
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 0, false); // cut at 65,535
  sub = newSubscriber(); // default cap: 65,535
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect([sb.bidCount, sb.askCount, sb.usable]).toEqual([MAX, MAX, true]);

  const typedArrayProto = Object.getPrototypeOf(Float64Array.prototype) as { copyWithin: (t: number, s: number, e?: number) => unknown };
  const copyWithin = typedArrayProto.copyWithin;
  let moved = 0;
  typedArrayProto.copyWithin = function (this: Float64Array, t: number, s: number, e?: number) {
    moved += (e ?? this.length) - s;
    return copyWithin.call(this, t, s, e);
  };
  const cs = new ChangeSet();
  const DELTAS = 60;
  let added = 0;
  let ts = T0;
  try {
    for (let k = 0; k < DELTAS; k++) {
      // New levels between the top ones (in the window: no shift of their own); every fifth delta adds three a side,
      // so three are dropped at once.
      cs.clear();
      for (let j = 0, n = k % 5 === 0 ? 3 : 1; j < n; j++, added++) {
        cs.addBid(999_998 - 2 * added, 7);
        cs.addAsk(1_000_002 + 2 * added, 8);
      }
      pub.apply(cs, k + 2, ++ts);
      packBookDelta(p, pub, cs);
      for (const d of take(p, ts)) sub.ingest(d, ts);
    }
  } finally {
    typedArrayProto.copyWithin = copyWithin;
  }
  // Was ~2 × 10^7 (19,940,760): each of the 84 levels added a side shifted the whole overflow, ~57k keys and qtys.
  expect(moved).toBeLessThan(1000);
  expect(sub.counters.levelsOverCap).toBe(2 * DELTAS);
  expect([sb.valid, sb.usable, sb.bidCount, sb.askCount]).toEqual([true, true, MAX, MAX]);
  expect([sb.bidFloorPx, sb.askCeilPx]).toEqual([pub.bidPriceAt(MAX - 1), pub.askPriceAt(MAX - 1)]);
  // The top and the bottom ranks here (the refresh below checks them all).
  for (const r of [0, 1, 2, 2 * added - 1, 2 * added, MAX - 3, MAX - 2, MAX - 1]) {
    expect([r, sb.bidPriceAt(r), sb.bidQtyAt(r), sb.askPriceAt(r), sb.askQtyAt(r)]).toEqual([r, pub.bidPriceAt(r), pub.bidQtyAt(r), pub.askPriceAt(r), pub.askQtyAt(r)]);
  }

  // Levels added deep in the overflow (just above the floor) and removed there, on the arrays dropWorst left.
  cs.clear();
  cs.addBid(sb.bidFloorPx + 1, 9); // between the floor and the level above it: over the cap again, the floor goes
  cs.addAsk(sb.askCeilPx - 1, 9);
  cs.addBid(pub.bidPriceAt(MAX - 10), 0);
  cs.addAsk(pub.askPriceAt(MAX - 10), 0);
  pub.apply(cs, DELTAS + 2, ++ts);
  packBookDelta(p, pub, cs);
  packBookSnapshot(p, pub, 0, true); // a refresh: checks the whole book
  for (const d of take(p, ts)) sub.ingest(d, ts);
  expect([sb.usable, sb.repairs, sb.bidCount, sb.askCount]).toEqual([true, 0, MAX, MAX]); // nothing to repair
}, 60_000);
