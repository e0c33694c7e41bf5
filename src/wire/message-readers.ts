// HOT PATH: no allocation (DefinitionReader's strings are cold)
/**
 * Flyweight field readers for the message under a PacketReader's cursor (after a successful `wrap()`, so every
 * offset is known to be inside the datagram): the common book block and levels of BookDelta / BookSnapshot /
 * BookStatus, and InstrumentDefinition. Split from decoder.ts, which validates.
 * @module
 */
import { getI64, getU64, getUsFromNs } from "../core/i64.ts";
import type { PacketReader } from "./decoder.ts";
import {
  BOOK_INSTRUMENT_ID_OFFSET,
  BOOK_INSTR_SEQ_OFFSET,
  BOOK_PRICE_EXP_OFFSET,
  BOOK_QTY_EXP_OFFSET,
  BOOK_REASON_OFFSET,
  BOOK_STATE_OFFSET,
  BOOK_TS_EVENT_NS_OFFSET,
  BOOK_TS_EXCHANGE_NS_OFFSET,
  BOOK_TS_RECV_NS_OFFSET,
  BOOK_VENUE_SEQ_OFFSET,
  DEF_INSTRUMENT_ID_OFFSET,
  DEF_LOT_SIZE_LENGTH_OFFSET,
  DEF_MARKET_ID_OFFSET,
  DEF_PRICE_EXP_OFFSET,
  DEF_QTY_EXP_OFFSET,
  DEF_SYMBOL_LENGTH_OFFSET,
  DEF_TICK_SIZE_LENGTH_OFFSET,
  DEF_VENUE_ID_OFFSET,
  DELTA_ASK_COUNT_OFFSET,
  DELTA_BID_COUNT_OFFSET,
  DELTA_LEVEL_LENGTH_OFFSET,
  DELTA_PART_COUNT_OFFSET,
  DELTA_PART_INDEX_OFFSET,
  LEVEL_BYTES,
  LEVEL_PRICE_OFFSET,
  LEVEL_QTY_OFFSET,
  SNAP_ASK_COUNT_OFFSET,
  SNAP_BID_COUNT_OFFSET,
  SNAP_CHUNK_COUNT_OFFSET,
  SNAP_CHUNK_INDEX_OFFSET,
  SNAP_CUT_FLAGS_OFFSET,
  SNAP_LEVEL_LENGTH_OFFSET,
  SNAP_TOTAL_ASK_COUNT_OFFSET,
  SNAP_TOTAL_BID_COUNT_OFFSET,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
} from "./layout.ts";

/** Reads the common book root block and level groups of BookDelta / BookSnapshot / BookStatus at body offset b. */
export class BookMessageReader {
  dv: DataView = new DataView(new ArrayBuffer(0));
  b = 0;
  templateId = 0;
  blockLength = 0;

  /** Bid / ask levels in this message (0 for BookStatus), cached by wrap(). */
  bidCount = 0;
  askCount = 0;
  /** Bytes per level entry and offset of level 0, cached by wrap(). */
  levelLength = 0;
  private levelBase = 0;

  wrap(r: PacketReader): this {
    const dv = r.dv;
    const b = r.bodyOffset;
    const templateId = r.templateId;
    this.dv = dv;
    this.b = b;
    this.templateId = templateId;
    this.blockLength = r.blockLength;
    this.levelBase = b + this.blockLength;
    if (templateId === TEMPLATE_BOOK_DELTA) {
      this.bidCount = dv.getUint16(b + DELTA_BID_COUNT_OFFSET, true);
      this.askCount = dv.getUint16(b + DELTA_ASK_COUNT_OFFSET, true);
      this.levelLength = dv.getUint16(b + DELTA_LEVEL_LENGTH_OFFSET, true);
    } else if (templateId === TEMPLATE_BOOK_SNAPSHOT) {
      this.bidCount = dv.getUint16(b + SNAP_BID_COUNT_OFFSET, true);
      this.askCount = dv.getUint16(b + SNAP_ASK_COUNT_OFFSET, true);
      this.levelLength = dv.getUint16(b + SNAP_LEVEL_LENGTH_OFFSET, true);
    } else {
      this.bidCount = 0;
      this.askCount = 0;
      this.levelLength = LEVEL_BYTES;
    }
    return this;
  }

  get instrumentId(): number {
    return this.dv.getUint32(this.b + BOOK_INSTRUMENT_ID_OFFSET, true);
  }
  get priceExp(): number {
    return this.dv.getInt8(this.b + BOOK_PRICE_EXP_OFFSET);
  }
  get qtyExp(): number {
    return this.dv.getInt8(this.b + BOOK_QTY_EXP_OFFSET);
  }
  get state(): number {
    return this.dv.getUint8(this.b + BOOK_STATE_OFFSET);
  }
  get reason(): number {
    return this.dv.getUint8(this.b + BOOK_REASON_OFFSET);
  }
  get instrSeq(): number {
    return getU64(this.dv, this.b + BOOK_INSTR_SEQ_OFFSET);
  }
  get venueSeq(): number {
    return getU64(this.dv, this.b + BOOK_VENUE_SEQ_OFFSET);
  }
  get tsExchangeUs(): number {
    return getUsFromNs(this.dv, this.b + BOOK_TS_EXCHANGE_NS_OFFSET);
  }
  get tsEventUs(): number {
    return getUsFromNs(this.dv, this.b + BOOK_TS_EVENT_NS_OFFSET);
  }
  get tsRecvUs(): number {
    return getUsFromNs(this.dv, this.b + BOOK_TS_RECV_NS_OFFSET);
  }
  /** BookDelta: 0-based part of a split event, and the number of parts (1 when not split). */
  get partIndex(): number {
    return this.dv.getUint16(this.b + DELTA_PART_INDEX_OFFSET, true);
  }
  get partCount(): number {
    return this.dv.getUint16(this.b + DELTA_PART_COUNT_OFFSET, true);
  }
  get chunkIndex(): number {
    return this.dv.getUint16(this.b + SNAP_CHUNK_INDEX_OFFSET, true);
  }
  get chunkCount(): number {
    return this.dv.getUint16(this.b + SNAP_CHUNK_COUNT_OFFSET, true);
  }
  get totalBidCount(): number {
    return this.dv.getUint16(this.b + SNAP_TOTAL_BID_COUNT_OFFSET, true);
  }
  get totalAskCount(): number {
    return this.dv.getUint16(this.b + SNAP_TOTAL_ASK_COUNT_OFFSET, true);
  }
  /** BookSnapshot: SNAP_CUT_* bits; without SNAP_CUT_MARKED (an older publisher) nothing is known of cuts. */
  get cutFlags(): number {
    return this.dv.getUint16(this.b + SNAP_CUT_FLAGS_OFFSET, true);
  }
  /** Byte offset of level i of this message (bids first, then asks: ask j is level bidCount + j). */
  levelOffset(i: number): number {
    return this.levelBase + i * this.levelLength;
  }
  priceAt(i: number): number {
    return getI64(this.dv, this.levelBase + i * this.levelLength + LEVEL_PRICE_OFFSET);
  }
  qtyAt(i: number): number {
    return getI64(this.dv, this.levelBase + i * this.levelLength + LEVEL_QTY_OFFSET);
  }
}

/** Reads an InstrumentDefinition (cold: strings are decoded into new JS strings). */
export class DefinitionReader {
  dv: DataView = new DataView(new ArrayBuffer(0));
  b = 0;
  blockLength = 0;

  wrap(r: PacketReader): this {
    this.dv = r.dv;
    this.b = r.bodyOffset;
    this.blockLength = r.blockLength;
    return this;
  }
  get instrumentId(): number {
    return this.dv.getUint32(this.b + DEF_INSTRUMENT_ID_OFFSET, true);
  }
  get venueId(): number {
    return this.dv.getUint16(this.b + DEF_VENUE_ID_OFFSET, true);
  }
  get marketId(): number {
    return this.dv.getUint16(this.b + DEF_MARKET_ID_OFFSET, true);
  }
  get priceExp(): number {
    return this.dv.getInt8(this.b + DEF_PRICE_EXP_OFFSET);
  }
  get qtyExp(): number {
    return this.dv.getInt8(this.b + DEF_QTY_EXP_OFFSET);
  }
  get symbol(): string {
    return this.str(0, this.dv.getUint8(this.b + DEF_SYMBOL_LENGTH_OFFSET));
  }
  get tickSize(): string {
    return this.str(this.dv.getUint8(this.b + DEF_SYMBOL_LENGTH_OFFSET), this.dv.getUint8(this.b + DEF_TICK_SIZE_LENGTH_OFFSET));
  }
  get lotSize(): string {
    const skip = this.dv.getUint8(this.b + DEF_SYMBOL_LENGTH_OFFSET) + this.dv.getUint8(this.b + DEF_TICK_SIZE_LENGTH_OFFSET);
    return this.str(skip, this.dv.getUint8(this.b + DEF_LOT_SIZE_LENGTH_OFFSET));
  }
  private str(skip: number, len: number): string {
    const start = this.dv.byteOffset + this.b + this.blockLength + skip;
    return UTF8_EXACT.decode(new Uint8Array(this.dv.buffer, start, len));
  }
}

/**
 * The wire's UTF-8 strings as they are: TextDecoder's default drops a leading U+FEFF as a byte order mark, which read
 * "\uFEFFBTCUSDT" as BTCUSDT, another instrument's name (docs/wire-protocol.md §1). Stateless: one for every string.
 */
const UTF8_EXACT = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `bytes` as the wire's UTF-8, a leading U+FEFF kept (UTF8_EXACT). A function, not the decoder, on the module's
 * surface: the shipped declarations then name no TextDecoder type, which a consumer without Bun, Node or DOM types
 * cannot resolve (test/package/node-package.test.ts).
 */
export function utf8Exact(bytes: Uint8Array): string {
  return UTF8_EXACT.decode(bytes);
}
