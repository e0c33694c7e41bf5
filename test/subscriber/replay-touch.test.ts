/**
 * s-supersede (s-rev78's leftover): a held datagram replayed after its gap is filled carries its own, earlier receive
 * time, but its assembly goes to the back of the budget's list (assembly.ts touch). Stamped with that earlier time
 * there, the list was no longer least recently touched first, and expiry (which stops at the first one touched since)
 * stopped early. Now it is touched at the latest receipt. Driven through ingest() with injected receive times.
 */
import { expect, it } from "vitest";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

/** The datagrams of a snapshot of `id` with 40 levels a side: several chunks at 320 bytes a datagram. */
function deepSnap(p: ReturnType<typeof packer>, id: number): Uint8Array[] {
  const b = new TestBook({ ...inst, instrumentId: id });
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < 40; i++) bids.push([100 - i, 1]), asks.push([101 + i, 1]);
  b.load(bids, asks, 1, T0);
  packBookSnapshot(p, b, 0, false);
  return take(p);
}

/** One datagram: a one-level snapshot of `id`. */
function snap(p: ReturnType<typeof packer>, id: number): Uint8Array {
  const b = new TestBook({ ...inst, instrumentId: id });
  b.load([[100, 2]], [[101, 3]], 1, T0);
  packBookSnapshot(p, b, 0, true);
  return take(p)[0]!;
}

const chunksList = (sub: FeedSubscriber): SubscriberBook[] => {
  const out: SubscriberBook[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (let l = (sub as any).instrumentBooks.budget.chunks.head; l !== null; l = l.next) out.push(l.book);
  return out;
};

it("a held chunk replayed after its gap is touched at the latest receipt: the list stays least recently touched first", () => {
  const sub = newSubscriber({ retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 } });
  const a = packer({ sourceId: 1, channelId: 7, maxBytes: 320 });
  const b = packer({ sourceId: 2, channelId: 8, maxBytes: 320 });
  for (let i = 0; i < 3; i++) sub.ingest(snap(a, 1), T0); // the line established
  const lost = snap(a, 1);
  const heldSnap = deepSnap(a, 10);
  expect(heldSnap.length).toBeGreaterThan(1);
  sub.ingest(heldSnap[0]!, T0 + 1_000); // after the gap: held, the gap asked for
  expect(sub.retransmitsPending).toBe(1);
  sub.ingest(deepSnap(b, 20)[0]!, T0 + 2_000); // another stream's snapshot under way, touched later
  const answer = lost.slice();
  markRetransmit(answer, answer.length, undefined);
  sub.ingest(answer, T0 + 3_000); // fills the gap: the held chunk is replayed
  expect(sub.retransmitsPending).toBe(0);
  const list = chunksList(sub);
  expect(list.map((x) => x.instrumentId)).toEqual([20, 10]);
  // Least recently touched first: the old code stamped book 10 with T0 + 1 000, behind book 20's T0 + 2 000.
  expect(list[1]!.snapTouchedUs).toBeGreaterThanOrEqual(list[0]!.snapTouchedUs);
  expect(sub.book(10)!.updates).toBe(0); // its snapshot still under way: nothing else changed
});
