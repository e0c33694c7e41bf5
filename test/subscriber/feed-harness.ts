/** Test harness for the subscriber: real packers and encoders per (channel, session) feeding FeedSubscriber.ingest(). */
import { ChangeSet } from "../../src/core/change-set.ts";
import type { Instrument } from "../../src/core/types.ts";
import { FeedSubscriber, type FeedSubscriberOptions } from "../../src/subscriber/index.ts";
import type { DatagramAuth } from "../../src/wire/auth.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { TestBook } from "../wire/helpers.ts";

export const T0 = 1_764_000_000_000_000;

export interface PackerSpec {
  channelId?: number;
  sourceId?: number;
  sessionId?: number;
  sessionStartUs?: number;
  heartbeatIntervalMs?: number;
  maxBytes?: number;
  auth?: DatagramAuth;
}

export function packer(spec: PackerSpec = {}): ChannelPacker {
  return new ChannelPacker(spec.maxBytes ?? 1400, spec.channelId ?? 1, spec.sourceId ?? 0, spec.sessionId ?? 11, {
    sessionStartUs: spec.sessionStartUs ?? T0,
    heartbeatIntervalMs: spec.heartbeatIntervalMs ?? 1000,
    auth: spec.auth,
  });
}

/** Seals the packer's pending datagrams and returns copies of them (the packer is cleared). */
export function take(p: ChannelPacker, sendTimeUs = T0): Uint8Array[] {
  p.seal(sendTimeUs);
  const out: Uint8Array[] = [];
  for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
  p.clear();
  return out;
}

export function newSubscriber(opts: Partial<FeedSubscriberOptions> = {}): FeedSubscriber {
  return new FeedSubscriber({ groups: [], staleAfterMs: 0, ...opts });
}

export function ingestAll(sub: FeedSubscriber, datagrams: Uint8Array[]): void {
  for (const d of datagrams) sub.ingest(d, T0 + 50);
}

/** A NATS envelope per message of the datagrams (as a bridge forwards them), numbered from `firstSeq` by bridge `bridgeId`. */
export function envelopesOf(datagrams: Uint8Array[], firstSeq: number, bridgeId: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const d of datagrams) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let off = PACKET_HEADER_BYTES;
    for (let m = 0; m < dv.getUint16(PKT_MSG_COUNT_OFFSET, true); m++) {
      const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      out.push(envelopeOf(d, 1000, off, len, firstSeq + out.length, bridgeId));
      off += len;
    }
  }
  return out;
}

/** 30 bids from 943000 down (quantities 1, 2, …) and one ask, at venueSeq 1: several chunks at a small datagram size. */
export function deepBook(instrument: Instrument, ask: [number, number] = [943504, 250]): TestBook {
  const b = new TestBook(instrument);
  const bids: [number, number][] = [];
  for (let i = 0; i < 30; i++) bids.push([943000 - i, 1 + i]);
  b.load(bids, [ask], 1, T0);
  return b;
}

/** One bid at `px` (qty 10) and one ask a tick above (qty 20), at venueSeq 1. */
export function oneLevelBook(instrument: Instrument, px: number): TestBook {
  const b = new TestBook(instrument);
  b.load([[px, 10]], [[px + 1, 20]], 1, T0);
  return b;
}

/** The bids' change applied to `b` at its next venueSeq, and returned to pack. */
export function bidDelta(b: TestBook, bids: [number, number][]): ChangeSet {
  const cs = new ChangeSet();
  for (const [px, qty] of bids) cs.addBid(px, qty);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

/** A change of all 30 of deepBook's bids (quantities qty, qty + 1, …): several parts at a small datagram size. */
export function wideBidDelta(b: TestBook, qty: number): ChangeSet {
  const bids: [number, number][] = [];
  for (let i = 0; i < 30; i++) bids.push([943000 - i, qty + i]);
  return bidDelta(b, bids);
}

/** A book's snapshot and four deltas (bid 943500 at qtyBase, + 1, …), one datagram each. */
export function snapshotAndDeltas(instrument: Instrument, qtyBase: number): { b: TestBook; ds: Uint8Array[] } {
  const p = packer();
  const b = new TestBook(instrument);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  const ds = [...take(p)];
  for (let i = 0; i < 4; i++) {
    const cs = new ChangeSet();
    cs.addBid(943500, qtyBase + i);
    b.apply(cs, b.venueSeq + 1, T0);
    packBookDelta(p, b, cs);
    ds.push(...take(p));
  }
  return { b, ds };
}
