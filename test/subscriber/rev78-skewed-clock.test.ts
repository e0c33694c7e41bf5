/**
 * The subscriber's receive clock behind the publisher's by more than SEND_AHEAD_MAX_US (docs/wire-protocol.md §6.6
 * item 3). The receive clock is the monotonic one as of the process's start (performance.timeOrigin + now()): a host
 * whose clock was set right after the subscriber started (NTP stepping it at boot) stays behind for the process's
 * life. Old code took every event's send time as at most receive time + 60 s, so two refreshes of a lagging second
 * channel, both below what the book applied, "proved" the real instrSeq bogus: the book went back, usable.
 * And a bogus newer session undone (§6.2): the real session's highest instrSeq must come back with it.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { SEND_AHEAD_MAX_US } from "../../src/subscriber/instrument-books.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
/** How far the subscriber's receive clock is behind the publisher's. */
const BEHIND_US = 2 * SEND_AHEAD_MAX_US;

function step(b: TestBook, px: number, qty: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(px, qty);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

describe("a subscriber clock behind the publisher's", () => {
  it("two refreshes of a second channel lagging behind a delta are refused, never a proof: the book never goes back", () => {
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
    // A quiet book: two refreshes of channel 2 at 424, then 425 on both; channel 2's datagrams are late.
    const late: [Uint8Array[], number][] = [];
    for (const t of [T0 + 1000, T0 + 2000]) {
      packBookSnapshot(b2, pub, 0, true);
      late.push([take(b2, t), t]);
    }
    const cs = step(pub, 943490, 5);
    for (const p of [a, b2]) packBookDelta(p, pub, cs);
    arrive(take(a, T0 + 3000), T0 + 3000);
    late.push([take(b2, T0 + 3000), T0 + 3000]);
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.usable]).toEqual([425, true]);
    const shown: [number, boolean][] = [];
    sub.on("update", (e) => shown.push([e.book.instrSeq, e.book.valid]));
    for (const [ds, t] of late) arrive(ds, t + 5000);
    // Old code: the second refresh "proved" 425 bogus (its send time past receive time + 60 s) and the book went back
    // to 424, valid and usable, before channel 2's 425 came.
    expect([sub.counters.olderSnapshots, sub.counters.instrSeqBackwards, shown]).toEqual([2, 0, []]);
    expect([sb.instrSeq, sb.usable]).toEqual([425, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(pub));
  });

  it("a forged instrSeq far ahead with a forged send time is still proved bogus by two refreshes 60 s after it", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const pub = new TestBook(inst);
    pub.instrSeq = 419;
    pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
    const recv = (sendUs: number) => sendUs - BEHIND_US + 100;
    packBookSnapshot(a, pub, 0, false);
    for (const d of take(a, T0)) sub.ingest(d, recv(T0));
    const forger = packer({ channelId: 3 });
    const fake = new TestBook(inst);
    fake.instrSeq = 1_000_000;
    packBookDelta(forger, fake, step(fake, 1, 1));
    for (const d of take(forger, T0 + 86_400_000_000)) sub.ingest(d, recv(T0 + 1000)); // a day ahead
    const sb = sub.book(inst.instrumentId)!;
    const refresh = (sendUs: number) => {
      packBookSnapshot(a, pub, 0, true);
      for (const d of take(a, sendUs)) sub.ingest(d, recv(sendUs));
    };
    refresh(T0 + SEND_AHEAD_MAX_US / 2);
    refresh(T0 + SEND_AHEAD_MAX_US / 2 + 1000);
    expect([sb.instrSeq, sb.valid]).toEqual([1_000_001, false]); // within 60 s of the forged event: no proof yet
    refresh(T0 + SEND_AHEAD_MAX_US + 2000);
    expect([sb.instrSeq, sb.usable, sub.counters.instrSeqBackwards]).toEqual([420, true, 1]);
    expect(levelsOf(sb)).toEqual(levelsOf(pub));
  });
});

describe("a bogus newer session undone", () => {
  it("the real session's highest instrSeq comes back with it: a lagging channel's older refresh is refused", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1, sessionId: 40 });
    const b2 = packer({ channelId: 2, sessionId: 40 });
    const pub = new TestBook(inst);
    pub.instrSeq = 423;
    pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
    const at = (ds: Uint8Array[]) => {
      for (const d of ds) sub.ingest(d, T0 + 100);
    };
    for (const p of [a, b2]) {
      packBookSnapshot(p, pub, 0, false); // 424 on both
      at(take(p));
    }
    packBookSnapshot(b2, pub, 0, true); // channel 2's refresh at 424, late
    const lagging = take(b2);
    const cs = step(pub, 943490, 5);
    for (const p of [a, b2]) packBookDelta(p, pub, cs);
    at(take(a)); // 425 from channel 1
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.usable]).toEqual([425, true]);
    const forger = packer({ channelId: 1, sessionId: 41, sessionStartUs: T0 + 60_000_000 });
    forger.nextSeq = a.nextSeq;
    forger.appendHeartbeat(0);
    at(take(forger)); // a forged (or corrupted) newer session: the book superseded
    a.appendHeartbeat(0);
    at(take(a)); // the real session's first datagram since: dropped, evidence
    const shown: [number, boolean][] = [];
    sub.on("update", (e) => shown.push([e.book.instrSeq, e.book.valid]));
    at(lagging); // the second undoes session 41, and is processed
    expect(sub.counters.sessionsReverted).toBe(1);
    // Old code: the revert forgot 425 with the bogus session: the refresh at 424 loaded the book, valid and usable.
    expect([shown, sb.valid, sub.counters.staleSnapshots]).toEqual([[], false, 1]);
    at(take(b2)); // channel 2's 425
    packBookSnapshot(a, pub, 0, true);
    at(take(a));
    expect([sb.sessionId, sb.instrSeq, sb.usable]).toEqual([40, 425, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(pub));
  });
});
