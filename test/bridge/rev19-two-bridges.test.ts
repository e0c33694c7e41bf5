/**
 * Two `to-nats` bridges on one prefix (rev19): two hosts bridging the same feed for redundancy, or a mistake. Each
 * numbers every upstream stream from its own random start, and the reader followed one numbering per stream: the
 * two interleaved read as a loss at nearly every envelope (the books kept going unusable while both ran), and when
 * the numbers happened to line up, one bridge's envelope continued the other's line and a loss on that bridge
 * went unseen. Now each envelope names its bridge; the reader follows one bridge per stream, drops the other's
 * copies (counted, reported once) and switches to it, with a gap, when the followed one goes silent.
 * Real parts: nats-server, two ForwardBridges on one loopback multicast group (TTL 1), the reader (attachNats)
 * feeding an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { BridgeEvent, FeedSubscriber, NatsFeedReader } from "../../src/subscriber/index.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { natsServerMissing } from "./nats-server.ts";
import { ReaderRig } from "./reader-rig.ts";

const missing = natsServerMissing();
const PREFIX = "rev19";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
const G = uniqueDestination(119);
const HEARTBEAT_MS = 100;

const events: BridgeEvent[] = [];
const rig = new ReaderRig({ prefix: PREFIX, groups: [G], bridges: 2, onBridgeEvent: (e) => events.push(e) });
const bridges = rig.bridges;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
const send = (p: ChannelPacker, stepUs = 10_000) => rig.send(p, G, stepUs);

beforeAll(async () => {
  if (missing) return;
  await rig.start();
  ({ sub, reader } = rig);
}, 30_000);

afterAll(() => rig.stop());

describe.skipIf(missing !== undefined)(`two bridges on one prefix${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("the reader follows one bridge, reports the other, and switches to it with a gap when the first goes silent", async () => {
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: HEARTBEAT_MS });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    const change = (px: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
    };
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    await send(p);
    const c = () => reader.counters;
    const copies = () => c().messages + (c().otherBridge ?? 0); // (before the fix: no otherBridge, every copy taken)
    await waitFor(() => copies() >= 2 * 2, "both bridges' copies reached the reader");
    // The second bridge's first envelope is a gap (it could be the restart of the followed one, which may have lost
    // something on its way out): X is rebuilt from the refresh.
    packBookSnapshot(p, x, 0, true);
    await send(p);
    await waitFor(() => copies() >= 2 * 3, "both bridges' copies of the refresh reached the reader");
    // That gap reaches the subscriber with the reader's next datagram, flushed after the envelopes were counted
    // (setImmediate): X was usable before it, so waiting for X alone read the count before the gap came.
    await waitFor(() => sub.counters.gaps >= 1, "the second bridge's gap at the subscriber");
    await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable");
    const gaps = sub.counters.gaps;

    // Both bridges forward every delta: one copy of each is taken, the other dropped, and nothing reads as a loss.
    for (let i = 0; i < 10; i++) {
      change(943490 - i);
      await send(p);
    }
    await waitFor(() => copies() >= 2 * 13, "both bridges' copies of every delta reached the reader");
    await waitFor(() => sub.book(X.instrumentId)!.instrSeq === x.instrSeq, "X at the last delta");
    expect(c().upstreamGaps).toBe(0);
    expect(c().messages).toBe(13);
    expect(c().otherBridge).toBe(13);
    expect(sub.counters.gaps).toBe(gaps);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    const ids = bridges.map((b) => b.bridgeId);
    const followed = reader.repacker.followedBridge(3, 7)!;
    expect(ids).toContain(followed);
    const other = ids.find((id) => id !== followed)!;
    expect(events).toEqual([{ kind: "second_bridge", channelId: 3, sourceId: 7, followed, other }]);

    // The followed bridge stops: the other one's copies are taken once they brought 5 s of upstream time since the
    // stopped one's last (FAILOVER_MIN_MS; 60 datagrams 100 ms apart); what the stopped one did not forward is
    // unknown, so the book is untrusted until the next refresh.
    await bridges.find((b) => b.bridgeId === followed)!.stop();
    for (let i = 0; i < 60; i++) {
      change(943480 - i);
      await send(p, HEARTBEAT_MS * 1000);
    }
    await waitFor(() => c().bridgeFailovers === 1, "the reader switched to the other bridge");
    expect(events[1]).toEqual({ kind: "failover", channelId: 3, sourceId: 7, followed, other });
    expect(reader.repacker.followedBridge(3, 7)).toBe(other);
    await waitFor(() => sub.book(X.instrumentId)!.usable === false, "X untrusted after the switch");
    packBookSnapshot(p, x, 0, true);
    await send(p);
    await waitFor(() => sub.book(X.instrumentId)!.usable && sub.book(X.instrumentId)!.instrSeq === x.instrSeq, "X usable at the refresh");
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
  });
});

/** The reader's side without NATS: a repacker whose datagrams `deliver` hands to a subscriber. */
function farSide() {
  const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
  const sub = newSubscriber();
  const deliver = (envs: Uint8Array[]) => {
    for (const env of envs) rep.add(env, 0);
    ingestAll(sub, take(rep.packer));
  };
  return { rep, sub, deliver };
}

/** A ForwardBridge whose NATS connection is a recorder (its onDatagram as is). */
function recordingBridge(): { bridge: ForwardBridge; published: Uint8Array[] } {
  const bridge = new ForwardBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: PREFIX, log: silentLogger });
  const published: Uint8Array[] = [];
  (bridge as unknown as { nc: unknown }).nc = { publish: (_s: string, d: Uint8Array) => published.push(d), flush: async () => {}, close: async () => {} };
  return { bridge, published };
}

describe("two bridges on one prefix: numberings that line up", () => {
  test("one bridge's envelope does not continue the other's line over a loss", () => {
    const a = recordingBridge();
    const b = recordingBridge();
    const { rep, sub, deliver } = farSide();
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0 });
    const x = new TestBook(X);
    const y = new TestBook(Y);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    y.load([[250000, 10]], [[250001, 20]], 1, T0);
    const change = (book: TestBook, px: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 7);
      book.apply(cs, book.venueSeq + 1, T0);
      packBookDelta(p, book, cs);
      return take(p)[0]!;
    };
    for (const book of [x, y]) {
      packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
      packBookSnapshot(p, book, 0, false);
    }
    for (const d of take(p)) {
      a.bridge.onDatagram(d);
      b.bridge.onDatagram(d);
    }
    deliver(a.published.splice(0));
    b.published.length = 0;
    expect(sub.book(Y.instrumentId)!.usable).toBe(true);
    // Bridge b's numbering of the stream happens to run one ahead of a's (each starts at random: 1 in 32768).
    const lines = (br: ForwardBridge) => (br as unknown as { upstream: Map<number, { forward: number }> }).upstream.get((3 << 16) | 7)!;
    lines(b.bridge).forward = (lines(a.bridge).forward + 1) & 0x7fff;

    const d1 = change(x, 943490);
    change(y, 249990); // Y's last event: lost before bridge a, which skips a number for it
    const d3 = change(x, 943480);
    a.bridge.onDatagram(d1);
    b.bridge.onDatagram(d1); // bridge b forwards d1, then stops
    a.bridge.onDatagram(d3);
    expect(a.bridge.counters.upstreamGaps).toBe(1);
    deliver([a.published[0]!, b.published[0]!, a.published[1]!]);
    rep.packer.appendHeartbeat(0); // the reader's own heartbeat (NatsFeedReader's timer)
    deliver([]);
    // Before: b's copy of d1 took the number a skipped, so a's next envelope looked in line: Y stayed usable with
    // the levels before its lost event.
    expect(sub.book(Y.instrumentId)!.usable).toBe(false);
    expect(rep.counters.otherBridge).toBe(1);
  });
});

describe("a restarted bridge", () => {
  test("its first envelope is a gap at once, before the reader switches to it", () => {
    const a = recordingBridge();
    const { rep, sub, deliver } = farSide();
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0 });
    const y = new TestBook(Y);
    y.load([[250000, 10]], [[250001, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(Y), false);
    packBookSnapshot(p, y, 0, false);
    for (const d of take(p, T0)) a.bridge.onDatagram(d);
    deliver(a.published.splice(0));
    expect(sub.book(Y.instrumentId)!.usable).toBe(true);
    // A quick restart (100 ms of upstream time, less than 3 heartbeat intervals): Y's event went by meanwhile.
    const cs = new ChangeSet();
    cs.addBid(249990, 7);
    y.apply(cs, 2, T0);
    packBookDelta(p, y, cs);
    take(p, T0 + 50_000); // lost: no bridge ran
    const a2 = recordingBridge();
    p.appendHeartbeat(0);
    for (const d of take(p, T0 + 100_000)) a2.bridge.onDatagram(d);
    deliver(a2.published.splice(0));
    rep.packer.appendHeartbeat(0);
    deliver([]);
    expect(rep.counters.bridgeFailovers).toBe(0);
    expect(sub.book(Y.instrumentId)!.usable).toBe(false);
  });

  test("whose random start happens to continue the old numbering is still a gap at the reader", () => {
    const a = recordingBridge();
    const { rep, sub, deliver } = farSide();
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0 });
    let sendUs = T0;
    const x = new TestBook(X);
    const y = new TestBook(Y);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    y.load([[250000, 10]], [[250001, 20]], 1, T0);
    const change = (book: TestBook, px: number, stepUs: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 7);
      book.apply(cs, book.venueSeq + 1, T0);
      packBookDelta(p, book, cs);
      return take(p, (sendUs += stepUs))[0]!;
    };
    for (const book of [x, y]) {
      packInstrumentDefinition(p, new EncodedDefinition(book.instrument), false);
      packBookSnapshot(p, book, 0, false);
    }
    for (const d of take(p, sendUs)) a.bridge.onDatagram(d);
    deliver(a.published.splice(0));
    expect(sub.book(Y.instrumentId)!.usable).toBe(true);
    const next = (a.bridge as unknown as { upstream: Map<number, { forward: number }> }).upstream.get((3 << 16) | 7)!.forward;

    // The bridge stops; Y's last event goes by while none runs; a new bridge process starts and its random start
    // for the stream is the number the reader expects next (1 in 32768).
    change(y, 249990, 1000);
    const a2 = recordingBridge();
    p.appendHeartbeat(0);
    a2.bridge.onDatagram(take(p, (sendUs += 5_000_000))[0]!); // the new bridge's first datagram: a heartbeat
    (a2.bridge as unknown as { upstream: Map<number, { forward: number }> }).upstream.get((3 << 16) | 7)!.forward = next;
    a2.published.length = 0;
    // It forwards an instrument once the refresh brings its definition: X's first, then an event of X.
    packInstrumentDefinition(p, new EncodedDefinition(X), true);
    for (const d of take(p, (sendUs += 1000))) a2.bridge.onDatagram(d);
    a2.bridge.onDatagram(change(x, 943480, 1000));
    expect(a2.published.length).toBe(2);
    deliver(a2.published.splice(0));
    rep.packer.appendHeartbeat(0);
    deliver([]);
    // Before: the new bridge's first envelope carried the number expected next: no gap, Y usable without its last
    // event until its own refresh.
    expect(sub.book(Y.instrumentId)!.usable).toBe(false);
    // The switch comes once the new bridge brought 5 s of upstream time (FAILOVER_MIN_MS) with the old one silent.
    expect(rep.counters.bridgeFailovers).toBe(0);
    for (let i = 0; i < 60; i++) {
      p.appendHeartbeat(0);
      a2.bridge.onDatagram(take(p, (sendUs += 100_000))[0]!);
    }
    deliver(a2.published.splice(0));
    expect(rep.counters.bridgeFailovers).toBe(1);
  });
});
