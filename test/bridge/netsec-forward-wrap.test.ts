/**
 * The bridge numbered each upstream stream's envelopes mod 2^15 (`forwardSeq`), and a reader saw a loss only as a
 * number other than the next: a loss of exactly 32 768 numbers (or a multiple) came back to the number expected and
 * was no gap. The bridge skips a number per datagram it drops while NATS is down or slow, so an outage of 32 768
 * datagrams (~1.6 s of a 20 000 datagram/s feed, shorter than the reader's silence window of 3 upstream heartbeat
 * intervals) left a book whose last event went by meanwhile usable, and wrong. Copies of envelopes the reader
 * already had (published again by someone who recorded the subjects, or delivered twice) were a gap and then taken
 * in, a replayed snapshot shown usable until the next envelope. Envelopes now carry the number's high bits (46 in
 * all, `forwardSeqHigh`): no loss comes back around, and a number behind the one expected is a copy, refused
 * (`refused.repeated`). Real parts: the ForwardBridge (its NATS client a recorder that can be disconnected, as
 * rev19-nats-backlog reads it), the EnvelopeRepacker and an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { newSubscriber, packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { RecordedBridge } from "./recorded-bridge.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

let bridge: RecordedBridge;
let sub: FeedSubscriber;
const repacker = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
let sendUs = T0;

/**
 * What the reader does with envelopes (NatsFeedReader: add, then seal and hand over the packers' datagrams), and its
 * own heartbeat after them (its timer's, while upstream is alive): a gap shows in the next datagram of its stream.
 */
function deliver(envelopes: Uint8Array[]): void {
  for (const e of envelopes) repacker.add(e, 1000);
  repacker.packer.appendHeartbeat(0);
  for (const p of [repacker.pendingOld, repacker.packer]) {
    if (p === undefined || p.count === 0) continue;
    for (const d of take(p, T0 + 10)) sub.ingest(d, T0 + 50);
  }
  repacker.pendingOld = undefined;
}

/** Hands the packer's datagrams to the bridge; returns the envelopes it published for them. */
function forward(p: ChannelPacker): Uint8Array[] {
  const from = bridge.client.published.length;
  for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
  return bridge.client.published.slice(from);
}

function change(b: TestBook, px: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(px, 99);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

beforeAll(async () => {
  bridge = new RecordedBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: "wrap", log: silentLogger });
  await bridge.start();
  sub = newSubscriber();
});

afterAll(() => bridge.stop());

describe("forward numbers of a long-running bridge", () => {
  const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 60_000 });
  const x = new TestBook(X);
  const y = new TestBook(Y);
  let snapshotOfX: Uint8Array[] = [];

  test("a loss of exactly 2^15 messages is a gap: the book that missed its event is not usable", () => {
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    y.load([[3000, 10]], [[3001, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packInstrumentDefinition(p, new EncodedDefinition(Y), false);
    deliver(forward(p));
    packBookSnapshot(p, x, 0, false);
    snapshotOfX = forward(p);
    packBookSnapshot(p, y, 0, false);
    deliver([...snapshotOfX, ...forward(p)]);
    expect(sub.book(X.instrumentId)?.usable).toBe(true);
    expect(sub.book(Y.instrumentId)?.usable).toBe(true);

    // NATS goes away: X's next event and 32 767 of Y's are dropped by the bridge, each datagram a number skipped.
    bridge.client.protocol.connected = false;
    packBookDelta(p, x, change(x, 943499));
    expect(forward(p)).toEqual([]);
    for (let i = 0; i < 32_767; i++) {
      packBookDelta(p, y, change(y, 2000 + (i % 900)));
      forward(p);
    }
    expect(bridge.counters.droppedDisconnected).toBe(32_768);
    bridge.client.protocol.connected = true;
    p.appendHeartbeat(0);
    deliver(forward(p));

    expect(levelsOf(sub.book(X.instrumentId)!)).not.toEqual(levelsOf(x)); // X missed its last event …
    expect(sub.book(X.instrumentId)!.usable).toBe(false); // … so it must not be usable (before: usable)
    expect(repacker.counters.upstreamGaps).toBe(1);
  });

  test("a copy of an envelope already taken (its number behind the next) is refused, never a gap", () => {
    // The next refresh repairs X.
    packBookSnapshot(p, x, 0, true);
    packBookSnapshot(p, y, 0, true);
    deliver(forward(p));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    const gaps = repacker.counters.upstreamGaps;
    // X's first snapshot published again: before, a gap (every book untrusted) and then taken in, X shown usable
    // at that old state until the next envelope; now refused.
    deliver(snapshotOfX);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(repacker.counters.refused.repeated).toBe(1);
    expect(repacker.counters.upstreamGaps).toBe(gaps);
  });
});
