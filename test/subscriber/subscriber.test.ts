/** FeedSubscriber sequencing and book rebuilding, fed datagrams directly through ingest() (no sockets). */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { FeedSubscriber, type GapEvent, type SessionEvent, type UpdateEvent } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { PKT_FLAG_END_OF_SESSION } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, resealCrc, rng, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const T0 = 1_764_000_000_000_000;

class Harness {
  readonly sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  readonly updates: { kind: string; instrSeq: number; valid: boolean; symbol: string }[] = [];
  readonly gaps: GapEvent[] = [];
  readonly sessions: SessionEvent[] = [];
  packer: ChannelPacker;
  constructor(sessionId = 11, channelId = 1, sourceId = 0, maxBytes = 1400) {
    this.packer = new ChannelPacker(maxBytes, channelId, sourceId, sessionId);
    this.sub.on("update", (e: UpdateEvent) =>
      this.updates.push({ kind: e.kind, instrSeq: e.book.instrSeq, valid: e.book.valid, symbol: e.instrument.symbol }),
    );
    this.sub.on("gap", (e) => this.gaps.push(e));
    this.sub.on("session", (e) => this.sessions.push(e));
  }
  /** Sends the pending datagrams to the subscriber, skipping the indices in `drop`. */
  deliver(drop: number[] = []): number {
    const p = this.packer;
    p.stampSendTime(T0);
    const n = p.count;
    for (let i = 0; i < n; i++) if (!drop.includes(i)) this.sub.ingest(p.bytes[i]!.slice(0, p.lengths[i]), T0 + 40);
    p.clear();
    return n;
  }
}

describe("FeedSubscriber", () => {
  const inst = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

  it("rebuilds a book from definition, snapshot and deltas; update events carry kind and latency", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    const r = rng(1);
    const sides = randomBookSides(r, 60, 300_000);
    book.load(sides.bids, sides.asks, 10, T0);
    packInstrumentDefinition(h.packer, new EncodedDefinition(inst), false);
    packBookSnapshot(h.packer, book, 0, false);
    const latencies: number[] = [];
    h.sub.on("update", (e) => latencies.push(e.latencyUs));
    h.deliver();
    const cs = new ChangeSet();
    for (let i = 0; i < 200; i++) {
      randomChanges(r, book, cs, 10, 300_000);
      book.apply(cs, 11 + i, T0 + i);
      packBookDelta(h.packer, book, cs);
      if (i % 7 === 0) h.deliver();
    }
    h.deliver();
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(true);
    expect(sb.definition).toMatchObject({ venue: "bybit", market: "linear", symbol: "ETHUSDT", priceExp: 2, qtyExp: 3 });
    expect(levelsOf(sb)).toEqual(levelsOf(book));
    expect(sb.instrSeq).toBe(book.instrSeq);
    expect(sb.venueSeq).toBe(book.venueSeq);
    expect(sb.tsExchangeUs).toBe(book.tsExchangeUs);
    expect(h.updates[0]).toEqual({ kind: "snapshot", instrSeq: 1, valid: true, symbol: "ETHUSDT" });
    expect(h.updates.filter((u) => u.kind === "delta")).toHaveLength(200);
    expect(latencies.every((l) => l === 40)).toBe(true);
    expect(h.sessions).toEqual([{ kind: "new", channelId: 1, sourceId: 0, sessionId: 11, previousSessionId: undefined }]);
  });

  it("a lost datagram is a gap: books invalid until the next (refresh) snapshot, then identical", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    const r = rng(2);
    const sides = randomBookSides(r, 40, 300_000);
    book.load(sides.bids, sides.asks, 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    h.deliver();
    const cs = new ChangeSet();
    for (let i = 0; i < 3; i++) {
      randomChanges(r, book, cs, 5, 300_000);
      book.apply(cs, 2 + i, T0);
      packBookDelta(h.packer, book, cs);
      h.packer.closeDatagram(); // one event per datagram
    }
    h.deliver([1]); // lose the second event
    const sb = h.sub.book(inst.instrumentId)!;
    expect(h.gaps).toHaveLength(1);
    expect(h.gaps[0]).toMatchObject({ channelId: 1, expected: 3, got: 4, lost: 1, booksInvalidated: 1 });
    expect(sb.valid).toBe(false);
    expect(sb.invalidations).toBe(1);
    // Deltas keep coming while invalid: applied best effort, still invalid.
    randomChanges(r, book, cs, 5, 300_000);
    book.apply(cs, 9, T0);
    packBookDelta(h.packer, book, cs);
    h.deliver();
    expect(sb.valid).toBe(false);
    expect(h.updates.at(-1)).toMatchObject({ kind: "delta", valid: false });
    // Periodic refresh: same instrSeq, REFRESH flag → valid and identical.
    packBookSnapshot(h.packer, book, 0, true);
    h.deliver();
    expect(sb.valid).toBe(true);
    expect(levelsOf(sb)).toEqual(levelsOf(book));
    expect(sb.instrSeq).toBe(book.instrSeq);
  });

  it("a lost tail is detected by the next heartbeat (seqNum = next expected)", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    h.deliver();
    const cs = new ChangeSet();
    cs.addBid(100, 2);
    book.apply(cs, 2, T0);
    packBookDelta(h.packer, book, cs);
    h.deliver([0]);
    h.packer.appendHeartbeat(0);
    h.deliver();
    expect(h.gaps).toHaveLength(1);
    expect(h.gaps[0]).toMatchObject({ expected: 2, got: 3, lost: 1 });
    expect(h.sub.book(inst.instrumentId)!.valid).toBe(false);
  });

  it("a split delta is one update, applied only as a whole event", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([], [], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    const cs = new ChangeSet();
    for (let i = 0; i < 200; i++) cs.addBid(10_000 - i, i + 1);
    for (let i = 0; i < 200; i++) cs.addAsk(10_001 + i, i + 1);
    book.apply(cs, 2, T0);
    expect(packBookDelta(h.packer, book, cs)).toBe(5);
    h.deliver();
    expect(h.updates.map((u) => u.kind)).toEqual(["snapshot", "delta"]);
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(true);
    expect(levelsOf(sb)).toEqual(levelsOf(book));
  });

  it("losing one part of a split delta invalidates the book (channel gap and instrSeq check)", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([], [], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    h.deliver();
    const cs = new ChangeSet();
    for (let i = 0; i < 200; i++) cs.addBid(10_000 - i, i + 1);
    book.apply(cs, 2, T0);
    packBookDelta(h.packer, book, cs); // 3 datagrams
    h.deliver([2]); // lose the LAST part
    cs.clear();
    cs.addAsk(10_001, 5);
    book.apply(cs, 3, T0);
    packBookDelta(h.packer, book, cs);
    h.deliver();
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(false);
    expect(h.sub.counters.gaps).toBe(1);
    expect(h.sub.counters.instrSeqJumps).toBe(1); // the open event never got its LAST
  });

  it("an instrSeq jump without a channel gap (instrument filtered on another stream) invalidates the book", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    const cs = new ChangeSet();
    cs.addBid(99, 1);
    book.apply(cs, 2, T0);
    book.instrSeq += 1; // an event this channel never carried
    packBookDelta(h.packer, book, cs);
    h.deliver();
    expect(h.sub.counters.gaps).toBe(0);
    expect(h.sub.counters.instrSeqJumps).toBe(1);
    expect(h.sub.book(inst.instrumentId)!.valid).toBe(false);
  });

  it("duplicates (same datagram twice) are ignored", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    const cs = new ChangeSet();
    cs.addBid(99, 7);
    book.apply(cs, 2, T0);
    packBookDelta(h.packer, book, cs);
    h.packer.stampSendTime(T0);
    const dgram = h.packer.bytes[0]!.slice(0, h.packer.lengths[0]);
    h.packer.clear();
    h.sub.ingest(dgram);
    h.sub.ingest(dgram);
    expect(h.sub.counters.duplicates).toBe(1);
    expect(h.updates.map((u) => u.kind)).toEqual(["snapshot", "delta"]);
    expect(h.sub.book(inst.instrumentId)!.valid).toBe(true);
  });

  it("a publisher restart (new session id) is reported and its books wait for a snapshot", () => {
    const h = new Harness(11);
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    for (let i = 0; i < 5; i++) book.instrSeq++;
    packBookSnapshot(h.packer, book, 0, false);
    h.deliver();
    h.packer.appendHeartbeat(PKT_FLAG_END_OF_SESSION);
    h.deliver();
    expect(h.sessions.map((s) => s.kind)).toEqual(["new", "ended"]);
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(false);
    // New process: session 12, sequence numbers and instrSeq start again.
    h.packer = new ChannelPacker(1400, 1, 0, 12);
    const fresh = new TestBook(inst);
    fresh.load([[200, 2]], [[201, 2]], 1, T0);
    packBookSnapshot(h.packer, fresh, 0, false);
    h.deliver();
    expect(h.sessions.at(-1)).toEqual({ kind: "restarted", channelId: 1, sourceId: 0, sessionId: 12, previousSessionId: 11 });
    expect(h.gaps).toHaveLength(0);
    expect(sb.valid).toBe(true);
    expect(sb.instrSeq).toBe(1);
    expect(levelsOf(sb)).toEqual(levelsOf(fresh));
  });

  it("statuses update state and reason and emit 'status' events", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    book.instrSeq++;
    book.state = BookState.RESYNCING;
    book.reason = StatusReason.SEQUENCE_GAP;
    packBookStatus(h.packer, book);
    const statuses: [number, number, number][] = [];
    h.sub.on("status", (e) => statuses.push([e.previousState, e.state, e.reason]));
    h.deliver();
    expect(statuses).toEqual([[BookState.AWAITING_SNAPSHOT, BookState.LIVE, StatusReason.NONE], [BookState.LIVE, BookState.RESYNCING, StatusReason.SEQUENCE_GAP]]);
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.state).toBe(BookState.RESYNCING);
    expect(sb.valid).toBe(true); // the subscriber's copy is exact; the upstream book is what is resyncing
  });

  it("a new reason in the same state is a 'status' event; the same state and reason again is none", () => {
    const h = new Harness();
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    book.state = BookState.HALTED;
    book.reason = StatusReason.SUBSCRIBE_REJECTED;
    packBookSnapshot(h.packer, book, 0, false);
    for (const reason of [StatusReason.SUBSCRIBE_REJECTED, StatusReason.INSTRUMENT_CLOSED, StatusReason.INSTRUMENT_CLOSED]) {
      book.instrSeq++;
      book.reason = reason;
      packBookStatus(h.packer, book);
    }
    const statuses: [number, number, number, number][] = [];
    h.sub.on("status", (e) => statuses.push([e.previousState, e.previousReason, e.state, e.reason]));
    h.deliver();
    expect(statuses).toEqual([
      [BookState.AWAITING_SNAPSHOT, StatusReason.NONE, BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED],
      [BookState.HALTED, StatusReason.SUBSCRIBE_REJECTED, BookState.HALTED, StatusReason.INSTRUMENT_CLOSED],
    ]);
  });

  it("a snapshot with a missing chunk never completes; the next complete one replaces it and is applied", () => {
    const h = new Harness(11, 1, 0, 256);
    const book = new TestBook(inst);
    const sides = randomBookSides(rng(3), 30, 5_000);
    book.load(sides.bids, sides.asks, 1, T0);
    const chunks = packBookSnapshot(h.packer, book, 0, false);
    expect(chunks).toBeGreaterThan(3);
    h.deliver([2]);
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(false);
    expect(h.sub.counters.partsOutOfOrder).toBeGreaterThan(0); // the chunks after the lost one wait in vain
    packBookSnapshot(h.packer, book, 0, true);
    h.deliver();
    expect(h.sub.counters.snapshotsAbandoned).toBe(1); // replaced by the refresh's chunk 0
    expect(sb.valid).toBe(true);
    expect(levelsOf(sb)).toEqual(levelsOf(book));
  });

  it("garbage is counted and reported as 'error', never thrown, its message naming the field", () => {
    const h = new Harness();
    const errors: string[] = [];
    const messages: string[] = [];
    h.sub.on("error", (e) => (errors.push((e.error as { codeName?: string }).codeName ?? "?"), messages.push(e.error.message)));
    h.sub.ingest(Uint8Array.of(0x46, 0x44, 2, 0, 0, 0, 0, 0, 0, 0)); // "FD", v2, then nothing
    h.sub.ingest(new Uint8Array(64));
    h.sub.ingest(new Uint8Array(70_000));
    // A delta of 1 bid and 2 asks whose second ask has a negative quantity, its CRC made again (a forgery, or a bug).
    const book = new TestBook(inst);
    const cs = new ChangeSet();
    cs.addBid(100, 1);
    cs.addAsk(101, 1);
    cs.addAsk(102, 1);
    book.apply(cs, 1, T0);
    packBookDelta(h.packer, book, cs);
    h.packer.stampSendTime(T0);
    const forged = h.packer.bytes[0]!.slice(0, h.packer.lengths[0]);
    new DataView(forged.buffer).setBigInt64(48 + 8 + 64 + 2 * 16 + 8, -5n, true);
    h.sub.ingest(resealCrc(forged));
    expect(h.sub.counters.errors).toBe(4);
    expect(errors).toEqual(["truncated", "bad_magic", "oversized", "bad_value"]);
    expect(h.sub.counters.rejected).toMatchObject({ truncated: 1, bad_magic: 1, oversized: 1, bad_checksum: 0, bad_value: 1 });
    expect(messages).toEqual([
      "truncated datagram (10 B): shorter than the 48-byte packet header",
      "bad_magic datagram (64 B): magic not 0x4446",
      "oversized datagram (70000 B): longer than any UDP datagram",
      "bad_value datagram (168 B): message 1 of 1 (BookDelta), ask entry 2 of 2: qtyMantissa negative",
    ]);
  });

  it("tracks (channel, source) streams separately: two workers on one channel are not gaps", () => {
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    const gaps: GapEvent[] = [];
    sub.on("gap", (e) => gaps.push(e));
    const a = new ChannelPacker(1400, 1, 0, 100);
    const b = new ChannelPacker(1400, 1, 1, 200);
    const i1 = new TestBook(makeInstrument("bybit", "spot", "BTCUSDT"));
    const i2 = new TestBook(makeInstrument("bybit", "spot", "ETHUSDT"));
    i1.load([[1, 1]], [[2, 1]], 1, T0);
    i2.load([[1, 1]], [[2, 1]], 1, T0);
    for (let k = 0; k < 10; k++) {
      for (const [p, book] of [[a, i1], [b, i2]] as const) {
        packBookSnapshot(p, book, 0, true);
        p.stampSendTime(T0);
        for (let i = 0; i < p.count; i++) sub.ingest(p.bytes[i]!.slice(0, p.lengths[i]));
        p.clear();
      }
    }
    expect(gaps).toHaveLength(0);
    expect(sub.streamInfo().map((s) => [s.channelId, s.sourceId, s.nextSeq])).toEqual([
      [1, 0, 11],
      [1, 1, 11],
    ]);
  });
});

describe("FeedSubscriber: instrument redefinition", () => {
  it("a definition with new exponents makes the book unusable; the next book message in the new units empties it until its snapshot", () => {
    const h = new Harness();
    const v1 = makeInstrument("bybit", "spot", "XYZUSDT", 2, 3);
    const book = new TestBook(v1);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packInstrumentDefinition(h.packer, new EncodedDefinition(v1), false);
    packBookSnapshot(h.packer, book, 0, false);
    h.deliver();
    const sb = h.sub.book(v1.instrumentId)!;
    expect(sb.usable).toBe(true);
    const v2 = { ...v1, priceExp: 3, tickSize: "0.001" };
    const rebuilt = new TestBook(v2);
    rebuilt.instrSeq = book.instrSeq;
    rebuilt.load([[1000, 1]], [[1010, 1]], 2, T0);
    packInstrumentDefinition(h.packer, new EncodedDefinition(v2), false);
    h.deliver();
    expect(sb.usable).toBe(false);
    expect(sb.exponentsInDoubt).toBe(true);
    expect(sb.instrument.priceExp).toBe(2); // the levels held are still in the old units, and shown so
    expect(sb.bidPriceAt(0)).toBe(100);
    // The publisher follows a changed definition with a status in the new units (instrSeq + 1): the book empties.
    const exps: [number, number][] = [];
    h.sub.on("exponent", (e) => exps.push([e.previousPriceExp, e.priceExp]));
    const status = new TestBook(v2);
    status.instrSeq = book.instrSeq + 1;
    status.state = BookState.RESYNCING;
    status.reason = StatusReason.INSTRUMENT_CHANGED;
    packBookStatus(h.packer, status);
    h.deliver();
    expect(exps).toEqual([[2, 3]]);
    expect(sb.instrument.priceExp).toBe(3);
    expect(sb.bidCount + sb.askCount).toBe(0);
    expect(sb.valid).toBe(false);
    rebuilt.instrSeq = status.instrSeq;
    rebuilt.load([[1000, 1]], [[1010, 1]], 3, T0);
    packBookSnapshot(h.packer, rebuilt, 0, false);
    h.deliver();
    expect(sb.usable).toBe(true);
    expect(levelsOf(sb)).toEqual(levelsOf(rebuilt));
    expect(sb.definition?.tickSize).toBe("0.001");
  });
});

describe("FeedSubscriber: status sharing an event's instrSeq", () => {
  it("applies the state of a BookStatus that repeats the current instrSeq, without a jump or invalidation", () => {
    const h = new Harness();
    const inst = makeInstrument("bybit", "linear", "SOLUSDT", 2, 1);
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    const cs = new ChangeSet();
    cs.addBid(102, 5); // crosses the book
    book.apply(cs, 2, T0);
    packBookDelta(h.packer, book, cs);
    book.state = BookState.RESYNCING;
    book.reason = StatusReason.CROSSED_BOOK;
    packBookStatus(h.packer, book); // same instrSeq as the delta
    h.deliver();
    const sb = h.sub.book(inst.instrumentId)!;
    expect(sb.state).toBe(BookState.RESYNCING);
    expect(sb.reason).toBe(StatusReason.CROSSED_BOOK);
    expect(sb.valid).toBe(true);
    expect(h.sub.counters.instrSeqJumps).toBe(0);
    expect(h.updates.map((u) => u.kind)).toEqual(["snapshot", "delta", "status"]);
  });
});

describe("FeedSubscriber: faulty listeners", () => {
  it("a throwing 'update' listener is reported and does not break sequencing or the rest of the datagram", () => {
    const h = new Harness();
    const inst = makeInstrument("bybit", "spot", "ADAUSDT", 4, 1);
    const book = new TestBook(inst);
    book.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(h.packer, book, 0, false);
    const cs = new ChangeSet();
    for (let i = 0; i < 5; i++) {
      cs.clear();
      cs.addBid(90 + i, 3);
      book.apply(cs, 2 + i, T0);
      packBookDelta(h.packer, book, cs);
    }
    const errors: string[] = [];
    h.sub.on("error", (e) => errors.push(e.error.message));
    h.sub.on("update", () => {
      throw new Error("boom");
    });
    expect(h.deliver()).toBe(1); // all in one datagram
    const sb = h.sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(book));
    expect(sb.valid).toBe(true);
    expect(h.sub.counters.listenerErrors).toBe(6);
    expect(errors).toHaveLength(6);
    expect(h.updates).toHaveLength(6); // the other listener still ran every time
  });
});

describe("FeedSubscriber on a real socket", () => {
  it("reports garbage from the network with the sender's address:port and keeps receiving", async () => {
    // Group private to this test: 239.255.44.1; interface 127.0.0.1, TTL 1.
    const port = uniqueDestination(472).port; // below the ephemeral ports (test/support/destination.ts)
    const sub = new FeedSubscriber({ groups: [{ group: "239.255.44.1", port, iface: "127.0.0.1" }], staleAfterMs: 0 });
    const errors: { from: string; code: string }[] = [];
    sub.on("error", (e) => errors.push({ from: e.from, code: (e.error as { codeName?: string }).codeName ?? "?" }));
    await sub.start();
    const { createSocket } = await import("node:dgram");
    const tx = createSocket("udp4");
    try {
      await new Promise<void>((resolve) => tx.bind(0, "127.0.0.1", resolve));
      tx.setMulticastInterface("127.0.0.1");
      tx.setMulticastTTL(1);
      const send = (b: Uint8Array) => new Promise<void>((resolve, reject) => tx.send(b, port, "239.255.44.1", (err) => (err ? reject(err) : resolve())));
      await send(new Uint8Array(64)); // bad magic
      await send(Uint8Array.of(0x46, 0x44, 2, 0, 0, 0, 0, 0, 0, 0)); // truncated
      const deadline = Date.now() + 5000;
      while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const from = `127.0.0.1:${tx.address().port}`;
      expect(errors).toEqual([
        { from, code: "bad_magic" },
        { from, code: "truncated" },
      ]);
      expect(sub.counters.errors).toBe(2);
    } finally {
      tx.close();
      await sub.stop();
    }
  });
});
