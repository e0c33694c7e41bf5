/** Round-trip properties: encode (packer) → decode (decodeDatagram) over random books and events. */
import { describe, expect, it } from "vitest";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { decodeDatagram, type DecodedMessage, type DecodedPacket } from "../../src/wire/decode-objects.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import {
  AUTH_TRAILER_BYTES,
  deltaLevelsPerDatagram,
  INSTRUMENT_DEFINITION_BLOCK_BYTES,
  MAX_DEF_STRING_BYTES,
  MAX_SNAPSHOT_LEVELS_PER_SIDE,
  MESSAGE_HEADER_BYTES,
  MIN_PUBLISH_DATAGRAM_BYTES,
  PACKET_HEADER_BYTES,
  MSG_FLAG_LAST,
  MSG_FLAG_MAYBE_BAD_BOOK,
  MSG_FLAG_REFRESH,
  MSG_FLAG_SNAPSHOT,
  PKT_FLAG_END_OF_SESSION,
  PKT_FLAG_SESSION_START,
  snapshotLevelsPerDatagram,
} from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { levelsOf, makeInstrument, randInt, randomBookSides, randomChanges, rng, TestBook } from "./helpers.ts";

/** Takes the packer's pending datagrams as exact-length copies, decoded, and clears the packer. */
function drain(p: ChannelPacker, sendTimeUs = 1_764_000_000_000_000): { raw: Uint8Array[]; packets: DecodedPacket[] } {
  p.stampSendTime(sendTimeUs);
  const raw: Uint8Array[] = [];
  const packets: DecodedPacket[] = [];
  for (let i = 0; i < p.count; i++) {
    const bytes = p.bytes[i]!.slice(0, p.lengths[i]);
    raw.push(bytes);
    const res = decodeDatagram(bytes, p.maxDatagramBytes);
    if (!res.ok) throw res.error;
    packets.push(res.packet);
  }
  p.clear();
  return { raw, packets };
}

function allMessages(packets: DecodedPacket[]): DecodedMessage[] {
  return packets.flatMap((p) => p.messages);
}

/** Minimal reference consumer of decoded messages: applies deltas, assembles snapshots by chunk index. */
class ReferenceBook {
  bids = new Map<number, number>();
  asks = new Map<number, number>();
  pendingBids: [number, number][] = [];
  pendingAsks: [number, number][] = [];
  nextChunk = 0;
  apply(m: DecodedMessage): void {
    if (m.type === "delta") {
      for (const [p, q] of m.bids) q === 0 ? this.bids.delete(p) : this.bids.set(p, q);
      for (const [p, q] of m.asks) q === 0 ? this.asks.delete(p) : this.asks.set(p, q);
    } else if (m.type === "snapshot") {
      expect(m.chunkIndex).toBe(this.nextChunk);
      this.pendingBids.push(...m.bids);
      this.pendingAsks.push(...m.asks);
      this.nextChunk++;
      if (this.nextChunk === m.chunkCount) {
        expect(this.pendingBids.length).toBe(m.totalBidCount);
        expect(this.pendingAsks.length).toBe(m.totalAskCount);
        this.bids = new Map(this.pendingBids);
        this.asks = new Map(this.pendingAsks);
        this.pendingBids = [];
        this.pendingAsks = [];
        this.nextChunk = 0;
      }
    }
  }
  sorted(): { bids: [number, number][]; asks: [number, number][] } {
    return {
      bids: [...this.bids.entries()].sort((a, b) => b[0] - a[0]),
      asks: [...this.asks.entries()].sort((a, b) => a[0] - b[0]),
    };
  }
}

function checkDatagramInvariants(raw: Uint8Array[], packets: DecodedPacket[], maxBytes: number, firstSeq: number): number {
  let seq = firstSeq;
  for (let i = 0; i < raw.length; i++) {
    expect(raw[i]!.byteLength).toBeLessThanOrEqual(maxBytes);
    expect(raw[i]!.byteLength % 8).toBe(0);
    expect(packets[i]!.pktLength).toBe(raw[i]!.byteLength);
    expect(packets[i]!.seqNum).toBe(seq);
    seq += packets[i]!.msgCount;
  }
  return seq;
}

describe("wire codec round trip", () => {
  const instrument = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

  for (const maxBytes of [256, 1400, 9000]) {
    it(`random deltas and snapshots reproduce the book exactly (max ${maxBytes} B)`, () => {
      const r = rng(maxBytes);
      const book = new TestBook(instrument);
      const mid = 302_470;
      const sides = randomBookSides(r, 200, mid);
      book.load(sides.bids, sides.asks, 1, 1_764_000_000_000_000);
      const p = new ChannelPacker(maxBytes, 7, 3, 0xdeadbeef);
      packBookSnapshot(p, book, 0, false);
      const ref = new ReferenceBook();
      const cs = new ChangeSet();
      let seq = 1;
      for (let event = 0; event < 300; event++) {
        // Mostly small events, sometimes ones larger than a datagram (split into several messages).
        randomChanges(r, book, cs, r() < 0.1 ? 400 : 12, mid);
        book.apply(cs, 100 + event, 1_764_000_000_000_000 + event * 1000);
        packBookDelta(p, book, cs);
        if (event % 50 === 49) packBookSnapshot(p, book, 0, true);
        if (r() < 0.3 || event === 299) {
          const { raw, packets } = drain(p);
          seq = checkDatagramInvariants(raw, packets, maxBytes, seq);
          for (const m of allMessages(packets)) {
            ref.apply(m);
            if (m.type === "delta" || m.type === "snapshot") {
              expect(m.instrumentId).toBe(instrument.instrumentId);
              expect(m.priceExp).toBe(1);
              expect(m.qtyExp).toBe(3);
            }
          }
        }
      }
      expect(ref.sorted()).toEqual(levelsOf(book));
    });
  }

  it("a delta larger than a datagram is split with one instrSeq and LAST only on the final part", () => {
    const p = new ChannelPacker(1400, 1, 0, 5);
    const book = new TestBook(instrument);
    const cs = new ChangeSet();
    for (let i = 0; i < 150; i++) cs.addBid(1000 - i, i + 1);
    for (let i = 0; i < 100; i++) cs.addAsk(2000 + i, i + 1);
    book.apply(cs, 42, 1_764_000_000_000_000);
    const written = packBookDelta(p, book, cs);
    const cap = deltaLevelsPerDatagram(1400);
    expect(cap).toBe(80); // (1400 − 48 − 8 − 64) / 16
    expect(written).toBe(Math.ceil(250 / cap));
    const { packets } = drain(p);
    const msgs = allMessages(packets);
    expect(msgs).toHaveLength(written);
    expect(packets).toHaveLength(written); // each full part fills its own datagram
    const flags = msgs.map((m) => m.msgFlags & MSG_FLAG_LAST);
    expect(flags).toEqual([...Array(written - 1).fill(0), MSG_FLAG_LAST]);
    expect(new Set(msgs.map((m) => (m.type === "delta" ? m.instrSeq : -1)))).toEqual(new Set([1]));
    // every part carries its index and the part count (wire v2)
    expect(msgs.map((m) => (m.type === "delta" ? [m.partIndex, m.partCount] : []))).toEqual(
      Array.from({ length: written }, (_, i) => [i, written]),
    );
    const bids = msgs.flatMap((m) => (m.type === "delta" ? m.bids : []));
    const asks = msgs.flatMap((m) => (m.type === "delta" ? m.asks : []));
    expect(bids).toEqual(Array.from({ length: 150 }, (_, i) => [1000 - i, i + 1]));
    expect(asks).toEqual(Array.from({ length: 100 }, (_, i) => [2000 + i, i + 1]));
  });

  it("packs the small messages of one turn into as few datagrams as fit", () => {
    const p = new ChannelPacker(1400, 1, 0, 5);
    const book = new TestBook(instrument);
    const cs = new ChangeSet();
    for (let i = 0; i < 40; i++) {
      cs.clear();
      cs.addBid(1000 - i, 5);
      book.apply(cs, i, 1_764_000_000_000_000 + i);
      packBookDelta(p, book, cs);
    }
    // each message: 8 + 64 + 16 = 88 B; (1400 − 48) / 88 = 15 per datagram
    const { packets } = drain(p);
    expect(packets.map((x) => x.msgCount)).toEqual([15, 15, 10]);
    expect(packets.map((x) => x.seqNum)).toEqual([1, 16, 31]);
  });

  it("maximum-size snapshots (65535 levels per side) split into chunks and reassemble exactly", () => {
    const r = rng(99);
    const book = new TestBook(instrument);
    const sides = randomBookSides(r, MAX_SNAPSHOT_LEVELS_PER_SIDE + 10, 500_000);
    book.load(sides.bids, sides.asks, 77, 1_764_000_000_000_000);
    for (const maxBytes of [1400, 65504]) {
      const p = new ChannelPacker(maxBytes, 2, 0, 9);
      const chunks = packBookSnapshot(p, book, 0, false);
      const cap = snapshotLevelsPerDatagram(p.maxDatagramBytes);
      expect(chunks).toBe(Math.ceil((2 * MAX_SNAPSHOT_LEVELS_PER_SIDE) / cap));
      const { raw, packets } = drain(p);
      checkDatagramInvariants(raw, packets, maxBytes, 1);
      const msgs = allMessages(packets);
      expect(msgs).toHaveLength(chunks);
      const ref = new ReferenceBook();
      for (const m of msgs) {
        expect(m.type).toBe("snapshot");
        if (m.type !== "snapshot") continue;
        expect(m.instrSeq).toBe(1);
        expect(m.chunkCount).toBe(chunks);
        expect(m.msgFlags & MSG_FLAG_SNAPSHOT).toBe(MSG_FLAG_SNAPSHOT);
        expect(m.msgFlags & MSG_FLAG_LAST).toBe(m.chunkIndex === chunks - 1 ? MSG_FLAG_LAST : 0);
        ref.apply(m);
      }
      const want = levelsOf(book);
      expect(ref.sorted()).toEqual({
        bids: want.bids.slice(0, MAX_SNAPSHOT_LEVELS_PER_SIDE),
        asks: want.asks.slice(0, MAX_SNAPSHOT_LEVELS_PER_SIDE),
      });
    }
  }, 60_000); // ~131k levels through encode and a reference decode: seconds when the suite loads both vCPUs

  it("snapshots read in bulk (BookBuilder.copyBids/copyAsks) are byte-identical to per-rank reads, extreme mantissas included", () => {
    const r = rng(2024);
    const u = new BookUpdate();
    u.isSnapshot = true;
    u.venueSeq = 42;
    u.tsExchangeUs = 1_764_000_000_000_000;
    // Bids from 2^53 − 1 down across the int32 and uint32 boundaries to 1 (a price of 0 is refused by BookBuilder);
    // asks above a mid with gaps of 1–3 ticks.
    const bidPx = [2 ** 53 - 1, 2 ** 53 - 2, 2 ** 40, 2 ** 32 + 1, 2 ** 32, 2 ** 32 - 1, 2 ** 31 + 1, 2 ** 31, 2 ** 31 - 1];
    for (let p = 2 ** 31 - 3; bidPx.length < 700; p -= randInt(r, 1, 3)) bidPx.push(p);
    bidPx.push(1);
    for (const px of bidPx) u.pushBid(px, px === 1 ? 2 ** 53 - 1 : randInt(r, 1, 2 ** 33));
    for (let i = 0, p = 2 ** 53 - 900 * 3; i < 900; i++, p += randInt(r, 1, 3)) u.pushAsk(p, i % 2 === 0 ? 2 ** 31 : randInt(r, 1, 9_000_000));
    const builder = new BookBuilder(instrument);
    builder.applySnapshot(u);
    builder.state = BookState.LIVE; // the made-up book is crossed; the wire carries it anyway
    expect(builder.bidCount).toBe(bidPx.length);
    // The same book through the per-rank methods only (the encoder's fallback for views without bulk reads).
    const perRank: BookView = {
      instrument,
      state: builder.state,
      reason: builder.reason,
      instrSeq: builder.instrSeq,
      venueSeq: builder.venueSeq,
      tsExchangeUs: builder.tsExchangeUs,
      tsEventUs: builder.tsEventUs,
      tsRecvUs: builder.tsRecvUs,
      bidCount: builder.bidCount,
      askCount: builder.askCount,
      bidPriceAt: (i) => builder.bidPriceAt(i),
      bidQtyAt: (i) => builder.bidQtyAt(i),
      askPriceAt: (i) => builder.askPriceAt(i),
      askQtyAt: (i) => builder.askQtyAt(i),
    };
    for (const maxBytes of [256, 1400, 9000]) {
      for (const depth of [0, 37, 800]) {
        const a = new ChannelPacker(maxBytes, 1, 0, 5, { sessionStartUs: 1_764_000_000_000_000 });
        const b = new ChannelPacker(maxBytes, 1, 0, 5, { sessionStartUs: 1_764_000_000_000_000 });
        expect(packBookSnapshot(a, builder, depth, false)).toBe(packBookSnapshot(b, perRank, depth, false));
        const da = drain(a).raw;
        const db = drain(b).raw;
        expect(da.length).toBe(db.length);
        for (let i = 0; i < da.length; i++) expect(Buffer.compare(da[i]!, db[i]!)).toBe(0);
      }
    }
    const p = new ChannelPacker(9000, 1, 0, 5);
    packBookSnapshot(p, builder, 0, false);
    const ref = new ReferenceBook();
    for (const m of allMessages(drain(p).packets)) ref.apply(m);
    expect(ref.sorted()).toEqual(levelsOf(builder));
  });

  it("SubscriberBook's bulk reads equal its per-rank reads (it is a BookView too)", () => {
    const book = new SubscriberBook(instrument.instrumentId, 1, 3);
    const sides = randomBookSides(rng(77), 300, 1_000_000);
    book.bids.loadSorted(Float64Array.from(sides.bids.map((l) => l[0])), Float64Array.from(sides.bids.map((l) => l[1])), 300);
    book.asks.loadSorted(Float64Array.from(sides.asks.map((l) => l[0])), Float64Array.from(sides.asks.map((l) => l[1])), 300);
    const px = new Float64Array(300);
    const qty = new Float64Array(300);
    for (let from = 0; from < 300; from += 81) book.copyBids(from, Math.min(81, 300 - from), px, qty, from);
    expect(Array.from(px)).toEqual(sides.bids.map((l) => l[0]));
    expect(Array.from(qty)).toEqual(sides.bids.map((l) => l[1]));
    for (let from = 0; from < 300; from += 81) book.copyAsks(from, Math.min(81, 300 - from), px, qty, from);
    expect(Array.from(px)).toEqual(sides.asks.map((l) => l[0]));
    expect(levelsOf(book).asks.map((l) => l[1])).toEqual(Array.from(qty));
  });

  it("snapshot depth limits levels per side; REFRESH and MAYBE_BAD_BOOK flags are set", () => {
    const book = new TestBook(instrument);
    const sides = randomBookSides(rng(5), 50, 10_000);
    book.load(sides.bids, sides.asks, 1, 1_764_000_000_000_000);
    book.state = BookState.STALE;
    book.reason = StatusReason.STALE_FEED;
    const p = new ChannelPacker(1400, 1, 0, 1);
    packBookSnapshot(p, book, 10, true);
    const [m] = allMessages(drain(p).packets);
    expect(m!.type).toBe("snapshot");
    if (m!.type !== "snapshot") return;
    expect(m.bids).toEqual(book.topBids(10));
    expect(m.asks).toEqual(book.topAsks(10));
    expect(m.totalBidCount).toBe(10);
    expect(m.msgFlags).toBe(MSG_FLAG_SNAPSHOT | MSG_FLAG_LAST | MSG_FLAG_REFRESH | MSG_FLAG_MAYBE_BAD_BOOK);
    expect(m.state).toBe(BookState.STALE);
    expect(m.reason).toBe(StatusReason.STALE_FEED);
  });

  it("an empty book is one empty snapshot chunk", () => {
    const book = new TestBook(instrument);
    book.state = BookState.AWAITING_SNAPSHOT;
    const p = new ChannelPacker(1400, 1, 0, 1);
    expect(packBookSnapshot(p, book, 0, false)).toBe(1);
    const [m] = allMessages(drain(p).packets);
    expect(m).toMatchObject({ type: "snapshot", chunkIndex: 0, chunkCount: 1, bids: [], asks: [], state: BookState.AWAITING_SNAPSHOT });
  });

  it("round-trips every common field, extreme mantissas and timestamps exactly", () => {
    const r = rng(1234);
    const p = new ChannelPacker(1400, 65535, 65535, 0xffffffff);
    for (let i = 0; i < 500; i++) {
      const book = new TestBook(makeInstrument("okx", "option", "BTC-USD-261225-100000-C", randInt(r, -8, 18), randInt(r, -8, 18)));
      const cs = new ChangeSet();
      const big = () => (r() < 0.5 ? -1 : 1) * Math.floor(r() * Number.MAX_SAFE_INTEGER);
      const bigQty = () => Math.floor(r() * Number.MAX_SAFE_INTEGER); // quantities are never negative (bad_value)
      for (let k = 0; k < randInt(r, 0, 5); k++) cs.addBid(big(), bigQty());
      for (let k = 0; k < randInt(r, 0, 5); k++) cs.addAsk(big(), bigQty());
      book.instrSeq = Math.floor(r() * Number.MAX_SAFE_INTEGER);
      book.venueSeq = Math.floor(r() * Number.MAX_SAFE_INTEGER);
      book.tsExchangeUs = Math.floor(r() * 4_102_444_800_000_000); // up to year 2100
      book.tsEventUs = Math.floor(r() * 4_102_444_800_000_000);
      book.tsRecvUs = Math.floor(r() * 4_102_444_800_000_000);
      book.state = randInt(r, 0, 4) as BookState;
      book.reason = randInt(r, 0, 11) as StatusReason;
      packBookDelta(p, book, cs);
      packBookStatus(p, book);
      const [delta, status] = allMessages(drain(p, 4_102_444_800_000_123).packets);
      const common = {
        instrumentId: book.instrument.instrumentId,
        priceExp: book.instrument.priceExp,
        qtyExp: book.instrument.qtyExp,
        state: book.state,
        reason: book.reason,
        instrSeq: book.instrSeq,
        venueSeq: book.venueSeq,
        tsExchangeUs: book.tsExchangeUs,
        tsEventUs: book.tsEventUs,
        tsRecvUs: book.tsRecvUs,
      };
      expect(delta).toMatchObject({ type: "delta", ...common });
      expect(status).toMatchObject({ type: "status", ...common });
      if (delta!.type !== "delta") return;
      expect(delta.bids).toEqual(Array.from({ length: cs.bidCount }, (_, k) => [cs.bidPx[k], cs.bidQty[k]]));
      expect(delta.asks).toEqual(Array.from({ length: cs.askCount }, (_, k) => [cs.askPx[k], cs.askQty[k]]));
    }
  });

  it("instrument definitions carry names, exponents, tick and lot; padding is zero", () => {
    const p = new ChannelPacker(1400, 3, 1, 77);
    const inst = makeInstrument("bybit", "spot", "1000PEPEUSDT", 7, 0);
    // dirty the buffer first so stale bytes would show up in the padding
    p.bytes[0]!.fill(0xee);
    packInstrumentDefinition(p, new EncodedDefinition(inst), true);
    const { raw, packets } = drain(p);
    const [m] = allMessages(packets);
    expect(m).toEqual({
      type: "definition",
      msgFlags: MSG_FLAG_LAST | MSG_FLAG_REFRESH,
      version: 1,
      instrumentId: inst.instrumentId,
      venueId: 1,
      venue: "bybit",
      marketId: 1,
      market: "spot",
      priceExp: 7,
      qtyExp: 0,
      symbol: "1000PEPEUSDT",
      tickSize: "0.0000001",
      lotSize: "1",
    });
    const body = 48 + 8 + 16 + 12 + 9 + 1;
    expect(raw[0]!.byteLength).toBe(48 + Math.ceil((8 + 16 + 12 + 9 + 1) / 8) * 8);
    expect([...raw[0]!.subarray(body)].every((b) => b === 0)).toBe(true);
    expect(packets[0]!.flags & PKT_FLAG_SESSION_START).toBe(PKT_FLAG_SESSION_START);
  });

  it("the longest definition (three strings of 255 bytes) fits a signed datagram of MIN_PUBLISH_DATAGRAM_BYTES, and not one 8 bytes smaller", () => {
    const longest = Math.ceil((MESSAGE_HEADER_BYTES + INSTRUMENT_DEFINITION_BLOCK_BYTES + 3 * MAX_DEF_STRING_BYTES) / 8) * 8;
    expect(MIN_PUBLISH_DATAGRAM_BYTES).toBe(PACKET_HEADER_BYTES + longest + AUTH_TRAILER_BYTES);
    const inst = { ...makeInstrument("okx", "spot", "\u00e9".repeat(127) + "X", 1, 2), tickSize: "0.1".padEnd(255, "0"), lotSize: "0.01".padEnd(255, "0") };
    const def = new EncodedDefinition(inst);
    expect(def.msgBytes).toBe(longest);
    const auth = () => new DatagramAuth(new Uint8Array(32).fill(9));
    const p = new ChannelPacker(MIN_PUBLISH_DATAGRAM_BYTES, 3, 1, 77, { auth: auth() });
    packInstrumentDefinition(p, def, false);
    const { raw, packets } = drain(p);
    expect(raw[0]!.byteLength).toBe(MIN_PUBLISH_DATAGRAM_BYTES);
    expect(allMessages(packets)[0]).toMatchObject({ type: "definition", symbol: inst.symbol, tickSize: inst.tickSize, lotSize: inst.lotSize });
    expect(() => packInstrumentDefinition(new ChannelPacker(MIN_PUBLISH_DATAGRAM_BYTES - 8, 3, 1, 77, { auth: auth() }), def, false)).toThrow("message larger than a datagram");
  });

  it("a definition string holding a lone UTF-16 surrogate is refused naming it; a pair (an astral character) is taken", () => {
    // Before: TextEncoder wrote U+FFFD for it, and decoders took a symbol that differs from the book's.
    for (const symbol of ["BTC\ud800USDT", "\udc00", "币安人生\ud83dUSDT", "BTCUSDT\udfff"]) {
      expect(() => new EncodedDefinition({ ...makeInstrument("binance", "spot", symbol, 1, 2) }), symbol).toThrow(
        `instrument string ${JSON.stringify(symbol)} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`,
      );
    }
    expect(() => new EncodedDefinition({ ...makeInstrument("okx", "spot", "BTC-USDT", 1, 2), tickSize: "0.1\ud800" })).toThrow(/lone UTF-16 surrogate/);
    const astral = makeInstrument("okx", "spot", "\ud83d\ude00USDT", 1, 2);
    expect(new EncodedDefinition(astral).symbolBytes).toEqual(new Uint8Array([0xf0, 0x9f, 0x98, 0x80, 0x55, 0x53, 0x44, 0x54]));
  });

  it("the channel sequence ends below 2^53: the packer refuses to number a message 2^53 − 1, leaving nothing of it, and ends the session", () => {
    const p = new ChannelPacker(1400, 4, 0, 8);
    p.nextSeq = 2 ** 53 - 4; // as if the session had sent that many messages
    const book = new TestBook(instrument);
    const cs = new ChangeSet();
    cs.addBid(1, 1);
    book.apply(cs, 1, 1_764_000_000_000_000);
    for (let i = 0; i < 3; i++) packBookDelta(p, book, cs); // 2^53 − 4 … 2^53 − 2
    for (let i = 0; i < 2; i++) {
      p.mark(); // as FeedPublisher does around one book's messages
      expect(() => packBookDelta(p, book, cs)).toThrow(/sequence numbers .*2\^53/);
      p.rewind();
    }
    p.appendHeartbeat(0); // the session is over: its heartbeats say so, subscribers stop trusting its books
    const { packets } = drain(p); // every datagram decodes (drain throws otherwise)
    expect(packets.map((x) => [x.msgCount, x.seqNum, x.flags & PKT_FLAG_END_OF_SESSION])).toEqual([
      [3, 2 ** 53 - 4, 0],
      [0, 2 ** 53 - 1, PKT_FLAG_END_OF_SESSION],
    ]);
    expect(p.nextSeq).toBe(2 ** 53 - 1);
  });

  it("heartbeats carry the next expected sequence and no messages", () => {
    const p = new ChannelPacker(1400, 4, 0, 8);
    const book = new TestBook(instrument);
    const cs = new ChangeSet();
    cs.addBid(1, 1);
    book.apply(cs, 1, 1_764_000_000_000_000);
    packBookDelta(p, book, cs);
    packBookDelta(p, book, cs);
    p.appendHeartbeat(0);
    p.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    const { packets } = drain(p);
    expect(packets.map((x) => [x.msgCount, x.seqNum, x.flags, x.pktLength])).toEqual([
      [2, 1, PKT_FLAG_SESSION_START, 48 + 176],
      [0, 3, 0, 48],
      [0, 3, PKT_FLAG_END_OF_SESSION, 48],
    ]);
  });
});
