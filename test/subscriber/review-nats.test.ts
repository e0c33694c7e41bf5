/**
 * Review of the receiving side (s-rev8), NATS path: a restarted publisher's late datagrams. The forward bridge
 * forwards every datagram that verifies, in arrival order, and its groups are separate sockets: after a publisher
 * restart, one group's socket can still hold datagrams of the dead session when another group already brought the
 * new one (docs/wire-protocol.md §3.4 is about exactly those). The reader used to track sessions per upstream
 * (channel, source) and compare them for equality only, so the dead session's messages on the second channel were
 * repacked into the reader's new session: a subscriber showed that channel's books usable with the dead
 * publisher's levels. Real parts: nats-server, the ForwardBridge on two loopback multicast groups (TTL 1), the
 * reader (attachNats) feeding an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { FeedSubscriber, NatsFeedReader } from "../../src/subscriber/index.ts";
import { ENV_CHANNEL_ID_OFFSET, ENV_FORWARD_SEQ_HIGH_OFFSET, ENV_FORWARD_SEQ_OFFSET, ENV_SOURCE_ID_OFFSET, ENVELOPE_BYTES, EnvelopeRepacker, envelopeOf, MAX_NUMBERED_STREAMS } from "../../src/subscriber/nats-envelope.ts";
import { MSG_BLOCK_LENGTH_OFFSET, MSG_LENGTH_OFFSET, MSG_TEMPLATE_ID_OFFSET, TEMPLATE_BOOK_DELTA } from "../../src/wire/layout.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { natsServerMissing } from "../bridge/nats-server.ts";
import { ReaderRig } from "../bridge/reader-rig.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { envelopesOf, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const missing = natsServerMissing();
/**
 * These publishers send no heartbeats between the test's steps: they advertise a minute, so the reader does not take
 * a stream quiet meanwhile for a dead one while another goes on (a gap of its stream since rev24: silent-stream).
 */
const QUIET_HB_MS = 60_000;
const PREFIX = "rev8";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3); // on channel 2
const Y = makeInstrument("bybit", "spot", "ETHUSDT", 2, 4); // on channel 1
const G1 = uniqueDestination(81);
const G2 = uniqueDestination(82);

const rig = new ReaderRig({ prefix: PREFIX, groups: [G1, G2] });
let forward: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;

function book(inst: typeof X, px: number, instrSeq: number): TestBook {
  const b = new TestBook(inst);
  b.load([[px, 10]], [[px + 1, 20]], 1, T0);
  b.instrSeq = instrSeq;
  return b;
}

function send(p: ChannelPacker, to: { group: string; port: number }): Promise<void> {
  return rig.sendAll(take(p), to);
}

/** Envelopes the reader took in or refused, whatever the reason. */
function envelopesSeen(): number {
  const c = reader.counters as NatsFeedReader["counters"] & { olderCopies?: number };
  return c.messages + c.heartbeats + (c.olderCopies ?? 0) + Object.values(c.refused).reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
  if (missing) return;
  await rig.start();
  ({ sub, reader } = rig);
  forward = rig.bridges[0]!;
}, 30_000);

afterAll(() => rig.stop());

describe.skipIf(missing !== undefined)(`NATS reader and a publisher restart${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("late datagrams of the dead session on another channel never reach the new session's books", async () => {
    const old1 = packer({ channelId: 1, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: QUIET_HB_MS });
    const old2 = packer({ channelId: 2, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: QUIET_HB_MS });
    const oldX = book(X, 943500, 40);
    packInstrumentDefinition(old1, new EncodedDefinition(Y), false);
    packBookSnapshot(old1, book(Y, 3000, 7), 0, false);
    packInstrumentDefinition(old2, new EncodedDefinition(X), false);
    packBookSnapshot(old2, oldX, 0, false);
    await send(old1, G1);
    await send(old2, G2);
    await waitFor(() => sub.book(X.instrumentId)?.usable === true && sub.book(Y.instrumentId)?.usable === true, "both books usable in the first session");

    // The publisher restarts (a later start, a new id); channel 1 brings the new session first.
    const new1 = packer({ channelId: 1, sessionId: 77, sessionStartUs: T0 + 60_000_000, heartbeatIntervalMs: QUIET_HB_MS });
    const newY = book(Y, 3100, 1);
    packInstrumentDefinition(new1, new EncodedDefinition(Y), false);
    packBookSnapshot(new1, newY, 0, false);
    await send(new1, G1);
    await waitFor(() => levelsOf(sub.book(Y.instrumentId)!).bids[0]?.[0] === 3100 && sub.book(Y.instrumentId)!.usable, "the new session's book on channel 1");
    expect(sub.book(X.instrumentId)!.usable).toBe(false); // the restart dropped every book of the old session

    // Then channel 2's socket gives up a datagram of the dead session: a refresh of X as the old process had it.
    const before = envelopesSeen();
    packInstrumentDefinition(old2, new EncodedDefinition(X), true);
    packBookSnapshot(old2, oldX, 0, true);
    await send(old2, G2);
    await waitFor(() => envelopesSeen() >= before + 2, "the reader took both late messages in");
    await new Promise((r) => setImmediate(r)); // the reader flushes what it repacked on the next turn
    await new Promise((r) => setImmediate(r));
    expect(sub.book(X.instrumentId)!.usable).toBe(false);
    expect(reader.counters.refused.old_session).toBe(2);

    // The new session's own snapshot of X makes it usable again, with the new process's levels.
    const new2 = packer({ channelId: 2, sessionId: 77, sessionStartUs: T0 + 60_000_000, heartbeatIntervalMs: QUIET_HB_MS });
    const newX = book(X, 944000, 1);
    packInstrumentDefinition(new2, new EncodedDefinition(X), false);
    packBookSnapshot(new2, newX, 0, false);
    await send(new2, G2);
    await waitFor(() => sub.book(X.instrumentId)!.usable, "X usable in the new session");
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(newX));
    expect(levelsOf(sub.book(Y.instrumentId)!)).toEqual(levelsOf(newY));
    expect(sub.book(Y.instrumentId)!.usable).toBe(true); // one restart, one new session: channel 2's first datagram did not drop Y again
  });

  test("a datagram lost before the bridge makes the far side's books of that stream invalid, as a gap does on multicast", async () => {
    // A stream of its own (channel 5, source 3): its last event of P is lost on the way to the bridge; the next
    // datagram (an event of Q) shows the gap to any multicast subscriber, which then stops trusting P.
    const P = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);
    const Q = makeInstrument("bybit", "linear", "XRPUSDT", 4, 0);
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0, heartbeatIntervalMs: QUIET_HB_MS });
    const bp = book(P, 15000, 1);
    const bq = book(Q, 5000, 1);
    packInstrumentDefinition(p, new EncodedDefinition(P), false);
    packBookSnapshot(p, bp, 0, false);
    packInstrumentDefinition(p, new EncodedDefinition(Q), false);
    packBookSnapshot(p, bq, 0, false);
    await send(p, G1);
    await waitFor(() => sub.book(P.instrumentId)?.usable === true && sub.book(Q.instrumentId)?.usable === true, "P and Q usable");
    const change = (b: TestBook, px: number) => {
      const cs = new ChangeSet();
      cs.addBid(px, 99);
      b.apply(cs, b.venueSeq + 1, T0);
      return cs;
    };
    packBookDelta(p, bp, change(bp, 14999));
    take(p); // lost before the bridge
    packBookDelta(p, bq, change(bq, 4999));
    await send(p, G1);
    await waitFor(() => sub.book(Q.instrumentId)!.instrSeq === bq.instrSeq, "Q's delta through the bridge");
    expect(levelsOf(sub.book(P.instrumentId)!)).not.toEqual(levelsOf(bp)); // P missed its last event …
    expect(sub.book(P.instrumentId)!.usable).toBe(false); // … so it must not be usable
    // The next refresh repairs both.
    packBookSnapshot(p, bp, 0, true);
    packBookSnapshot(p, bq, 0, true);
    await send(p, G1);
    await waitFor(() => sub.book(P.instrumentId)!.usable && sub.book(Q.instrumentId)!.usable, "both repaired by the refresh");
    expect(levelsOf(sub.book(P.instrumentId)!)).toEqual(levelsOf(bp));
    expect(levelsOf(sub.book(Q.instrumentId)!)).toEqual(levelsOf(bq));

    // Tail loss: P's last event lost and nothing after it but the publisher's heartbeat, which shows the gap.
    packBookDelta(p, bp, change(bp, 14998));
    take(p); // lost before the bridge
    p.appendHeartbeat(0);
    const gapsBefore = reader.counters.upstreamGaps;
    await send(p, G1);
    await waitFor(() => !sub.book(P.instrumentId)!.usable, "P not usable once the heartbeat showed the loss");
    expect(reader.counters.upstreamGaps).toBe(gapsBefore + 1);
    expect(forward.counters.upstreamGaps).toBe(2);
  });
});

describe.skipIf(missing !== undefined)(`NATS reader, one instrument on two channels${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("the second channel's copies of events already repacked do not make the book's instrSeq look bogus", async () => {
    // The publisher routes Z to channels 1 and 2; one flush sends both channels' datagrams and the bridge reads one
    // group's socket, then the other's: Z's events k, k+1 (channel 1) then k, k+1 again (channel 2), all in the
    // reader's one stream. On multicast the copies are another stream's and ignored as duplicates.
    const Z = makeInstrument("bybit", "spot", "DOGEUSDT", 5, 0);
    const c1 = packer({ channelId: 11, sourceId: 4, sessionId: 600, sessionStartUs: T0, heartbeatIntervalMs: QUIET_HB_MS });
    const c2 = packer({ channelId: 12, sourceId: 4, sessionId: 600, sessionStartUs: T0, heartbeatIntervalMs: QUIET_HB_MS });
    const z = book(Z, 20000, 1);
    for (const c of [c1, c2]) {
      packInstrumentDefinition(c, new EncodedDefinition(Z), false);
      packBookSnapshot(c, z, 0, false);
    }
    await send(c1, G1);
    await send(c2, G2);
    await waitFor(() => sub.book(Z.instrumentId)?.usable === true, "Z usable");
    const before = envelopesSeen();
    for (let turn = 0; turn < 5; turn++) {
      for (let e = 0; e < 2; e++) {
        const cs = new ChangeSet();
        cs.addBid(19999 - turn, 10 + e);
        z.apply(cs, z.venueSeq + 1, T0);
        packBookDelta(c1, z, cs);
        packBookDelta(c2, z, cs);
      }
      await send(c1, G1);
      await send(c2, G2);
      const seq = z.instrSeq;
      await waitFor(() => sub.book(Z.instrumentId)!.instrSeq >= seq, `turn ${turn} through`);
    }
    await waitFor(() => envelopesSeen() >= before + 20, "every copy taken in by the reader");
    await new Promise((r) => setImmediate(r)); // the reader flushes what it repacked on the next turn
    await new Promise((r) => setImmediate(r));
    const sb = sub.book(Z.instrumentId)!;
    expect(sub.counters.instrSeqBackwards).toBe(0);
    expect(levelsOf(sb)).toEqual(levelsOf(z));
    expect(sb.usable).toBe(true);
  });
});

describe("review: the NATS reader's memory", () => {
  test("envelopes of made-up upstream streams cannot grow the numbering the reader follows", () => {
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    p.appendHeartbeat(0);
    const hb = take(p)[0]!;
    const n = MAX_NUMBERED_STREAMS + 500;
    for (let i = 0; i < n; i++) {
      const env = envelopeOf(hb, 1000, 0, 0, 7);
      new DataView(env.buffer).setUint16(ENV_CHANNEL_ID_OFFSET, 1 + (i >> 8), true);
      new DataView(env.buffer).setUint16(ENV_SOURCE_ID_OFFSET, i & 0xff, true);
      expect(rep.add(env, 0)).not.toBe("bad_magic");
    }
    expect(rep.numberedStreams).toBe(MAX_NUMBERED_STREAMS);
    expect(rep.counters.unnumbered).toBe(500);
  });
});

describe("review: the NATS reader's framing check", () => {
  test("a book message whose root block is shorter than the decoder's minimum is refused; the messages around it reach the books", () => {
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, book(X, 943500, 1), 0, false);
    const [definition, snapshot] = envelopesOf(take(p), 1, 7);
    // A copy of the snapshot's envelope whose message claims an 8-byte root block (the decoder needs 64).
    const shortBlock = snapshot!.slice();
    new DataView(shortBlock.buffer).setUint16(ENVELOPE_BYTES + MSG_BLOCK_LENGTH_OFFSET, 8, true);
    // A header-only delta (8 bytes): reading its instrument past the envelope's end threw (the JetStream loop ended).
    const tiny = snapshot!.slice(0, ENVELOPE_BYTES + 8);
    const t = new DataView(tiny.buffer);
    t.setUint16(ENVELOPE_BYTES + MSG_LENGTH_OFFSET, 8, true);
    t.setUint16(ENVELOPE_BYTES + MSG_TEMPLATE_ID_OFFSET, TEMPLATE_BOOK_DELTA, true);
    t.setUint16(ENVELOPE_BYTES + MSG_BLOCK_LENGTH_OFFSET, 0, true);
    t.setUint16(ENV_FORWARD_SEQ_OFFSET, 0, true); // not numbered: no number of the line's to repeat
    t.setUint32(ENV_FORWARD_SEQ_HIGH_OFFSET, 0, true);

    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    expect(rep.add(definition!, 0)).toMatch(/ok|new_session/);
    expect(() => rep.add(tiny, 0)).not.toThrow(); // before: RangeError (Out of bounds access)
    expect(rep.add(shortBlock, 0)).toBe("bad_message"); // before: "ok", packed between the definition and the snapshot
    expect(rep.counters.refused.bad_message).toBe(2);
    expect(rep.add(snapshot!, 0)).toBe("ok");
    for (const d of take(rep.packer)) sub.ingest(d, T0);
    // Before: the subscriber dropped the whole repacked datagram (BAD_MESSAGE), the definition and snapshot with it.
    expect(sub.counters.errors).toBe(0);
    expect(sub.book(X.instrumentId)?.usable).toBe(true);
  });
});

describe("the NATS reader's repacking in steady state", () => {
  /** JS heap capacity growth per step over n steps, no GC in between (heapUsed is what the last GC marked: blind). */
  function heapGrowthPerStep(n: number, step: (i: number) => void): number {
    Bun.gc(true);
    const before = process.memoryUsage().heapTotal;
    for (let i = 0; i < n; i++) step(i);
    return (process.memoryUsage().heapTotal - before) / n;
  }

  test("allocates nothing per envelope, from add() to the subscriber's ingest (the measure sees a 32 B object a step)", () => {
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const bk = book(X, 943500, 1);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, bk, 0, false);
    const cs = new ChangeSet();
    for (let e = 0; e < 24_000; e++) {
      cs.clear();
      cs.addBid(943500 - (e % 50), 1 + (e % 7));
      bk.instrSeq++;
      packBookDelta(p, bk, cs);
    }
    const envs = envelopesOf(take(p), 1, 7);
    const rep = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    const step = (i: number) => {
      rep.add(envs[i]!, 0);
      if ((i & 7) !== 7) return;
      const q = rep.packer; // as NatsFeedReader.drain: sealed, each datagram handed over as the packer's exact view
      q.seal(T0);
      for (let k = 0; k < q.count; k++) sub.ingest(q.exactView(k), T0);
      q.clear();
    };
    for (let i = 0; i < 12_000; i++) step(i);
    const perEnvelope = heapGrowthPerStep(12_000, (i) => step(12_000 + i));
    let kept: { a: number; b: number } | undefined;
    const perControl = heapGrowthPerStep(12_000, (i) => void (kept = { a: i, b: i }));
    expect(kept?.a).toBe(11_999);
    expect(perControl).toBeGreaterThan(16);
    expect(sub.book(X.instrumentId)?.usable).toBe(true);
    expect(sub.counters.errors + sub.counters.gaps).toBe(0);
    // Before: ~65 B an envelope (a DataView over each, a subarray and a Uint8Array to copy its message).
    expect(perEnvelope).toBeLessThan(2);
  });
});
