/**
 * The encoder and packer against an independent encoder written from docs/wire-protocol.md alone (literal offsets,
 * BigInt little-endian stores, a bitwise CRC-32, node:crypto's HMAC; nothing from src/wire/layout.ts), on random
 * turns: deltas (split or not), snapshots (chunked, depth-limited, cut), statuses, definitions (UTF-8 names) and
 * heartbeats, with values over their whole ranges: prices down to −2^53 and up to 2^53 − 1, quantities up to
 * 2^53 − 1, sequences up to 2^53 − 1, timestamps up to 2^53 − 1 µs, any u32 instrument id, any i8 exponent, any
 * datagram maximum from 256 to 65507 bytes, signed or not. Every datagram must equal the model's byte for byte, never
 * exceed the maximum, and decode (PacketReader) to the values written (the CRC's check value is asserted too). The golden vectors pin a few fixed datagrams;
 * this covers the word-store paths (words.ts, writeLevels' two forms) over the value ranges they branch on.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { LadderBook } from "../../src/book/ladder-book.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, MARKET_IDS, VENUE_IDS, type Instrument, type MarketName, type StatusReason, type VenueName } from "../../src/core/types.ts";
import { DatagramAuth, runtimeSha256 } from "../../src/wire/auth.ts";
import { BookMessageReader, DecodeErrorCode, DefinitionReader, PacketReader } from "../../src/wire/decoder.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { Rng } from "../book/rng.ts";

const TWO_53 = 2 ** 53;

/** A book view over two ladders (the encoder's bulk reads), with every field settable. */
class View extends LadderBook implements BookView {
  state: BookState = BookState.LIVE;
  reason: StatusReason = 0 as StatusReason;
  instrSeq = 0;
  venueSeq = 0;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  constructor(public instrument: Instrument) {
    super();
  }
}

// ---- the model: an encoder from the spec's tables ----

/** CRC-32 (§3.2): reflected 0xEDB88320, init and final XOR 0xFFFFFFFF; a byte table built here from the polynomial. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  return c;
});
function specCrc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** One message as the model writes it: its bytes (header included). */
type ModelMsg = Uint8Array;

class Bytes {
  readonly b: Uint8Array;
  readonly dv: DataView;
  constructor(n: number) {
    this.b = new Uint8Array(n);
    this.dv = new DataView(this.b.buffer);
  }
  u8(o: number, v: number) {
    this.dv.setUint8(o, v);
  }
  i8(o: number, v: number) {
    this.dv.setInt8(o, v);
  }
  u16(o: number, v: number) {
    this.dv.setUint16(o, v, true);
  }
  u32(o: number, v: number) {
    this.dv.setUint32(o, v, true);
  }
  u64(o: number, v: bigint) {
    this.dv.setBigUint64(o, v, true);
  }
  i64(o: number, v: bigint) {
    this.dv.setBigInt64(o, v, true);
  }
}

interface BookFields {
  instrumentId: number;
  priceExp: number;
  qtyExp: number;
  state: number;
  reason: number;
  instrSeq: number;
  venueSeq: number;
  tsExchangeUs: number;
  tsEventUs: number;
  tsRecvUs: number;
}

function modelHeader(m: Bytes, templateId: number, blockLength: number, version: number, flags: number): void {
  m.u16(0, m.b.length);
  m.u16(2, templateId);
  m.u16(4, blockLength);
  m.u8(6, version);
  m.u8(7, flags);
}

function modelCommon(m: Bytes, f: BookFields): void {
  const b = 8;
  m.u32(b + 0, f.instrumentId);
  m.i8(b + 4, f.priceExp);
  m.i8(b + 5, f.qtyExp);
  m.u8(b + 6, f.state);
  m.u8(b + 7, f.reason);
  m.u64(b + 8, BigInt(f.instrSeq));
  m.u64(b + 16, BigInt(f.venueSeq));
  m.i64(b + 24, BigInt(f.tsExchangeUs) * 1000n);
  m.i64(b + 32, BigInt(f.tsEventUs) * 1000n);
  m.i64(b + 40, BigInt(f.tsRecvUs) * 1000n);
}

function modelLevels(m: Bytes, at: number, levels: [number, number][]): void {
  for (const [p, q] of levels) {
    m.i64(at, BigInt(p));
    m.i64(at + 8, BigInt(q));
    at += 16;
  }
}

const bookFlag = (f: BookFields) => (f.state === 1 ? 0 : 0x04);

/** §4.3: the event's bids then asks, cut into parts of `cap` levels. */
function modelDelta(f: BookFields, bids: [number, number][], asks: [number, number][], cap: number): ModelMsg[] {
  const all = [...bids.map((l) => ({ l, bid: true })), ...asks.map((l) => ({ l, bid: false }))];
  const parts = Math.max(1, Math.ceil(all.length / cap));
  const out: ModelMsg[] = [];
  for (let p = 0; p < parts; p++) {
    const slice = all.slice(p * cap, (p + 1) * cap);
    const pb = slice.filter((x) => x.bid).map((x) => x.l);
    const pa = slice.filter((x) => !x.bid).map((x) => x.l);
    const m = new Bytes(8 + 64 + 16 * slice.length);
    modelHeader(m, 1, 64, 2, bookFlag(f) | (p === parts - 1 ? 0x80 : 0));
    modelCommon(m, f);
    m.u16(8 + 48, pb.length);
    m.u16(8 + 50, pa.length);
    m.u16(8 + 52, 16);
    m.u16(8 + 54, p);
    m.u16(8 + 56, parts);
    modelLevels(m, 8 + 64, [...pb, ...pa]);
    out.push(m.b);
  }
  return out;
}

/** §4.4: the top `depth` (0 = all, at most 65535) levels a side, "all bids then all asks" in chunks of `cap`. */
function modelSnapshot(f: BookFields, bids: [number, number][], asks: [number, number][], depth: number, refresh: boolean, cap: number): ModelMsg[] {
  const limit = depth > 0 ? Math.min(depth, 65535) : 65535;
  const nb = Math.min(bids.length, limit);
  const na = Math.min(asks.length, limit);
  const cut = 0x8000 | (nb < bids.length ? 1 : 0) | (na < asks.length ? 2 : 0);
  const all = [...bids.slice(0, nb).map((l) => ({ l, bid: true })), ...asks.slice(0, na).map((l) => ({ l, bid: false }))];
  const chunks = Math.max(1, Math.ceil(all.length / cap));
  const out: ModelMsg[] = [];
  for (let c = 0; c < chunks; c++) {
    const slice = all.slice(c * cap, (c + 1) * cap);
    const cb = slice.filter((x) => x.bid).map((x) => x.l);
    const ca = slice.filter((x) => !x.bid).map((x) => x.l);
    const m = new Bytes(8 + 64 + 16 * slice.length);
    modelHeader(m, 2, 64, 1, bookFlag(f) | 0x20 | (refresh ? 0x10 : 0) | (c === chunks - 1 ? 0x80 : 0));
    modelCommon(m, f);
    m.u16(8 + 48, cb.length);
    m.u16(8 + 50, ca.length);
    m.u16(8 + 52, 16);
    m.u16(8 + 54, c);
    m.u16(8 + 56, chunks);
    m.u16(8 + 58, nb);
    m.u16(8 + 60, na);
    m.u16(8 + 62, cut);
    modelLevels(m, 8 + 64, [...cb, ...ca]);
    out.push(m.b);
  }
  return out;
}

/** §4.5. */
function modelStatus(f: BookFields): ModelMsg {
  const m = new Bytes(8 + 48);
  modelHeader(m, 3, 48, 1, bookFlag(f) | 0x80);
  modelCommon(m, f);
  return m.b;
}

/** §4.6: root block, then the strings' UTF-8 bytes back to back, zero padding to a multiple of 8. */
function modelDefinition(ins: Instrument, refresh: boolean): ModelMsg {
  const enc = new TextEncoder();
  const s = [enc.encode(ins.symbol), enc.encode(ins.tickSize), enc.encode(ins.lotSize)];
  const raw = 8 + 16 + s[0]!.length + s[1]!.length + s[2]!.length;
  const m = new Bytes(Math.ceil(raw / 8) * 8);
  modelHeader(m, 10, 16, 1, 0x80 | (refresh ? 0x10 : 0));
  m.u32(8, ins.instrumentId);
  m.u16(8 + 4, VENUE_IDS[ins.venue]);
  m.u16(8 + 6, MARKET_IDS[ins.market]);
  m.i8(8 + 8, ins.priceExp);
  m.i8(8 + 9, ins.qtyExp);
  m.u8(8 + 10, s[0]!.length);
  m.u8(8 + 11, s[1]!.length);
  m.u8(8 + 12, s[2]!.length);
  let at = 8 + 16;
  for (const x of s) {
    m.b.set(x, at);
    at += x.length;
  }
  return m.b;
}

interface Stream {
  maxBytes: number; // the configured maximum
  channelId: number;
  sourceId: number;
  sessionId: number;
  sessionStartUs: number;
  heartbeatIntervalMs: number;
  key: Uint8Array | undefined;
}

/** A model datagram in the making: its messages, or a heartbeat (flags). */
interface ModelDatagram {
  msgs: ModelMsg[];
  seqNum: number;
  heartbeatFlags: number | undefined;
}

/** §2, §3, §3.1: greedy packing, a message never split, datagrams at most the maximum's multiple of 8. */
class ModelPacker {
  readonly room: number;
  nextSeq = 1;
  pending: ModelDatagram[] = [];
  private open: ModelDatagram | undefined;
  private first = true;
  constructor(readonly s: Stream) {
    this.room = (s.maxBytes & ~7) - 48 - (s.key !== undefined ? 16 : 0);
  }
  add(msg: ModelMsg): void {
    expect(msg.length).toBeLessThanOrEqual(this.room);
    const used = this.open === undefined ? 0 : this.open.msgs.reduce((a, m) => a + m.length, 0);
    if (this.open === undefined || used + msg.length > this.room || this.open.msgs.length === 0xfffe) {
      this.open = { msgs: [], seqNum: this.nextSeq, heartbeatFlags: undefined };
      this.pending.push(this.open);
    }
    this.open.msgs.push(msg);
    this.nextSeq++;
  }
  heartbeat(flags: number): void {
    this.pending.push({ msgs: [], seqNum: this.nextSeq, heartbeatFlags: flags });
    this.open = undefined;
  }
  /** The pending datagrams' bytes, sent at sendTimeUs. */
  seal(sendTimeUs: number): Uint8Array[] {
    const s = this.s;
    const out = this.pending.map((d) => {
      const trailer = s.key !== undefined ? 16 : 0;
      const len = 48 + d.msgs.reduce((a, m) => a + m.length, 0) + trailer;
      const m = new Bytes(len);
      let flags = d.heartbeatFlags ?? 0;
      if (s.key !== undefined) flags |= 0x08;
      if (this.first) flags |= 0x01;
      this.first = false;
      m.u16(0, 0x4446);
      m.u8(2, 3);
      m.u8(3, flags);
      m.u16(4, s.channelId);
      m.u16(6, d.msgs.length);
      m.u32(8, s.sessionId);
      m.u16(12, len);
      m.u16(14, s.sourceId);
      m.u64(16, BigInt(d.seqNum));
      m.i64(24, BigInt(sendTimeUs) * 1000n);
      m.i64(32, BigInt(s.sessionStartUs) * 1000n);
      m.u16(40, s.heartbeatIntervalMs);
      m.u16(42, 1);
      let at = 48;
      for (const msg of d.msgs) {
        m.b.set(msg, at);
        at += msg.length;
      }
      if (s.key !== undefined) m.b.set(createHmac("sha256", s.key).update(m.b.subarray(0, len - 16)).digest().subarray(0, 16), len - 16);
      m.u32(44, specCrc32(m.b));
      return m.b;
    });
    this.pending = [];
    this.open = undefined;
    return out;
  }
}

// ---- random values ----

/** An i64 price: small, around 2^32, large, negative, or an extreme. */
function randPrice(r: Rng): number {
  switch (r.int(0, 6)) {
    case 0:
      return r.int(0, 1000);
    case 1:
      return r.int(2 ** 32 - 50, 2 ** 32 + 50);
    case 2:
      return r.int(0, TWO_53 - 1);
    case 3:
      return -r.int(1, TWO_53);
    case 4:
      return -r.int(1, 2 ** 33);
    case 5:
      return [-TWO_53, TWO_53 - 1, -1, 0, 2 ** 31, -(2 ** 31), 2 ** 52, -(2 ** 52)][r.int(0, 7)]!;
    default:
      return r.int(0, 2 ** 32 - 1);
  }
}

/** A quantity ≥ 1 (0 in deltas is chosen apart). */
function randQty(r: Rng): number {
  const k = r.int(0, 3);
  if (k === 0) return r.int(1, 2 ** 32 - 1);
  if (k === 1) return r.int(2 ** 32, TWO_53 - 1);
  if (k === 2) return [1, 2 ** 32 - 1, 2 ** 32, TWO_53 - 1][r.int(0, 3)]!;
  return r.logInt(TWO_53 - 1);
}

function randU53(r: Rng): number {
  const k = r.int(0, 3);
  if (k === 0) return r.int(0, 2 ** 31 - 1);
  if (k === 1) return r.int(2 ** 31, 2 ** 52);
  if (k === 2) return r.int(2 ** 52, TWO_53 - 1);
  return [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 52 - 1, 2 ** 52, TWO_53 - 1][r.int(0, 8)]!;
}

const LETTERS = ["A", "z", "0", "-", "é", "币", "安", "人", "生", "😀", "_"];
function randString(r: Rng, maxBytes: number): string {
  let s = "";
  const n = r.int(0, 40);
  for (let i = 0; i < n; i++) {
    const c = LETTERS[r.int(0, LETTERS.length - 1)]!;
    if (new TextEncoder().encode(s + c).length > maxBytes) break;
    s += c;
  }
  return s;
}

function randInstrument(r: Rng): Instrument {
  const venues = Object.keys(VENUE_IDS) as VenueName[];
  const markets = Object.keys(MARKET_IDS) as MarketName[];
  return {
    instrumentId: r.u32(),
    venue: venues[r.int(0, venues.length - 1)]!,
    market: markets[r.int(0, markets.length - 1)]!,
    symbol: randString(r, 64),
    priceExp: r.int(-128, 127),
    qtyExp: r.int(-128, 127),
    tickSize: randString(r, 20),
    lotSize: randString(r, 20),
  };
}

/** A side of `n` distinct random prices, best first. */
function randSide(r: Rng, n: number, bid: boolean): [number, number][] {
  const prices = new Set<number>();
  const base = randPrice(r);
  while (prices.size < n) {
    const p = r.chance(0.7) ? base + (bid ? -1 : 1) * r.int(0, 4 * n + 10) : randPrice(r);
    if (p >= -TWO_53 && p < TWO_53) prices.add(p);
  }
  const sorted = [...prices].sort((a, b) => (bid ? b - a : a - b));
  return sorted.map((p) => [p, randQty(r)]);
}

function randFields(r: Rng, v: View): void {
  v.state = r.int(0, 4) as BookState;
  v.reason = r.int(0, 14) as StatusReason;
  v.instrSeq = randU53(r);
  v.venueSeq = randU53(r);
  v.tsExchangeUs = randU53(r);
  v.tsEventUs = randU53(r);
  v.tsRecvUs = randU53(r);
}

const fieldsOf = (v: View): BookFields => ({
  instrumentId: v.instrument.instrumentId,
  priceExp: v.instrument.priceExp,
  qtyExp: v.instrument.qtyExp,
  state: v.state,
  reason: v.reason,
  instrSeq: v.instrSeq,
  venueSeq: v.venueSeq,
  tsExchangeUs: v.tsExchangeUs,
  tsEventUs: v.tsEventUs,
  tsRecvUs: v.tsRecvUs,
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Reads back every datagram with the decoder: the fields and levels the model wrote, exact as numbers. Returns the
 * first difference (null: none) and the levels read.
 */
function decodeAll(datagrams: Uint8Array[], maxBytes: number, key: Uint8Array | undefined): { diff: string | null; levels: number } {
  const reader = new PacketReader(key !== undefined ? new DatagramAuth(key) : undefined);
  const book = new BookMessageReader();
  const def = new DefinitionReader();
  let levels = 0;
  for (const d of datagrams) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const rc = reader.wrap(dv, d.length, maxBytes);
    if (rc !== DecodeErrorCode.OK) return { diff: `decode error ${rc}`, levels };
    if (!reader.first()) continue;
    do {
      const b = reader.bodyOffset;
      if (reader.templateId === 10) {
        def.wrap(reader);
        if (def.instrumentId !== dv.getUint32(b, true) || def.priceExp !== dv.getInt8(b + 8)) return { diff: "definition", levels };
        continue;
      }
      book.wrap(reader);
      if (book.instrSeq !== Number(dv.getBigUint64(b + 8, true))) return { diff: `instrSeq ${book.instrSeq}`, levels };
      if (book.venueSeq !== Number(dv.getBigUint64(b + 16, true))) return { diff: `venueSeq ${book.venueSeq}`, levels };
      if (book.tsRecvUs !== Number(dv.getBigInt64(b + 40, true) / 1000n)) return { diff: `tsRecvUs ${book.tsRecvUs}`, levels };
      for (let i = 0; i < book.bidCount + book.askCount; i++) {
        const at = b + book.blockLength + 16 * i;
        const p = Number(dv.getBigInt64(at, true));
        const q = Number(dv.getBigInt64(at + 8, true));
        if (book.priceAt(i) !== p || book.qtyAt(i) !== q) return { diff: `level ${i}: ${book.priceAt(i)}@${book.qtyAt(i)} != ${p}@${q}`, levels };
        levels++;
      }
    } while (reader.next());
  }
  return { diff: null, levels };
}

describe("encoder and packer against a model written from the spec", () => {
  it("random turns of every message type, any value range, any datagram maximum, signed or not: byte for byte", () => {
    expect(specCrc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926); // the model's CRC is §3.2's
    let datagramsChecked = 0;
    let levelsChecked = 0;
    let splits = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const r = new Rng(seed * 7919);
      const key = r.chance(0.4) ? Uint8Array.from({ length: r.int(16, 80) }, () => r.int(0, 255)) : undefined;
      const maxBytes = r.chance(0.3) ? 1400 : r.chance(0.5) ? r.int(256, 600) : r.int(256, 65507);
      const s: Stream = {
        maxBytes,
        channelId: r.int(0, 0xffff),
        sourceId: r.int(0, 0xffff),
        sessionId: r.int(1, 0xffffffff),
        sessionStartUs: randU53(r),
        heartbeatIntervalMs: r.int(0, 0xffff),
        key,
      };
      const packer = new ChannelPacker(maxBytes, s.channelId, s.sourceId, s.sessionId, {
        sessionStartUs: s.sessionStartUs,
        heartbeatIntervalMs: s.heartbeatIntervalMs,
        // The publisher's reusable hasher (Bun's) or createHmac: the model is node:crypto's HMAC either way.
        auth: key !== undefined ? new DatagramAuth(key, r.chance(0.5) ? runtimeSha256() : undefined) : undefined,
      });
      const model = new ModelPacker(s);
      const cap = Math.floor((model.room - 72) / 16);
      const changes = new ChangeSet();
      for (let turn = 0; turn < 12; turn++) {
        const ops = r.int(1, 6);
        for (let k = 0; k < ops; k++) {
          const view = new View(randInstrument(r));
          randFields(r, view);
          const kind = r.int(0, 5);
          if (kind <= 1) {
            // A delta: any prices (a price may repeat), qty 0 deletes; sometimes larger than a datagram.
            changes.clear();
            const n = r.chance(0.2) ? r.int(cap, 3 * cap + 5) : r.int(0, Math.min(cap, 40));
            const bids: [number, number][] = [];
            const asks: [number, number][] = [];
            for (let i = 0; i < n; i++) {
              const lvl: [number, number] = [randPrice(r), r.chance(0.2) ? 0 : randQty(r)];
              if (r.chance(0.5)) {
                bids.push(lvl);
                changes.addBid(lvl[0], lvl[1]);
              } else {
                asks.push(lvl);
                changes.addAsk(lvl[0], lvl[1]);
              }
            }
            const want = modelDelta(fieldsOf(view), bids, asks, cap);
            if (want.length > 1) splits++;
            expect(packBookDelta(packer, view, changes)).toBe(want.length);
            for (const m of want) model.add(m);
          } else if (kind === 2) {
            const big = r.chance(0.15);
            const bids = randSide(r, big ? r.int(0, 3 * cap) : r.int(0, 12), true);
            const asks = randSide(r, big ? r.int(0, 3 * cap) : r.int(0, 12), false);
            view.bids.loadSorted(Float64Array.from(bids, (l) => l[0]), Float64Array.from(bids, (l) => l[1]), bids.length);
            view.asks.loadSorted(Float64Array.from(asks, (l) => l[0]), Float64Array.from(asks, (l) => l[1]), asks.length);
            const depth = r.chance(0.5) ? 0 : r.int(1, 20);
            const refresh = r.chance(0.3);
            const want = modelSnapshot(fieldsOf(view), bids, asks, depth, refresh, cap);
            expect(packBookSnapshot(packer, view, depth, refresh)).toBe(want.length);
            for (const m of want) model.add(m);
          } else if (kind === 3) {
            packBookStatus(packer, view);
            model.add(modelStatus(fieldsOf(view)));
          } else if (kind === 4) {
            const refresh = r.chance(0.5);
            packInstrumentDefinition(packer, new EncodedDefinition(view.instrument), refresh);
            model.add(modelDefinition(view.instrument, refresh));
          } else {
            const flags = r.chance(0.2) ? 0x02 : 0;
            packer.appendHeartbeat(flags);
            model.heartbeat(flags);
          }
        }
        const sendTimeUs = randU53(r);
        packer.seal(sendTimeUs);
        const want = model.seal(sendTimeUs);
        const got = Array.from({ length: packer.count }, (_, i) => packer.exactView(i).slice());
        packer.clear();
        expect(got.length, `seed ${seed} turn ${turn}: datagrams`).toBe(want.length);
        for (let i = 0; i < want.length; i++) {
          if (got[i]!.length > maxBytes) expect.fail(`seed ${seed} turn ${turn} datagram ${i}: ${got[i]!.length} B over ${maxBytes}`);
          if (!equalBytes(got[i]!, want[i]!)) expect(hex(got[i]!), `seed ${seed} turn ${turn} datagram ${i}`).toBe(hex(want[i]!));
        }
        expect(packer.nextSeq).toBe(model.nextSeq);
        const back = decodeAll(want, maxBytes, key);
        expect(back.diff, `seed ${seed} turn ${turn}: read back`).toBeNull();
        levelsChecked += back.levels;
        datagramsChecked += want.length;
      }
    }
    // The run reached what it is about: many datagrams, levels and split deltas.
    expect(datagramsChecked).toBeGreaterThan(300);
    expect(levelsChecked).toBeGreaterThan(5000);
    expect(splits).toBeGreaterThan(5);
  });
});
