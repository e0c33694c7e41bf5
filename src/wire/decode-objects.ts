/**
 * Cold-path decoding of a datagram into plain objects, for tools, tests and golden vectors.
 * Receive loops use the flyweights in decoder.ts instead; this allocates per message and level.
 * @module
 */
import { MARKET_IDS, VENUE_IDS } from "../core/types.ts";
import type { DatagramAuth } from "./auth.ts";
import { BookMessageReader, DecodeErrorCode, DefinitionReader, PacketReader, WireDecodeError } from "./decoder.ts";
import {
  ABS_MAX_DATAGRAM_BYTES,
  TEMPLATE_BOOK_DELTA,
  TEMPLATE_BOOK_SNAPSHOT,
  TEMPLATE_BOOK_STATUS,
  TEMPLATE_INSTRUMENT_DEFINITION,
} from "./layout.ts";

export interface DecodedPacketHeader {
  /** 3, or 2 (same layout, CRC-32C checksum). */
  version: number;
  flags: number;
  channelId: number;
  msgCount: number;
  sessionId: number;
  pktLength: number;
  sourceId: number;
  seqNum: number;
  sendTimeUs: number;
  sessionStartUs: number;
  heartbeatIntervalMs: number;
  schemaId: number;
  /** The checksum field (CRC-32 in v3, CRC-32C in v2), already verified. */
  checksum: number;
}

export interface DecodedBookCommon {
  msgFlags: number;
  version: number;
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

/** [priceMantissa, qtyMantissa] */
export type DecodedLevel = [number, number];

export type DecodedMessage =
  | ({ type: "delta"; partIndex: number; partCount: number; bids: DecodedLevel[]; asks: DecodedLevel[] } & DecodedBookCommon)
  | ({
      type: "snapshot";
      chunkIndex: number;
      chunkCount: number;
      totalBidCount: number;
      totalAskCount: number;
      /** SNAP_CUT_* bits: which sides hold fewer levels than the publisher's book (0: an older publisher, unknown). */
      cutFlags: number;
      bids: DecodedLevel[];
      asks: DecodedLevel[];
    } & DecodedBookCommon)
  | ({ type: "status" } & DecodedBookCommon)
  | {
      type: "definition";
      msgFlags: number;
      version: number;
      instrumentId: number;
      venueId: number;
      venue: string | undefined;
      marketId: number;
      market: string | undefined;
      priceExp: number;
      qtyExp: number;
      symbol: string;
      tickSize: string;
      lotSize: string;
    }
  | { type: "unknown"; templateId: number; msgFlags: number; version: number; msgLength: number };

export interface DecodedPacket extends DecodedPacketHeader {
  messages: DecodedMessage[];
}

export type DecodeResult = { ok: true; packet: DecodedPacket } | { ok: false; error: WireDecodeError };

const VENUE_BY_ID = new Map<number, string>(Object.entries(VENUE_IDS).map(([k, v]) => [v, k]));
const MARKET_BY_ID = new Map<number, string>(Object.entries(MARKET_IDS).map(([k, v]) => [v, k]));

/**
 * Decodes one datagram. Never throws: a bad datagram gives `{ ok: false, error }`, its message naming the field
 * (PacketReader.rejectDetail). With `auth`, a datagram without a valid HMAC trailer is `bad_auth`.
 */
export function decodeDatagram(bytes: Uint8Array, maxBytes = ABS_MAX_DATAGRAM_BYTES, auth?: DatagramAuth): DecodeResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new PacketReader(auth);
  const rc = r.wrap(dv, bytes.byteLength, maxBytes);
  if (rc !== DecodeErrorCode.OK) return { ok: false, error: new WireDecodeError(rc, bytes.byteLength, r.rejectDetail()) };
  const packet: DecodedPacket = {
    version: r.version,
    flags: r.flags,
    channelId: r.channelId,
    msgCount: r.msgCount,
    sessionId: r.sessionId,
    pktLength: r.pktLength,
    sourceId: r.sourceId,
    seqNum: r.seqNum,
    sendTimeUs: r.sendTimeUs,
    sessionStartUs: r.sessionStartUs,
    heartbeatIntervalMs: r.heartbeatIntervalMs,
    schemaId: r.schemaId,
    checksum: r.checksum,
    messages: [],
  };
  const book = new BookMessageReader();
  const def = new DefinitionReader();
  for (let more = r.first(); more; more = r.next()) {
    const templateId = r.templateId;
    const msgFlags = r.msgFlags;
    const version = r.msgVersion;
    if (templateId === TEMPLATE_BOOK_DELTA || templateId === TEMPLATE_BOOK_SNAPSHOT || templateId === TEMPLATE_BOOK_STATUS) {
      book.wrap(r);
      const common: DecodedBookCommon = {
        msgFlags,
        version,
        instrumentId: book.instrumentId,
        priceExp: book.priceExp,
        qtyExp: book.qtyExp,
        state: book.state,
        reason: book.reason,
        instrSeq: book.instrSeq,
        venueSeq: book.venueSeq,
        tsExchangeUs: book.tsExchangeUs,
        tsEventUs: book.tsEventUs,
        tsRecvUs: book.tsRecvUs,
      };
      if (templateId === TEMPLATE_BOOK_STATUS) {
        packet.messages.push({ type: "status", ...common });
        continue;
      }
      const bids: DecodedLevel[] = [];
      const asks: DecodedLevel[] = [];
      const nb = book.bidCount;
      const na = book.askCount;
      for (let i = 0; i < nb; i++) bids.push([book.priceAt(i), book.qtyAt(i)]);
      for (let i = 0; i < na; i++) asks.push([book.priceAt(nb + i), book.qtyAt(nb + i)]);
      if (templateId === TEMPLATE_BOOK_DELTA) {
        packet.messages.push({ type: "delta", ...common, partIndex: book.partIndex, partCount: book.partCount, bids, asks });
      } else {
        packet.messages.push({
          type: "snapshot",
          ...common,
          chunkIndex: book.chunkIndex,
          chunkCount: book.chunkCount,
          totalBidCount: book.totalBidCount,
          totalAskCount: book.totalAskCount,
          cutFlags: book.cutFlags,
          bids,
          asks,
        });
      }
    } else if (templateId === TEMPLATE_INSTRUMENT_DEFINITION) {
      def.wrap(r);
      packet.messages.push({
        type: "definition",
        msgFlags,
        version,
        instrumentId: def.instrumentId,
        venueId: def.venueId,
        venue: VENUE_BY_ID.get(def.venueId),
        marketId: def.marketId,
        market: MARKET_BY_ID.get(def.marketId),
        priceExp: def.priceExp,
        qtyExp: def.qtyExp,
        symbol: def.symbol,
        tickSize: def.tickSize,
        lotSize: def.lotSize,
      });
    } else {
      packet.messages.push({ type: "unknown", templateId, msgFlags, version, msgLength: r.msgLength });
    }
  }
  return { ok: true, packet };
}
