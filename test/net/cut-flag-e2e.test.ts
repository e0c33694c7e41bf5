/**
 * publish.snapshot_depth end to end: a FeedPublisher (snapshot_depth 5, refreshes on) and a FeedSubscriber NOT told
 * the depth, over loopback multicast (group 239.255.37.1 on the interface 127.0.0.1, TTL 1, ports private to this
 * file). The publisher's venue snapshot and refreshes mark their cut sides (cutFlags), so the subscriber applies no
 * delta below a cut side's last level. Before, it applied them, and once the best levels were removed a level from
 * below the cut showed at rank 4 of a usable book, where the publisher has another.
 */
import { afterEach, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { makeInstrument, TestBook, waitFor } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const PORT = uniqueDestination(451).port; // below the ephemeral ports (test/support/destination.ts)
const GROUP = "239.255.37.1";
const T0 = 1_764_000_000_000_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

it("a subscriber not told publish.snapshot_depth: after a delta below the cut and removals above it, the usable book is the publisher's top levels exactly", async () => {
  const publish: PublishConfig = {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: 0, // no refresh: what the subscriber shows comes from the venue snapshot and the deltas only
    snapshotDepth: 5,
    destinations: [{ name: "t", group: GROUP, port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 3, match: { venue: "*", market: "*", symbols: ["*"] } }],
  };
  const sub = new FeedSubscriber({ groups: [{ group: GROUP, port: PORT, iface: "127.0.0.1" }], staleAfterMs: 0 });
  await sub.start();
  cleanups.push(() => sub.stop());
  const pub = new FeedPublisher({ publish });
  await pub.start();
  cleanups.push(() => pub.stop());

  const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < 12; i++) {
    bids.push([302_472 - i, 100 + i]);
    asks.push([302_473 + i, 100 + i]);
  }
  book.load(bids, asks, 1, T0);
  const handle = pub.register(book.instrument, book);
  pub.publishSnapshot(handle, book);
  pub.flush();
  const id = book.instrument.instrumentId;
  await waitFor(() => sub.book(id)?.usable === true, 5000, "the snapshot");
  expect([sub.book(id)!.bidCount, sub.book(id)!.askCount]).toEqual([5, 5]);

  const cs = new ChangeSet();
  cs.addBid(book.bidPriceAt(7), 7); // below the cut: a level the subscriber never had
  cs.addAsk(book.askPriceAt(7), 7);
  book.apply(cs, 2, T0 + 1);
  pub.publishDelta(handle, book, cs);
  cs.clear();
  for (let r = 0; r < 3; r++) {
    cs.addBid(book.bidPriceAt(r), 0); // the three best levels of each side gone
    cs.addAsk(book.askPriceAt(r), 0);
  }
  book.apply(cs, 3, T0 + 2);
  pub.publishDelta(handle, book, cs);
  pub.flush();
  await waitFor(() => sub.book(id)!.instrSeq === book.instrSeq, 5000, "both deltas");

  const sb = sub.book(id)!;
  expect(sb.usable).toBe(true);
  const shown: string[] = [];
  const want: string[] = [];
  for (let r = 0; r < sb.bidCount; r++) {
    shown.push(`bid ${sb.bidPriceAt(r)} × ${sb.bidQtyAt(r)}`);
    want.push(`bid ${book.bidPriceAt(r)} × ${book.bidQtyAt(r)}`);
  }
  for (let r = 0; r < sb.askCount; r++) {
    shown.push(`ask ${sb.askPriceAt(r)} × ${sb.askQtyAt(r)}`);
    want.push(`ask ${book.askPriceAt(r)} × ${book.askQtyAt(r)}`);
  }
  // Old: 3 levels a side, the third the changed level from below the cut (rank 7) where the publisher has rank 5's.
  expect(shown).toEqual(want);
  expect([sb.bidCount, sb.askCount]).toEqual([2, 2]);
});
