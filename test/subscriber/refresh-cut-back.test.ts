/**
 * A refresh at the book's instrSeq compares the levels both hold; a book deeper than a cut snapshot side (levels
 * added above its floor since the last snapshot) holds levels below the snapshot's last that no refresh checks.
 * Before, such a book equal within the snapshot was kept as it was: an invalid one (a delta lost down there) was made
 * valid, a valid one a forged delta had reached kept the forged level; either showed, usable, a level the publisher
 * has otherwise (and moved it into the top N once a level above was removed). Now the snapshot is loaded: the book
 * is cut back to it (no repair: nothing compared differed).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { BookView } from "../../src/core/book-view.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { TestBook } from "../wire/helpers.ts";
import { deepBook, firstWrongRank } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

describe("a refresh at the book's instrSeq checks only the snapshot's levels: a deeper book is cut back to it", () => {
  /**
   * Bids 1,000,000 down 2 ticks apart, top 5 published (floor 999,992); then a bid added above the floor, so the
   * subscriber holds 6 levels and the publisher's top 5 end at 999,994: the book's level at rank 5 (999,992) was
   * never compared by a refresh.
   */
  function sixDeep(): { pub: TestBook; p: ReturnType<typeof packer>; sb: () => BookView & { usable: boolean; valid: boolean; repairs: number } } {
    const pub = deepBook(12, 2);
    const p = packer();
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 5, false);
    sub = newSubscriber({ snapshotDepth: 5 }); // so that the old code knew the cut too (it repaired the book otherwise)
    for (const d of take(p)) sub.ingest(d, T0);
    const cs = new ChangeSet();
    cs.addBid(1_000_001, 5);
    pub.apply(cs, 2, T0 + 1);
    packBookDelta(p, pub, cs);
    for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
    const s = sub;
    const sb = () => s.book(pub.instrument.instrumentId)!;
    expect(sb().bidCount).toBe(6);
    expect(sb().usable).toBe(true);
    return { pub, p, sb };
  }

  it("an invalid book (a delta lost below the publisher's top 5) is not made valid with that level", () => {
    const { pub, p, sb } = sixDeep();
    const cs = new ChangeSet();
    cs.addBid(999_992, 1); // rank 5: lost
    pub.apply(cs, 3, T0 + 2);
    packBookDelta(p, pub, cs);
    take(p, T0 + 2);
    cs.clear();
    cs.addAsk(1_000_002, 55);
    pub.apply(cs, 4, T0 + 3);
    packBookDelta(p, pub, cs);
    for (const d of take(p, T0 + 3)) sub!.ingest(d, T0 + 3);
    expect(sb().valid).toBe(false); // the instrSeq jump
    packBookSnapshot(p, pub, 5, true);
    for (const d of take(p, T0 + 4)) sub!.ingest(d, T0 + 4);
    expect(sb().usable).toBe(true);
    // Old: valid again with bid rank 5 999,992 × 104 where the publisher has 999,992 × 1.
    expect(firstWrongRank(sb(), pub)).toBe("");
    expect([sb().bidCount, sb().repairs]).toEqual([5, 0]);
  });

  it("a valid book that a forged delta changed below the publisher's top 5 does not keep it past the refresh", () => {
    const { pub, p, sb } = sixDeep();
    // A forged event at the next instrSeq (a copy of the publisher's book that differs at rank 5), then the real one.
    const forged = deepBook(12, 2);
    forged.bids.set(1_000_001, 5);
    forged.instrSeq = pub.instrSeq;
    const cs = new ChangeSet();
    cs.addBid(999_992, 1);
    cs.addAsk(1_000_002, 55);
    forged.apply(cs, 3, T0 + 2);
    packBookDelta(p, forged, cs);
    cs.clear();
    cs.addAsk(1_000_002, 55);
    pub.apply(cs, 3, T0 + 2);
    packBookDelta(p, pub, cs); // a duplicate of the forged one's instrSeq: ignored
    for (const d of take(p, T0 + 2)) sub!.ingest(d, T0 + 2);
    expect(sb().usable).toBe(true);
    expect(firstWrongRank(sb(), pub)).toMatch(/^bid rank 5/);
    packBookSnapshot(p, pub, 5, true);
    for (const d of take(p, T0 + 3)) sub!.ingest(d, T0 + 3);
    // Old: the refresh compared ranks 0–4, found them equal and kept rank 5 as it was, usable.
    expect(firstWrongRank(sb(), pub)).toBe("");
    expect([sb().bidCount, sb().askCount]).toEqual([5, 5]);
    expect(sb().usable).toBe(true);
  });
});
