// HOT PATH: no allocation
/**
 * Encoders of the v2 messages (docs/wire-protocol.md §4) into a ChannelPacker: BookDelta (split over several
 * messages when larger than a datagram), BookSnapshot (chunked), BookStatus and InstrumentDefinition.
 * Everything is written at the named offsets of layout.ts, little-endian, into the packer's preallocated buffers.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import type { ChangeSet } from "../core/change-set.ts";
import { setI64, setNsFromUs, setU64 } from "../core/i64.ts";
import { BookState, MARKET_IDS, VENUE_IDS, type Instrument } from "../core/types.ts";
import {
  align8,
  BOOK_COMMON_BLOCK_BYTES,
  BOOK_DELTA_BLOCK_BYTES,
  BOOK_DELTA_VERSION,
  BOOK_INSTR_SEQ_OFFSET,
  BOOK_INSTRUMENT_ID_OFFSET,
  BOOK_PRICE_EXP_OFFSET,
  BOOK_QTY_EXP_OFFSET,
  BOOK_REASON_OFFSET,
  BOOK_SNAPSHOT_BLOCK_BYTES,
  BOOK_SNAPSHOT_VERSION,
  BOOK_STATE_OFFSET,
  BOOK_STATUS_BLOCK_BYTES,
  BOOK_STATUS_VERSION,
  BOOK_TS_EVENT_NS_OFFSET,
  BOOK_TS_EXCHANGE_NS_OFFSET,
  BOOK_TS_RECV_NS_OFFSET,
  BOOK_VENUE_SEQ_OFFSET,
  DEF_INSTRUMENT_ID_OFFSET,
  DEF_LOT_SIZE_LENGTH_OFFSET,
  DEF_MARKET_ID_OFFSET,
  DEF_PRICE_EXP_OFFSET,
  DEF_QTY_EXP_OFFSET,
  DEF_RESERVED_OFFSET,
  DEF_SYMBOL_LENGTH_OFFSET,
  DEF_TICK_SIZE_LENGTH_OFFSET,
  DEF_VENUE_ID_OFFSET,
  DELTA_ASK_COUNT_OFFSET,
  DELTA_BID_COUNT_OFFSET,
  DELTA_LEVEL_LENGTH_OFFSET,
  DELTA_PART_COUNT_OFFSET,
  DELTA_PART_INDEX_OFFSET,
  DELTA_RESERVED_OFFSET,
  INSTRUMENT_DEFINITION_BLOCK_BYTES,
  INSTRUMENT_DEFINITION_VERSION,
  LEVEL_BYTES,
  LEVEL_PRICE_OFFSET,
  LEVEL_QTY_OFFSET,
  MAX_DEF_STRING_BYTES,
  MAX_SNAPSHOT_LEVELS_PER_SIDE,
  MESSAGE_HEADER_BYTES,
  MSG_FLAG_LAST,
  MSG_FLAG_MAYBE_BAD_BOOK,
  MSG_FLAG_REFRESH,
  MSG_FLAG_SNAPSHOT,
  SNAP_ASK_COUNT_OFFSET,
  SNAP_BID_COUNT_OFFSET,
  SNAP_CHUNK_COUNT_OFFSET,
  SNAP_CHUNK_INDEX_OFFSET,
  SNAP_LEVEL_LENGTH_OFFSET,
  SNAP_CUT_ASKS,
  SNAP_CUT_BIDS,
  SNAP_CUT_FLAGS_OFFSET,
  SNAP_CUT_MARKED,
  SNAP_TOTAL_ASK_COUNT_OFFSET,
  SNAP_TOTAL_BID_COUNT_OFFSET,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "./layout.ts";
import type { ChannelPacker } from "./packer.ts";
import { LITTLE_ENDIAN, nsFromUsWords, u64Words } from "./words.ts";

const TWO_32 = 4294967296;
/*
 * Level fields (i64, 8-byte aligned in every datagram: headers and messages are multiples of 8) and the book root
 * blocks are stored as int32 words through the packer's Int32Array when the host is little-endian (x86-64, arm64),
 * else via DataView (words.ts).
 */

/** Scratch for one snapshot chunk's levels read in bulk from the view (grows cold, to the largest chunk). */
let chunkPx = new Float64Array(128);
let chunkQty = new Float64Array(128);

/** Placeholder before a snapshot's first chunk is written. */
const NO_WORDS = new Int32Array(0);

/** 2^52: for an integer 0 ≤ v < 2^52 the double v + 2^52 is exact and its low 52 bits are v. */
const TWO_52 = 4503599627370496;

/**
 * Writes levels [start, start + n) of px/qty as (i64 price, i64 qty) entries from byte `off` of the datagram that
 * `words` / `f64` / `dv` view; returns the byte offset after them. Values are integers with |v| < 2^53. The common
 * case (both 0 ≤ v < 2^32, little-endian host, 8-aligned entry) stores each value as the double v + 2^52 through
 * the datagram's Float64Array (its low word is v: no double → int32 conversion) and then 0 into the high word. The
 * views are passed in, not read from the packer per call. Measured against int32 stores with a range check per
 * value (A/B in one process, docs/performance.md §3.4): 2.7 → 2.2 ns per level; packBookSnapshot of a 1000+1000 book
 * −4 to −12 %, small deltas −1 to −5 %.
 */
function writeLevels(words: Int32Array, f64: Float64Array, dv: DataView, off: number, px: Float64Array, qty: Float64Array, start: number, n: number): number {
  const end = start + n;
  if (!LITTLE_ENDIAN || (off & 7) !== 0) {
    for (let i = start; i < end; i++) {
      setI64(dv, off + LEVEL_PRICE_OFFSET, px[i]);
      setI64(dv, off + LEVEL_QTY_OFFSET, qty[i]);
      off += LEVEL_BYTES;
    }
    return off;
  }
  let k = off >> 2;
  for (let i = start; i < end; i++) {
    const price = px[i];
    const q = qty[i];
    // LEVEL_PRICE_OFFSET = 0, LEVEL_QTY_OFFSET = 8: words k, k+1 (double k/2) and k+2, k+3 (double k/2 + 1).
    if (price >= 0 && price < TWO_32 && q >= 0 && q < TWO_32) {
      const h = k >> 1;
      f64[h] = price + TWO_52;
      f64[h + 1] = q + TWO_52;
      words[k + 1] = 0;
      words[k + 3] = 0;
    } else {
      words[k] = price >>> 0; // low 32 bits, two's complement (ToInt32 keeps the bits)
      words[k + 1] = Math.floor(price / TWO_32);
      words[k + 2] = q >>> 0;
      words[k + 3] = Math.floor(q / TWO_32);
    }
    k += 4;
  }
  return k << 2;
}

// The word stores below pack adjacent fields; they assume this layout (a changed layout.ts fails at load, not silently).
if (
  BOOK_INSTRUMENT_ID_OFFSET !== 0 ||
  BOOK_PRICE_EXP_OFFSET !== 4 ||
  BOOK_QTY_EXP_OFFSET !== 5 ||
  BOOK_STATE_OFFSET !== 6 ||
  BOOK_REASON_OFFSET !== 7 ||
  BOOK_INSTR_SEQ_OFFSET !== 8 ||
  BOOK_VENUE_SEQ_OFFSET !== 16 ||
  BOOK_TS_EXCHANGE_NS_OFFSET !== 24 ||
  BOOK_TS_EVENT_NS_OFFSET !== 32 ||
  BOOK_TS_RECV_NS_OFFSET !== 40 ||
  DELTA_BID_COUNT_OFFSET !== 48 ||
  DELTA_ASK_COUNT_OFFSET !== 50 ||
  DELTA_LEVEL_LENGTH_OFFSET !== 52 ||
  DELTA_PART_INDEX_OFFSET !== 54 ||
  DELTA_PART_COUNT_OFFSET !== 56 ||
  DELTA_RESERVED_OFFSET !== 58 ||
  BOOK_DELTA_BLOCK_BYTES !== 64 ||
  SNAP_BID_COUNT_OFFSET !== 48 ||
  SNAP_ASK_COUNT_OFFSET !== 50 ||
  SNAP_LEVEL_LENGTH_OFFSET !== 52 ||
  SNAP_CHUNK_INDEX_OFFSET !== 54 ||
  SNAP_CHUNK_COUNT_OFFSET !== 56 ||
  SNAP_TOTAL_BID_COUNT_OFFSET !== 58 ||
  SNAP_TOTAL_ASK_COUNT_OFFSET !== 60 ||
  SNAP_CUT_FLAGS_OFFSET !== 62 ||
  BOOK_SNAPSHOT_BLOCK_BYTES !== 64 ||
  LEVEL_PRICE_OFFSET !== 0 ||
  LEVEL_QTY_OFFSET !== 8 ||
  LEVEL_BYTES !== 16
) {
  throw new Error("wire/encoder.ts: the word stores do not match layout.ts");
}

/** writeBookCommon as 12 word stores at word k (byte offset 4k of a little-endian datagram): the same bytes. */
function writeBookCommonWords(w: Int32Array, k: number, view: BookView): void {
  const instrument = view.instrument;
  w[k] = instrument.instrumentId;
  w[k + 1] = (instrument.priceExp & 0xff) | ((instrument.qtyExp & 0xff) << 8) | ((view.state & 0xff) << 16) | ((view.reason & 0xff) << 24);
  u64Words(w, k + 2, view.instrSeq);
  u64Words(w, k + 4, view.venueSeq);
  nsFromUsWords(w, k + 6, view.tsExchangeUs);
  nsFromUsWords(w, k + 8, view.tsEventUs);
  nsFromUsWords(w, k + 10, view.tsRecvUs);
}

/** Writes the 48-byte common book root block at body offset `off`. */
export function writeBookCommon(dv: DataView, off: number, view: BookView): void {
  const instrument = view.instrument;
  dv.setUint32(off + BOOK_INSTRUMENT_ID_OFFSET, instrument.instrumentId, true);
  dv.setInt8(off + BOOK_PRICE_EXP_OFFSET, instrument.priceExp);
  dv.setInt8(off + BOOK_QTY_EXP_OFFSET, instrument.qtyExp);
  dv.setUint8(off + BOOK_STATE_OFFSET, view.state);
  dv.setUint8(off + BOOK_REASON_OFFSET, view.reason);
  setU64(dv, off + BOOK_INSTR_SEQ_OFFSET, view.instrSeq);
  setU64(dv, off + BOOK_VENUE_SEQ_OFFSET, view.venueSeq);
  setNsFromUs(dv, off + BOOK_TS_EXCHANGE_NS_OFFSET, view.tsExchangeUs);
  setNsFromUs(dv, off + BOOK_TS_EVENT_NS_OFFSET, view.tsEventUs);
  setNsFromUs(dv, off + BOOK_TS_RECV_NS_OFFSET, view.tsRecvUs);
}

function bookFlags(view: BookView): number {
  return view.state === BookState.LIVE ? 0 : MSG_FLAG_MAYBE_BAD_BOOK;
}

function deltaMessageBytes(levels: number): number {
  return MESSAGE_HEADER_BYTES + BOOK_DELTA_BLOCK_BYTES + levels * LEVEL_BYTES;
}

/**
 * Appends one book event of changed levels. When it does not fit in one datagram it becomes several BookDelta
 * messages (parts) with the same instrSeq, each with its partIndex and the partCount; only the last carries LAST.
 * Returns the number of messages written.
 */
export function packBookDelta(p: ChannelPacker, view: BookView, changes: ChangeSet): number {
  const nb = changes.bidCount;
  const na = changes.askCount;
  const total = nb + na;
  const cap = Math.floor((p.maxMessageBytes - MESSAGE_HEADER_BYTES - BOOK_DELTA_BLOCK_BYTES) / LEVEL_BYTES);
  const flags = bookFlags(view);
  if (total <= cap) {
    writeDeltaMessage(p, view, changes, 0, nb, 0, na, 0, 1, flags | MSG_FLAG_LAST);
    return 1;
  }
  // Parts fill to cap in the sequence "bids, then asks", so their number is known up front.
  const partCount = Math.ceil(total / cap);
  if (partCount > 0xffff) throw new RangeError(`delta of ${total} levels needs ${partCount} parts; partCount is a u16`); // cold
  let bi = 0;
  let ai = 0;
  for (let part = 0; part < partCount; part++) {
    const bidTake = Math.min(nb - bi, cap);
    const askTake = Math.min(na - ai, cap - bidTake);
    writeDeltaMessage(p, view, changes, bi, bidTake, ai, askTake, part, partCount, part === partCount - 1 ? flags | MSG_FLAG_LAST : flags);
    bi += bidTake;
    ai += askTake;
  }
  return partCount;
}

function writeDeltaMessage(
  p: ChannelPacker,
  view: BookView,
  changes: ChangeSet,
  bidStart: number,
  bidN: number,
  askStart: number,
  askN: number,
  partIndex: number,
  partCount: number,
  msgFlags: number,
): void {
  const off = p.beginMessage(deltaMessageBytes(bidN + askN), TEMPLATE_BOOK_DELTA, BOOK_DELTA_BLOCK_BYTES, BOOK_DELTA_VERSION, msgFlags);
  const dv = p.currentView;
  if (LITTLE_ENDIAN && (off & 3) === 0) {
    const w = p.currentWords;
    const k = off >> 2;
    writeBookCommonWords(w, k, view);
    w[k + 12] = (bidN & 0xffff) | (askN << 16); // bidCount, askCount
    w[k + 13] = LEVEL_BYTES | (partIndex << 16); // levelLength, partIndex
    w[k + 14] = partCount & 0xffff; // partCount, 2 reserved bytes
    w[k + 15] = 0; // 4 reserved bytes
    const f64 = p.currentF64;
    const lw = writeLevels(w, f64, dv, off + BOOK_DELTA_BLOCK_BYTES, changes.bidPx, changes.bidQty, bidStart, bidN);
    writeLevels(w, f64, dv, lw, changes.askPx, changes.askQty, askStart, askN);
    return;
  }
  writeBookCommon(dv, off, view);
  dv.setUint16(off + DELTA_BID_COUNT_OFFSET, bidN, true);
  dv.setUint16(off + DELTA_ASK_COUNT_OFFSET, askN, true);
  dv.setUint16(off + DELTA_LEVEL_LENGTH_OFFSET, LEVEL_BYTES, true);
  dv.setUint16(off + DELTA_PART_INDEX_OFFSET, partIndex, true);
  dv.setUint16(off + DELTA_PART_COUNT_OFFSET, partCount, true);
  // 6 reserved bytes at 58..63
  dv.setUint16(off + DELTA_RESERVED_OFFSET, 0, true);
  dv.setUint32(off + DELTA_RESERVED_OFFSET + 2, 0, true);
  const lv = writeLevels(p.currentWords, p.currentF64, dv, off + BOOK_DELTA_BLOCK_BYTES, changes.bidPx, changes.bidQty, bidStart, bidN);
  writeLevels(p.currentWords, p.currentF64, dv, lv, changes.askPx, changes.askQty, askStart, askN);
}

/**
 * Appends the book (top `depth` levels per side, 0 = all, at most 65535) as BookSnapshot chunks with the view's
 * instrSeq. `refresh` marks a periodic refresh (REFRESH flag: instrSeq was not incremented for it). Every chunk's
 * cutFlags says which sides hold fewer levels than the book (SNAP_CUT_*). Returns the number of chunks.
 */
export function packBookSnapshot(p: ChannelPacker, view: BookView, depth: number, refresh: boolean): number {
  const limit = depth > 0 && depth < MAX_SNAPSHOT_LEVELS_PER_SIDE ? depth : MAX_SNAPSHOT_LEVELS_PER_SIDE;
  const nb = view.bidCount < limit ? view.bidCount : limit;
  const na = view.askCount < limit ? view.askCount : limit;
  // Which sides hold less than the book: a subscriber knows such a side down to its last level only (§6.6).
  const cutFlags = SNAP_CUT_MARKED | (nb < view.bidCount ? SNAP_CUT_BIDS : 0) | (na < view.askCount ? SNAP_CUT_ASKS : 0);
  const cap = Math.floor((p.maxMessageBytes - MESSAGE_HEADER_BYTES - BOOK_SNAPSHOT_BLOCK_BYTES) / LEVEL_BYTES);
  const chunkCount = nb + na === 0 ? 1 : Math.ceil((nb + na) / cap);
  let flags = bookFlags(view) | MSG_FLAG_SNAPSHOT;
  if (refresh) flags |= MSG_FLAG_REFRESH;
  let bi = 0;
  let ai = 0;
  // The first chunk's root block, copied into the next chunks (only the per-chunk counts and index differ).
  let firstWords: Int32Array = NO_WORDS;
  let firstK = -1;
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    const bidTake = Math.min(nb - bi, cap);
    const askTake = Math.min(na - ai, cap - bidTake);
    const msgBytes = MESSAGE_HEADER_BYTES + BOOK_SNAPSHOT_BLOCK_BYTES + (bidTake + askTake) * LEVEL_BYTES;
    const msgFlags = chunk === chunkCount - 1 ? flags | MSG_FLAG_LAST : flags;
    const off = p.beginMessage(msgBytes, TEMPLATE_BOOK_SNAPSHOT, BOOK_SNAPSHOT_BLOCK_BYTES, BOOK_SNAPSHOT_VERSION, msgFlags);
    const dv = p.currentView;
    if (LITTLE_ENDIAN && (off & 3) === 0) {
      // The root block as 16 word stores: the common block encoded for the first chunk and copied (12 words) into
      // the next ones, then bidCount | askCount, levelLength | chunkIndex, chunkCount | totalBidCount,
      // totalAskCount | cutFlags.
      const words = p.currentWords;
      const k = off >> 2;
      if (firstK < 0) {
        writeBookCommonWords(words, k, view);
        firstWords = words;
        firstK = k;
      } else {
        for (let i = 0; i < BOOK_COMMON_BLOCK_BYTES >> 2; i++) words[k + i] = firstWords[firstK + i];
      }
      words[k + 12] = bidTake | (askTake << 16);
      words[k + 13] = LEVEL_BYTES | (chunk << 16);
      words[k + 14] = (chunkCount & 0xffff) | (nb << 16);
      words[k + 15] = na | (cutFlags << 16);
    } else {
      writeBookCommon(dv, off, view);
      dv.setUint16(off + SNAP_BID_COUNT_OFFSET, bidTake, true);
      dv.setUint16(off + SNAP_ASK_COUNT_OFFSET, askTake, true);
      dv.setUint16(off + SNAP_LEVEL_LENGTH_OFFSET, LEVEL_BYTES, true);
      dv.setUint16(off + SNAP_CHUNK_INDEX_OFFSET, chunk, true);
      dv.setUint16(off + SNAP_CHUNK_COUNT_OFFSET, chunkCount, true);
      dv.setUint16(off + SNAP_TOTAL_BID_COUNT_OFFSET, nb, true);
      dv.setUint16(off + SNAP_TOTAL_ASK_COUNT_OFFSET, na, true);
      dv.setUint16(off + SNAP_CUT_FLAGS_OFFSET, cutFlags, true);
    }
    const take = bidTake + askTake;
    if (take > chunkPx.length) growChunkScratch(take);
    const px = chunkPx;
    const qty = chunkQty;
    if (view.copyBids !== undefined && view.copyAsks !== undefined) {
      // Bulk reads: per-rank calls cost ~7 ns more per level (bench/bybit.bench.ts, docs/performance.md §1).
      view.copyBids(bi, bidTake, px, qty, 0);
      view.copyAsks(ai, askTake, px, qty, bidTake);
    } else {
      for (let i = 0; i < bidTake; i++) {
        px[i] = view.bidPriceAt(bi + i);
        qty[i] = view.bidQtyAt(bi + i);
      }
      for (let i = 0; i < askTake; i++) {
        px[bidTake + i] = view.askPriceAt(ai + i);
        qty[bidTake + i] = view.askQtyAt(ai + i);
      }
    }
    writeLevels(p.currentWords, p.currentF64, dv, off + BOOK_SNAPSHOT_BLOCK_BYTES, px, qty, 0, take);
    bi += bidTake;
    ai += askTake;
  }
  return chunkCount;
}

// Cold: a chunk larger than any before (datagrams above the default size).
function growChunkScratch(levels: number): void {
  chunkPx = new Float64Array(levels);
  chunkQty = new Float64Array(levels);
}

/** Appends a BookStatus (state and reason from the view). Always a complete event (LAST). */
export function packBookStatus(p: ChannelPacker, view: BookView): void {
  const off = p.beginMessage(
    MESSAGE_HEADER_BYTES + BOOK_STATUS_BLOCK_BYTES,
    TEMPLATE_BOOK_STATUS,
    BOOK_STATUS_BLOCK_BYTES,
    BOOK_STATUS_VERSION,
    bookFlags(view) | MSG_FLAG_LAST,
  );
  writeBookCommon(p.currentView, off, view);
}

/** A UTF-16 surrogate not in a pair (with the `u` flag a pair is one code point, never \p{Cs}). */
const LONE_SURROGATE = /\p{Cs}/u;

/** An instrument's definition with its strings encoded once at registration (cold). */
export class EncodedDefinition {
  readonly instrument: Instrument;
  readonly venueId: number;
  readonly marketId: number;
  readonly symbolBytes: Uint8Array;
  readonly tickSizeBytes: Uint8Array;
  readonly lotSizeBytes: Uint8Array;
  /** Whole message length incl. header and padding. */
  readonly msgBytes: number;

  constructor(instrument: Instrument) {
    this.instrument = instrument;
    this.venueId = VENUE_IDS[instrument.venue] ?? 0;
    this.marketId = MARKET_IDS[instrument.market] ?? 0;
    // TextEncoder writes a lone UTF-16 surrogate as U+FFFD: decoders would take another symbol than the book's.
    for (const s of [instrument.symbol, instrument.tickSize, instrument.lotSize]) {
      if (LONE_SURROGATE.test(s)) throw new RangeError(`instrument string ${JSON.stringify(s)} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    }
    const enc = new TextEncoder();
    this.symbolBytes = enc.encode(instrument.symbol);
    this.tickSizeBytes = enc.encode(instrument.tickSize);
    this.lotSizeBytes = enc.encode(instrument.lotSize);
    for (const b of [this.symbolBytes, this.tickSizeBytes, this.lotSizeBytes]) {
      if (b.length > MAX_DEF_STRING_BYTES) throw new RangeError(`instrument string longer than ${MAX_DEF_STRING_BYTES} bytes`);
    }
    const body = INSTRUMENT_DEFINITION_BLOCK_BYTES + this.symbolBytes.length + this.tickSizeBytes.length + this.lotSizeBytes.length;
    this.msgBytes = align8(MESSAGE_HEADER_BYTES + body);
  }
}

/** Appends an InstrumentDefinition. `refresh` marks a repetition by the refresh cycle. */
export function packInstrumentDefinition(p: ChannelPacker, def: EncodedDefinition, refresh: boolean): void {
  const instrument = def.instrument;
  const flags = refresh ? MSG_FLAG_LAST | MSG_FLAG_REFRESH : MSG_FLAG_LAST;
  const off = p.beginMessage(def.msgBytes, TEMPLATE_INSTRUMENT_DEFINITION, INSTRUMENT_DEFINITION_BLOCK_BYTES, INSTRUMENT_DEFINITION_VERSION, flags);
  const dv = p.currentView;
  dv.setUint32(off + DEF_INSTRUMENT_ID_OFFSET, instrument.instrumentId, true);
  dv.setUint16(off + DEF_VENUE_ID_OFFSET, def.venueId, true);
  dv.setUint16(off + DEF_MARKET_ID_OFFSET, def.marketId, true);
  dv.setInt8(off + DEF_PRICE_EXP_OFFSET, instrument.priceExp);
  dv.setInt8(off + DEF_QTY_EXP_OFFSET, instrument.qtyExp);
  dv.setUint8(off + DEF_SYMBOL_LENGTH_OFFSET, def.symbolBytes.length);
  dv.setUint8(off + DEF_TICK_SIZE_LENGTH_OFFSET, def.tickSizeBytes.length);
  dv.setUint8(off + DEF_LOT_SIZE_LENGTH_OFFSET, def.lotSizeBytes.length);
  dv.setUint8(off + DEF_RESERVED_OFFSET, 0);
  dv.setUint16(off + DEF_RESERVED_OFFSET + 1, 0, true);
  const bytes = p.bytes[p.count - 1];
  let pos = off + INSTRUMENT_DEFINITION_BLOCK_BYTES;
  bytes.set(def.symbolBytes, pos);
  pos += def.symbolBytes.length;
  bytes.set(def.tickSizeBytes, pos);
  pos += def.tickSizeBytes.length;
  bytes.set(def.lotSizeBytes, pos);
  pos += def.lotSizeBytes.length;
  bytes.fill(0, pos, off - MESSAGE_HEADER_BYTES + def.msgBytes); // padding must not leak old bytes
}
