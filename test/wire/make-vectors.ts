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

const base = {
  maxDatagramBytes: 1400,
  channelId: 2,
  sourceId: 0,
  sessionId: 0x01020304,
  firstSeq: 1000,
  sendTimeUs: T0 + 1_300,
  sessionStartUs: T0 - 3_600_000_000, // the session started an hour before
  heartbeatIntervalMs: 1000,
};

/** The published test key of the AUTHENTICATED vectors: bytes 0x00..0x1f. Never use it for a real feed. */
const TEST_AUTH_KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

const deltaOps = [{ op: "delta" as const, book: liveBook, bids: [[302472, 1500], [302471, 0]] as [number, number][], asks: [[302473, 250]] as [number, number][] }];
// Offsets in the 1400-byte `delta` datagram: message header at 48, root block at 56, levels at 120.
const DELTA_PART_INDEX = 56 + 54;
const DELTA_PART_COUNT = 56 + 56;
const DELTA_BID0_PRICE = 120;
const DELTA_ASK0_QTY = 120 + 2 * 16 + 8;

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
    ops: deltaOps,
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
    name: "cut_snapshot",
    description:
      "The snapshot vector's book published with publish.snapshot_depth = 1: its top level a side, both sides cut (cutFlags 0x8003 = MARKED | BIDS | ASKS).",
    ops: [
      {
        op: "snapshot",
        book: liveBook,
        bids: [[302472, 1500], [302470, 3000]],
        asks: [[302473, 250], [302475, 10]],
        depth: 1,
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
    maxDatagramBytes: 856,
    name: "split_snapshot",
    description:
      "A 50 + 50 level snapshot at the smallest datagram maximum a publisher may configure: 3 chunks of up to 46 levels (46 bids; 4 bids and 42 asks; 8 asks), one chunk per datagram.",
    ops: [
      {
        op: "snapshot",
        book: liveBook,
        bids: Array.from({ length: 50 }, (_, i) => [302472 - i, 1000 + i] as [number, number]),
        asks: Array.from({ length: 50 }, (_, i) => [302473 + i, 2000 + i] as [number, number]),
        depth: 0,
        refresh: false,
      },
    ],
  },
  {
    ...base,
    maxDatagramBytes: 856,
    name: "split_delta",
    description:
      "One venue event of 30 bid + 20 ask changes (instrSeq 42) at the smallest datagram maximum a publisher may configure: 2 BookDelta parts of up to 46 levels (30 bids and 16 asks; 4 asks), partIndex 0 and 1, partCount 2, LAST only on part 1.",
    ops: [
      {
        op: "delta",
        book: liveBook,
        bids: Array.from({ length: 30 }, (_, i) => [302472 - i, i === 3 ? 0 : 1000 + i] as [number, number]),
        asks: Array.from({ length: 20 }, (_, i) => [302473 + i, 2000 + i] as [number, number]),
      },
    ],
  },
  {
    ...base,
    name: "refresh",
    description: "A periodic refresh of one book: InstrumentDefinition then a one-chunk BookSnapshot, both REFRESH, instrSeq 42 not incremented.",
    ops: [
      { op: "definition", instrument: BTC, refresh: true },
      { op: "snapshot", book: liveBook, bids: [[302472, 1500]], asks: [[302473, 250]], depth: 0, refresh: true },
    ],
  },
  {
    ...base,
    name: "exponent_change",
    description:
      "The venue changed the tick to 0.01 (priceExp 1 → 2): the new InstrumentDefinition first, then a BookSnapshot at the new exponents (instrSeq 44, reason instrument_changed), in that order.",
    ops: [
      { op: "definition", instrument: { ...BTC, priceExp: 2, tickSize: "0.01" }, refresh: false },
      {
        op: "snapshot",
        book: { ...liveBook, instrument: { ...BTC, priceExp: 2, tickSize: "0.01" }, instrSeq: 44, reason: StatusReason.INSTRUMENT_CHANGED },
        bids: [[3024720, 1500]],
        asks: [[3024730, 250]],
        depth: 0,
        refresh: false,
      },
    ],
  },
  {
    ...base,
    name: "authenticated",
    description: `The delta vector signed with the published test key ${TEST_AUTH_KEY_HEX} (32 bytes 0x00..0x1f): flag AUTHENTICATED (0x08), 16-byte HMAC-SHA256 trailer, CRC over everything.`,
    authKeyHex: TEST_AUTH_KEY_HEX,
    ops: deltaOps,
  },
  {
    ...base,
    name: "authenticated_heartbeat",
    description: "A heartbeat signed with the test key: pktLength 64 = 48 + trailer.",
    authKeyHex: TEST_AUTH_KEY_HEX,
    ops: [{ op: "heartbeat", pktFlags: 0 }],
  },
  {
    ...base,
    name: "heartbeat_backwards",
    description:
      "A heartbeat of the same session with seqNum 990, received after `heartbeat` (seqNum 1000): a reordered or duplicated datagram. It must not move the expected sequence back (§4.7).",
    firstSeq: 990,
    ops: [{ op: "heartbeat", pktFlags: 0 }],
  },
  {
    ...base,
    name: "newer_session",
    description:
      "A heartbeat of session 0x0a0b0c0d started at T0, an hour after session 0x01020304 of every other vector: it orders after them (§3.4). A subscriber that has seen it must drop any later-arriving datagram of session 0x01020304 on this stream, and messages of it for instruments already in the new session.",
    sessionId: 0x0a0b0c0d,
    sessionStartUs: T0,
    firstSeq: 1,
    ops: [{ op: "heartbeat", pktFlags: 0 }],
  },
  {
    ...base,
    name: "unknown_template",
    description:
      "The status vector with templateId 99 (CRC recomputed): a valid datagram; the message is skipped by msgLength and still consumes channel seq 1000.",
    ops: [{ op: "status", book: { ...liveBook, instrSeq: 43, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP } }],
    patches: [{ offset: 48 + 2, hex: "6300" }],
    reseal: true,
  },
  {
    ...base,
    name: "v2_delta",
    description:
      "The delta vector as a wire v2 publisher sends it: version 2, checksum CRC-32C (§3.2). v3 decoders still read it, as the same delta.",
    ops: deltaOps,
    version: 2,
  },
  // ---- reject vectors: decoders must refuse each with the named error (docs/wire-protocol.md §7.2)
  {
    ...base,
    name: "reject_v1",
    description: "A wire v1 heartbeat (32-byte header, version 1): refused as unknown_version, counted.",
    ops: [],
    rawHex: "4644010102000000040302012000000" + "0e80300000000000020d6dd67a7fc7a18",
    expectError: "unknown_version",
  },
  {
    ...base,
    name: "reject_flipped_bit",
    description: "The delta vector with bit 0 of the first bid price flipped (302472 → 302473): bad_checksum.",
    ops: deltaOps,
    patches: [{ offset: DELTA_BID0_PRICE, hex: "89" }],
    expectError: "bad_checksum",
  },
  {
    ...base,
    name: "reject_v3_crc32c",
    description: "The delta vector (version 3) carrying the CRC-32C a v2 publisher would have written: bad_checksum.",
    ops: deltaOps,
    checksum: "crc32c",
    expectError: "bad_checksum",
  },
  {
    ...base,
    name: "reject_forged",
    description:
      "The authenticated vector with the ask quantity changed to 0.500 and the CRC recomputed (anyone can): bad_auth for a subscriber holding the key; a subscriber without a key accepts it.",
    authKeyHex: TEST_AUTH_KEY_HEX,
    ops: deltaOps,
    patches: [{ offset: DELTA_ASK0_QTY, hex: "f401" }],
    reseal: true,
    expectError: "bad_auth",
  },
  {
    ...base,
    name: "reject_negative_qty",
    description: "The delta vector with the ask quantity −1 (CRC recomputed): bad_value.",
    ops: deltaOps,
    patches: [{ offset: DELTA_ASK0_QTY, hex: "ffffffffffffffff" }],
    reseal: true,
    expectError: "bad_value",
  },
  {
    ...base,
    name: "reject_part_index",
    description: "The delta vector claiming partIndex 2 of partCount 2 (CRC recomputed): bad_message.",
    ops: deltaOps,
    patches: [
      { offset: DELTA_PART_INDEX, hex: "0200" },
      { offset: DELTA_PART_COUNT, hex: "0200" },
    ],
    reseal: true,
    expectError: "bad_message",
  },
  {
    ...base,
    name: "reject_last_mismatch",
    description: "The delta vector as part 0 of 2 but with LAST set (CRC recomputed): bad_message.",
    ops: deltaOps,
    patches: [{ offset: DELTA_PART_COUNT, hex: "0200" }],
    reseal: true,
    expectError: "bad_message",
  },
  {
    ...base,
    name: "reject_chunk_over_total",
    description: "The snapshot vector with totalBidCount 1 while the chunk holds 2 bids (CRC recomputed): bad_message.",
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
    patches: [{ offset: 56 + 58, hex: "0100" }],
    reseal: true,
    expectError: "bad_message",
  },
  {
    ...base,
    name: "reject_unknown_schema",
    description: "The delta vector with schemaId 2 (CRC recomputed): unknown_schema.",
    ops: deltaOps,
    patches: [{ offset: 42, hex: "0200" }],
    reseal: true,
    expectError: "unknown_schema",
  },
];

const out: Vector[] = vectors.map((v) => ({ ...v, datagrams: encodeVector(v) }));
await Bun.write(new URL("./vectors.json", import.meta.url).pathname, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${out.length} vectors`);
