/**
 * Within one session a subscriber book never goes back (docs/wire-protocol.md §6.6 item 3): a snapshot older than
 * the instrSeq the book has applied is refused, also on an invalid book. Old code loaded one into an invalid book and
 * showed it usable at 425 after it had applied 426 (a lagging second channel, a reordered or late refresh).
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const other = makeInstrument("bybit", "linear", "ETHUSDT", 1, 3);

/** The publisher's book at instrSeq 420. */
function book420(): TestBook {
  const b = new TestBook(inst);
  b.instrSeq = 419;
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

function step(b: TestBook, px: number, qty: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(px, qty);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

/** A copy of the publisher's book as it is now (its levels, instrSeq and state). */
function copyOf(b: TestBook): TestBook {
  const c = new TestBook(inst);
  const l = levelsOf(b);
  c.load(l.bids, l.asks, b.venueSeq, T0);
  c.instrSeq = b.instrSeq;
  return c;
}

function snapshot(p: ChannelPacker, b: TestBook, refresh = true, sendTimeUs = T0): Uint8Array[] {
  packBookSnapshot(p, b, 0, refresh);
  return take(p, sendTimeUs);
}

/** Send times of the real refreshes after a forged message sent at T0. */
const LATER = T0 + 1_000_000;

/** A gap on the stream of `p`: a datagram of another instrument lost, the next one delivered. */
function gapOn(sub: FeedSubscriber, p: ChannelPacker): void {
  const o = new TestBook(other);
  o.load([[100, 1]], [[101, 1]], 1, T0);
  packBookSnapshot(p, o, 0, false);
  take(p); // lost
  packBookSnapshot(p, o, 0, true);
  ingestAll(sub, take(p));
}

/** Snapshot 420 and deltas to 426 on `a`; the publisher's book at 425 kept aside as `old`. */
function setUp(sub: FeedSubscriber, a: ChannelPacker): { b: TestBook; old: TestBook } {
  const b = book420();
  ingestAll(sub, snapshot(a, b, false));
  let old: TestBook | undefined;
  for (let i = 0; i < 6; i++) {
    packBookDelta(a, b, step(b, 943490 - i, 7 + i));
    ingestAll(sub, take(a));
    if (b.instrSeq === 425) old = copyOf(b);
  }
  expect(b.instrSeq).toBe(426);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.instrSeq, sb.usable]).toEqual([426, true]);
  return { b, old: old! };
}

describe("a snapshot older than what the book applied", () => {
  it("from a lagging second channel: refused, the book stays invalid at 426; a refresh at 426 makes it usable", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const c2 = packer({ channelId: 2 });
    const { b, old } = setUp(sub, a);
    const lagging = snapshot(c2, old); // channel 2's refresh at 425, late
    gapOn(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.valid).toBe(false);
    ingestAll(sub, lagging);
    // Old code: valid and usable at 425, behind the 426 it had applied.
    expect([sb.instrSeq, sb.valid, sb.usable]).toEqual([426, false, false]);
    expect(sub.counters.staleSnapshots).toBe(1);
    ingestAll(sub, snapshot(c2, b));
    expect([sb.instrSeq, sb.usable]).toEqual([426, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect(sub.counters.instrSeqBackwards).toBe(0);
  });

  it("on the stream that applied 426 (a reordered or forged refresh): refused; a current snapshot above makes it usable", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const { b, old } = setUp(sub, a);
    gapOn(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    ingestAll(sub, snapshot(a, old));
    // Old code: instrSeq 425 going backwards on the stream proved 426 bogus: loaded, usable at 425.
    expect([sb.instrSeq, sb.valid, sb.usable]).toEqual([426, false, false]);
    expect(sub.counters.staleSnapshots).toBe(1);
    packBookDelta(a, b, step(b, 943480, 3));
    ingestAll(sub, take(a));
    expect([sb.instrSeq, sb.valid]).toEqual([427, false]);
    ingestAll(sub, snapshot(a, b));
    expect([sb.instrSeq, sb.usable]).toEqual([427, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
  });

  it("reordered on one stream (no forgery): a refresh at 427 applied after delta 428 by the jump revert is refused", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const { b } = setUp(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    packBookDelta(a, b, step(b, 943480, 3)); // 427
    ingestAll(sub, take(a));
    const o = new TestBook(other);
    o.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(a, o, 0, false);
    const otherDatagram = take(a);
    const refresh427 = snapshot(a, b);
    packBookDelta(a, b, step(b, 943479, 4)); // 428
    const delta428 = take(a);
    // 428 overtakes both: a gap; the two late datagrams continue the old line, so the stream goes back to it and
    // applies the second, the refresh, after 428.
    ingestAll(sub, delta428);
    ingestAll(sub, otherDatagram);
    ingestAll(sub, refresh427);
    expect(sub.counters.seqJumpsReverted).toBe(1);
    // Old code: 427 going backwards on the stream proved 428 bogus: loaded, usable at 427 behind the publisher.
    expect([sb.instrSeq, sb.valid, sb.usable, sub.counters.staleSnapshots]).toEqual([428, false, false, 1]);
    ingestAll(sub, snapshot(a, b));
    expect([sb.instrSeq, sb.usable]).toEqual([428, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
  });

  it("a refresh at the instrSeq of the last applied delta still repairs a book that differs", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const { b } = setUp(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    const wrong = copyOf(b);
    wrong.bids.set(943400, 1); // the publisher's book at 426 differs from the subscriber's: forged delta, a bug
    const truth = copyOf(b);
    b.bids.set(943400, 1);
    ingestAll(sub, snapshot(a, wrong));
    expect([sb.instrSeq, sb.usable, sub.counters.repairs, sub.counters.staleSnapshots]).toEqual([426, true, 1, 0]);
    ingestAll(sub, snapshot(a, truth));
    expect(levelsOf(sb)).toEqual(levelsOf(truth));
    expect(sub.counters.repairs).toBe(2);
  });

  it("a forged instrSeq far ahead cannot freeze the book: a second older refresh from one stream proves it bogus", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const forger = packer({ channelId: 2 });
    const { b } = setUp(sub, a);
    const fake = copyOf(b);
    fake.bids.set(1, 1);
    fake.instrSeq = 1_000_000;
    ingestAll(sub, snapshot(forger, fake, false)); // a channel that never carries the instrument again
    const sb = sub.book(inst.instrumentId)!;
    expect(sb.instrSeq).toBe(1_000_000);
    ingestAll(sub, snapshot(a, b, true, LATER));
    expect([sb.instrSeq, sub.counters.olderSnapshots]).toEqual([1_000_000, 1]);
    // Old code: every real refresh ignored as older (olderSnapshots), the forged levels usable for good.
    ingestAll(sub, snapshot(a, b, true, LATER));
    expect([sb.instrSeq, sb.usable, sub.counters.instrSeqBackwards]).toEqual([426, true, 1]);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
  });

  it("a forged instrSeq far ahead cannot freeze a book carried on two channels: their refreshes alternate", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const c2 = packer({ channelId: 2 });
    const forger = packer({ channelId: 3 });
    const { b } = setUp(sub, a);
    const fake = copyOf(b);
    fake.instrSeq = 1_000_000;
    packBookDelta(forger, fake, step(fake, 1, 1)); // a delta far ahead: an instrSeq jump, invalid
    ingestAll(sub, take(forger));
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.valid]).toEqual([1_000_001, false]);
    ingestAll(sub, snapshot(a, b, true, LATER));
    ingestAll(sub, snapshot(c2, b, true, LATER));
    expect([sb.instrSeq, sub.counters.staleSnapshots]).toEqual([1_000_001, 2]);
    ingestAll(sub, snapshot(a, b, true, LATER)); // channel 1's next refresh: the proof
    expect([sb.instrSeq, sb.usable, sub.counters.instrSeqBackwards]).toEqual([426, true, 1]);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
  });

  it("a channel lagging by refreshes is no proof: its snapshots were sent before the event that set the book's instrSeq", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const c2 = packer({ channelId: 2 });
    const { b, old } = setUp(sub, a); // 426 applied, sent at T0
    const first = snapshot(c2, old, true, T0 - 2_000_000);
    const second = snapshot(c2, old, true, T0 - 1_000_000);
    gapOn(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    ingestAll(sub, first);
    ingestAll(sub, second);
    expect([sb.instrSeq, sb.valid, sub.counters.staleSnapshots, sub.counters.instrSeqBackwards]).toEqual([426, false, 2, 0]);
    ingestAll(sub, snapshot(c2, b, true, LATER));
    expect([sb.instrSeq, sb.usable]).toEqual([426, true]);
  });

  it("one older refresh per stream is no proof: two streams' stale refreshes both refused", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const c2 = packer({ channelId: 2 });
    const c3 = packer({ channelId: 3 });
    const { b, old } = setUp(sub, a);
    const late2 = snapshot(c2, old);
    const late3 = snapshot(c3, old);
    gapOn(sub, a);
    const sb = sub.book(inst.instrumentId)!;
    ingestAll(sub, late2);
    ingestAll(sub, late3);
    expect([sb.instrSeq, sb.valid, sub.counters.staleSnapshots]).toEqual([426, false, 2]);
    ingestAll(sub, snapshot(a, b));
    expect([sb.instrSeq, sb.usable]).toEqual([426, true]);
  });

  it("a new session resets the mark: its snapshot at a low instrSeq is loaded", () => {
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    setUp(sub, a);
    const restarted = packer({ channelId: 1, sessionId: 12, sessionStartUs: T0 + 1_000_000 });
    const fresh = new TestBook(inst);
    fresh.load([[943000, 1]], [[943010, 2]], 1, T0);
    ingestAll(sub, snapshot(restarted, fresh, false));
    ingestAll(sub, snapshot(restarted, fresh));
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.usable, sub.counters.staleSnapshots]).toEqual([1, true, 0]);
    expect(levelsOf(sb)).toEqual(levelsOf(fresh));
  });
});

describe("randomized against the publisher's history: two channels, loss, lag", () => {
  it("a valid book is always the publisher's at its instrSeq and never behind an instrSeq it applied", () => {
    let seed = 0x2f6e2b1;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const sub = newSubscriber();
    const a = packer({ channelId: 1 });
    const c2 = packer({ channelId: 2 });
    const pub = book420();
    const history = new Map<number, ReturnType<typeof levelsOf>>([[420, levelsOf(pub)]]);
    let nowUs = T0;
    const queues: Uint8Array[][] = [snapshot(a, pub, false), snapshot(c2, pub, false)];
    let maxApplied = -1;
    let staleRefused = 0;
    for (let i = 0; i < 800; i++) {
      const r = rand();
      nowUs += 1000;
      if (r < 0.35) {
        const cs = step(pub, 943490 - Math.floor(rand() * 20), rand() < 0.3 ? 0 : 1 + Math.floor(rand() * 9));
        history.set(pub.instrSeq, levelsOf(pub));
        packBookDelta(a, pub, cs);
        queues[0]!.push(...take(a, nowUs));
        packBookDelta(c2, pub, cs);
        queues[1]!.push(...take(c2, nowUs));
      } else if (r < 0.45) {
        queues[0]!.push(...snapshot(a, pub, true, nowUs));
        queues[1]!.push(...snapshot(c2, pub, true, nowUs));
      } else {
        const q = queues[rand() < 0.5 ? 0 : 1]!;
        const d = q.shift();
        if (d === undefined || rand() < 0.08) continue; // lost
        ingestAll(sub, [d]);
        const sb = sub.book(inst.instrumentId)!;
        if (sb.valid) {
          expect(sb.instrSeq).toBeGreaterThanOrEqual(maxApplied);
          expect(levelsOf(sb)).toEqual(history.get(sb.instrSeq));
        }
        if (sb.instrSeq > maxApplied) maxApplied = sb.instrSeq;
      }
      staleRefused = sub.counters.staleSnapshots;
    }
    expect(staleRefused).toBeGreaterThan(0);
    expect(sub.counters.instrSeqBackwards).toBe(0);
    // Recovery: one refresh delivered whole after the channels drain makes the book usable and exact.
    for (const q of queues) ingestAll(sub, q.splice(0));
    ingestAll(sub, snapshot(a, pub, true, nowUs + 1000));
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.usable]).toEqual([pub.instrSeq, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(pub));
  });
});
