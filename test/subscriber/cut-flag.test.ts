/**
 * A snapshot says on the wire which of its sides were cut (cutFlags, docs/wire-protocol.md §4.4, §6.6): the
 * publisher's book holds more levels there (publish.snapshot_depth, or the wire's 65,535 a side). Before, only a
 * subscriber told the publisher's snapshot_depth knew: one not told applied the deltas below the cut, and once a
 * level above was removed its usable book showed, near rank N, levels where the publisher has others. Now the mark
 * gives every subscriber the cut side's floor, and only the side really cut (a side of exactly N levels that is the
 * whole book takes its deltas below).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EnvelopeRepacker, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import {
  MSG_LENGTH_OFFSET,
  PACKET_HEADER_BYTES,
  SNAP_CUT_ASKS,
  SNAP_CUT_BIDS,
  SNAP_CUT_FLAGS_OFFSET,
  SNAP_CUT_MARKED,
} from "../../src/wire/layout.ts";
import { rng } from "../wire/helpers.ts";
import { deepBook, firstWrongRank, randomChange } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";
import { rewriteSnapshotU16 } from "./snapshot-fields.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

function cutFlagsOf(datagrams: Uint8Array[]): number[] {
  const out: number[] = [];
  for (const d of datagrams) {
    const r = decodeDatagram(d);
    if (!r.ok) throw r.error;
    for (const m of r.packet.messages) if (m.type === "snapshot") out.push(m.cutFlags);
  }
  return out;
}

describe("the publisher marks the cut sides", () => {
  it("cutFlags: MARKED always, BIDS / ASKS on a side holding fewer levels than the book, in every chunk", () => {
    const pub = deepBook(12);
    pub.asks.delete(pub.askPriceAt(11)); // 11 asks
    (pub as unknown as { dirty: boolean }).dirty = true;
    const p = packer({ maxBytes: 320 });
    packBookSnapshot(p, pub, 11, false); // bids cut at 11 of 12, asks whole (11 of 11)
    const flags = cutFlagsOf(take(p));
    expect(flags.length).toBeGreaterThan(1);
    expect(new Set(flags)).toEqual(new Set([SNAP_CUT_MARKED | SNAP_CUT_BIDS]));
    packBookSnapshot(p, pub, 0, true);
    expect(new Set(cutFlagsOf(take(p)))).toEqual(new Set([SNAP_CUT_MARKED]));
    packBookSnapshot(p, pub, 3, true);
    expect(new Set(cutFlagsOf(take(p)))).toEqual(new Set([SNAP_CUT_MARKED | SNAP_CUT_BIDS | SNAP_CUT_ASKS]));
  });

  it("the NATS reader's repacker copies a snapshot message as it is: the mark with it", () => {
    const pub = deepBook(12);
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5 });
    packBookSnapshot(p, pub, 5, false);
    const d = take(p)[0]!;
    const msgLen = new DataView(d.buffer, d.byteOffset).getUint16(PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET, true);
    const rep = new EnvelopeRepacker({ channelId: 9, sourceId: 65000, heartbeatIntervalMs: 200 });
    expect(rep.add(envelopeOf(d, 1000, PACKET_HEADER_BYTES, msgLen), 0)).not.toMatch(/short|bad_|unknown|old_/);
    expect(cutFlagsOf(take(rep.packer))).toEqual([SNAP_CUT_MARKED | SNAP_CUT_BIDS | SNAP_CUT_ASKS]);
  });
});

describe("a subscriber not told publish.snapshot_depth", () => {
  it("random events at every rank of a book 3× deeper than its snapshots (split deltas, refreshes): never usable while it differs from the publisher's, never a repair", () => {
    const pub = deepBook(60);
    const p = packer({ maxBytes: 320 }); // deltas of more than a few levels are split into parts
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 20, false);
    sub = newSubscriber(); // snapshotDepth not given
    for (const d of take(p)) sub.ingest(d, T0);
    const sb = sub.book(pub.instrument.instrumentId)!;
    expect(sb.usable).toBe(true);
    const r = rng(37);
    const cs = new ChangeSet();
    let parts = 0;
    for (let i = 0; i < 400; i++) {
      randomChange(cs, r, pub, 1_000_000);
      pub.apply(cs, 10 + i, T0 + i);
      parts += packBookDelta(p, pub, cs) > 1 ? 1 : 0;
      const refresh = i % 40 === 39;
      if (refresh) packBookSnapshot(p, pub, 20, true);
      for (const d of take(p, T0 + i)) sub.ingest(d, T0 + i);
      // Old: a delta below the cut was applied, and after a removal above showed at rank ≤ 19, usable.
      expect(firstWrongRank(sb, pub), `after event ${i}`).toBe("");
      expect(sb.usable).toBe(true);
      if (refresh) expect([sb.bidCount, sb.askCount], `refresh after event ${i}`).toEqual([Math.min(20, pub.bidCount), Math.min(20, pub.askCount)]);
    }
    expect(parts).toBeGreaterThan(0);
    expect(sub.counters.repairs).toBe(0);
  });

  it("a side of exactly N levels that is the publisher's whole side takes a level added below it (not cut)", () => {
    const pub = deepBook(5);
    const p = packer();
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 5, false);
    sub = newSubscriber({ snapshotDepth: 5 }); // told N: without the mark it would take every 5-level side as cut
    for (const d of take(p)) sub.ingest(d, T0);
    const cs = new ChangeSet();
    cs.addBid(pub.bidPriceAt(4) - 1, 9);
    cs.addAsk(pub.askPriceAt(4) + 1, 9);
    pub.apply(cs, 2, T0 + 1);
    packBookDelta(p, pub, cs);
    cs.clear();
    cs.addBid(pub.bidPriceAt(0), 0);
    pub.apply(cs, 3, T0 + 2);
    packBookDelta(p, pub, cs);
    for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
    const sb = sub.book(pub.instrument.instrumentId)!;
    expect(sb.usable).toBe(true);
    expect(firstWrongRank(sb, pub)).toBe("");
    // Old: 4 bids and 5 asks, the levels below the snapshot's last dropped as if that side had been cut.
    expect([sb.bidCount, sb.askCount]).toEqual([5, 6]);
  });
});

it("a side cut before and whole at a refresh equal to the book: deltas below its last level apply again", () => {
  const pub = deepBook(6);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 5, false); // bids and asks cut at 5 of 6
  sub = newSubscriber();
  for (const d of take(p)) sub.ingest(d, T0);
  const cs = new ChangeSet();
  cs.addBid(pub.bidPriceAt(5), 0); // the 6th level, below the cut: the publisher's sides are now 5 levels, whole
  cs.addAsk(pub.askPriceAt(5), 0);
  pub.apply(cs, 2, T0 + 1);
  packBookDelta(p, pub, cs);
  packBookSnapshot(p, pub, 5, true); // equal to the book; nothing cut now
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  cs.clear();
  cs.addBid(pub.bidPriceAt(4) - 1, 3);
  cs.addAsk(pub.askPriceAt(4) + 1, 3);
  pub.apply(cs, 3, T0 + 2);
  packBookDelta(p, pub, cs);
  for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect(firstWrongRank(sb, pub)).toBe("");
  expect(sb.usable).toBe(true);
  expect([sb.bidCount, sb.askCount]).toEqual([6, 6]); // the floor from the first snapshot kept them out before
});

describe("an older publisher (no mark): the guesses still hold", () => {
  it("the subscriber told N takes an N-level side as cut; deltas below it are not applied", () => {
    const pub = deepBook(12);
    const p = packer();
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 5, false);
    sub = newSubscriber({ snapshotDepth: 5 });
    for (const d of rewriteSnapshotU16(take(p), SNAP_CUT_FLAGS_OFFSET, () => 0)) sub.ingest(d, T0);
    const cs = new ChangeSet();
    cs.addBid(pub.bidPriceAt(7), 7); // below the cut
    cs.addAsk(pub.askPriceAt(7), 7);
    pub.apply(cs, 2, T0 + 1);
    packBookDelta(p, pub, cs);
    cs.clear();
    cs.addBid(pub.bidPriceAt(0), 0);
    cs.addAsk(pub.askPriceAt(0), 0);
    pub.apply(cs, 3, T0 + 2);
    packBookDelta(p, pub, cs);
    for (const d of take(p, T0 + 2)) sub.ingest(d, T0 + 2);
    const sb = sub.book(pub.instrument.instrumentId)!;
    expect(sb.usable).toBe(true);
    expect(firstWrongRank(sb, pub)).toBe("");
    expect([sb.bidCount, sb.askCount]).toEqual([4, 4]);
  });
});

it("chunks of one snapshot disagreeing on cutFlags: the set is abandoned, never applied", () => {
  const pub = deepBook(12);
  const p = packer({ maxBytes: 320 });
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 11, false);
  sub = newSubscriber();
  const datagrams = rewriteSnapshotU16(take(p), SNAP_CUT_FLAGS_OFFSET, (f, chunk) => (chunk === 1 ? f & ~SNAP_CUT_BIDS : f));
  expect(datagrams.length).toBeGreaterThan(2);
  for (const d of datagrams) sub.ingest(d, T0);
  // Old: the field was ignored and the snapshot applied.
  expect(sub.counters.snapshotsAbandoned).toBe(1);
  expect(sub.book(pub.instrument.instrumentId)?.valid ?? false).toBe(false);
});

it("chunks of one snapshot differing only in reserved cutFlags bits: one snapshot, applied", () => {
  // Reserved bits must be ignored by readers (docs/wire-protocol.md §1, §4.4): a later publisher may give them a
  // meaning per chunk. Compared on all 16 bits (until 2026-12-07), such a set was abandoned, the book never usable.
  const pub = deepBook(12);
  const p = packer({ maxBytes: 320 });
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 11, false);
  sub = newSubscriber();
  const datagrams = rewriteSnapshotU16(take(p), SNAP_CUT_FLAGS_OFFSET, (f, chunk) => (chunk === 1 ? f | 0x0004 | 0x4000 : f));
  expect(datagrams.length).toBeGreaterThan(2);
  for (const d of datagrams) sub.ingest(d, T0);
  expect(sub.counters.snapshotsAbandoned).toBe(0);
  const sb = sub.book(pub.instrument.instrumentId)!;
  expect(sb.usable).toBe(true);
  expect(sb.bidFloorPx).toBe(sb.bidPriceAt(10)); // the bids still read as cut (chunk 0's defined bits), at rank 11
});
