/**
 * Regenerates test/wire/vectors.json (inputs + hex). Run only on a deliberate wire change:
 *   npx bun test/wire/make-vectors.ts
 * The spec (docs/wire-protocol.md §8) quotes these vectors; update it too.
 */
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type Instrument } from "../../src/core/types.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import { encodeVector, type Vector, type VectorBook } from "./vector-encode.ts";

const BTC: Instrument = {
  instrumentId: instrumentIdOf("bybit", "linear", "BTCUSDT"),
  venue: "bybit",
  market: "linear",
  symbol: "BTCUSDT",
  priceExp: 1,
  qtyExp: 3,
  tickSize: "0.10",
  lotSize: "0.001",
};

// 2025-11-24T16:00:00Z and a few µs around it.
const T0 = 1_764_000_000_000_000;

const liveBook: VectorBook = {
  instrument: BTC,
  state: BookState.LIVE,
  reason: StatusReason.NONE,
  instrSeq: 42,
  venueSeq: 123_456_789,
  tsExchangeUs: T0 + 1_000,
  tsEventUs: T0 + 990,
  tsRecvUs: T0 + 1_250,
};

const base = { maxDatagramBytes: 1400, channelId: 2, sourceId: 0, sessionId: 0x01020304, firstSeq: 1000, sendTimeUs: T0 + 1_300 };

const vectors: Omit<Vector, "datagrams">[] = [
  { ...base, name: "heartbeat", description: "Idle channel 2: no messages, seqNum = next expected (1000).", ops: [{ op: "heartbeat", pktFlags: 0 }] },
  {
    ...base,
    name: "end_of_session",
    description: "Publisher stopping: heartbeat with END_OF_SESSION (0x02).",
    ops: [{ op: "heartbeat", pktFlags: PKT_FLAG_END_OF_SESSION }],
  },
  {
    ...base,
    name: "definition",
    description: "InstrumentDefinition of bybit linear BTCUSDT: priceExp 1, qtyExp 3, tick 0.10, lot 0.001.",
    ops: [{ op: "definition", instrument: BTC, refresh: false }],
  },
  {
    ...base,
    name: "delta",
    description:
      "BookDelta, instrSeq 42, venueSeq (Bybit u) 123456789: bid 30247.2 → 1.5, bid 30247.1 deleted, ask 30247.3 → 0.25.",
    ops: [{ op: "delta", book: liveBook, bids: [[302472, 1500], [302471, 0]], asks: [[302473, 250]] }],
  },
  {
    ...base,
    name: "snapshot",
    description: "One-chunk BookSnapshot of 2 bids and 2 asks after a venue snapshot (instrSeq 42).",
    ops: [
      {
        op: "snapshot",
        book: liveBook,
        bids: [[302472, 1500], [302470, 3000]],
        asks: [[302473, 250], [302475, 10]],
        depth: 0,
        refresh: false,
      },
    ],
  },
  {
    ...base,
    name: "status",
    description: "BookStatus: RESYNCING because of a SEQUENCE_GAP at the venue (instrSeq 43). MAYBE_BAD_BOOK is set.",
    ops: [{ op: "status", book: { ...liveBook, instrSeq: 43, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP } }],
  },
  {
    ...base,
    name: "packed_turn",
    description: "One event-loop turn packed into one datagram: a definition, a refresh snapshot and a delta (seq 1000–1002).",
    ops: [
      { op: "definition", instrument: BTC, refresh: true },
      { op: "snapshot", book: liveBook, bids: [[302472, 1500]], asks: [[302473, 250]], depth: 0, refresh: true },
      { op: "delta", book: { ...liveBook, instrSeq: 43, venueSeq: 123_456_790 }, bids: [[302472, 0]], asks: [] },
    ],
  },
  {
    ...base,
    maxDatagramBytes: 256,
    name: "split_snapshot",
    description: "maxDatagramBytes 256: a 12 + 12 level snapshot in 3 chunks (9 levels per chunk), one chunk per datagram.",
    ops: [
      {
        op: "snapshot",
        book: liveBook,
        bids: Array.from({ length: 12 }, (_, i) => [302472 - i, 1000 + i] as [number, number]),
        asks: Array.from({ length: 12 }, (_, i) => [302473 + i, 2000 + i] as [number, number]),
        depth: 0,
        refresh: false,
      },
    ],
  },
];

const out: Vector[] = vectors.map((v) => ({ ...v, datagrams: encodeVector(v) }));
await Bun.write(new URL("./vectors.json", import.meta.url).pathname, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${out.length} vectors`);
