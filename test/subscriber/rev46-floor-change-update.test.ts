/**
 * A refresh equal to a valid book of the same size returns early (nothing to load), but it still takes the
 * snapshot's floors: a side no longer cut is known all the way down again. That can make the book usable (a cut side
 * that had lost every level it knew, the publisher's side empty too) or change the floor `feeder listen` prints.
 * Before, that happened without an 'update' event: a consumer that looks at `usable` on updates (README's example,
 * `listen --format ndjson`) was never told the book had become usable, nor of its new floor, until the next delta.
 * Now the refresh emits a "snapshot" update whenever it changed a floor.
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { updateRecord } from "../../src/subscriber/format.ts";
import type { FeedSubscriber, UpdateEvent } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

it("a cut bid side emptied at the publisher too: the refresh that says so makes the book usable and says it in an update", () => {
  const pub = deepBook(4, 1, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 2, false); // both sides cut at 2 of 4
  sub = newSubscriber();
  const seen: { kind: string; refresh: boolean; usable: boolean; bidFloor: unknown }[] = [];
  sub.on("update", (e: UpdateEvent) => seen.push({ kind: e.kind, refresh: e.refresh, usable: e.book.usable, bidFloor: updateRecord(e, 1).bidFloor }));
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  const cs = new ChangeSet();
  for (let r = 0; r < 4; r++) cs.addBid(pub.bidPriceAt(r), 0); // every bid gone, the two the subscriber knows among them
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  expect([sb.bidCount, pub.bidCount, sb.valid, sb.usable]).toEqual([0, 0, true, false]); // the floor: unknown below
  seen.length = 0;

  packBookSnapshot(p, pub, 2, true); // no bids, not cut: the subscriber's empty side is the publisher's
  for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
  expect([sb.bidFloorPx, sb.usable, sb.repairs]).toEqual([-Infinity, true, 0]);
  // Old: the book became usable with no event at all (seen was []).
  expect(seen).toEqual([{ kind: "snapshot", refresh: true, usable: true, bidFloor: null }]);
});

it("a refresh that changes no floor (the book is exactly the snapshot, cut as before) still emits nothing", () => {
  const pub = deepBook(4, 1, 999_999);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 2, false);
  sub = newSubscriber();
  let updates = 0;
  sub.on("update", () => updates++);
  for (const d of take(p)) sub.ingest(d, T0);
  expect(updates).toBe(1);
  packBookSnapshot(p, pub, 2, true);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  expect(updates).toBe(1);
  expect(sub.book(pub.instrument.instrumentId)!.usable).toBe(true);
});
