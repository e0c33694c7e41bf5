/**
 * A repair (counters.repairs, book.repairs, the 'repair' event) is a book whose levels at its instrSeq descend from a
 * snapshot by every one of its events found different from the publisher's refresh at that instrSeq: a divergence
 * (a forged or corrupt event that passed the checks, a bug). A book that never had a snapshot (a late joiner built
 * from the deltas it heard) or that lost events of its own (an instrSeq jump) taking a refresh is recovery, not a
 * repair: before, a clean loopback `npm start` showed `REP 1` now and then (docs/wire-protocol.md §6.6 item 3).
 */
import { describe, expect, it } from "vitest";
import type { RepairEvent } from "../../src/subscriber/index.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { bidDelta, ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const other = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

function book(i = inst): TestBook {
  const b = new TestBook(i);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

function watched(): { sub: ReturnType<typeof newSubscriber>; repairs: RepairEvent[] } {
  const sub = newSubscriber();
  const repairs: RepairEvent[] = [];
  sub.on("repair", (e) => repairs.push(e));
  return { sub, repairs };
}

describe("a refresh is a repair only for a book whose chain from a snapshot is whole", () => {
  it("a late joiner's book built from deltas takes its first refresh at the same instrSeq: valid, no repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const b = book();
    packBookDelta(p, b, bidDelta(b, [[943503, 7]])); // the first this subscriber hears: instrSeq 2
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.valid, sb.bidCount]).toEqual([2, false, 1]); // never valid from deltas alone
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.valid, sb.usable, sb.repairs, sub.counters.repairs, repairs.length]).toEqual([true, true, 0, 0, 0]);
  });

  it("a book that lost an event of its own (an instrSeq jump) takes the refresh at its instrSeq: no repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const b = book();
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    packBookDelta(p, b, bidDelta(b, [[943500, 0]]));
    take(p); // lost
    packBookDelta(p, b, bidDelta(b, [[943503, 9]]));
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.instrSeq, sb.valid, sub.counters.instrSeqJumps]).toEqual([3, false, 1]);
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.valid, sb.repairs, sub.counters.repairs, repairs.length]).toEqual([true, 0, 0, 0]);
  });

  it("a book invalid only by a channel gap (none of its events lost) that differs at its instrSeq is still a repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const a = book();
    const e = book(other);
    packBookSnapshot(p, a, 0, false);
    packBookSnapshot(p, e, 0, false);
    ingestAll(sub, take(p));
    packBookDelta(p, e, bidDelta(e, [[943503, 2]]));
    take(p); // lost: a channel gap invalidates BTCUSDT too
    const sb = sub.book(inst.instrumentId)!;
    a.bids.set(943500, 21); // the publisher's book at BTCUSDT's instrSeq differs from the subscriber's
    packBookSnapshot(p, a, 0, true);
    ingestAll(sub, take(p));
    expect(sub.counters.gaps).toBe(1);
    expect(levelsOf(sb)).toEqual(levelsOf(a));
    expect([sb.valid, sb.repairs, sub.counters.repairs]).toEqual([true, 1, 1]);
    expect(repairs).toMatchObject([{ instrSeq: a.instrSeq, refresh: true, levelsDiffered: true }]);
  });
});
