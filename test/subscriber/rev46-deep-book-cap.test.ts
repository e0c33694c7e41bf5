/**
 * A publisher's book deeper than the wire's 65,535 levels a side is published cut there (cutFlags), and a subscriber
 * with the default maxLevelsPerSide (65,535) holds exactly that many after the snapshot. Before, the first level
 * added above the floor made a side 65,536 deep: over the cap, so the book was emptied and invalid (levelsOverCap)
 * until the next refresh, on every insertion after every snapshot, though it was exact. Now a side over the cap
 * keeps its best levels: its worst are dropped and the side is known down to its new last level (a floor, as a cut
 * snapshot side's), so the book stays the publisher's top levels exactly and usable. A subscriber whose cap is
 * below 65,535 (where a refresh of the side may not fit and could never check it) still empties the book.
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE } from "../../src/wire/layout.ts";
import { deepBook, firstWrongRank } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

const MAX = MAX_SNAPSHOT_LEVELS_PER_SIDE;

it("a book 65,545 deep a side, default caps: a level added above each cut side keeps the book usable, its top 65,535 exactly", () => {
  const pub = deepBook(MAX + 10, 2, 999_999); // bids 999,999 down and asks 1,000,001 up, 2 ticks apart
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 0, false); // whole book asked for: cut at the wire's 65,535
  sub = newSubscriber(); // default maxLevelsPerSide 65,535
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect([sb.bidCount, sb.askCount, sb.usable]).toEqual([MAX, MAX, true]);

  const cs = new ChangeSet();
  cs.addBid(999_998, 5); // between the best bid and the next: above the floor, so applied: 65,536 bids
  cs.addAsk(1_000_002, 6);
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  // Old: emptied and invalid (levelsOverCap 1), though nothing was lost.
  expect([sb.valid, sb.usable, sb.bidCount, sb.askCount]).toEqual([true, true, MAX, MAX]);
  expect(firstWrongRank(sb, pub)).toBe("");
  expect([sb.bidFloorPx, sb.askCeilPx]).toEqual([pub.bidPriceAt(MAX - 1), pub.askPriceAt(MAX - 1)]);
  expect(sub.counters.levelsOverCap).toBe(2); // counted, a side each

  // A delta at the old floor (now below the new one) is not applied; the refresh finds the book right: no repair.
  cs.clear();
  cs.addBid(pub.bidPriceAt(MAX), 77);
  pub.apply(cs, 3, T0 + 2);
  packBookDelta(p, pub, cs);
  packBookSnapshot(p, pub, 0, true);
  for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
  expect([sb.usable, sb.repairs, sb.bidCount]).toEqual([true, 0, MAX]);
  expect(firstWrongRank(sb, pub)).toBe("");
}, 120_000);

it("a cap below 65,535 (a refresh may not fit it): a side over the cap still empties the book, invalid", () => {
  const pub = deepBook(12, 2, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 10, false);
  sub = newSubscriber({ maxLevelsPerSide: 10 });
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect(sb.usable).toBe(true);
  const cs = new ChangeSet();
  cs.addBid(999_998, 5);
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  expect([sb.valid, sb.bidCount, sb.askCount, sub.counters.levelsOverCap]).toEqual([false, 0, 0, 1]);
});
