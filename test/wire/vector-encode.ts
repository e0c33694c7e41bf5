/**
 * Builds the datagrams of a golden vector from its JSON inputs (test/wire/vectors.json) with the real encoder.
 * `bun test/wire/make-vectors.ts` regenerates the hex; the test checks the encoder still reproduces it.
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import type { BookState, Instrument, StatusReason } from "../../src/core/types.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { TestBook, toHex } from "./helpers.ts";

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
  ops: VectorOp[];
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
  const p = new ChannelPacker(v.maxDatagramBytes, v.channelId, v.sourceId, v.sessionId);
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
  p.stampSendTime(v.sendTimeUs);
  const out: string[] = [];
  for (let i = 0; i < p.count; i++) out.push(toHex(p.bytes[i]!.subarray(0, p.lengths[i])));
  return out;
}
