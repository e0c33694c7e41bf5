/**
 * Second read of the NATS reader (rev14): the reader's own sessions. Every upstream publisher restart starts a new
 * session of the repacked stream, and subscribers order sessions by (sessionStart, sessionId) (docs/wire-protocol.md
 * §3.4). The repacker took its session start from Date.now() (millisecond steps) and a random id: a session started
 * in the same millisecond as the one before (a JetStream replay of history holding publisher restarts runs through
 * them in one burst; two sources restarting together) was ordered by the random ids alone, so half the time the
 * NEW session was the "older" one: subscribers dropped all of it as a superseded session's datagrams and kept
 * showing the dead publisher's books usable, until staleness. Real parts: the ForwardBridge's numbering
 * (onDatagram, its NATS connection replaced by a recorder), the reader's repacker, an unchanged FeedSubscriber.
 * Date.now and Math.random are pinned to make the same-millisecond, descending-id case certain.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function book(px: number): TestBook {
  const b = new TestBook(X);
  b.load([[px, 10]], [[px + 1, 20]], 1, T0);
  return b;
}

/** A forward bridge whose NATS publishes are collected (what a reader would receive, in order). */
function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "rev14", log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

/** What NatsFeedReader.flush does: the replaced session's datagrams first, then the current packer's. */
function drain(rep: EnvelopeRepacker): Uint8Array[] {
  const out: Uint8Array[] = [];
  const old: ChannelPacker | undefined = rep.pendingOld;
  rep.pendingOld = undefined;
  if (old !== undefined) out.push(...take(old));
  out.push(...take(rep.packer));
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe("rev14: the NATS reader's own sessions", () => {
  it("a repacked session started in the same millisecond as the one before is still the newer one for subscribers", () => {
    vi.spyOn(Date, "now").mockReturnValue(1_764_000_000_000);
    let r = 0.9;
    vi.spyOn(Math, "random").mockImplementation(() => (r = Math.max(0.001, r - 0.1))); // each session id lower
    const { bridge, published } = recordingBridge();
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    const feed = (p: ChannelPacker) => {
      for (const d of take(p)) bridge.onDatagram(d);
      for (const env of published.splice(0)) rep.add(env, Date.now());
      ingestAll(sub, drain(rep));
    };

    // Session A of the upstream publisher: the book, then a few heartbeats (the reader's session is confirmed).
    const a = packer({ sessionId: 500, sessionStartUs: T0 });
    packInstrumentDefinition(a, new EncodedDefinition(X), false);
    packBookSnapshot(a, book(943500), 0, false);
    feed(a);
    for (let i = 0; i < 3; i++) {
      rep.packer.appendHeartbeat(0);
      ingestAll(sub, drain(rep));
    }
    expect(sub.book(X.instrumentId)!.usable).toBe(true);

    // The publisher restarts (later start, new id): its new book must replace the dead one's.
    const b = packer({ sessionId: 501, sessionStartUs: T0 + 60_000_000 });
    const newX = book(944000);
    packInstrumentDefinition(b, new EncodedDefinition(X), false);
    packBookSnapshot(b, newX, 0, false);
    feed(b);
    expect(rep.counters.sessions).toBe(2);
    expect(sub.counters.oldSessionDatagrams).toBe(0);
    const sb = sub.book(X.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(newX));
    expect(sb.usable).toBe(true);

    // And once more (a replay of history runs through every restart it holds in one burst).
    const c = packer({ sessionId: 502, sessionStartUs: T0 + 120_000_000 });
    const thirdX = book(945000);
    packInstrumentDefinition(c, new EncodedDefinition(X), false);
    packBookSnapshot(c, thirdX, 0, false);
    feed(c);
    expect(sub.counters.oldSessionDatagrams).toBe(0);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(thirdX));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
  });

  it("one datagram of a bogus newer upstream session does not make the reader refuse the real one for good", () => {
    // A subscriber undoes a newer session that two datagrams of the replaced one contradict (wire-protocol §6.4);
    // the reader refused every envelope of a session older than the newest one seen, so one forged datagram (or
    // one damaged with a matching CRC) with a session start in the future froze the source at every NATS reader.
    const { bridge, published } = recordingBridge();
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    let sendUs = T0;
    const feed = (p: ChannelPacker) => {
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
      for (const env of published.splice(0)) rep.add(env, Date.now());
      ingestAll(sub, drain(rep));
    };
    const a = packer({ sessionId: 500, sessionStartUs: T0 });
    const x = book(943500);
    packInstrumentDefinition(a, new EncodedDefinition(X), false);
    packBookSnapshot(a, x, 0, false);
    feed(a);
    a.appendHeartbeat(0);
    feed(a);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);

    const forger = packer({ sessionId: 1, sessionStartUs: T0 + 3_600_000_000 }); // same source, "newer"
    packBookSnapshot(forger, book(100), 0, false);
    feed(forger);

    // The real session goes on: its next refreshes must reach the subscriber.
    for (let i = 0; i < 3; i++) {
      x.load([[943600 + i, 10]], [[943700, 20]], 2 + i, T0);
      packInstrumentDefinition(a, new EncodedDefinition(X), true);
      packBookSnapshot(a, x, 0, true);
      feed(a);
    }
    const sb = sub.book(X.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(x));
    expect(sb.usable).toBe(true);
    expect(rep.counters.sessionsReverted).toBe(1);
  });
});
