/**
 * A cut snapshot side (publish.snapshot_depth N, marked in cutFlags) is known down to its last price only, so
 * removals above leave the subscriber fewer levels than the publisher has. Once every known level of such a side is
 * removed the subscriber holds none there while the publisher still has levels below the floor: before, the book
 * stayed `usable` with an empty side (no best bid shown, `feeder listen` printed USABLE yes and BID "-"). Now a cut
 * side with no level left makes the book not usable until a level above the floor arrives or the next snapshot.
 */
import { afterEach, expect, it } from "vitest";
import type { BookView } from "../../src/core/book-view.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { updateRecord } from "../../src/subscriber/format.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { randInt, rng, type TestBook } from "../wire/helpers.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

/**
 * What a usable book must be: each side the publisher's top levels exactly, and a side shown empty empty at the
 * publisher too (a consumer reads "no bids" from it). "" when so.
 */
function usableWrong(sb: BookView, pub: TestBook): string {
  if (sb.bidCount === 0 && pub.bidCount > 0) return `no bids where the publisher has ${pub.bidCount} (best ${pub.bidPriceAt(0)})`;
  if (sb.askCount === 0 && pub.askCount > 0) return `no asks where the publisher has ${pub.askCount} (best ${pub.askPriceAt(0)})`;
  for (let r = 0; r < sb.bidCount; r++) if (sb.bidPriceAt(r) !== pub.bidPriceAt(r) || sb.bidQtyAt(r) !== pub.bidQtyAt(r)) return `bid rank ${r}`;
  for (let r = 0; r < sb.askCount; r++) if (sb.askPriceAt(r) !== pub.askPriceAt(r) || sb.askQtyAt(r) !== pub.askQtyAt(r)) return `ask rank ${r}`;
  return "";
}

it("publish.snapshot_depth 2: both known bids removed leaves no bid while the publisher has 4: not usable until a bid above the floor or the next refresh", () => {
  const pub = deepBook(6, 1, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 2, false);
  sub = newSubscriber(); // not told the depth: the snapshot's cutFlags say both sides were cut
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect([sb.bidCount, sb.askCount, sb.usable]).toEqual([2, 2, true]);

  const cs = new ChangeSet();
  cs.addBid(999_999, 0); // the best bid gone: one known level left, the publisher's best: still usable
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  expect([sb.bidCount, sb.bidPriceAt(0), sb.usable]).toEqual([1, 999_998, true]);

  cs.clear();
  cs.addBid(999_998, 0); // the floor level itself gone: the subscriber knows no bid, the publisher has 999,997 …
  pub.apply(cs, 3, T0 + 2);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
  expect([sb.bidCount, pub.bidCount, sb.valid]).toEqual([0, 4, true]); // exact as far as it is known
  // Old: usable true with no bid shown (the publisher's best bid 999,997 × 103 unknown).
  expect(sb.usable).toBe(false);

  cs.clear();
  cs.addBid(999_998, 9); // a bid at the floor price: every bid from the floor up is known, so this is the best
  pub.apply(cs, 4, T0 + 3);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 3)) sub.ingest(d, T0 + 3);
  expect([sb.bidCount, sb.bidPriceAt(0), sb.usable]).toEqual([1, 999_998, true]);
  expect(usableWrong(sb, pub)).toBe("");

  // The asks likewise; the refresh then gives the book its depth back, no repair.
  cs.clear();
  cs.addAsk(1_000_001, 0);
  cs.addAsk(1_000_002, 0);
  pub.apply(cs, 5, T0 + 4);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 4)) sub.ingest(d, T0 + 4);
  expect([sb.askCount, sb.usable]).toEqual([0, false]);
  packBookSnapshot(p, pub, 2, true);
  for (const d of take(p, T0 + 5)) sub.ingest(d, T0 + 5);
  expect([sb.bidCount, sb.askCount, sb.repairs, sb.usable]).toEqual([2, 2, 0, true]);
  expect(usableWrong(sb, pub)).toBe("");
});

it("a side the publisher sent whole stays usable when emptied (the publisher's side is empty too)", () => {
  const pub = deepBook(2, 1, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 2, false); // 2 levels of 2: not cut
  sub = newSubscriber({ snapshotDepth: 2 });
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  const cs = new ChangeSet();
  cs.addBid(999_999, 0);
  cs.addBid(999_998, 0);
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  expect([sb.bidCount, pub.bidCount, sb.usable]).toEqual([0, 0, true]);
});

it("random events on a book 3× deeper than its snapshots, a falling and rising market: whenever usable, each side is the publisher's top levels exactly and shown empty only when the publisher's is", () => {
  const pub = deepBook(30, 1, 999_999);
  const p = packer({ maxBytes: 320 }); // larger deltas are split into parts
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 10, false);
  sub = newSubscriber();
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  const r = rng(41);
  const cs = new ChangeSet();
  let emptiedCutSide = 0;
  let mid = 1_000_000;
  for (let i = 0; i < 600; i++) {
    // The market drifts: the best levels of one side are removed, new ones appear on the other side of the old ones.
    mid += randInt(r, -3, 3);
    cs.clear();
    const used = new Set<number>();
    for (let n = randInt(r, 1, 12); n > 0; n--) {
      const bid = r() < 0.5;
      const px = bid ? mid - 1 - randInt(r, 0, 40) : mid + 1 + randInt(r, 0, 40);
      if (used.has(px)) continue;
      used.add(px);
      if (bid && pub.askCount > 0 && px >= pub.askPriceAt(0)) continue; // never cross
      if (!bid && pub.bidCount > 0 && px <= pub.bidPriceAt(0)) continue;
      const exists = (bid ? pub.bids : pub.asks).has(px);
      const qty = exists && r() < 0.6 ? 0 : randInt(r, 1, 1000);
      if (bid) cs.addBid(px, qty);
      else cs.addAsk(px, qty);
    }
    // Everything at or better than the mid on the wrong side is taken out, so a side's best moves with it.
    for (let k = 0; k < pub.bidCount && pub.bidPriceAt(k) >= mid; k++) if (!used.has(pub.bidPriceAt(k))) cs.addBid(pub.bidPriceAt(k), 0);
    for (let k = 0; k < pub.askCount && pub.askPriceAt(k) <= mid; k++) if (!used.has(pub.askPriceAt(k))) cs.addAsk(pub.askPriceAt(k), 0);
    pub.apply(cs, 10 + i, T0 + i);
    packBookDelta(p, pub, cs);
    if (i % 50 === 49) packBookSnapshot(p, pub, 10, true);
    for (const d of take(p, T0 + i)) sub.ingest(d, T0 + i);
    if ((sb.bidCount === 0 && pub.bidCount > 0) || (sb.askCount === 0 && pub.askCount > 0)) emptiedCutSide++;
    if (sb.usable) expect(usableWrong(sb, pub), `after event ${i}`).toBe("");
  }
  expect(emptiedCutSide).toBeGreaterThan(0); // the case this test is about did happen
  expect(sub.counters.repairs).toBe(0);
});

it("feeder listen's ndjson says how deep each side is known: bidFloor / askCeil, the cut side's last price, null for a side sent whole", () => {
  const pub = deepBook(6, 1, 999_999);
  pub.asks.clear(); // asks 2 levels only: sent whole
  pub.asks.set(1_000_001, 5);
  pub.asks.set(1_000_002, 6);
  (pub as unknown as { dirty: boolean }).dirty = true;
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 3, false);
  sub = newSubscriber();
  let rec: Record<string, unknown> | undefined;
  sub.on("update", (e) => (rec = updateRecord(e, 5)));
  for (const d of take(p)) sub.ingest(d, T0);
  // Old: no such fields; bidCount 3 could not be told from a publisher holding 3 bids.
  expect([rec?.bidCount, rec?.bidFloor, rec?.askCount, rec?.askCeil]).toEqual([3, "9999.97", 2, null]);
});
