/**
 * One instrument's book as a subscriber rebuilt it from the feed: a BookView plus `valid` (identical to the
 * publisher's book as of instrSeq) and the InstrumentDefinition once received.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import { BookState, StatusReason, type Instrument, type MarketName, type VenueName } from "../core/types.ts";
import { LadderBook } from "../book/ladder-book.ts";

/** A definition-less placeholder's venue/market until the InstrumentDefinition arrives. */
export const UNKNOWN_NAME = "unknown";

const INITIAL_SNAPSHOT_CAPACITY = 256;

export class SubscriberBook extends LadderBook implements BookView {
  readonly instrumentId: number;
  /** The definition as received; a placeholder (venue/market "unknown", symbol "#<id>") until then. */
  instrument: Instrument;
  /** Undefined until an InstrumentDefinition for this id arrived. */
  definition: Instrument | undefined = undefined;
  state: BookState = BookState.AWAITING_SNAPSHOT;
  reason: StatusReason = StatusReason.NONE;
  /** instrSeq of the last applied event; −1 = unknown (new book or publisher restart). */
  instrSeq = -1;
  venueSeq = 0;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  /**
   * True when the book is believed identical to the publisher's: set by a complete snapshot, cleared by a
   * channel gap, an instrSeq jump, a publisher restart or a silent stream. Deltas are still applied while invalid.
   */
  valid = false;
  /** Times this book was invalidated (gaps, jumps, restarts, stale streams). */
  invalidations = 0;
  /** Complete events applied (deltas, snapshots, statuses). */
  updates = 0;
  /** Send time of the packet that completed the last event, µs since the epoch. */
  lastSendTimeUs = 0;

  // --- subscriber bookkeeping (package-internal) ---
  /** (channelId << 16 | sourceId) of the stream that last updated the book. */
  streamKey = -1;
  /** A split delta whose LAST message has not arrived yet; its parts wait in pend*. */
  eventOpen = false;
  /** instrSeq of the open split delta. */
  openSeq = -1;
  pendBidN = 0;
  pendAskN = 0;
  pendBidPx: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  pendBidQty: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  pendAskPx: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  pendAskQty: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  /** Snapshot assembly: instrSeq of the chunk set being collected, −1 when none. */
  snapSeq = -1;
  snapNextChunk = 0;
  snapChunkCount = 0;
  snapFlags = 0;
  snapBidN = 0;
  snapAskN = 0;
  snapBidPx: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  snapBidQty: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  snapAskPx: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);
  snapAskQty: Float64Array = new Float64Array(INITIAL_SNAPSHOT_CAPACITY);

  constructor(instrumentId: number, priceExp: number, qtyExp: number) {
    super();
    this.instrumentId = instrumentId;
    this.instrument = placeholderInstrument(instrumentId, priceExp, qtyExp);
  }


  /** Makes the pending split-delta arrays hold at least the given levels per side (cold: doubles). */
  ensurePendingCapacity(bids: number, asks: number): void {
    while (bids > this.pendBidPx.length) {
      this.pendBidPx = grow(this.pendBidPx, this.pendBidN);
      this.pendBidQty = grow(this.pendBidQty, this.pendBidN);
    }
    while (asks > this.pendAskPx.length) {
      this.pendAskPx = grow(this.pendAskPx, this.pendAskN);
      this.pendAskQty = grow(this.pendAskQty, this.pendAskN);
    }
  }

  /** Makes the snapshot scratch arrays hold at least the given levels per side (cold: grows only). */
  ensureSnapshotCapacity(bids: number, asks: number): void {
    if (bids > this.snapBidPx.length) {
      this.snapBidPx = new Float64Array(bids);
      this.snapBidQty = new Float64Array(bids);
    }
    if (asks > this.snapAskPx.length) {
      this.snapAskPx = new Float64Array(asks);
      this.snapAskQty = new Float64Array(asks);
    }
  }
}

function grow(a: Float64Array, used: number): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a.subarray(0, used));
  return b;
}

export function placeholderInstrument(instrumentId: number, priceExp: number, qtyExp: number): Instrument {
  return {
    instrumentId,
    venue: UNKNOWN_NAME as VenueName,
    market: UNKNOWN_NAME as MarketName,
    symbol: `#${instrumentId}`,
    priceExp,
    qtyExp,
    tickSize: "",
    lotSize: "",
  };
}
