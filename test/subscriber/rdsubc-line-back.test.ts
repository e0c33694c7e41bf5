/**
 * s-rdsubc: a stream whose numbering goes back within its session (a publisher bug, a wrap, or a forger without the
 * key). Its datagrams then lie wholly or partly behind the line, and what lay behind was dropped as seen, the books it
 * carried left usable with what they no longer were: once the numbering passed the old line, every datagram was in
 * order and a book whose events had come in the dropped stretch showed usable, wrong, until its next event or refresh.
 * A copy of a datagram the stream had (duplicated, reordered, replayed) was sent no later than the last one heard; one
 * sent later is no copy: the line went back, and the stream's books are invalid as at a gap (docs/wire-protocol.md
 * §6.3, `seqLinesBack`). Datagrams through the datagram entry point (ingest), from the real packer and encoders.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const X = makeInstrument("bybit", "linear", "XUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "YUSDT", 1, 3);

function book(inst: typeof X): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

function delta(b: TestBook, px: number, qty: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(px, qty);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

describe("s-rdsubc: a stream's numbering going back within its session", () => {
  it("the books it carried are invalid (not usable) once a datagram behind the line comes sent later than the last heard; a refresh past it repairs them", () => {
    const sub = newSubscriber();
    const p = packer();
    const x = book(X);
    const y = book(Y);
    let sendUs = T0;
    const send = () => {
      sendUs += 1000;
      for (const d of take(p, sendUs)) sub.ingest(d, sendUs + 50);
    };
    for (const b of [x, y]) {
      packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
      packBookSnapshot(p, b, 0, false);
      send();
    }
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, y, delta(y, 943500, 30 + i));
      send();
    }
    const sx = sub.book(X.instrumentId)!;
    expect(sx.usable).toBe(true);
    const line = p.nextSeq;
    const duplicates = sub.counters.duplicates;
    // The publisher's numbering goes back (same session): X changes in datagrams wholly behind the line.
    p.nextSeq = 2;
    packBookDelta(p, x, delta(x, 943503, 7));
    send();
    expect(sx.valid).toBe(false);
    expect(sub.counters.duplicates).toBe(duplicates + 1); // dropped as behind the line, not applied
    expect(sub.counters.seqLinesBack).toBe(1);
    // Y's events take the numbering past the old line: in order again, but X lost its event there.
    while (p.nextSeq <= line) {
      packBookDelta(p, y, delta(y, 943500, 40 + p.nextSeq));
      send();
    }
    expect(levelsOf(sx)).not.toEqual(levelsOf(x)); // X's event came in the stretch dropped
    expect(sx.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(1); // once per going back: the next ones only confirm it
    packBookSnapshot(p, x, 0, true);
    send();
    expect(levelsOf(sx)).toEqual(levelsOf(x));
    expect(sx.usable).toBe(true);
  });

  it("a datagram partly behind the line, sent later, is the numbering gone back too: its tail is applied, its head's books invalid", () => {
    const sub = newSubscriber();
    const p = packer();
    const x = book(X);
    const y = book(Y);
    let sendUs = T0;
    const send = () => {
      sendUs += 1000;
      for (const d of take(p, sendUs)) sub.ingest(d, sendUs + 50);
    };
    for (const b of [x, y]) {
      packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
      packBookSnapshot(p, b, 0, false);
      send();
    }
    packBookDelta(p, y, delta(y, 943500, 30));
    send();
    const sx = sub.book(X.instrumentId)!;
    const sy = sub.book(Y.instrumentId)!;
    expect(sx.usable).toBe(true);
    // Back by one: X's event takes the last number the stream had, Y's the next one (one datagram).
    p.nextSeq -= 1;
    packBookDelta(p, x, delta(x, 943503, 7));
    packBookDelta(p, y, delta(y, 943500, 31));
    send();
    expect(levelsOf(sy)).toEqual(levelsOf(y)); // the tail: applied
    expect(levelsOf(sx)).not.toEqual(levelsOf(x)); // the head: dropped as seen
    expect(sx.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(1);
  });

  /**
   * s-natsline: a refresh in the tail of a datagram partly behind the line made its book valid again, yet the stream
   * stayed marked as gone back (only a datagram at or past the line ended it), so when the numbering went back again the
   * book's next event was dropped and nothing invalidated it: usable, wrong. The line going on ends it now.
   */
  it("the numbering going back again after a refresh came in a partly-behind datagram's tail invalidates that book again", () => {
    const sub = newSubscriber();
    const p = packer();
    const y = book(Y);
    let sendUs = T0;
    const send = () => {
      sendUs += 1000;
      for (const d of take(p, sendUs)) sub.ingest(d, sendUs + 50);
    };
    packInstrumentDefinition(p, new EncodedDefinition(Y), false);
    packBookSnapshot(p, y, 0, false);
    send();
    const sy = sub.book(Y.instrumentId)!;
    // Back by one: Y's refresh, its definition behind the line, its snapshot the tail.
    p.nextSeq -= 1;
    packInstrumentDefinition(p, new EncodedDefinition(Y), true);
    packBookSnapshot(p, y, 0, true);
    send();
    expect(sub.counters.seqLinesBack).toBe(1);
    expect(sy.usable).toBe(true); // the snapshot repaired it
    // Back again: Y's next event wholly behind the line, dropped.
    p.nextSeq -= 1;
    packBookDelta(p, y, delta(y, 943500, 77));
    send();
    expect(levelsOf(sy)).not.toEqual(levelsOf(y));
    expect(sy.usable).toBe(false); // before the fix: true
    expect(sub.counters.seqLinesBack).toBe(2);
  });

  it("a copy of a datagram the stream had (duplicated, reordered, replayed: sent no later than the last heard) leaves the books valid", () => {
    const sub = newSubscriber();
    const p = packer();
    const x = book(X);
    let sendUs = T0;
    const sent: Uint8Array[] = [];
    const send = () => {
      sendUs += 1000;
      for (const d of take(p, sendUs)) {
        sent.push(d);
        sub.ingest(d, sendUs + 50);
      }
    };
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    send();
    for (let i = 0; i < 4; i++) {
      packBookDelta(p, x, delta(x, 943500, 30 + i));
      send();
    }
    for (const d of [...sent].reverse()) sub.ingest(d, sendUs + 60);
    const sx = sub.book(X.instrumentId)!;
    expect(sx.usable).toBe(true);
    expect(levelsOf(sx)).toEqual(levelsOf(x));
    expect(sub.counters.seqLinesBack).toBe(0);
  });
});
