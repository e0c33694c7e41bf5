/**
 * The bridge forwarded every datagram that verified, duplicates included, each under a fresh forward number, so the
 * far side could not tell a copy from news: a copy of a stream's snapshot datagram arriving after a later delta
 * (the network duplicating a datagram, or someone on the segment sending a recorded signed one again) reached the
 * reader's stream in order, and its subscriber, seeing the instrument's instrSeq go back on the stream that set it,
 * took the newer event for bogus and rebuilt the book from the old snapshot: usable, without the delta. A multicast
 * subscriber drops such a datagram by its channel seqNum (docs/wire-protocol.md §6.3); the bridge now does too
 * (`duplicates`; a heartbeat, which carries the next seqNum, still goes). Real parts: the ForwardBridge (its NATS
 * client a recorder), the EnvelopeRepacker and an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { RecordedBridge } from "./recorded-bridge.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

let bridge: RecordedBridge;
let sub: FeedSubscriber;
const repacker = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });

/** The reader: envelopes in, its datagrams (and its own heartbeat) to the subscriber. */
function deliverPublished(): void {
  for (const e of bridge.client.published.splice(0)) repacker.add(e, 1000);
  repacker.packer.appendHeartbeat(0);
  for (const d of take(repacker.packer, T0 + 10)) sub.ingest(d, T0 + 50);
}

beforeAll(async () => {
  bridge = new RecordedBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "dup", log: silentLogger });
  await bridge.start();
  sub = newSubscriber();
});

afterAll(() => bridge.stop());

describe("the bridge and a duplicated datagram", () => {
  test("a copy of the snapshot datagram after a later delta does not roll the far side's book back", () => {
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 60_000 });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    const first = take(p, T0 + 1000);
    for (const d of first) bridge.onDatagram(d);
    deliverPublished();
    expect(sub.book(X.instrumentId)?.usable).toBe(true);

    const cs = new ChangeSet();
    cs.addBid(943499, 7);
    x.apply(cs, 2, T0);
    packBookDelta(p, x, cs);
    for (const d of take(p, T0 + 2000)) bridge.onDatagram(d);
    deliverPublished();
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));

    // The snapshot's datagram again (a duplicate on the network, or a recorded one sent again).
    for (const d of first) bridge.onDatagram(d.slice());
    deliverPublished();
    const book = sub.book(X.instrumentId)!;
    expect(levelsOf(book)).toEqual(levelsOf(x)); // before: the snapshot's levels, without the delta, usable
    expect(book.usable).toBe(true);
    expect(bridge.counters.duplicates).toBe(1);
  });

  // rev54 guard: a restarted publisher's new session starts its sequence again, below the bridge's nextSeq for the
  // stream: it is news, not a copy (the session is compared first), and reaches the far side.
  test("a restarted publisher's datagrams (sequence from the start again) are forwarded, not dropped as behind", () => {
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 501, sessionStartUs: T0 + 5_000_000, heartbeatIntervalMs: 60_000 });
    const x = new TestBook(X);
    x.load([[943600, 11]], [[943601, 21]], 1, T0 + 5_000_000);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    const before = bridge.counters.published;
    for (const d of take(p, T0 + 6_000_000)) bridge.onDatagram(d);
    expect(bridge.counters.duplicates).toBe(1); // the first test's copy only
    expect(bridge.counters.published).toBe(before + 2);
    deliverPublished();
    const book = sub.book(X.instrumentId)!;
    expect(levelsOf(book)).toEqual(levelsOf(x));
    expect(book.usable).toBe(true);
  });

  // A heartbeat carries no message: behind the line (its seqNum below the stream's next) it is an earlier line's,
  // replayed (no key needed) or late. Before, it was forwarded at the next forward number like a live one: the
  // reader, with no upstream sequence number to place it by, could not tell it from its publisher now.
  test("a heartbeat behind the line is dropped as a copy, and one at the line sent within what it brought; a later one goes", () => {
    const p = packer({ channelId: 4, sourceId: 9, sessionId: 600, sessionStartUs: T0, heartbeatIntervalMs: 60_000 });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    p.appendHeartbeat(0);
    const [early] = take(p, T0 + 500); // at the line before the snapshot
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    const data = take(p, T0 + 1000);
    p.appendHeartbeat(0);
    const [late] = take(p, T0 + 2000); // at the line after it
    const dupBefore = bridge.counters.duplicates;
    const beatsBefore = bridge.counters.heartbeats;
    for (const d of [early!, ...data, late!]) bridge.onDatagram(d);
    expect([bridge.counters.duplicates - dupBefore, bridge.counters.heartbeats - beatsBefore]).toEqual([0, 2]);
    bridge.client.published.splice(0);
    bridge.onDatagram(early!.slice()); // before: published, counted in heartbeats
    // At the line but sent within what it brought: a copy, dropped too (s-subst; before, it went and the reader told
    // it by its send time, except after a gap of the reader's: then it passed as news).
    bridge.onDatagram(late!.slice());
    p.appendHeartbeat(0);
    const [later] = take(p, T0 + 3000);
    bridge.onDatagram(later!); // at the line, sent later: goes
    expect([bridge.counters.duplicates - dupBefore, bridge.counters.heartbeats - beatsBefore, bridge.client.published.length]).toEqual([2, 3, 1]);
  });
});
