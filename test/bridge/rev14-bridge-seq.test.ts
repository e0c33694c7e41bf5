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
});
