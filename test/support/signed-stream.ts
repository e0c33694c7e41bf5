/**
 * A signed feed of one instrument for the keyed allocation tests (test/bridge/auth-alloc, test/subscriber/auth-alloc):
 * its definition (when asked) and snapshot, then one 2-level delta a datagram (a bid and an ask moving), each
 * datagram a buffer of its own as a socket hands them; and the LIVE book view such feeds pack (liveView).
 * @module
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";

export const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
export const T0_US = 1_764_000_000_000_000;
export const INSTRUMENT = { instrumentId: 42, venue: "bybit", market: "linear", symbol: "X", priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" } as const;

/** A book's levels as the encoder reads them (rank 0 the best). */
export interface ViewLevels {
  bidCount: number;
  askCount: number;
  bidPriceAt(rank: number): number;
  bidQtyAt(rank: number): number;
  askPriceAt(rank: number): number;
  askQtyAt(rank: number): number;
}

/** A LIVE book of `instrument` at sequence 1 (the encoder's view: instrSeq is bumped per delta), stamped `tUs`. */
export function liveView<I>(instrument: I, tUs: number, levels: ViewLevels) {
  return { instrument, state: BookState.LIVE, reason: StatusReason.SNAPSHOT_APPLIED, instrSeq: 1, venueSeq: 1, tsExchangeUs: tUs, tsEventUs: tUs, tsRecvUs: tUs, ...levels };
}

/** A datagram of the snapshot (after the definition, with `definition`), then `deltas` delta datagrams. */
export function signedStream(deltas: number, definition: boolean): Uint8Array[] {
  const p = new ChannelPacker(1400, 1, 0, 9, { sessionStartUs: T0_US, heartbeatIntervalMs: 1000, auth: new DatagramAuth(KEY) });
  const bids = [1000, 999, 998];
  const asks = [1001, 1002, 1003];
  const qty = [5, 5, 5, 5, 5, 5];
  const view = liveView(INSTRUMENT, T0_US, {
    bidCount: 3,
    askCount: 3,
    bidPriceAt: (i: number) => bids[i]!,
    bidQtyAt: (i: number) => qty[i]!,
    askPriceAt: (i: number) => asks[i]!,
    askQtyAt: (i: number) => qty[3 + i]!,
  });
  const out: Uint8Array[] = [];
  const flush = () => {
    p.seal(T0_US);
    for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
    p.clear();
  };
  if (definition) packInstrumentDefinition(p, new EncodedDefinition(INSTRUMENT), false);
  packBookSnapshot(p, view, 0, false);
  flush();
  const cs = new ChangeSet();
  for (let e = 0; e < deltas; e++) {
    qty[0] = 1 + (e % 50);
    qty[3] = 2 + (e % 40);
    cs.clear();
    cs.addBid(bids[0]!, qty[0]);
    cs.addAsk(asks[0]!, qty[3]);
    view.instrSeq++;
    packBookDelta(p, view, cs);
    flush();
  }
  return out;
}
