/**
 * s-rdsubc: a stream whose numbering goes back within its session (a publisher bug, a wrap, or a forger without the
 * key). Its datagrams then lie wholly or partly behind the line, and what lay behind was dropped as seen, the books it
 * carried left usable with what they no longer were: once the numbering passed the old line, every datagram was in
 * order and a book whose events had come in the dropped stretch showed usable, wrong, until its next event or refresh.
 * A copy of a datagram the stream had (duplicated, reordered, replayed) was sent no later than the last one heard; one
 * sent later is no copy: the line went back, and the stream's books are invalid as at a gap (docs/wire-protocol.md
 * §6.3, `seqLinesBack`). Datagrams through the datagram entry point (ingest), from the real packer and encoders.
 */
import { describe, expect, it } from "vitest";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { levelsOf, randInt, rng } from "../wire/helpers.ts";
import { flagged } from "./delta-feed.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";
import { book, delta, feed, networkArrivals, sendHeads, X, Y } from "./support/line-back-feed.ts";

/** A subscriber fed what the publisher `p` packed: send() seals it, sent 1 ms after the last (`sentUs()`), kept in `sent`. */
function rig() {
  const sub = newSubscriber();
  const p = packer();
  let sendUs = T0;
  const sent: Uint8Array[] = [];
  const send = () => {
    sendUs += 1000;
    for (const d of take(p, sendUs)) {
      sent.push(d);
      sub.ingest(d, sendUs + 50);
    }
  };
  return { sub, p, send, sent, sentUs: () => sendUs, pass: (us: number) => void (sendUs += us) };
}

describe("s-rdsubc: a stream's numbering going back within its session", () => {
  it("the books it carried are invalid (not usable) once a datagram behind the line comes sent later than the last heard; a refresh past it repairs them", () => {
    const { sub, p, send } = rig();
    const x = book(X);
    const y = book(Y);
    sendHeads(p, [x, y], send);
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, y, delta(y, 943500, 30 + i));
      send();
    }
    const sx = sub.book(X.instrumentId)!;
    expect(sx.usable).toBe(true);
    const line = p.nextSeq;
    const duplicates = sub.counters.duplicates;
    // The publisher's numbering goes back (same session): X changes in datagrams wholly behind the line.
    p.nextSeq = 2;
    packBookDelta(p, x, delta(x, 943503, 7));
    send();
    expect(sx.valid).toBe(false);
    expect(sub.counters.duplicates).toBe(duplicates + 1); // dropped as behind the line, not applied
    expect(sub.counters.seqLinesBack).toBe(1);
    // Y's events take the numbering past the old line: in order again, but X lost its event there.
    while (p.nextSeq <= line) {
      packBookDelta(p, y, delta(y, 943500, 40 + p.nextSeq));
      send();
    }
    expect(levelsOf(sx)).not.toEqual(levelsOf(x)); // X's event came in the stretch dropped
    expect(sx.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(1); // once per going back: the next ones only confirm it
    packBookSnapshot(p, x, 0, true);
    send();
    expect(levelsOf(sx)).toEqual(levelsOf(x));
    expect(sx.usable).toBe(true);
  });

  it("a datagram partly behind the line, sent later, is the numbering gone back too: its tail is applied, its head's books invalid", () => {
    const { sub, p, send } = rig();
    const x = book(X);
    const y = book(Y);
    sendHeads(p, [x, y], send);
    packBookDelta(p, y, delta(y, 943500, 30));
    send();
    const sx = sub.book(X.instrumentId)!;
    const sy = sub.book(Y.instrumentId)!;
    expect(sx.usable).toBe(true);
    // Back by one: X's event takes the last number the stream had, Y's the next one (one datagram).
    p.nextSeq -= 1;
    packBookDelta(p, x, delta(x, 943503, 7));
    packBookDelta(p, y, delta(y, 943500, 31));
    send();
    expect(levelsOf(sy)).toEqual(levelsOf(y)); // the tail: applied
    expect(levelsOf(sx)).not.toEqual(levelsOf(x)); // the head: dropped as seen
    expect(sx.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(1);
  });

  /**
   * s-natsline: a refresh in the tail of a datagram partly behind the line made its book valid again, yet the stream
   * stayed marked as gone back (only a datagram at or past the line ended it), so when the numbering went back again the
   * book's next event was dropped and nothing invalidated it: usable, wrong. The line going on ends it now.
   */
  it("the numbering going back again after a refresh came in a partly-behind datagram's tail invalidates that book again", () => {
    const { sub, p, send } = rig();
    const y = book(Y);
    sendHeads(p, [y], send);
    const sy = sub.book(Y.instrumentId)!;
    // Back by one: Y's refresh, its definition behind the line, its snapshot the tail.
    p.nextSeq -= 1;
    packInstrumentDefinition(p, new EncodedDefinition(Y), true);
    packBookSnapshot(p, y, 0, true);
    send();
    expect(sub.counters.seqLinesBack).toBe(1);
    expect(sy.usable).toBe(true); // the snapshot repaired it
    // Back again: Y's next event wholly behind the line, dropped.
    p.nextSeq -= 1;
    packBookDelta(p, y, delta(y, 943500, 77));
    send();
    expect(levelsOf(sy)).not.toEqual(levelsOf(y));
    expect(sy.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(2);
  });

  /**
   * s-subfwd: without a key, one datagram whose send time was forged far ahead raised the highest send time the stream
   * had for the rest of its session: every real going back after it was sent before that, taken for a copy and dropped,
   * the books usable and wrong. A send time more than sendAheadMaxMs ahead of its receipt raises it to its receipt plus
   * sendAheadMaxMs only (`sendTimesAhead`; s-rd13e: capped, no longer skipped), so a going back more than that after it
   * is seen (within, it is hidden: as after one forged just within the bound). Randomized: data or heartbeat at the
   * line, ahead by 20 s to a day (over the 5 s default; under the heartbeats' own 60 s bound too), the going back 5 to
   * 15 s after it (before its forged send time), 1..5 datagrams later.
   */
  it("a datagram sent far ahead of its receipt (forged, no key) hides the numbering going back for no longer than sendAheadMaxMs after it", () => {
    for (let seed = 1; seed <= 24; seed++) {
      const r = rng(seed);
      const { sub, p, send, sentUs, pass } = rig();
      const x = book(X);
      const y = book(Y);
      sendHeads(p, [x, y], send);
      packBookDelta(p, y, delta(y, 943500, 30));
      send();
      const aheadUs = randInt(r, 0, 2) === 0 ? randInt(r, 20, 59) * 1_000_000 : randInt(r, 60, 86_400) * 1_000_000;
      if (randInt(r, 0, 1) === 0) p.appendHeartbeat(0);
      else packBookDelta(p, y, delta(y, 943500, 31));
      for (const d of take(p, sentUs() + aheadUs)) sub.ingest(d, sentUs() + 100);
      expect(sub.counters.sendTimesAhead, `seed ${seed}`).toBe(1);
      pass(randInt(r, 5_001, 15_000) * 1000);
      for (let i = randInt(r, 1, 5); i > 0; i--) {
        packBookDelta(p, y, delta(y, 943500, 40 + i));
        send();
      }
      const sx = sub.book(X.instrumentId)!;
      expect(sx.usable, `seed ${seed}`).toBe(true);
      p.nextSeq = 2; // the numbering goes back: X's event wholly behind the line
      packBookDelta(p, x, delta(x, 943503, 7));
      send();
      expect(sub.counters.seqLinesBack, `seed ${seed}`).toBe(1); // before the fix: 0
      expect(sx.usable, `seed ${seed}`).toBe(false); // before the fix: true, X's event dropped
    }
  });

  it("a send time within sendAheadMaxMs of its receipt raises the mark as before; the bound is the subscriber's option", () => {
    const { sub, p, send, sentUs } = rig();
    const x = book(X);
    sendHeads(p, [x], send);
    packBookDelta(p, x, delta(x, 943500, 30));
    for (const d of take(p, sentUs() + 4_000_000)) sub.ingest(d, sentUs() + 100); // 4 s ahead: a clock a little off
    expect(sub.counters.sendTimesAhead).toBe(0);
    // A copy of the first delta, sent 1 s later by the publisher's clock: before the 4-s-ahead one, a copy.
    p.nextSeq -= 1;
    packBookDelta(p, x, delta(x, 943500, 30));
    for (const d of take(p, sentUs() + 1_000_000)) sub.ingest(d, sentUs() + 1_000_100);
    expect(sub.counters.seqLinesBack).toBe(0);
    // A subscriber told 1 s: the same 4 s ahead does not raise the mark, and is counted.
    const strict = newSubscriber({ sendAheadMaxMs: 1000 });
    const p2 = packer();
    const x2 = book(X);
    packInstrumentDefinition(p2, new EncodedDefinition(X), false);
    packBookSnapshot(p2, x2, 0, false);
    for (const d of take(p2, T0)) strict.ingest(d, T0 + 50);
    packBookDelta(p2, x2, delta(x2, 943500, 30));
    for (const d of take(p2, T0 + 4_000_000)) strict.ingest(d, T0 + 100);
    expect(strict.counters.sendTimesAhead).toBe(1);
    // Its mark is its receipt plus 1 s: the numbering going back, sent 2 s on (before its 4 s), is seen.
    p2.nextSeq -= 1;
    packBookDelta(p2, x2, delta(x2, 943500, 31));
    for (const d of take(p2, T0 + 2_000_000)) strict.ingest(d, T0 + 2_000_100);
    expect(strict.counters.seqLinesBack).toBe(1); // uncapped: 0
    expect(strict.book(X.instrumentId)!.usable).toBe(false);
    expect(() => newSubscriber({ sendAheadMaxMs: -1 })).toThrow(/sendAheadMaxMs/);
  });

  /**
   * s-rd13e: a publisher whose clock runs ahead of this host's by more than sendAheadMaxMs from its session's start.
   * Skipped, none of its send times raised the mark, which stayed 0 (none had): its numbering going back was never
   * seen, the books it carried usable and wrong. Over the bound a datagram's receipt time is the mark instead: the
   * going back is seen (its copies and reordered datagrams are taken for one too: invalid, the safe side). Randomized:
   * the clock 6 s to a day ahead, the going back 1..5 datagrams on.
   */
  it("a publisher clock ahead by more than sendAheadMaxMs from the session's start: its numbering going back is still seen", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const sub = newSubscriber();
      const p = packer();
      const clockAheadUs = randInt(r, 6, 86_400) * 1_000_000;
      let sendUs = T0;
      const send = () => {
        sendUs += 1000;
        for (const d of take(p, sendUs + clockAheadUs)) sub.ingest(d, sendUs + 50);
      };
      const x = book(X);
      const y = book(Y);
      sendHeads(p, [x, y], send);
      for (let i = randInt(r, 1, 5); i > 0; i--) {
        packBookDelta(p, y, delta(y, 943500, 40 + i));
        send();
      }
      const sx = sub.book(X.instrumentId)!;
      expect(sx.usable, `seed ${seed}`).toBe(true);
      expect(sub.counters.sendTimesAhead, `seed ${seed}`).toBeGreaterThan(0); // the clock's offset is visible
      p.nextSeq = 2; // the numbering goes back: X's event wholly behind the line
      packBookDelta(p, x, delta(x, 943503, 7));
      send();
      expect(sub.counters.seqLinesBack, `seed ${seed}`).toBe(1); // skipped: 0
      expect(sx.usable, `seed ${seed}`).toBe(false); // skipped: true, X's event dropped
    }
  });

  /**
   * s-rd13e: a datagram held in a gap asked for (reordered) and replayed once its turn came went through the count
   * again: one datagram sent far ahead counted twice.
   */
  it("a datagram sent far ahead, held in a gap and replayed into it, is counted once in sendTimesAhead", () => {
    const sub = newSubscriber({ retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000 } }); // no server answers
    const p = packer();
    const x = book(X);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    for (const d of take(p, T0)) sub.ingest(d, T0 + 50);
    for (let i = 0; i < 2; i++) {
      packBookDelta(p, x, delta(x, 943500, 20 + i)); // the line established: a gap is asked for
      for (const d of take(p, T0 + 500 + i)) sub.ingest(d, T0 + 550 + i);
    }
    packBookDelta(p, x, delta(x, 943500, 30));
    const first = take(p, T0 + 1000);
    packBookDelta(p, x, delta(x, 943500, 31));
    const ahead = take(p, T0 + 3_600_000_000); // an hour ahead of its receipt
    sub.ingest(ahead[0]!, T0 + 2050); // before the one it follows: a gap, held
    expect(sub.heldDatagrams).toBe(1);
    expect(sub.counters.sendTimesAhead).toBe(1);
    for (const d of first) sub.ingest(d, T0 + 2100); // fills the gap: the held one is replayed
    expect(sub.retransmitsPending).toBe(0);
    expect(sub.heldDatagrams).toBe(0);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    expect(sub.counters.sendTimesAhead).toBe(1); // before: 2
  });

  it("a copy of a datagram the stream had (duplicated, reordered, replayed: sent no later than the last heard) leaves the books valid", () => {
    const { sub, p, send, sent, sentUs } = rig();
    const x = book(X);
    sendHeads(p, [x], send);
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, x, delta(x, 943500, 30 + i));
      send();
    }
    for (const d of [...sent].reverse()) sub.ingest(d, sentUs() + 60);
    const sx = sub.book(X.instrumentId)!;
    expect(sx.usable).toBe(true);
    expect(levelsOf(sx)).toEqual(levelsOf(x));
    expect(sub.counters.seqLinesBack).toBe(0);
  });

  // s-rd7a: the line is judged against the highest send time the stream had, not the last one heard. The last one heard
  // goes back within a session in normal operation — a reordered datagram filling a gap asked for, a publisher whose
  // clock stepped back — and a copy (duplicated on the network) of a datagram sent later was then taken for the
  // numbering going back: every book of the stream invalid until its next snapshot, for nothing.
  const retransmit = { host: "127.0.0.1", port: 9, timeoutMs: 60_000 }; // ingest only: no request goes out

  it("a reordered datagram filling a gap asked for, then a network copy of the held one sent after it: a copy, the books stay usable", () => {
    const { x, head, deltas } = feed(packer(), (i) => T0 + 1000 * (i + 1), 4);
    const sub = newSubscriber({ retransmit });
    for (const d of [...head, deltas[0]!, deltas[1]!]) sub.ingest(d, T0 + 10_000);
    sub.ingest(deltas[3]!, T0 + 10_000); // ahead of deltas[2]: held, asked for
    sub.ingest(deltas[2]!, T0 + 10_000); // the live one, late: fills the gap (the last heard is now sent before [3])
    sub.ingest(deltas[3]!, T0 + 10_000); // the network's copy of [3]
    const sx = sub.book(X.instrumentId)!;
    expect(sub.counters.seqLinesBack).toBe(0); // before the fix: 1
    expect(sx.usable).toBe(true); // before the fix: false
    expect(levelsOf(sx)).toEqual(levelsOf(x));
  });

  it("a publisher clock stepped back, then a copy of a datagram sent before the step: a copy, the books stay usable", () => {
    const { x, head, deltas } = feed(packer(), (i) => T0 + (i < 2 ? 1000 * (i + 1) : 1500 + 100 * i), 4);
    const sub = newSubscriber();
    for (const d of [...head, ...deltas.slice(0, 3)]) sub.ingest(d, T0 + 10_000);
    sub.ingest(deltas[1]!, T0 + 10_000); // sent at T0+2000, after [2] (T0+1700) by the clock: duplicated
    sub.ingest(deltas[3]!, T0 + 10_000);
    const sx = sub.book(X.instrumentId)!;
    expect(sub.counters.seqLinesBack).toBe(0); // before the fix: 1
    expect(sx.usable).toBe(true); // before the fix: false
    expect(levelsOf(sx)).toEqual(levelsOf(x));
  });

  it("a datagram lost just before a clock step back, retransmitted, then its late live original: a copy of what the answer brought", () => {
    // [1] sent last before the step (the highest send time the stream gets); [2] after it, sent earlier by the clock.
    const { x, head, deltas } = feed(packer(), (i) => T0 + [1000, 2000, 500, 600][i]!, 4);
    const sub = newSubscriber({ retransmit });
    for (const d of [...head, deltas[0]!]) sub.ingest(d, T0 + 10_000);
    sub.ingest(deltas[2]!, T0 + 10_000); // [1] not yet come: held, asked for
    sub.ingest(flagged(deltas[1]!), T0 + 10_000); // the answer fills the gap
    sub.ingest(deltas[1]!, T0 + 10_000); // the live original, late
    sub.ingest(deltas[3]!, T0 + 10_000);
    const sx = sub.book(X.instrumentId)!;
    expect(sub.counters.retransmitRecovered).toBe(1);
    expect(sub.counters.seqLinesBack).toBe(0); // an answer's send time not kept as had: 1
    expect(sx.usable).toBe(true);
    expect(levelsOf(sx)).toEqual(levelsOf(x));
  });

  it("copies never count as the line going back, and a usable book is the publisher's: network duplication and reordering, with or without retransmission, clock steps back (randomized against the publisher's book)", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const count = 24;
      const stepAt = randInt(r, 0, 1) === 1 ? randInt(r, 1, count - 1) : -1;
      const stepBackUs = randInt(r, 1, 5) * 1000;
      const { x, head, deltas } = feed(packer(), (i) => T0 + 1000 * (i + 1) - (stepAt >= 0 && i >= stepAt ? stepBackUs : 0), count);
      // The network: each datagram once or twice (a copy up to 3 places later). With retransmission the first one is
      // moved up to 2 places later too (a gap, held and filled); without it, a datagram that first comes after its gap
      // was taken, sent before a clock step back, is no copy and looks like the line going back (docs §6.3).
      const asked = randInt(r, 0, 1) === 1;
      const arrivals = networkArrivals(r, deltas, asked);
      const sub = newSubscriber(asked ? { retransmit } : {});
      for (const d of head) sub.ingest(d, T0 + 100_000);
      for (const d of arrivals) sub.ingest(d, T0 + 100_000);
      const sx = sub.book(X.instrumentId)!;
      expect(sub.counters.seqLinesBack, `seed ${seed}`).toBe(0); // before the fix: 7 of the 40 seeds counted some
      if (sx.usable) expect(levelsOf(sx), `seed ${seed}`).toEqual(levelsOf(x));
    }
  });

  /**
   * s-rd15d: the going-back mark's cap (receipt + sendAheadMaxMs, s-rd13e) costs false alarms only when a send time is
   * more than the bound ahead of its receipt. With the clocks synced (NTP: the publisher's within 200 ms of this host's
   * either way), receipts stamped as they come and the network delaying, reordering, duplicating (a copy up to 4.9 s
   * late: the end of a retransmit window) and answering gaps asked for, none is: no line going back, no send time
   * ahead, and a usable book is the publisher's. Randomized: data and heartbeats sent 1..200 ms apart.
   */
  it("synced clocks, jittered: delays, reordering, copies up to 4.9 s late and answers never count a line going back (randomized)", () => {
    const seen = { copies: 0, recovered: 0, usable: 0 };
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const offUs = randInt(r, -200_000, 200_000); // the publisher's clock less this host's
      const asked = randInt(r, 0, 1) === 1;
      const p = packer();
      const x = book(X);
      const arrivals: { atUs: number; d: Uint8Array }[] = [];
      const arrive = (d: Uint8Array, atUs: number) => arrivals.push({ atUs, d });
      packInstrumentDefinition(p, new EncodedDefinition(X), false);
      packBookSnapshot(p, x, 0, false);
      for (const d of take(p, T0)) arrive(d, T0 - offUs + 50);
      let sendUs = T0;
      for (let i = 0; i < 60; i++) {
        sendUs += randInt(r, 1, 200) * 1000;
        if (randInt(r, 0, 3) === 0) p.appendHeartbeat(0);
        else packBookDelta(p, x, delta(x, 943500 - (i % 7), 10 + i));
        for (const d of take(p, sendUs)) {
          // Its receipt on this host's clock: sent (by the publisher's) less the offset, plus the network's delay.
          const sentHereUs = sendUs - offUs;
          const lateUs = randInt(r, 0, 5) === 0 ? randInt(r, 1, 300_000) : 0; // reordered past later ones
          const atUs = sentHereUs + randInt(r, 100, 5_000) + lateUs;
          arrive(d, atUs);
          if (randInt(r, 0, 3) === 0) arrive(d, atUs + randInt(r, 1, 4_900_000)); // a copy, up to 4.9 s later
          if (asked && lateUs > 0 && randInt(r, 0, 1) === 0) arrive(flagged(d), sentHereUs + randInt(r, 1_000, lateUs + 50_000)); // an answer
        }
      }
      arrivals.sort((a, b) => a.atUs - b.atUs);
      const sub = newSubscriber(asked ? { retransmit } : {});
      for (const a of arrivals) sub.ingest(a.d, a.atUs);
      const sx = sub.book(X.instrumentId)!;
      expect(sub.counters.sendTimesAhead, `seed ${seed}`).toBe(0);
      expect(sub.counters.seqLinesBack, `seed ${seed}`).toBe(0); // the mark capped at the receipt alone (no bound): fails at seed 1
      if (sx.usable) expect(levelsOf(sx), `seed ${seed}`).toEqual(levelsOf(x));
      seen.copies += sub.counters.duplicates;
      seen.recovered += sub.counters.retransmitRecovered;
      seen.usable += sx.usable ? 1 : 0;
    }
    // The network did what is claimed: copies dropped, gaps filled by answers, books usable at the end.
    expect(seen.copies).toBeGreaterThan(200);
    expect(seen.recovered).toBeGreaterThan(20);
    expect(seen.usable).toBeGreaterThan(10);
  });
});
