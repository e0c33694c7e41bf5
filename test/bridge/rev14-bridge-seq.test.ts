/**
 * Second read of the forward bridge's loss detection (rev14). The bridge numbers what it forwards and skips a
 * number when an upstream stream's sequence has a gap, so the far side's books stop being trusted (docs/nats.md).
 * It kept the highest seqNum seen as the line: one datagram far ahead (forged, or damaged with a matching CRC)
 * moved the line there for good, every real datagram after it was "behind", and no later loss before the bridge
 * was ever seen again — a book whose last event was lost stayed usable at every NATS reader. Like a subscriber
 * (docs/wire-protocol.md §6.3), the bridge now goes back to the real line after two of its datagrams.
 * Real parts: the ForwardBridge (onDatagram; its NATS connection replaced by a recorder), the reader's repacker,
 * an unchanged FeedSubscriber.
 */
import { describe, expect, it } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";

const P = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);

function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "rev14", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

describe("rev14: the forward bridge's loss detection", () => {
  it("one datagram far ahead does not hide the losses after it", () => {
    const { bridge, published } = recordingBridge();
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    const through = (ds: Uint8Array[]) => {
      for (const d of ds) bridge.onDatagram(d);
      for (const env of published.splice(0)) rep.add(env, 0);
      take(rep.packer).forEach((d) => ingestAll(sub, [d]));
    };
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    const b = new TestBook(P);
    b.load([[15000, 10]], [[15001, 20]], 1, T0);
    const change = (px: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 99);
      b.apply(cs, b.venueSeq + 1, T0);
      packBookDelta(p, b, cs);
    };
    packInstrumentDefinition(p, new EncodedDefinition(P), false);
    packBookSnapshot(p, b, 0, false);
    through(take(p));

    // A datagram of the same stream and session whose seqNum is a billion ahead (only the seqNum is off).
    const forger = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    forger.nextSeq = 1_000_000_000;
    forger.appendHeartbeat(0);
    through(take(forger));
    // The real stream goes on; the next refresh repairs what the jump made untrusted.
    for (let i = 0; i < 3; i++) {
      change(14990 + i);
      through(take(p));
    }
    packBookSnapshot(p, b, 0, true);
    through(take(p));
    expect(sub.book(P.instrumentId)!.usable).toBe(true);
    expect(levelsOf(sub.book(P.instrumentId)!)).toEqual(levelsOf(b));

    // P's last event is lost before the bridge; the publisher's next heartbeat shows the gap.
    const gapsBefore = bridge.counters.upstreamGaps;
    change(14980);
    take(p); // lost
    p.appendHeartbeat(0);
    through(take(p));
    rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer) carries the gap
    through([]);
    expect(sub.book(P.instrumentId)!.usable).toBe(false); // it missed its last event
    expect(bridge.counters.upstreamGaps).toBe(gapsBefore + 1);
    expect(bridge.counters.seqJumpsReverted).toBe(1);
  });
  /**
   * s-rdsub8: a stream's first datagram (or its session's, its saved line dropped) is no proven line either. The
   * bridge took it as the line for good: one forged a billion ahead as the first it read of a stream (no key: at its
   * start, or after newer forged sessions pushed the live session's line out, SAVED_SESSION_LINES) made every real
   * datagram after it a duplicate, dropped: no book and no heartbeat of the live publisher reached NATS. Now, as a
   * subscriber (streams.ts continuesOldLine), two real datagrams before it undo it and the real stream is forwarded.
   */
  for (const how of ["as the first datagram of its stream", "after newer forged sessions pushed its session's line out"]) {
    it(`a datagram far ahead ${how} is undone by the real line: its data reaches the reader`, () => {
      const { bridge, published } = recordingBridge();
      const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
      const sub = newSubscriber();
      const msub = newSubscriber(); // multicast, fed the same datagrams
      const through = (ds: Uint8Array[]) => {
        for (const d of ds) bridge.onDatagram(d);
        ingestAll(msub, ds);
        for (const env of published.splice(0)) rep.add(env, 0);
        take(rep.packer).forEach((d) => ingestAll(sub, [d]));
      };
      const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
      const b = new TestBook(P);
      b.load([[15000, 10]], [[15001, 20]], 1, T0);
      if (how !== "as the first datagram of its stream") {
        p.appendHeartbeat(0);
        through(take(p));
        for (let k = 1; k <= 4; k++) {
          const other = packer({ channelId: 5, sourceId: 3, sessionId: 900 + k, sessionStartUs: T0 + k * 1_000_000 });
          other.appendHeartbeat(0);
          through(take(other));
        }
      }
      const forger = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
      forger.nextSeq = 1_000_000_000;
      forger.appendHeartbeat(0);
      through(take(forger));
      const publishedBefore = bridge.counters.published;
      packInstrumentDefinition(p, new EncodedDefinition(P), false);
      packBookSnapshot(p, b, 0, false);
      through(take(p));
      for (let i = 0; i < 2; i++) {
        p.appendHeartbeat(0);
        through(take(p, T0 + (i + 1) * 1_000_000));
      }
      const cs = new ChangeSet();
      cs.addBid(14990, 99);
      b.apply(cs, b.venueSeq + 1, T0);
      packBookDelta(p, b, cs);
      through(take(p, T0 + 3_000_000));
      packInstrumentDefinition(p, new EncodedDefinition(P), true);
      packBookSnapshot(p, b, 0, true); // the refresh repairs what the undone line made untrusted
      through(take(p, T0 + 4_000_000));
      expect(bridge.counters.seqJumpsReverted).toBe(1);
      expect(bridge.counters.published - publishedBefore).toBeGreaterThanOrEqual(4); // old: 0 (every one a duplicate)
      expect(msub.book(P.instrumentId)!.usable).toBe(true);
      expect(sub.book(P.instrumentId)?.usable).toBe(true);
      expect(levelsOf(sub.book(P.instrumentId)!)).toEqual(levelsOf(b));
    });
  }
});
