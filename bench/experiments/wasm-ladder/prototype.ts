// HOT PATH (onDiff): no allocation
/**
 * Experiment host (docs/performance.md §10, "The ladder in WebAssembly: an upper bound"): per frame, the string is
 * copied into the module's memory, the stream found by its name's first 8 bytes (as BinanceScanner.fastFrame does),
 * ONE call of "binbook" (gen-module.ts) reads the diff, applies its levels to the module's windows and writes the
 * BookDelta datagram, and the native CRC-32 seals it, as ChannelPacker.seal does.
 * REST snapshots go through today's path (scanSnapshot → applySnapshot → packBookSnapshot → seal, on this path's own
 * builders and packer); the book is then copied into the windows and the counters (instrSeq, nextSeq, last u) taken
 * over, so that the datagrams that follow are the ones today's path writes (verify.ts compares them).
 * An upper bound, not a design: each side's window covers every price the recording's diffs touch (sized by
 * `windowsFor` from the recording itself), no overflow, no re-centring, no depth clip, and a frame the module
 * declines is counted, not read again.
 * @module
 */
import { Buffer } from "node:buffer";
import { BookBuilder } from "../../../src/book/book-builder.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { BinanceScanner } from "../../../src/venues/binance/scanner.ts";
import { FRAME_NAME_OFFSET, fastKey, StreamTable } from "../../../src/venues/binance/topic-table.ts";
import { datagramCrc32Zeroed } from "../../../src/wire/crc32.ts";
import { packBookSnapshot } from "../../../src/wire/encoder.ts";
import { ExactViews } from "../../../src/wire/exact-views.ts";
import {
  MAGIC,
  PKT_CHANNEL_ID_OFFSET,
  PKT_CHECKSUM_OFFSET,
  PKT_FLAGS_OFFSET,
  PKT_HEARTBEAT_INTERVAL_MS_OFFSET,
  PKT_MAGIC_OFFSET,
  PKT_MSG_COUNT_OFFSET,
  PKT_SCHEMA_ID_OFFSET,
  PKT_SESSION_ID_OFFSET,
  PKT_SESSION_START_NS_OFFSET,
  PKT_SOURCE_ID_OFFSET,
  PKT_VERSION_OFFSET,
  SCHEMA_ID,
  WIRE_VERSION,
} from "../../../src/wire/layout.ts";
import { ChannelPacker } from "../../../src/wire/packer.ts";
import { nsFromUsWords } from "../../../src/wire/words.ts";
import { type Lvl, type Rec, SEND_TIME_US, SESSION_START_US } from "./current-path.ts";
import { buildBinbookModule, CH_ADDR, CH_NEXTSEQ, DG_ADDR, DG_BYTES, FRAME_BASE, MAX_BOOKS, MAX_IN, R, REC_ADDR, REC_BYTES, WIN_ADDR } from "./gen-module.ts";

type Binbook = (p: number, priceExp: number, qtyExp: number, rec: number, end: number, tsRecvUs: number, sendTimeUs: number) => number;
interface Utf8Writer {
  utf8Write(s: string, offset: number): number;
}

/** Per symbol, per side: the window's first price (mantissa) and its size in ticks. */
export interface Windows {
  bidLo: number;
  bidSize: number;
  askLo: number;
  askSize: number;
}

const TWO_32 = 4294967296;
/** Slots beyond the highest and below the lowest price the recording touches. */
const MARGIN = 64;

function mantissa(s: string, exp: number): number {
  const [i, f = ""] = s.split(".");
  return Number((i! + f.padEnd(exp, "0").slice(0, exp)).replace(/^0+(?=\d)/, ""));
}

/** Windows covering every price the diffs touch and each snapshot's best (the upper bound's one liberty). */
export function windowsFor(rec: Rec): Windows[] {
  const out: Windows[] = [];
  const bySym = new Map<string, { bmin: number; bmax: number; amin: number; amax: number }>();
  for (const [sym, e] of rec.symbols) {
    const b = JSON.parse(e.body) as { bids: Lvl[]; asks: Lvl[] };
    const bb = b.bids.length > 0 ? mantissa(b.bids[0]![0], e.priceExp) : NaN;
    const ba = b.asks.length > 0 ? mantissa(b.asks[0]![0], e.priceExp) : NaN;
    bySym.set(sym, { bmin: bb, bmax: bb, amin: ba, amax: ba });
  }
  for (const f of rec.diffs) {
    const d = (JSON.parse(f) as { data: { s: string; b: Lvl[]; a: Lvl[] } }).data;
    const e = rec.symbols.get(d.s)!;
    const w = bySym.get(d.s)!;
    for (const [p] of d.b) {
      const m = mantissa(p, e.priceExp);
      w.bmin = Math.min(w.bmin, m);
      w.bmax = Math.max(w.bmax, m);
    }
    for (const [p] of d.a) {
      const m = mantissa(p, e.priceExp);
      w.amin = Math.min(w.amin, m);
      w.amax = Math.max(w.amax, m);
    }
  }
  for (const w of bySym.values()) {
    const bidLo = Math.max(0, w.bmin - MARGIN);
    const askLo = Math.max(0, w.amin - MARGIN);
    out.push({ bidLo, bidSize: w.bmax + MARGIN + 1 - bidLo, askLo, askSize: w.amax + MARGIN + 1 - askLo });
  }
  return out;
}

export class WasmLadderPath {
  readonly table = new StreamTable();
  /** Today's snapshot path, on this path's own books and packer. */
  readonly scanner = new BinanceScanner();
  readonly snap = new BookUpdate();
  readonly builders: BookBuilder[] = [];
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed, { sessionStartUs: SESSION_START_US });
  readonly windows: Windows[];
  private readonly memory: WebAssembly.Memory;
  private readonly binbook: Binbook;
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly i32: Int32Array;
  private readonly dgBytes: Uint8Array;
  private readonly exact: ExactViews;
  /** Per table entry: its record's address. */
  private readonly recAddr: Int32Array;
  bytesOut = 0;
  /** Frames the module declined, or that did not fit its input (would take today's path). */
  declined = 0;
  /** Length of the last datagram written (0 after a decline). */
  lastLength = 0;

  constructor(readonly rec: Rec, windows?: Windows[]) {
    this.windows = windows ?? windowsFor(rec);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(buildBinbookModule()), {});
    this.memory = inst.exports.mem as WebAssembly.Memory;
    this.binbook = inst.exports.binbook as Binbook;
    let i = 0;
    for (const [sym, e] of rec.symbols) {
      const ins: Instrument = { instrumentId: instrumentIdOf("binance", rec.market, sym), venue: "binance", market: rec.market, symbol: sym, priceExp: e.priceExp, qtyExp: e.qtyExp, tickSize: "1", lotSize: "1" };
      this.builders.push(new BookBuilder(ins));
      this.table.addStream(e.stream, sym, i++, e.priceExp, e.qtyExp);
    }
    if (this.table.size > MAX_BOOKS) throw new Error("too many streams for the prototype");
    // Memory: templates, then the windows, 8 bytes a tick; grown once here, so every view stays valid.
    let at = WIN_ADDR;
    const tplAt: number[][] = [];
    for (let e = 0; e < this.table.size; e++) {
      const head = at;
      at += (this.table.headTexts[e]!.length + 7) & ~7;
      const mid = at;
      at += (this.table.midTexts[e]!.length + 7) & ~7;
      tplAt.push([head, mid]);
    }
    at = (at + 63) & ~63;
    const winAt: number[][] = [];
    for (const w of this.windows) {
      const b = at;
      at += 8 * w.bidSize;
      const a = at;
      at += 8 * w.askSize;
      winAt.push([b, a]);
    }
    const have = this.memory.buffer.byteLength;
    if (at > have) this.memory.grow(Math.ceil((at - have) / 65536));
    const buf = this.memory.buffer;
    this.bytes = Buffer.from(buf, FRAME_BASE, MAX_IN);
    this.view = new DataView(buf, FRAME_BASE, MAX_IN);
    this.i32 = new Int32Array(buf);
    this.dgBytes = new Uint8Array(buf, DG_ADDR, DG_BYTES);
    this.exact = new ExactViews(this.dgBytes);
    const u8 = new Uint8Array(buf);
    const dv = new DataView(buf);
    this.recAddr = new Int32Array(this.table.size);
    for (let e = 0; e < this.table.size; e++) {
      const head = this.table.headTexts[e]!;
      const mid = this.table.midTexts[e]!;
      if (head.length === 0) throw new Error("a stream without templates");
      for (let k = 0; k < head.length; k++) u8[tplAt[e]![0]! + k] = head.charCodeAt(k);
      for (let k = 0; k < mid.length; k++) u8[tplAt[e]![1]! + k] = mid.charCodeAt(k);
      const index = this.table.indexes[e]!;
      const r = REC_ADDR + REC_BYTES * e;
      this.recAddr[e] = r;
      const w = this.windows[index]!;
      const b = this.builders[index]!;
      dv.setInt32(r + R.HEADLEN, head.length, true);
      dv.setInt32(r + R.HEADADDR, tplAt[e]![0]!, true);
      dv.setInt32(r + R.MIDLEN, mid.length, true);
      dv.setInt32(r + R.MIDADDR, tplAt[e]![1]!, true);
      dv.setInt32(r + R.INSTR, b.instrument.instrumentId, true);
      dv.setInt32(r + R.MARKET, rec.market === "spot" ? 0 : 1, true);
      dv.setBigInt64(r + R.BLO, BigInt(w.bidLo), true);
      dv.setBigInt64(r + R.ALO, BigInt(w.askLo), true);
      dv.setInt32(r + R.BSIZE, w.bidSize, true);
      dv.setInt32(r + R.BADDR, winAt[index]![0]!, true);
      dv.setInt32(r + R.ASIZE, w.askSize, true);
      dv.setInt32(r + R.AADDR, winAt[index]![1]!, true);
    }
    // The channel's packet header template: the bytes ChannelPacker.openDatagram + beginMessage write for a delta
    // after the session's first datagram (flags 0, msgCount 1; length, seqNum, send time and checksum per frame).
    dv.setUint16(CH_ADDR + PKT_MAGIC_OFFSET, MAGIC, true);
    dv.setUint8(CH_ADDR + PKT_VERSION_OFFSET, WIRE_VERSION);
    dv.setUint8(CH_ADDR + PKT_FLAGS_OFFSET, 0);
    dv.setUint16(CH_ADDR + PKT_CHANNEL_ID_OFFSET, this.packer.channelId, true);
    dv.setUint16(CH_ADDR + PKT_MSG_COUNT_OFFSET, 1, true);
    dv.setUint32(CH_ADDR + PKT_SESSION_ID_OFFSET, this.packer.sessionId, true);
    dv.setUint16(CH_ADDR + PKT_SOURCE_ID_OFFSET, this.packer.sourceId, true);
    const ss = new Int32Array(2);
    nsFromUsWords(ss, 0, SESSION_START_US);
    dv.setInt32(CH_ADDR + PKT_SESSION_START_NS_OFFSET, ss[0]!, true);
    dv.setInt32(CH_ADDR + PKT_SESSION_START_NS_OFFSET + 4, ss[1]!, true);
    dv.setUint16(CH_ADDR + PKT_HEARTBEAT_INTERVAL_MS_OFFSET, this.packer.heartbeatIntervalMs, true);
    dv.setUint16(CH_ADDR + PKT_SCHEMA_ID_OFFSET, SCHEMA_ID, true);
    dv.setUint32(CH_ADDR + PKT_CHECKSUM_OFFSET, 0, true);
  }

  /** Today's snapshot path, then the book and its counters copied into the module (untimed set-up in the A/B). */
  onSnapshot(index: number, body: string): void {
    const e = [...this.rec.symbols.values()][index]!;
    if (this.scanner.scanSnapshot(body, e.priceExp, e.qtyExp, this.snap) !== 0) throw new Error("snapshot scan failed");
    const b = this.builders[index]!;
    const entry = this.table.indexes.indexOf(index);
    const r = this.recAddr[entry]!;
    const dv = new DataView(this.memory.buffer);
    // The module's deltas advanced the book's instrSeq and the channel's sequence: the snapshot continues from them.
    b.instrSeq = Number(dv.getBigInt64(r + R.INSTRSEQ, true));
    this.packer.nextSeq = Math.max(this.packer.nextSeq, Number(dv.getBigInt64(CH_NEXTSEQ, true)));
    b.applySnapshot(this.snap);
    packBookSnapshot(this.packer, b, 0, false);
    this.packer.seal(SEND_TIME_US);
    this.packer.clear();
    const w = this.windows[index]!;
    const bidBest = this.load(b, true, dv.getInt32(r + R.BADDR, true), w.bidLo, w.bidSize);
    const askBest = this.load(b, false, dv.getInt32(r + R.AADDR, true), w.askLo, w.askSize);
    dv.setInt32(r + R.BBEST, bidBest, true);
    dv.setInt32(r + R.ABEST, askBest, true);
    dv.setInt32(r + R.STATE, b.state, true);
    const ins = b.instrument;
    dv.setInt32(r + R.WORD1, (ins.priceExp & 0xff) | ((ins.qtyExp & 0xff) << 8) | ((b.state & 0xff) << 16) | ((b.reason & 0xff) << 24), true);
    dv.setBigInt64(r + R.INSTRSEQ, BigInt(b.instrSeq), true);
    dv.setBigInt64(r + R.LASTU, BigInt(this.snap.venueSeq), true);
    dv.setBigInt64(CH_NEXTSEQ, BigInt(this.packer.nextSeq), true);
  }

  /** One side of the builder's book into its window (cleared first); the best slot, or -1 / size when none. */
  private load(b: BookBuilder, bids: boolean, addr: number, lo: number, size: number): number {
    const w = new Int32Array(this.memory.buffer, addr, 2 * size);
    w.fill(0);
    const n = bids ? b.bidCount : b.askCount;
    const px = new Float64Array(n);
    const qty = new Float64Array(n);
    if (bids) b.copyBids(0, n, px, qty, 0);
    else b.copyAsks(0, n, px, qty, 0);
    let best = bids ? -1 : size;
    for (let i = 0; i < n; i++) {
      const s = px[i]! - lo;
      if (s < 0 || s >= size) continue; // deeper than any diff of the recording goes: an overflow's levels
      w[2 * s] = qty[i]! >>> 0;
      w[2 * s + 1] = Math.floor(qty[i]! / TWO_32);
      if (bids ? s > best : s < best) best = s;
    }
    return best;
  }

  /** A diff frame: copy, stream lookup, one module call, CRC. */
  onDiff(frame: string): void {
    const len = frame.length;
    this.lastLength = 0;
    if (3 * len + 16 > MAX_IN || (this.bytes as unknown as Utf8Writer).utf8Write(frame, 0) !== len) {
      this.declined++;
      return;
    }
    this.bytes[len] = 0;
    const t = this.table;
    const dv = this.view;
    const key = fastKey(dv.getInt32(FRAME_NAME_OFFSET, true), dv.getInt32(FRAME_NAME_OFFSET + 4, true));
    const slots = t.fastSlots;
    const mask = t.fastMask;
    let slot = key & mask;
    let entry: number;
    for (;;) {
      entry = slots[slot]!;
      if (entry < 0 || t.fastKeys[entry] === key) break;
      slot = (slot + 1) & mask;
    }
    const n = entry < 0 ? -1 : this.binbook(0, t.priceExp[entry]!, t.qtyExp[entry]!, this.recAddr[entry]!, len, 0, SEND_TIME_US);
    if (n < 0) {
      this.declined++;
      return;
    }
    this.i32[(DG_ADDR + PKT_CHECKSUM_OFFSET) >> 2] = datagramCrc32Zeroed(this.exact.of(n));
    this.lastLength = n;
    this.bytesOut += n;
  }

  /** onDiff without the CRC (breakdown.ts only): the copy, the lookup and the module call. */
  onDiffNoCrc(frame: string): void {
    const len = frame.length;
    if (3 * len + 16 > MAX_IN || (this.bytes as unknown as Utf8Writer).utf8Write(frame, 0) !== len) {
      this.declined++;
      return;
    }
    this.bytes[len] = 0;
    const t = this.table;
    const dv = this.view;
    const key = fastKey(dv.getInt32(FRAME_NAME_OFFSET, true), dv.getInt32(FRAME_NAME_OFFSET + 4, true));
    const slots = t.fastSlots;
    const mask = t.fastMask;
    let slot = key & mask;
    let entry: number;
    for (;;) {
      entry = slots[slot]!;
      if (entry < 0 || t.fastKeys[entry] === key) break;
      slot = (slot + 1) & mask;
    }
    const n = entry < 0 ? -1 : this.binbook(0, t.priceExp[entry]!, t.qtyExp[entry]!, this.recAddr[entry]!, len, 0, SEND_TIME_US);
    if (n < 0) this.declined++;
    else this.bytesOut += n;
  }

  /** The last datagram (valid until the next frame). */
  datagram(): Uint8Array {
    return this.dgBytes.subarray(0, this.lastLength);
  }

  /** The module's counters for symbol `index`: absent deletes, sequence breaks, duplicates, crossed, deltas. */
  counters(index: number): { absent: number; breaks: number; dups: number; crossed: number; deltas: number } {
    const r = this.recAddr[this.table.indexes.indexOf(index)]!;
    const dv = new DataView(this.memory.buffer);
    const g = (o: number) => dv.getInt32(r + o, true);
    return { absent: g(R.ABSENT), breaks: g(R.BREAKS), dups: g(R.DUPS), crossed: g(R.CROSSED), deltas: g(R.DELTAS) };
  }
}

/** Symbol `index`'s window as (price, qty) pairs, best first, and its best slots: for verify.ts. */
export function windowBook(p: WasmLadderPath, index: number, bids: boolean): { levels: [number, number][]; best: number } {
  const self = p as unknown as { memory: WebAssembly.Memory; recAddr: Int32Array };
  const r = self.recAddr[p.table.indexes.indexOf(index)]!;
  const dv = new DataView(self.memory.buffer);
  const addr = dv.getInt32(r + (bids ? R.BADDR : R.AADDR), true);
  const size = dv.getInt32(r + (bids ? R.BSIZE : R.ASIZE), true);
  const lo = Number(dv.getBigInt64(r + (bids ? R.BLO : R.ALO), true));
  const best = dv.getInt32(r + (bids ? R.BBEST : R.ABEST), true);
  const levels: [number, number][] = [];
  for (let s = 0; s < size; s++) {
    const q = Number(dv.getBigInt64(addr + 8 * s, true));
    if (q !== 0) levels.push([lo + s, q]);
  }
  if (bids) levels.reverse();
  return { levels, best: best < 0 || best >= size ? NaN : lo + best };
}
