/**
 * s-natsline: an upstream stream whose numbering goes back within its session (a publisher bug, a wrap, a forger
 * without the key), seen through the forward bridge. A multicast subscriber invalidates the stream's books then
 * (docs/wire-protocol.md §6.3, `seqLinesBack`); the bridge dropped what lay behind its line as duplicates and skipped
 * no number, so NATS readers saw no gap and, once the numbering passed the old line, a book whose event came in the
 * dropped stretch stayed usable, wrong. Now the bridge skips a number (`seqLinesBack`), as docs/nats.md says.
 * Real parts: the ForwardBridge (onDatagram; its NATS connection a recorder), the reader's repacker, unchanged
 * FeedSubscribers (one fed the multicast datagrams, one the repacked ones), the real packer and encoders.
 */
import { describe, expect, it } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, randInt, rng } from "../wire/helpers.ts";
import { book, delta, feed, networkArrivals, sendHeads, X, Y } from "../subscriber/support/line-back-feed.ts";

/** Publisher → multicast subscriber, and → bridge → NATS (a recorder) → repacker → subscriber (the NATS reader). */
function rig(startUs = T0) {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "natsline", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
  const multicast = newSubscriber();
  const nats = newSubscriber();
  const p = packer();
  let sendUs = startUs;
  let readerUs = T0;
  /** One datagram onto the group (a new one, or a copy sent again): both sides read it. Whether the bridge forwarded any. */
  const deliver = (d: Uint8Array): boolean => {
    bridge.onDatagram(d);
    multicast.ingest(d, sendUs + 50);
    const forwarded = published.length > 0;
    for (const env of published.splice(0)) rep.add(env, 0);
    rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer) carries any gap it saw
    readerUs += 1000;
    for (const r of take(rep.packer, readerUs)) nats.ingest(r, readerUs + 50);
    return forwarded;
  };
  const sent: Uint8Array[] = [];
  /** Seals what the publisher packed, sent 1 ms after the last. Whether the bridge forwarded anything of it. */
  const send = (): boolean => {
    sendUs += 1000;
    let forwarded = false;
    for (const d of take(p, sendUs)) {
      sent.push(d);
      if (deliver(d)) forwarded = true;
    }
    return forwarded;
  };
  return { bridge, multicast, nats, p, send, deliver, sent, pass: (us: number) => void (sendUs += us) };
}

describe("s-natsline: the NATS bridge and an upstream numbering going back", () => {
  it("a datagram wholly behind the line sent later skips a number: the NATS reader's book leaves usable, as multicast's; a refresh repairs it", () => {
    const { bridge, multicast, nats, p, send } = rig();
    const x = book(X);
    const y = book(Y);
    sendHeads(p, [x, y], send);
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, y, delta(y, 943500, 30 + i));
      send();
    }
    expect(nats.book(X.instrumentId)!.usable).toBe(true);
    const line = p.nextSeq;
    const duplicates = bridge.counters.duplicates;
    // The publisher's numbering goes back (same session): X changes in a datagram wholly behind the line.
    p.nextSeq = 2;
    packBookDelta(p, x, delta(x, 943503, 7));
    send();
    expect(bridge.counters.duplicates).toBe(duplicates + 1); // dropped, as multicast drops it
    expect(bridge.counters.seqLinesBack).toBe(1);
    // Y's events take the numbering past the old line: in order again, but X lost its event there.
    while (p.nextSeq <= line) {
      packBookDelta(p, y, delta(y, 943500, 40 + p.nextSeq));
      send();
    }
    expect(bridge.counters.seqLinesBack).toBe(1); // once per going back
    for (const sub of [multicast, nats]) {
      const sx = sub.book(X.instrumentId)!;
      expect(levelsOf(sx)).not.toEqual(levelsOf(x)); // X's event came in the stretch dropped
      expect(sx.usable).toBe(false); // NATS, before the fix: true
    }
    packInstrumentDefinition(p, new EncodedDefinition(X), true);
    packBookSnapshot(p, x, 0, true);
    send();
    for (const sub of [multicast, nats]) {
      expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
      expect(sub.book(X.instrumentId)!.usable).toBe(true);
    }
  });

  it("a datagram partly behind the line sent later skips a number too", () => {
    const { bridge, nats, p, send } = rig();
    const x = book(X);
    const y = book(Y);
    sendHeads(p, [x, y], send);
    packBookDelta(p, y, delta(y, 943500, 30));
    send();
    // Back by one: X's event takes the last number the stream had, Y's the next one (one datagram).
    p.nextSeq -= 1;
    packBookDelta(p, x, delta(x, 943503, 7));
    packBookDelta(p, y, delta(y, 943500, 31));
    send();
    expect(bridge.counters.seqLinesBack).toBe(1);
    expect(nats.book(X.instrumentId)!.usable).toBe(false); // before the fix: true
  });

  it("copies of datagrams the stream had (sent no later than the last heard) skip nothing: the books stay usable", () => {
    const { bridge, nats, p, send, deliver, sent } = rig();
    const x = book(X);
    sendHeads(p, [x], send);
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, x, delta(x, 943500, 30 + i));
      send();
    }
    const gaps = bridge.counters.upstreamGaps;
    for (const d of [...sent].reverse()) deliver(d);
    p.appendHeartbeat(0);
    send();
    expect(bridge.counters.seqLinesBack).toBe(0);
    expect(bridge.counters.upstreamGaps).toBe(gaps);
    expect(nats.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(nats.book(X.instrumentId)!)).toEqual(levelsOf(x));
  });

  // s-subfwd: without a key, one datagram whose send time was forged far ahead raised the bridge's highest send time
  // for the session (Upstream.highSendUs): every real going back after it looked sent before, a copy, dropped with no
  // number skipped, and the NATS readers' books stayed usable, wrong. A send time more than sendAheadMaxMs (5 s) ahead
  // of the bridge's clock raises it to that clock plus 5 s only (`sendTimesAhead`). s-rd13e: skipped instead, a
  // publisher whose clock ran further ahead raised no mark at all, and its going back was never seen. The bridge reads
  // the real clock: the publisher an hour ahead of it (every datagram over the bound), one datagram forged days ahead,
  // the going back more than 5 s after it by the publisher's clock (the multicast subscriber's, synced with it).
  it("a publisher clock an hour ahead of the bridge's and a datagram forged days ahead: the numbering going back is still seen", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const { bridge, multicast, nats, p, send, deliver, pass } = rig(Date.now() * 1000 + 3_600_000_000);
      const x = book(X);
      const y = book(Y);
      sendHeads(p, [x, y], send);
      packBookDelta(p, y, delta(y, 943500, 30));
      send();
      const ahead = bridge.counters.sendTimesAhead;
      expect(ahead, `seed ${seed}`).toBeGreaterThan(0); // the clock's offset is visible
      packBookDelta(p, y, delta(y, 943500, 31));
      for (const d of take(p, Date.now() * 1000 + randInt(r, 2, 30) * 86_400_000_000)) deliver(d);
      expect(bridge.counters.sendTimesAhead, `seed ${seed}`).toBe(ahead + 1);
      pass(randInt(r, 5_001, 15_000) * 1000); // the multicast subscriber's mark is capped 5 s past its receipt of it
      for (let i = randInt(r, 1, 4); i > 0; i--) {
        packBookDelta(p, y, delta(y, 943500, 40 + i));
        send();
      }
      expect(nats.book(X.instrumentId)!.usable, `seed ${seed}`).toBe(true);
      const line = p.nextSeq;
      p.nextSeq = 2; // the numbering goes back: X's event wholly behind the line
      packBookDelta(p, x, delta(x, 943503, 7));
      send();
      while (p.nextSeq <= line) {
        packBookDelta(p, y, delta(y, 943500, 60 + p.nextSeq)); // past the old line: in order again, X's event lost
        send();
      }
      expect(bridge.counters.upstreamGaps, `seed ${seed}`).toBe(0); // nothing lost before the bridge: only the going back tells
      expect(bridge.counters.seqLinesBack, `seed ${seed}`).toBe(1); // before either fix: 0
      for (const sub of [multicast, nats]) expect(sub.book(X.instrumentId)!.usable, `seed ${seed}`).toBe(false); // NATS, before either fix: true
    }
  });

  it("randomized: with the numbering going back, copies sent again and refreshes, a usable book is the publisher's, through NATS as on multicast", () => {
    let natsWrong = 0;
    let multicastWrong = 0;
    let linesBack = 0;
    for (let seed = 1; seed <= 60; seed++) {
      let s = seed * 2654435761;
      const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
      const { bridge, multicast, nats, p, send, deliver, sent } = rig();
      const books = [book(X), book(Y)];
      sendHeads(p, books, send);
      for (let step = 0; step < 60; step++) {
        const r = rnd();
        const b = books[rnd() < 0.5 ? 0 : 1]!;
        let forwarded = false;
        if (r < 0.45) {
          packBookDelta(p, b, delta(b, 943490 + Math.floor(rnd() * 10), 1 + Math.floor(rnd() * 50)));
          forwarded = send();
        } else if (r < 0.55) {
          // Two events in one datagram: one partly behind the line once the numbering went back.
          for (const o of books) packBookDelta(p, o, delta(o, 943495, 1 + step));
          forwarded = send();
        } else if (r < 0.65) {
          p.appendHeartbeat(0);
          forwarded = send();
        } else if (r < 0.8) {
          forwarded = deliver(sent[Math.floor(rnd() * sent.length)]!); // a copy sent again
        } else if (r < 0.9) {
          p.nextSeq = Math.max(1, p.nextSeq - 1 - Math.floor(rnd() * 4)); // the numbering goes back
        } else {
          packInstrumentDefinition(p, new EncodedDefinition(b.instrument), true);
          packBookSnapshot(p, b, 0, true);
          forwarded = send();
        }
        for (const o of books) {
          const want = JSON.stringify(levelsOf(o));
          // The reader learns of a loss at the stream's next envelope (until then it cannot, as after any loss
          // upstream): checked once one came after what was dropped.
          const nb = nats.book(o.instrument.instrumentId);
          if (forwarded && nb?.usable && JSON.stringify(levelsOf(nb)) !== want) natsWrong++;
          const mb = multicast.book(o.instrument.instrumentId);
          if (mb?.usable && JSON.stringify(levelsOf(mb)) !== want) multicastWrong++;
        }
      }
      linesBack += bridge.counters.seqLinesBack;
    }
    expect(linesBack).toBeGreaterThan(0); // the case was reached
    // Before the fix: usable books other than the publisher's at the NATS reader; and at both once a refresh came in the
    // tail of a datagram partly behind the line and the numbering went back again (lineBack kept from the first time).
    expect([natsWrong, multicastWrong]).toEqual([0, 0]);
  });

  // s-rd8b: the bridge judged "sent later" against the last datagram heard, the rule s-rd7a had just replaced in the
  // subscriber (streams.ts highSendUs). The last heard goes back in normal operation (a publisher's clock stepped back),
  // and a network copy of a datagram sent before the step then skipped a number: every NATS reader's books of the
  // stream invalid until their refresh, for nothing, where multicast's stayed usable.
  it("a publisher clock stepped back, then a network copy of a datagram sent before the step: no number skipped, the NATS reader's book stays usable", () => {
    const { bridge, multicast, nats, p, deliver } = rig();
    const { x, head, deltas } = feed(p, (i) => T0 + [1000, 2000, 1500, 1600][i]!, 4);
    for (const d of [...head, ...deltas.slice(0, 3)]) deliver(d);
    deliver(deltas[1]!); // sent at T0+2000, after [2] (T0+1500) by the clock: the network's copy
    deliver(deltas[3]!);
    expect(bridge.counters.seqLinesBack).toBe(0); // before the fix: 1
    for (const sub of [multicast, nats]) {
      expect(sub.book(X.instrumentId)!.usable).toBe(true); // NATS, before the fix: false
      expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    }
  });

  it("the highest send time is kept with the session's line: after a late datagram of another session, a going back is still caught", () => {
    const { bridge, nats, p, deliver } = rig();
    const { head, deltas } = feed(p, (i) => T0 + [1000, 2000, 1500, 1600][i]!, 4);
    for (const d of [...head, ...deltas.slice(0, 3)]) deliver(d);
    const old = packer({ sessionId: 7, sessionStartUs: T0 - 1_000_000 }); // the run this one replaced: a late datagram
    old.appendHeartbeat(0);
    for (const d of take(old, T0 - 500_000)) deliver(d);
    deliver(deltas[1]!); // back on the line: still a copy of what it had (sent before the highest, T0+2000)
    expect(bridge.counters.seqLinesBack).toBe(0);
    // The numbering goes back, sent after every datagram of the session: caught (dropped from the saved line: not).
    p.nextSeq -= 2;
    const x = book(X);
    packBookDelta(p, x, delta(x, 943503, 7));
    for (const d of take(p, T0 + 3000)) deliver(d);
    deliver(deltas[3]!);
    expect(bridge.counters.seqLinesBack).toBe(1);
    expect(nats.book(X.instrumentId)!.usable).toBe(false);
  });

  it("randomized: network copies and reordering, clock steps back, no numbering going back: no number skipped for a copy, a usable book is the publisher's", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const count = 24;
      const stepAt = randInt(r, 0, 1) === 1 ? randInt(r, 1, count - 1) : -1;
      const stepBackUs = randInt(r, 1, 5) * 1000;
      const { bridge, multicast, nats, p, deliver } = rig();
      const { x, head, deltas } = feed(p, (i) => T0 + 1000 * (i + 1) - (stepAt >= 0 && i >= stepAt ? stepBackUs : 0), count);
      // The network: each datagram once or twice (a copy up to 3 places later). Without a clock step, the first one is
      // moved up to 2 places later too (a gap, then a late datagram): with a step, one first coming after its gap was
      // taken and sent before the step is no copy, and looks like the numbering going back (docs/wire-protocol.md §6.3).
      const arrivals = networkArrivals(r, deltas, stepAt < 0);
      for (const d of head) deliver(d);
      for (const d of arrivals) deliver(d);
      p.appendHeartbeat(0); // an envelope after everything: the reader has seen any number skipped
      for (const d of take(p, T0 + 1_000_000)) deliver(d);
      expect(bridge.counters.seqLinesBack, `seed ${seed}`).toBe(0); // before the fix: counted in 5 of the 40 seeds
      for (const sub of [multicast, nats]) {
        const sx = sub.book(X.instrumentId)!;
        if (sx.usable) expect(levelsOf(sx), `seed ${seed}`).toEqual(levelsOf(x));
      }
      // No datagram lost before the bridge: the reader's book stays usable, as multicast's.
      if (bridge.counters.upstreamGaps === 0) expect([multicast, nats].map((sub) => sub.book(X.instrumentId)!.usable), `seed ${seed}`).toEqual([true, true]);
    }
  });
});
