/**
 * Review of the receiving side (s-rev8): the channel sequence of a stream whose line is not established yet. A
 * subscriber started in the middle of a stream, or a stream's new session, takes the first datagram's seqNum as
 * the line; one datagram far ahead there (forged, or damaged with a matching CRC) used to freeze the stream for
 * good: every real datagram after it was a "duplicate" (docs/wire-protocol.md §6.3 promises two datagrams).
 * Datagrams come from the real packer and encoders (feed-harness.ts) through the datagram entry point (ingest).
 */
import { describe, expect, it } from "vitest";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { bidDelta, deepBook, ingestAll, newSubscriber, packer, T0, take, wideBidDelta } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function liveBook(): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

describe("review: the first datagram of a stream or session cannot freeze it", () => {
  it("a subscriber whose first datagram of a stream is far ahead goes back to the real line after two of its datagrams", () => {
    const sub = newSubscriber();
    const p = packer();
    p.nextSeq = 5000; // the subscriber joins a running stream
    const b = liveBook();
    const forger = packer(); // same channel, source and session: only the seqNum is off
    forger.nextSeq = 5000 + 1_000_000_000;
    const fake = liveBook();
    packBookSnapshot(forger, fake, 0, false);
    ingestAll(sub, take(forger));
    for (let i = 0; i < 3; i++) {
      packBookDelta(p, b, bidDelta(b, [[943500, 100 + i]]));
      ingestAll(sub, take(p));
    }
    expect(sub.counters.seqJumpsReverted).toBe(1);
    expect(sub.streamInfo()[0]!.nextSeq).toBe(p.nextSeq);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(false); // what the bogus line brought is not trusted
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    packBookDelta(p, b, bidDelta(b, [[943500, 7]]));
    ingestAll(sub, take(p));
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.instrSeq).toBe(b.instrSeq);
    expect(sb.usable).toBe(true);
  });

  it("a restarted publisher's first datagram far ahead (the new session's) is undone by the session's next two", () => {
    const sub = newSubscriber();
    const old = packer({ sessionId: 40, sessionStartUs: T0 });
    packBookSnapshot(old, liveBook(), 0, false);
    ingestAll(sub, take(old));
    // The restart: session 41 starts at seqNum 1; a datagram of it claiming seqNum 10^9 arrives first.
    const p = packer({ sessionId: 41, sessionStartUs: T0 + 60_000_000 });
    const forger = packer({ sessionId: 41, sessionStartUs: T0 + 60_000_000 });
    forger.nextSeq = 1_000_000_000;
    forger.appendHeartbeat(0);
    ingestAll(sub, take(forger));
    const b = liveBook();
    packInstrumentDefinition(p, new EncodedDefinition(inst), false);
    ingestAll(sub, take(p));
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    for (let i = 0; i < 2; i++) {
      packBookDelta(p, b, bidDelta(b, [[943500, 30 + i]]));
      ingestAll(sub, take(p));
    }
    expect(sub.counters.seqJumpsReverted).toBe(1);
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.sessionId).toBe(41);
    expect(sb.usable).toBe(true);
  });

  it("a copy of a new stream's first datagram is a duplicate, not evidence of another line", () => {
    const sub = newSubscriber();
    const p = packer();
    p.nextSeq = 300;
    const b = liveBook();
    packBookSnapshot(p, b, 0, false);
    const first = take(p);
    ingestAll(sub, first);
    ingestAll(sub, first);
    ingestAll(sub, first);
    expect(sub.counters.duplicates).toBe(2);
    expect(sub.counters.lateDatagrams).toBe(0);
    packBookDelta(p, b, bidDelta(b, [[943500, 1]]));
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sb.usable).toBe(true);
  });

  it("a real gap right after a stream's first datagram is a plain gap: the line goes on after it", () => {
    const sub = newSubscriber();
    const p = packer();
    p.nextSeq = 300;
    const b = liveBook();
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    packBookDelta(p, b, bidDelta(b, [[943500, 1]]));
    take(p); // lost
    for (let i = 0; i < 3; i++) {
      packBookDelta(p, b, bidDelta(b, [[943500, 2 + i]]));
      ingestAll(sub, take(p));
    }
    expect(sub.counters.gaps).toBe(1);
    expect(sub.counters.seqJumpsReverted).toBe(0);
    expect(sub.book(inst.instrumentId)!.valid).toBe(false);
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect(sub.book(inst.instrumentId)!.usable).toBe(true);
    expect(levelsOf(sub.book(inst.instrumentId)!)).toEqual(levelsOf(b));
  });
});

/**
 * An assembly begun by a datagram of a bogus line (a jump ahead, later undone, §6.3) is no longer trusted once the
 * jump is undone: its instrSeq may be the forger's. Before, a chunk set begun there (chunk 0 at an instrSeq far ahead)
 * kept the next real refresh's chunk 0 out as an older set's (one real snapshot lost); a split delta begun there kept
 * every real split delta's parts out as an older event's (each such event lost) until an event passed its instrSeq.
 * Now the split delta is discarded and the set keeps no older one out; a real set a reordering left on such a line
 * still completes.
 */
describe("undoing a bogus jump: the assemblies the bogus line began keep nothing out", () => {
  const SMALL = 256; // a 30-level book takes several chunks, a 30-level delta several parts

  /** A stream (seqNums from 5000) whose line is proven: the book's snapshot and `deltas` deltas (bid 943000) received. */
  function provenLine(deltas: number) {
    const sub = newSubscriber({ maxDatagramBytes: SMALL });
    const p = packer({ maxBytes: SMALL });
    p.nextSeq = 5000;
    const b = deepBook(inst);
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    for (let i = 0; i < deltas; i++) {
      packBookDelta(p, b, bidDelta(b, [[943000, 50 + i]]));
      ingestAll(sub, take(p));
    }
    return { sub, p, b, sb: sub.book(inst.instrumentId)! };
  }

  /** A stream whose line is proven, its book usable; then one forged datagram far ahead (its first message only). */
  function forgedJump(forge: (forger: ReturnType<typeof packer>, fake: TestBook) => number) {
    const { sub, p, b, sb } = provenLine(2);
    expect(sb.usable).toBe(true);
    const forger = packer({ maxBytes: SMALL });
    forger.nextSeq = p.nextSeq + 1_000_000_000;
    const fake = deepBook(inst);
    fake.instrSeq = b.instrSeq + 1_000_000;
    expect(forge(forger, fake)).toBeGreaterThan(1);
    ingestAll(sub, take(forger).slice(0, 1)); // chunk 0 or part 0 only
    for (let i = 0; i < 2; i++) {
      packBookDelta(p, b, bidDelta(b, [[943000, 60 + i]]));
      ingestAll(sub, take(p));
    }
    expect(sub.counters.seqJumpsReverted).toBe(1);
    expect(sb.valid).toBe(false);
    return { sub, p, b, sb };
  }

  it("a chunk set: the next real refresh loads the book", () => {
    const { sub, p, b, sb } = forgedJump((forger, fake) => packBookSnapshot(forger, fake, 0, false));
    expect(packBookSnapshot(p, b, 0, true)).toBeGreaterThan(1);
    ingestAll(sub, take(p));
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
  });

  it("a real set begun on a jump that reordering undid (its late datagrams came next) still completes", () => {
    const { sub, p, b } = provenLine(1);
    const late: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      packBookDelta(p, b, bidDelta(b, [[943000, 60 + i]]));
      late.push(...take(p));
    }
    expect(packBookSnapshot(p, b, 0, true)).toBeGreaterThan(2);
    const set = take(p);
    // Chunk 0 first (a jump past the two deltas), then the two deltas (they undo the jump), then the rest of the set.
    ingestAll(sub, [set[0]!, ...late, ...set.slice(1)]);
    expect(sub.counters.seqJumpsReverted).toBe(1);
    const sb = sub.book(inst.instrumentId)!;
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
  });

  /**
   * s-rd21b: with no jump to undo (a forged datagram at the stream's next seqNum, no key), a split delta's part 0 at an
   * instrSeq forged far ahead kept every real split delta of the book out for good (an older event's parts; no event
   * passes it, and a refresh below it does not end it). The book's next event's part 0 now replaces an open assembly
   * of a later one (which could only have been applied with a gap, its book invalid, and that event then dropped as
   * applied): nothing real is lost.
   */
  it("a split delta forged at the line's next seqNum: the book's next split delta replaces it and is applied", () => {
    const { sub, p, b, sb } = provenLine(1);
    expect(sb.usable).toBe(true);
    const forger = packer({ maxBytes: SMALL });
    forger.nextSeq = p.nextSeq; // no jump: the number the publisher's next datagram was to have (that one lost)
    const fake = deepBook(inst);
    fake.instrSeq = b.instrSeq + 1_000_000;
    expect(packBookDelta(forger, fake, wideBidDelta(fake, 900))).toBeGreaterThan(1);
    ingestAll(sub, take(forger).slice(0, 1)); // part 0 only
    p.nextSeq++;
    expect(sb.asmSeq).toBe(fake.instrSeq);
    for (let i = 0; i < 2; i++) {
      expect(packBookDelta(p, b, wideBidDelta(b, 70 + 100 * i))).toBeGreaterThan(1);
      ingestAll(sub, take(p));
      expect(levelsOf(sb)).toEqual(levelsOf(b)); // old: its parts dropped as an older event's, every time
      expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
    }
    expect(sub.counters.seqJumpsReverted).toBe(0);
  });

  it("a split delta: the real split deltas after it are applied", () => {
    const { sub, p, b, sb } = forgedJump((forger, fake) => packBookDelta(forger, fake, wideBidDelta(fake, 900)));
    expect(sb.asmSeq).toBe(-1); // old: the forged event still being assembled
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect(sb.usable).toBe(true);
    expect(packBookDelta(p, b, wideBidDelta(b, 70))).toBeGreaterThan(1);
    ingestAll(sub, take(p));
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
  });
});
