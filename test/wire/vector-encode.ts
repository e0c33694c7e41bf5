/**
 * Builds the datagrams of a golden vector from its JSON inputs (test/wire/vectors.json) with the real encoder.
 * `bun test/wire/make-vectors.ts` regenerates the hex; the test checks the encoder still reproduces it.
 * A reject vector (`expectError`) is an encoded datagram with `patches` applied (then the CRC recomputed when
 * `reseal`), or literal `rawHex`; decoders must refuse it with that error. `version: 2` rewrites every datagram as a
 * wire v2 publisher sends it (version byte 2, CRC-32C); `checksum: "crc32c"` puts a CRC-32C on a v3 datagram.
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import type { BookState, Instrument, StatusReason } from "../../src/core/types.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { datagramCrc32c } from "../../src/wire/crc32c.ts";
import { PKT_CHECKSUM_OFFSET, PKT_VERSION_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { fromHex, resealCrc, TestBook, toHex } from "./helpers.ts";

export interface VectorBook {
  instrument: Instrument;
  state: number;
  reason: number;
  instrSeq: number;
  venueSeq: number;
  tsExchangeUs: number;
  tsEventUs: number;
  tsRecvUs: number;
}

export type VectorOp =
  | { op: "heartbeat"; pktFlags: number }
  | { op: "definition"; instrument: Instrument; refresh: boolean }
  | { op: "delta"; book: VectorBook; bids: [number, number][]; asks: [number, number][] }
  | { op: "snapshot"; book: VectorBook; bids: [number, number][]; asks: [number, number][]; depth: number; refresh: boolean }
  | { op: "status"; book: VectorBook };

export interface Vector {
  name: string;
  description: string;
  maxDatagramBytes: number;
  channelId: number;
  sourceId: number;
  sessionId: number;
  firstSeq: number;
  sendTimeUs: number;
  sessionStartUs: number;
  heartbeatIntervalMs: number;
  /** HMAC key (hex) of an AUTHENTICATED vector: a published test key, never a real one. */
  authKeyHex?: string;
  ops: VectorOp[];
  /** Reject vectors: bytes written over the encoded datagram 0 at `offset`, given as hex. */
  patches?: { offset: number; hex: string }[];
  /** Recompute the CRC after the patches, so the structural rule (not the checksum) rejects it. */
  reseal?: boolean;
  /** The packet version the datagrams carry: 3 (default, CRC-32), or 2 (CRC-32C: what a v2 publisher sends). */
  version?: 2 | 3;
  /** The checksum written, when it is not the version's own (a reject vector: v3 with a CRC-32C). */
  checksum?: "crc32c";
  /** Reject vectors: a literal datagram instead of ops (e.g. a v1 datagram). */
  rawHex?: string;
  /** Reject vectors: the decode error name (docs/wire-protocol.md §7.2) a decoder must return. */
  expectError?: string;
  datagrams: string[];
}

function viewOf(b: VectorBook, bids: [number, number][] = [], asks: [number, number][] = []): TestBook {
  const view = new TestBook(b.instrument);
  for (const [p, q] of bids) view.bids.set(p, q);
  for (const [p, q] of asks) view.asks.set(p, q);
  view.state = b.state as BookState;
  view.reason = b.reason as StatusReason;
  view.instrSeq = b.instrSeq;
  view.venueSeq = b.venueSeq;
  view.tsExchangeUs = b.tsExchangeUs;
  view.tsEventUs = b.tsEventUs;
  view.tsRecvUs = b.tsRecvUs;
  return view;
}

export function encodeVector(v: Omit<Vector, "datagrams">): string[] {
  if (v.rawHex !== undefined) return [v.rawHex];
  const p = new ChannelPacker(v.maxDatagramBytes, v.channelId, v.sourceId, v.sessionId, {
    sessionStartUs: v.sessionStartUs,
    heartbeatIntervalMs: v.heartbeatIntervalMs,
    auth: v.authKeyHex !== undefined ? new DatagramAuth(fromHex(v.authKeyHex)) : undefined,
  });
  p.nextSeq = v.firstSeq;
  for (const op of v.ops) {
    switch (op.op) {
      case "heartbeat":
        p.appendHeartbeat(op.pktFlags);
        break;
      case "definition":
        packInstrumentDefinition(p, new EncodedDefinition(op.instrument), op.refresh);
        break;
      case "delta": {
        const cs = new ChangeSet();
        for (const [px, q] of op.bids) cs.addBid(px, q);
        for (const [px, q] of op.asks) cs.addAsk(px, q);
        packBookDelta(p, viewOf(op.book), cs);
        break;
      }
      case "snapshot":
        packBookSnapshot(p, viewOf(op.book, op.bids, op.asks), op.depth, op.refresh);
        break;
      case "status":
        packBookStatus(p, viewOf(op.book));
        break;
    }
  }
  p.seal(v.sendTimeUs);
  const out: string[] = [];
  for (let i = 0; i < p.count; i++) {
    const bytes = p.bytes[i]!.slice(0, p.lengths[i]);
    if (v.version === 2) {
      // The HMAC covers the version byte: a signed v2 vector would need the trailer recomputed too (none is made).
      if (v.authKeyHex !== undefined) throw new Error(`${v.name}: v2 vectors are unsigned`);
      bytes[PKT_VERSION_OFFSET] = 2;
      resealCrc(bytes); // the v2 checksum, CRC-32C
    }
    if (v.checksum === "crc32c") new DataView(bytes.buffer).setUint32(PKT_CHECKSUM_OFFSET, datagramCrc32c(bytes, bytes.length), true);
    if (i === 0 && v.patches !== undefined) {
      for (const patch of v.patches) bytes.set(fromHex(patch.hex), patch.offset);
      if (v.reseal === true) resealCrc(bytes);
    }
    out.push(toHex(bytes));
  }
  return out;
}
