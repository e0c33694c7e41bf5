/**
 * The packer and the encoder store the packet header, message headers and the BookDelta and BookSnapshot root blocks
 * as int32 words (src/wire/words.ts), and levels below 2^32 as doubles v + 2^52 through a Float64Array, on
 * little-endian hosts. These tests rebuild the same bytes field by field with DataView and
 * core/i64.ts at the offsets of layout.ts, over random and edge values, and compare them byte for byte (the golden
 * vectors in vectors.json check a few fixed datagrams; this checks the packing of every field over its range).
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { setI64, setNsFromUs, setU64 } from "../../src/core/i64.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { datagramCrc32Ts } from "../../src/wire/crc32.ts";
import { packBookDelta, packBookSnapshot, writeBookCommon } from "../../src/wire/encoder.ts";
import * as L from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { LITTLE_ENDIAN, nsFromUsWords, u64Words } from "../../src/wire/words.ts";
import { makeInstrument, randInt, rng, TestBook } from "./helpers.ts";

const EDGE = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52, 2 ** 53 - 1, 1_764_000_000_000_000, 1_633_998_512_068_000];

function bytesOf(write: (dv: DataView, w: Int32Array) => void): number[] {
  const buf = new ArrayBuffer(16);
  write(new DataView(buf), new Int32Array(buf));
  return [...new Uint8Array(buf)];
}

describe("wire word stores", () => {
  it("runs on a little-endian host (else the DataView path is used and these comparisons say nothing)", () => {
    expect(LITTLE_ENDIAN).toBe(true);
  });

  it("u64Words and nsFromUsWords give the bytes of setU64 and setNsFromUs", () => {
    const r = rng(7);
    const values = [...EDGE];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(r() * 2 ** randInt(r, 1, 53)));
    for (const v of values) {
      expect(bytesOf((_, w) => u64Words(w, 1, v)), `u64 ${v}`).toEqual(bytesOf((dv) => setU64(dv, 4, v)));
      expect(bytesOf((_, w) => nsFromUsWords(w, 1, v)), `ns ${v}`).toEqual(bytesOf((dv) => setNsFromUs(dv, 4, v)));
    }
  });

  it("packBookDelta's datagram: header, message header and root block as the field-by-field stores write them", () => {
    const r = rng(11);
    for (let trial = 0; trial < 300; trial++) {
      const auth = trial % 5 === 0 ? new DatagramAuth(new Uint8Array(32).fill(trial)) : undefined;
      const channelId = randInt(r, 0, 0xffff);
      const sourceId = randInt(r, 0, 0xffff);
      const sessionId = randInt(r, 0, 2 ** 32 - 1);
      const heartbeatIntervalMs = randInt(r, 0, 0xffff);
      const sessionStartUs = trial < EDGE.length ? EDGE[trial]! : Math.floor(r() * 2 ** 52);
      const p = new ChannelPacker(randInt(r, 256, 1400), channelId, sourceId, sessionId, { sessionStartUs, heartbeatIntervalMs, auth });
      // Up to 25 parts follow; the packer numbers no message 2^53 − 1 or more, so its top edge is 2^53 − 64 here.
      p.nextSeq = trial < EDGE.length ? Math.min(Math.max(1, EDGE[trial]!), 2 ** 53 - 64) : randInt(r, 1, 2 ** 40);
      const inst = {
        ...makeInstrument("binance", "spot", `S${trial}`, randInt(r, -8, 18), randInt(r, -8, 18)),
        instrumentId: trial % 3 === 0 ? 2 ** 32 - 1 - trial : randInt(r, 0, 2 ** 32 - 1),
      };
      const view = new TestBook(inst);
      view.state = [BookState.LIVE, BookState.STALE, BookState.RESYNCING][trial % 3]!;
      view.reason = [StatusReason.NONE, StatusReason.SEQUENCE_GAP][trial % 2]!;
      const pick = () => (r() < 0.3 ? EDGE[randInt(r, 0, EDGE.length - 1)]! : Math.floor(r() * 2 ** randInt(r, 1, 52)));
      view.instrSeq = pick();
      view.venueSeq = pick();
      view.tsExchangeUs = pick();
      view.tsEventUs = r() < 0.3 ? 0 : pick();
      view.tsRecvUs = pick();
      const changes = new ChangeSet();
      const nb = randInt(r, 0, 100);
      const na = randInt(r, 0, 100);
      for (let i = 0; i < nb; i++) changes.addBid(pick(), pick());
      for (let i = 0; i < na; i++) changes.addAsk(pick(), pick());
      const seq0 = p.nextSeq;
      const parts = packBookDelta(p, view, changes);
      const sendTimeUs = pick();
      p.seal(sendTimeUs);
      expect(p.count).toBeGreaterThanOrEqual(1);
      let msg = 0;
      for (let d = 0; d < p.count; d++) {
        const bytes = p.bytes[d]!;
        const got = new DataView(bytes.buffer, 0, p.lengths[d]!);
        const want = new DataView(new ArrayBuffer(L.PACKET_HEADER_BYTES));
        const count = got.getUint16(L.PKT_MSG_COUNT_OFFSET, true);
        want.setUint16(L.PKT_MAGIC_OFFSET, L.MAGIC, true);
        want.setUint8(L.PKT_VERSION_OFFSET, L.WIRE_VERSION);
        want.setUint8(L.PKT_FLAGS_OFFSET, (d === 0 ? L.PKT_FLAG_SESSION_START : 0) | (auth ? L.PKT_FLAG_AUTHENTICATED : 0));
        want.setUint16(L.PKT_CHANNEL_ID_OFFSET, channelId, true);
        want.setUint16(L.PKT_MSG_COUNT_OFFSET, count, true);
        want.setUint32(L.PKT_SESSION_ID_OFFSET, sessionId, true);
        want.setUint16(L.PKT_LENGTH_OFFSET, p.lengths[d]!, true);
        want.setUint16(L.PKT_SOURCE_ID_OFFSET, sourceId, true);
        setU64(want, L.PKT_SEQ_NUM_OFFSET, seq0 + msg);
        setNsFromUs(want, L.PKT_SEND_TIME_NS_OFFSET, sendTimeUs);
        setNsFromUs(want, L.PKT_SESSION_START_NS_OFFSET, sessionStartUs);
        want.setUint16(L.PKT_HEARTBEAT_INTERVAL_MS_OFFSET, heartbeatIntervalMs, true);
        want.setUint16(L.PKT_SCHEMA_ID_OFFSET, L.SCHEMA_ID, true);
        want.setUint32(L.PKT_CHECKSUM_OFFSET, datagramCrc32Ts(bytes, p.lengths[d]!), true); // the TypeScript CRC-32, not the native one seal() uses
        expect([...new Uint8Array(bytes.buffer, 0, L.PACKET_HEADER_BYTES)], `trial ${trial} datagram ${d} header`).toEqual([...new Uint8Array(want.buffer)]);
        let off = L.PACKET_HEADER_BYTES;
        for (let m = 0; m < count; m++, msg++) {
          const levels = got.getUint16(off + L.MESSAGE_HEADER_BYTES + L.DELTA_BID_COUNT_OFFSET, true) + got.getUint16(off + L.MESSAGE_HEADER_BYTES + L.DELTA_ASK_COUNT_OFFSET, true);
          const msgBytes = L.MESSAGE_HEADER_BYTES + L.BOOK_DELTA_BLOCK_BYTES + levels * L.LEVEL_BYTES;
          const w = new DataView(new ArrayBuffer(L.MESSAGE_HEADER_BYTES + L.BOOK_DELTA_BLOCK_BYTES));
          w.setUint16(L.MSG_LENGTH_OFFSET, msgBytes, true);
          w.setUint16(L.MSG_TEMPLATE_ID_OFFSET, L.TEMPLATE_BOOK_DELTA, true);
          w.setUint16(L.MSG_BLOCK_LENGTH_OFFSET, L.BOOK_DELTA_BLOCK_BYTES, true);
          w.setUint8(L.MSG_VERSION_OFFSET, L.BOOK_DELTA_VERSION);
          w.setUint8(L.MSG_FLAGS_OFFSET, (view.state === BookState.LIVE ? 0 : L.MSG_FLAG_MAYBE_BAD_BOOK) | (msg === parts - 1 ? L.MSG_FLAG_LAST : 0));
          const b = L.MESSAGE_HEADER_BYTES;
          w.setUint32(b + L.BOOK_INSTRUMENT_ID_OFFSET, inst.instrumentId, true);
          w.setInt8(b + L.BOOK_PRICE_EXP_OFFSET, inst.priceExp);
          w.setInt8(b + L.BOOK_QTY_EXP_OFFSET, inst.qtyExp);
          w.setUint8(b + L.BOOK_STATE_OFFSET, view.state);
          w.setUint8(b + L.BOOK_REASON_OFFSET, view.reason);
          setU64(w, b + L.BOOK_INSTR_SEQ_OFFSET, view.instrSeq);
          setU64(w, b + L.BOOK_VENUE_SEQ_OFFSET, view.venueSeq);
          setNsFromUs(w, b + L.BOOK_TS_EXCHANGE_NS_OFFSET, view.tsExchangeUs);
          setNsFromUs(w, b + L.BOOK_TS_EVENT_NS_OFFSET, view.tsEventUs);
          setNsFromUs(w, b + L.BOOK_TS_RECV_NS_OFFSET, view.tsRecvUs);
          w.setUint16(b + L.DELTA_BID_COUNT_OFFSET, got.getUint16(off + b + L.DELTA_BID_COUNT_OFFSET, true), true);
          w.setUint16(b + L.DELTA_ASK_COUNT_OFFSET, got.getUint16(off + b + L.DELTA_ASK_COUNT_OFFSET, true), true);
          w.setUint16(b + L.DELTA_LEVEL_LENGTH_OFFSET, L.LEVEL_BYTES, true);
          w.setUint16(b + L.DELTA_PART_INDEX_OFFSET, msg, true);
          w.setUint16(b + L.DELTA_PART_COUNT_OFFSET, parts, true);
          expect([...new Uint8Array(bytes.buffer, off, w.byteLength)], `trial ${trial} message ${msg}`).toEqual([...new Uint8Array(w.buffer)]);
          off += msgBytes;
        }
      }
      expect(msg).toBe(parts);
      p.clear();
    }
  });

  it("levels: every pair of edge values (either side of 0, 2^31, 2^32, 2^52, ±2^53) as setI64 writes them", () => {
    const vals = [...EDGE, -0, -1, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 53) + 1, 3, 2 ** 33 + 5];
    const p = new ChannelPacker(65000 & ~7, 1, 2, 3, { sessionStartUs: 1 });
    const view = new TestBook(makeInstrument("binance", "spot", "EDGE", 2, 8));
    const changes = new ChangeSet();
    for (const a of vals) for (const b of vals) changes.addBid(a, b);
    for (const a of vals) changes.addAsk(a, vals[vals.length - 1 - vals.indexOf(a)]!);
    expect(packBookDelta(p, view, changes)).toBe(1);
    const want = new DataView(new ArrayBuffer(changes.count * L.LEVEL_BYTES));
    let o = 0;
    for (const [px, qty, n] of [[changes.bidPx, changes.bidQty, changes.bidCount], [changes.askPx, changes.askQty, changes.askCount]] as const) {
      for (let i = 0; i < n; i++, o += L.LEVEL_BYTES) {
        setI64(want, o + L.LEVEL_PRICE_OFFSET, px[i]!);
        setI64(want, o + L.LEVEL_QTY_OFFSET, qty[i]!);
      }
    }
    const start = L.PACKET_HEADER_BYTES + L.MESSAGE_HEADER_BYTES + L.BOOK_DELTA_BLOCK_BYTES;
    expect([...p.bytes[0]!.subarray(start, start + want.byteLength)]).toEqual([...new Uint8Array(want.buffer)]);
  });

  it("packBookSnapshot's root blocks (first chunk encoded, later chunks copied) as the field-by-field stores write them", () => {
    const r = rng(13);
    for (let trial = 0; trial < 60; trial++) {
      const p = new ChannelPacker(randInt(r, 256, 1400), 1, 2, 3, { sessionStartUs: 1 });
      const view = new TestBook({ ...makeInstrument("okx", "spot", `S${trial}`, randInt(r, -8, 18), randInt(r, -8, 18)), instrumentId: randInt(r, 0, 2 ** 32 - 1) });
      const pick = () => (r() < 0.3 ? EDGE[randInt(r, 0, EDGE.length - 1)]! : Math.floor(r() * 2 ** randInt(r, 1, 52)));
      view.state = [BookState.LIVE, BookState.STALE][trial % 2]!;
      view.instrSeq = pick();
      view.venueSeq = pick();
      view.tsExchangeUs = pick();
      view.tsEventUs = pick();
      view.tsRecvUs = pick();
      const nb = randInt(r, 0, 300);
      const na = randInt(r, 0, 300);
      for (let i = 0; i < nb; i++) view.bids.set(1_000_000 - i, pick());
      for (let i = 0; i < na; i++) view.asks.set(1_000_001 + i, pick());
      const depth = trial % 3 === 0 ? randInt(r, 1, 120) : 0;
      const chunks = packBookSnapshot(p, view, depth, trial % 4 === 0);
      const tb = depth > 0 ? Math.min(depth, nb) : nb;
      const ta = depth > 0 ? Math.min(depth, na) : na;
      let chunk = 0;
      for (let d = 0; d < p.count; d++) {
        const got = new DataView(p.bytes[d]!.buffer, 0, p.lengths[d]!);
        for (let off = L.PACKET_HEADER_BYTES; off < p.lengths[d]!; chunk++) {
          const body = off + L.MESSAGE_HEADER_BYTES;
          const w = new DataView(new ArrayBuffer(L.BOOK_SNAPSHOT_BLOCK_BYTES));
          writeBookCommon(w, 0, view);
          w.setUint16(L.SNAP_BID_COUNT_OFFSET, got.getUint16(body + L.SNAP_BID_COUNT_OFFSET, true), true);
          w.setUint16(L.SNAP_ASK_COUNT_OFFSET, got.getUint16(body + L.SNAP_ASK_COUNT_OFFSET, true), true);
          w.setUint16(L.SNAP_LEVEL_LENGTH_OFFSET, L.LEVEL_BYTES, true);
          w.setUint16(L.SNAP_CHUNK_INDEX_OFFSET, chunk, true);
          w.setUint16(L.SNAP_CHUNK_COUNT_OFFSET, chunks, true);
          w.setUint16(L.SNAP_TOTAL_BID_COUNT_OFFSET, tb, true);
          w.setUint16(L.SNAP_TOTAL_ASK_COUNT_OFFSET, ta, true);
          w.setUint16(L.SNAP_CUT_FLAGS_OFFSET, L.SNAP_CUT_MARKED | (tb < nb ? L.SNAP_CUT_BIDS : 0) | (ta < na ? L.SNAP_CUT_ASKS : 0), true);
          expect([...new Uint8Array(got.buffer, body, L.BOOK_SNAPSHOT_BLOCK_BYTES)], `trial ${trial} chunk ${chunk}`).toEqual([...new Uint8Array(w.buffer)]);
          off += got.getUint16(off + L.MSG_LENGTH_OFFSET, true);
        }
      }
      expect(chunk).toBe(chunks);
    }
  });
});
