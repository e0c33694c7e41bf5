/**
 * A reader that switched from a lagging bridge to the other one (rev24). The switch is a gap, and the books are
 * rebuilt from their refresh; the bridge left behind is alive, only late, and its copies keep coming (dropped).
 * Before, the first of them was reported as a new "second bridge" (a warning that two bridges forward the stream,
 * known since the first one) and made one more gap at once, as if it could be a restart: the books rebuilt after
 * the switch became untrusted again until the next refresh, at every switch. Now the bridge left behind is known:
 * its copies are dropped and counted, no event, no gap. Real parts: ForwardBridge.onDatagram (its client a
 * recorder), EnvelopeRepacker, an unchanged subscriber fed the repacked datagrams.
 */
import { describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker, type BridgeEvent } from "../../src/subscriber/nats-envelope.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

/** A ForwardBridge whose NATS connection is a recorder (its onDatagram as is). */
function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "rev24f", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

describe("a reader that switched away from a lagging bridge", () => {
  test("the late copies of the bridge left behind are dropped: no new report, no new gap", () => {
    const a = recordingBridge();
    const b = recordingBridge();
    const events: BridgeEvent[] = [];
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, onBridgeEvent: (e) => events.push(e) });
    const sub = newSubscriber();
    const deliver = (envs: Uint8Array[]) => {
      for (const env of envs) rep.add(env, 0);
      rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer)
      ingestAll(sub, take(rep.packer));
    };
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    let sendUs = T0;
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    const both = (stepUs: number) => {
      for (const d of take(p, (sendUs += stepUs))) {
        a.bridge.onDatagram(d);
        b.bridge.onDatagram(d);
      }
    };
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    both(1000);
    deliver(a.published.splice(0)); // a first: followed
    deliver(b.published.splice(0)); // b reported: a gap at once (it could be a's restart)
    packBookSnapshot(p, x, 0, true);
    both(1000);
    deliver(a.published.splice(0));
    deliver(b.published.splice(0));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(["second_bridge"]);

    // a is held up (its copies come later): once b brought 5 s of upstream time without a (FAILOVER_MIN_MS; 60 deltas
    // 100 ms apart), the reader switches to b (a gap) and X is rebuilt from the refresh that b brings.
    for (let i = 0; i < 60; i++) {
      const cs = new ChangeSet();
      cs.addBid(943490 - i, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
      both(100_000);
    }
    packBookSnapshot(p, x, 0, true);
    both(1000);
    deliver(b.published.splice(0));
    expect(events.map((e) => e.kind)).toEqual(["second_bridge", "failover"]);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    const gaps = sub.counters.gaps;

    // a's late copies of the same datagrams arrive: dropped, counted, nothing else.
    const otherBefore = rep.counters.otherBridge;
    deliver(a.published.splice(0));
    expect(rep.counters.otherBridge).toBeGreaterThan(otherBefore);
    expect(events.map((e) => e.kind)).toEqual(["second_bridge", "failover"]);
    expect(sub.counters.gaps).toBe(gaps);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
  });
});

/**
 * A switch only when the followed bridge is gone (s-natsfo). Before, the other bridge's send time leading the
 * followed one's last by 3 upstream heartbeat intervals switched the stream, a gap each time (books untrusted until
 * their refresh): a followed bridge held up for 300 ms (100 ms heartbeats) lost it, and so did one envelope whose
 * send time was far off: another bridge's forged one an hour ahead, the copy of a publisher's clock stepped forward
 * that came through the other bridge first, or a followed bridge's damaged one far behind.
 */
describe("failover hysteresis: a switch only when the followed bridge is gone", () => {
  function twoBridges(replay = true) {
    const a = recordingBridge();
    const b = recordingBridge();
    const events: BridgeEvent[] = [];
    // The reader's clock stands still here: a replay (the reader's NATS source says so), unless told otherwise.
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, onBridgeEvent: (e) => events.push(e), replay });
    const sub = newSubscriber();
    const deliver = (envs: Uint8Array[]) => {
      for (const env of envs) rep.add(env, 0);
      rep.packer.appendHeartbeat(0);
      ingestAll(sub, take(rep.packer));
    };
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    let sendUs = T0;
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    const seal = (stepUs: number) => take(p, (sendUs += stepUs));
    const both = (stepUs: number) => {
      for (const d of seal(stepUs)) {
        a.bridge.onDatagram(d);
        b.bridge.onDatagram(d);
      }
    };
    const change = (px: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
    };
    // a followed, b reported (a gap), X rebuilt from a refresh: usable.
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    both(1000);
    deliver(a.published.splice(0));
    deliver(b.published.splice(0));
    packBookSnapshot(p, x, 0, true);
    both(1000);
    deliver(a.published.splice(0));
    deliver(b.published.splice(0));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    return { a, b, rep, sub, deliver, p, x, both, seal, change, events, gaps: sub.counters.gaps };
  }

  test("a followed bridge held up for a second (10 heartbeat intervals) keeps the stream: no switch", () => {
    const t = twoBridges();
    for (let i = 0; i < 10; i++) {
      t.change(943490 - i);
      t.both(100_000);
    }
    t.deliver(t.b.published.splice(0)); // b's copies first: a is held up (a GC pause, a loaded host)
    t.deliver(t.a.published.splice(0)); // then a's, all of them: nothing was lost
    expect(t.events.map((e) => e.kind)).toEqual(["second_bridge"]);
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    // The reader's clock stands still (as in a replay of the stream): meanwhile a may have been gone, its books
    // differing, so that silence was a gap (live, the reader's clock makes them stale instead:
    // failover-hysteresis.test.ts). The refresh makes X usable again, from a's numbering still.
    expect(t.rep.counters.streamsSilent).toBe(1);
    expect(t.sub.counters.gaps).toBe(t.gaps + 1);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(false);
    packBookSnapshot(t.p, t.x, 0, true);
    t.both(1000);
    t.b.published.length = 0;
    t.deliver(t.a.published.splice(0));
    expect(t.rep.followedBridge(3, 7)).toBe(t.a.bridge.bridgeId);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(t.sub.book(X.instrumentId)!)).toEqual(levelsOf(t.x));
  });

  test("a live reader: the same burst (its thread held up while a was) is no gap; X stays usable at a's levels", () => {
    // Live, envelopes come faster than real time only after a stall of the reader's thread (or of delivery): the
    // envelopes that came meanwhile are taken at once, b's before a's. Before, b's second of upstream time read as
    // a replay over a gone bridge: a gap, every book untrusted until its refresh, though a lost nothing.
    const t = twoBridges(false);
    for (let i = 0; i < 10; i++) {
      t.change(943490 - i);
      t.both(100_000);
    }
    t.deliver(t.b.published.splice(0));
    t.deliver(t.a.published.splice(0));
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    expect(t.rep.counters.streamsSilent).toBe(0);
    expect(t.rep.counters.upstreamGaps).toBe(0);
    expect(t.sub.counters.gaps).toBe(t.gaps);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(t.sub.book(X.instrumentId)!)).toEqual(levelsOf(t.x));
  });

  test("another bridge's envelope with a send time an hour ahead (forged) switches nothing", () => {
    const t = twoBridges();
    t.change(943490);
    const [d] = t.seal(1000);
    const forged = new Uint8Array(d!);
    new DataView(forged.buffer).setBigInt64(24, BigInt(T0 + 3_600_000_000) * 1000n, true); // send time +1 h (the CRC is not checked for it)
    t.b.bridge.onDatagram(d!);
    t.a.bridge.onDatagram(d!);
    const env = t.b.published.splice(0)[0]!;
    new DataView(env.buffer, env.byteOffset).setBigInt64(24, BigInt(T0 + 3_600_000_000) * 1000n, true);
    t.deliver([env]);
    t.deliver(t.a.published.splice(0));
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    expect(t.rep.followedBridge(3, 7)).toBe(t.a.bridge.bridgeId);
    expect(t.sub.counters.gaps).toBe(t.gaps);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(t.sub.book(X.instrumentId)!)).toEqual(levelsOf(t.x));
  });

  test("a publisher's clock stepped an hour forward, seen first through the other bridge, switches nothing", () => {
    const t = twoBridges();
    t.change(943490);
    t.both(3_600_000_000); // the next datagrams are sent an hour later by the publisher's clock
    t.change(943489);
    t.both(1000);
    t.deliver(t.b.published.splice(0)); // b's copies of both first
    t.deliver(t.a.published.splice(0));
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    expect(t.sub.counters.gaps).toBe(t.gaps);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(t.sub.book(X.instrumentId)!)).toEqual(levelsOf(t.x));
  });

  test("a followed bridge's envelope with a send time an hour behind (damaged) switches nothing", () => {
    const t = twoBridges();
    t.change(943490);
    t.both(1000);
    const env = t.a.published.splice(0)[0]!;
    new DataView(env.buffer, env.byteOffset).setBigInt64(24, BigInt(T0 - 3_600_000_000) * 1000n, true);
    t.deliver([env]);
    t.b.published.length = 0;
    t.change(943489);
    t.both(1000);
    t.deliver(t.b.published.splice(0)); // b's copy of the next one first
    t.deliver(t.a.published.splice(0));
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    expect(t.sub.counters.gaps).toBe(t.gaps);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(t.sub.book(X.instrumentId)!)).toEqual(levelsOf(t.x));
  });

  test("a followed bridge that is gone: the switch after 5 s of the other's upstream time, with a gap", () => {
    const t = twoBridges();
    for (let i = 0; i < 49; i++) {
      t.change(943490 - i);
      t.both(100_000);
    }
    t.a.published.length = 0; // a is gone
    t.deliver(t.b.published.splice(0)); // 4.8 s of b's upstream time since a's last: not yet
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    t.change(943400);
    t.both(300_000);
    t.a.published.length = 0;
    t.deliver(t.b.published.splice(0));
    expect(t.rep.counters.bridgeFailovers).toBe(1);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(false);
  });

  test("a replay over a followed bridge gone: its books are not usable once the other brought more than the stream's silence, long before the switch", () => {
    // The reader's clock stands still here (a replay of the stream: its envelopes come faster than real time), so
    // only the upstream time the other bridge brings can tell the followed one silent. Before, X stayed usable, with
    // b's deltas dropped, until the switch 5 s of history later (300 ms before s-natsfo).
    const t = twoBridges();
    for (let i = 0; i < 8; i++) {
      t.change(943490 - i);
      t.both(100_000);
    }
    t.a.published.length = 0; // a is gone
    t.deliver(t.b.published.splice(0)); // 0.8 s of b's upstream time since a's last: over 3 × 200 ms
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    expect(t.rep.counters.streamsSilent).toBe(1);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(false);
  });

  test("a followed bridge's envelope with a forward number far ahead (forged) is a gap, hides no later loss", () => {
    const t = twoBridges();
    t.change(943490);
    t.both(1000);
    t.b.published.length = 0;
    const env = t.a.published.splice(0)[0]!;
    const forged = new Uint8Array(env);
    const dv = new DataView(forged.buffer);
    // 10 000 ahead in the whole 46-bit number (low 15 bits at 14, high bits at 36): the low part alone wrapped,
    // from a bridge's random start above 22 767, to a number behind (refused as repeated: no gap, a third of runs).
    const ahead = ((dv.getUint32(36, true) & 0x7fff_ffff) * 0x8000 + (dv.getUint16(14, true) & 0x7fff)) + 10_000;
    dv.setUint16(14, 0x8000 | (ahead % 0x8000), true);
    dv.setUint32(36, (0x8000_0000 | Math.floor(ahead / 0x8000)) >>> 0, true);
    t.deliver([forged]);
    expect(t.sub.book(X.instrumentId)!.usable).toBe(false); // what it claims skipped is unknown: a gap
    t.deliver([env]);
    expect(t.rep.counters.bridgeFailovers).toBe(0);
    packBookSnapshot(t.p, t.x, 0, true);
    t.both(1000);
    t.b.published.length = 0;
    t.deliver(t.a.published.splice(0));
    expect(t.sub.book(X.instrumentId)!.usable).toBe(true);
    // The line follows the real numbering again: a message lost in NATS afterwards is a gap.
    t.change(943480);
    t.both(1000);
    t.a.published.length = 0; // lost
    t.change(943479);
    t.both(1000);
    t.b.published.length = 0;
    t.deliver(t.a.published.splice(0));
    expect(t.sub.book(X.instrumentId)!.usable).toBe(false);
  });
});

describe("which NATS reader is a replay", () => {
  test("a JetStream reader from its start or a time; a live one (core subjects, or JetStream from now) is not", () => {
    const replay = (o: Partial<ConstructorParameters<typeof NatsFeedReader>[0]>) =>
      (new NatsFeedReader({ servers: "nats://127.0.0.1:1", ...o }, () => undefined).repacker as unknown as { opts: { replay?: boolean } }).opts.replay;
    expect(replay({})).toBe(false);
    expect(replay({ stream: "s" })).toBe(false);
    expect(replay({ stream: "s", from: "now" })).toBe(false);
    expect(replay({ stream: "s", from: "all" })).toBe(true);
    expect(replay({ stream: "s", from: new Date(0) })).toBe(true);
  });
});
