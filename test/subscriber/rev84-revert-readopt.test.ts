/**
 * s-rev84: a restart undone as bogus, then taken again (docs/wire-protocol.md §6.2, §6.6 item 3). A newer session is
 * provisional until it sends again; two datagrams of the older one first undo it (revertSource), and the book goes
 * back to the older session with that session's highest instrSeq (s-rev78). When the newer session's datagrams then
 * come (it was real: the old one's were late), the book is superseded again: old code forgot what the book had
 * applied in the newer session, so a snapshot of it sent earlier, below that, loaded the book behind what it had
 * shown usable (10, then 8). Found by many seeds of rev75-never-back (seed 1000 with the publisher clock steady).
 */
import { expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a newer session undone by the older one's late datagrams and taken again: its snapshot below what the book applied in it is refused", () => {
  const sub = newSubscriber();
  const old = packer({ channelId: 1, sessionId: 20, sessionStartUs: T0 });
  const pub = new TestBook(inst);
  pub.instrSeq = 99;
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  packBookSnapshot(old, pub, 0, false); // s20:100
  const lateOld: Uint8Array[] = [];
  for (const d of take(old, T0)) sub.ingest(d, T0 + 50);
  for (let i = 0; i < 2; i++) {
    old.appendHeartbeat(0); // in flight when the publisher restarted
    lateOld.push(...take(old, T0 + 1000 + i));
  }
  // The restart: s21 from instrSeq 8; two deltas, then a refresh at 10. The refresh's datagram overtakes the rest.
  const next = packer({ channelId: 1, sessionId: 21, sessionStartUs: T0 + 2_000_000 });
  pub.instrSeq = 7;
  pub.load([[943500, 10]], [[943506, 20]], 1, T0);
  packBookSnapshot(next, pub, 0, false);
  const first = take(next, T0 + 2_000_000); // s21:8
  const at8 = levelsOf(pub);
  for (const px of [943499, 943498]) {
    const cs = new ChangeSet();
    cs.addBid(px, 5);
    pub.apply(cs, pub.venueSeq + 1, T0);
    packBookDelta(next, pub, cs);
  }
  const deltas = take(next, T0 + 2_001_000); // 9, 10
  packBookSnapshot(next, pub, 0, true);
  const refresh = take(next, T0 + 2_002_000); // s21:10
  for (const d of refresh) sub.ingest(d, T0 + 2_002_050);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.instrSeq, sb.usable]).toEqual([21, 10, true]);
  for (const d of lateOld) sub.ingest(d, T0 + 2_002_100); // two of s20: s21, provisional, undone
  expect([sub.counters.sessionsReverted, sb.sessionId, sb.usable]).toEqual([1, 20, false]);
  const shown: [number, number, boolean][] = [];
  sub.on("update", (e) => shown.push([e.book.sessionId, e.book.instrSeq, e.book.usable]));
  for (const d of first) sub.ingest(d, T0 + 2_002_200); // s21 again, its snapshot at 8
  // Old code: [[21, 8, true]], the book usable at 8 after it had shown 10 usable in s21.
  expect(shown.filter(([, , usable]) => usable)).toEqual([]);
  expect(levelsOf(sb)).not.toEqual(at8);
  for (const d of [...deltas, ...take((packBookSnapshot(next, pub, 0, true), next), T0 + 2_003_000)]) sub.ingest(d, T0 + 2_003_050);
  expect([sb.sessionId, sb.instrSeq, sb.usable]).toEqual([21, 10, true]);
  expect(levelsOf(sb)).toEqual(levelsOf(pub));
});
