/**
 * s-seed: a book carried by a source whose session (sessionStartUs, sessionId) equals the one the book was of, on
 * another source. admitSession compared the session only, so the book stayed on its old source's list; when that
 * other source's provisional session was then undone (two datagrams of its older one), revertSource walked that
 * source's books and missed it: the book stayed usable, carried by a stream no longer in the table (no stale check
 * reaches it). Found by rev82-eviction-random seed 101096 (actors restarting in step share start times and ids).
 */
import { expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a book taken by another source's equal session goes back when that session is undone: not usable without its stream", () => {
  const sub = newSubscriber();
  const pub = new TestBook(inst);
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  // Source 1's confirmed session (T0, 1): two datagrams.
  const s1old = packer({ channelId: 1, sourceId: 1, sessionId: 1, sessionStartUs: T0 });
  for (let i = 0; i < 2; i++) s1old.appendHeartbeat(0);
  for (const d of take(s1old)) sub.ingest(d, T0 + 50);
  // Source 3, session (T0 + 1000, 2): the book, usable.
  const s3 = packer({ channelId: 1, sourceId: 3, sessionId: 2, sessionStartUs: T0 + 1000 });
  packBookSnapshot(s3, pub, 0, false);
  for (const d of take(s3)) sub.ingest(d, T0 + 50);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sourceId, sb.usable]).toEqual([3, true]);
  // Source 1 on channel 2 with the same (start, id) as source 3's: provisional, its snapshot carries the book.
  const s1new = packer({ channelId: 2, sourceId: 1, sessionId: 2, sessionStartUs: T0 + 1000 });
  packBookSnapshot(s1new, pub, 0, true);
  for (const d of take(s1new)) sub.ingest(d, T0 + 50);
  // Two datagrams of source 1's confirmed session undo it: the channel-2 stream leaves the table.
  // (Their own send times: a copy of one datagram counts once.)
  s1old.appendHeartbeat(0);
  for (const d of take(s1old, T0 + 60)) sub.ingest(d, T0 + 60);
  s1old.appendHeartbeat(0);
  for (const d of take(s1old, T0 + 70)) sub.ingest(d, T0 + 70);
  expect(sub.counters.sessionsReverted).toBe(1);
  const st = (sub as unknown as { streams: Map<number, { stale: boolean }> }).streams.get(sb.streamKey);
  const live = st !== undefined && !st.stale;
  // Old code: usable true, carried by stream 2/1, gone.
  expect({ usable: sb.usable, live }).not.toEqual({ usable: true, live: false });
  expect(sb.usable).toBe(false);
});
