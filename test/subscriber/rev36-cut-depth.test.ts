/**
 * A book deeper than its snapshots (publish.snapshot_depth = N, or the wire's 65,535 levels a side): the subscriber
 * knows the publisher's book only down to the snapshot's last level on a cut side. Before, deltas below that level
 * were applied too, and a level removed above it moved them up into the top N: a usable book whose level at rank
 * N − 1 was not the publisher's (its real level there was never sent). Now a cut side keeps only levels down to the
 * snapshot's last price: the book is always the publisher's top levels exactly (fewer than N after removals, until
 * the next refresh brings N again, which is no repair).
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { BookView } from "../../src/core/book-view.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MAX_SNAPSHOT_LEVELS_PER_SIDE } from "../../src/wire/layout.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { rng, type TestBook } from "../wire/helpers.ts";
import { deepBook, firstWrongRank, randomChange } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

/**
 * The publisher's top `depth` a side as its snapshot, then two deltas: a level below the cut changed on each side,
 * then the best level of each side removed. Returns what the subscriber saw after each step.
 */
function cutThenDelete(sendDepth: number, subscriberDepth: number, levels: number): { pub: TestBook; sb: () => BookView & { usable: boolean; repairs: number }; p: ChannelPacker } {
  const pub = deepBook(levels, 1, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, sendDepth, false);
  sub = newSubscriber({ snapshotDepth: subscriberDepth, maxLevelsPerSide: 200_000, maxAssemblyLevels: 1_000_000 });
  for (const d of take(p)) sub.ingest(d, T0);
  const s = sub;
  const sb = () => s.book(pub.instrument.instrumentId)!;
  const cut = sendDepth > 0 ? Math.min(sendDepth, MAX_SNAPSHOT_LEVELS_PER_SIDE) : MAX_SNAPSHOT_LEVELS_PER_SIDE;
  expect(sb().usable).toBe(true);
  expect([sb().bidCount, sb().askCount]).toEqual([cut, cut]);

  const cs = new ChangeSet();
  cs.addBid(pub.bidPriceAt(cut + 2), 7); // below the cut: never in the subscriber's snapshot
  cs.addAsk(pub.askPriceAt(cut + 2), 7);
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  cs.clear();
  cs.addBid(pub.bidPriceAt(0), 0); // the best level of each side gone: the publisher's next level moves into the top
  cs.addAsk(pub.askPriceAt(0), 0);
  pub.apply(cs, 3, T0 + 2);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
  return { pub, sb, p };
}

it("publish.snapshot_depth = 5, the subscriber told so: a usable book is the publisher's top levels exactly, after a delta below the cut and a removal above it", () => {
  const { pub, sb, p } = cutThenDelete(5, 5, 12);
  expect(sb().usable).toBe(true);
  // Old: bid rank 4 showed the changed level from below the cut (999,992 × 7) where the publisher has 999,994.
  expect(firstWrongRank(sb(), pub)).toBe("");
  expect([sb().bidCount, sb().askCount]).toEqual([4, 4]); // one removed, the one moving up never sent

  // The next refresh brings the top 5 again: the book was right, so no repair.
  packBookSnapshot(p, pub, 5, true);
  for (const d of take(p, T0 + 3)) sub!.ingest(d, T0 + 3);
  expect([sb().bidCount, sb().askCount, sb().repairs]).toEqual([5, 5, 0]);
  expect(firstWrongRank(sb(), pub)).toBe("");
  expect(sb().usable).toBe(true);

  // A level above the snapshot's last that the book lacks is a difference: the refresh repairs it.
  pub.bids.set(pub.bidPriceAt(0) + 1, 5);
  (pub as unknown as { dirty: boolean }).dirty = true;
  packBookSnapshot(p, pub, 5, true);
  for (const d of take(p, T0 + 4)) sub!.ingest(d, T0 + 4);
  expect([sb().bidCount, sb().repairs]).toEqual([5, 1]);
  expect(firstWrongRank(sb(), pub)).toBe("");
});

it("the wire's 65,535 levels a side (a deeper book, the subscriber told nothing): the same", () => {
  const { pub, sb } = cutThenDelete(0, 0, MAX_SNAPSHOT_LEVELS_PER_SIDE + 10);
  expect(sb().usable).toBe(true);
  // Old: bid rank 65,534 showed the level changed below the cut (65,537 down) where the publisher has its 65,536th.
  expect(firstWrongRank(sb(), pub)).toBe("");
  expect([sb().bidCount, sb().askCount]).toEqual([MAX_SNAPSHOT_LEVELS_PER_SIDE - 1, MAX_SNAPSHOT_LEVELS_PER_SIDE - 1]);
});

it("random events at every rank of a book 3× deeper than its snapshots (split deltas among them), refreshed now and then: always its top levels exactly, never a repair", () => {
  const pub = deepBook(60, 1, 999_999);
  const p = packer({ maxBytes: 320 }); // deltas of more than a few levels are split into parts
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 20, false);
  sub = newSubscriber({ snapshotDepth: 20 });
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  const r = rng(36);
  const cs = new ChangeSet();
  let parts = 0;
  for (let i = 0; i < 400; i++) {
    randomChange(cs, r, pub, 999_999);
    pub.apply(cs, 10 + i, T0 + i);
    parts += packBookDelta(p, pub, cs) > 1 ? 1 : 0;
    if (i % 40 === 39) packBookSnapshot(p, pub, 20, true);
    for (const d of take(p, T0 + i)) sub.ingest(d, T0 + i);
    expect(firstWrongRank(sb, pub), `after event ${i}`).toBe("");
    expect(sb.usable).toBe(true);
  }
  expect(parts).toBeGreaterThan(0);
  expect(sb.repairs).toBe(0);
  expect(sub.counters.repairs).toBe(0);
});
