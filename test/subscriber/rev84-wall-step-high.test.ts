/**
 * s-rev84: the send-ahead allowance (s-rev78) against a step of the subscriber's wall clock (s-rev76). What an update
 * shows as received follows the wall clock (mono-clock.ts shownUs); the book's highest event was timed on that shown
 * clock (highRecvUs). A receive clock behind the publisher's, then the host's clock stepped forward to it (NTP after
 * boot): the highest instrSeq kept its receipt from before the step, and two refreshes of a lagging second channel,
 * both below it and received after the step, "proved" it bogus: the book went back, usable. The allowance is now on
 * the receipt (monotonic) clock, which no step moves. Date.now stubbed (test/support/stepped-wall-clock.ts).
 */
import { expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { SEND_AHEAD_MAX_US } from "../../src/subscriber/instrument-books.ts";
import { checkWallClock } from "../../src/subscriber/mono-clock.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { useSteppedWallClock } from "../support/stepped-wall-clock.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const clock = useSteppedWallClock();
const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
/** How far the subscriber's receive clock is behind the publisher's until its host's clock is stepped. */
const BEHIND_US = 2 * SEND_AHEAD_MAX_US;

it("a wall step forward between the highest instrSeq and two lagging refreshes below it: refused, the book never goes back", () => {
  const stepMs = BEHIND_US / 1000;
  clock.cleanups.push(async () => {
    clock.step(-stepMs);
    checkWallClock(); // the shown clock back on the real wall clock for later tests
  });
  const sub = newSubscriber();
  const a = packer({ channelId: 1 });
  const b2 = packer({ channelId: 2 });
  const pub = new TestBook(inst);
  pub.instrSeq = 423;
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  const arrive = (ds: Uint8Array[], sendUs: number) => {
    for (const d of ds) sub.ingest(d, sendUs - BEHIND_US + 100);
  };
  for (const p of [a, b2]) {
    packBookSnapshot(p, pub, 0, false); // 424 on both
    arrive(take(p, T0), T0);
  }
  const late: [Uint8Array[], number][] = [];
  for (const t of [T0 + 1000, T0 + 2000]) {
    packBookSnapshot(b2, pub, 0, true);
    late.push([take(b2, t), t]);
  }
  const cs = new ChangeSet();
  cs.addBid(943490, 5);
  pub.apply(cs, pub.venueSeq + 1, T0);
  for (const p of [a, b2]) packBookDelta(p, pub, cs);
  arrive(take(a, T0 + 3000), T0 + 3000); // 425: the highest, received before the step
  late.push([take(b2, T0 + 3000), T0 + 3000]);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.instrSeq, sb.usable]).toEqual([425, true]);
  clock.step(stepMs);
  expect(checkWallClock()).toBe(true); // shown receipt now on the publisher's clock
  const shown: [number, boolean][] = [];
  sub.on("update", (e) => shown.push([e.book.instrSeq, e.book.valid]));
  for (const [ds, t] of late) arrive(ds, t + 5000);
  // Old code: the second refresh's send time was past 425's shown receipt (before the step) + 60 s, a "proof": the
  // book went back to 424, valid and usable, before channel 2's 425 came.
  expect([sub.counters.olderSnapshots, sub.counters.instrSeqBackwards, shown]).toEqual([2, 0, []]);
  expect([sb.instrSeq, sb.usable]).toEqual([425, true]);
  expect(levelsOf(sb)).toEqual(levelsOf(pub));
});
