/**
 * s-rdsub: a book superseded by two provisional sessions in a row, each bringing it an event (a publisher restarted
 * twice in quick succession), then the confirmed session's late datagrams undo the newest (docs/wire-protocol.md
 * §6.2). The book went back to the confirmed session without the highest instrSeq it had applied there (one session
 * left was remembered, the last: the middle run's), so a lagging channel's older refresh loaded it usable behind
 * what it had shown usable in that session (100, then 90).
 */
import { expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("two provisional sessions with events, undone: the book takes back its highest instrSeq of the confirmed one", () => {
  const sub = newSubscriber();
  const pub = new TestBook(inst);
  const ch1 = packer({ channelId: 1, sessionId: 20, sessionStartUs: T0 });
  const ch2 = packer({ channelId: 2, sessionId: 20, sessionStartUs: T0 }); // lagging
  ch2.appendHeartbeat(0);
  for (const d of take(ch2, T0)) sub.ingest(d, T0 + 50);
  pub.instrSeq = 89;
  pub.load([[943500, 10]], [[943506, 20]], 1, T0);
  packBookSnapshot(ch2, pub, 0, true);
  const lagging = take(ch2, T0 + 500_000); // s20:90, still in flight on channel 2
  pub.instrSeq = 99;
  pub.load([[943503, 1500]], [[943504, 250]], 2, T0);
  packBookSnapshot(ch1, pub, 0, false);
  ch1.appendHeartbeat(0);
  for (const d of take(ch1, T0 + 1_000_000)) sub.ingest(d, T0 + 1_000_050); // s20 confirmed, the book at 100
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.instrSeq, sb.usable]).toEqual([20, 100, true]);
  // Two quick restarts, one datagram each so far: both carry the book's snapshot.
  for (const [sessionId, startUs] of [[21, T0 + 2_000_000], [22, T0 + 3_000_000]] as const) {
    const p = packer({ channelId: 1, sessionId, sessionStartUs: startUs });
    pub.instrSeq = 4;
    packBookSnapshot(p, pub, 0, false);
    for (const d of take(p, startUs)) sub.ingest(d, startUs + 50);
    expect(sb.sessionId).toBe(sessionId);
  }
  // Channel 2's late datagrams of s20: a heartbeat, then its refresh at 90. Two of s20 undo s22.
  const shown: [number, number][] = [];
  sub.on("update", (e) => {
    if (e.book.usable) shown.push([e.book.sessionId, e.book.instrSeq]);
  });
  ch2.appendHeartbeat(0);
  for (const d of [...take(ch2, T0 + 600_000), ...lagging]) sub.ingest(d, T0 + 3_000_100);
  expect([sub.counters.sessionsReverted, sb.sessionId]).toEqual([1, 20]);
  // Old code: [[20, 90]], the book usable at 90 after 100 in s20.
  expect(shown).toEqual([]);
  expect(sb.usable).toBe(false);
});
