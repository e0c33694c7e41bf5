/**
 * A repair (counters.repairs, book.repairs, the 'repair' event) is a book whose levels at its instrSeq descend from a
 * snapshot by every one of its events found different from the publisher's refresh at that instrSeq: a divergence
 * (a forged or corrupt event that passed the checks, a bug). A book that never had a snapshot (a late joiner built
 * from the deltas it heard) or that lost events of its own (an instrSeq jump) or was emptied (an exponent change, a
 * cap) taking a refresh is recovery, not a repair: before, a clean loopback `npm start` showed `REP 1` now and then
 * (docs/wire-protocol.md §6.6 item 3). A gap filled by retransmission loses none of its events: the chain holds.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { RetransmitRing } from "../../src/net/retransmit-ring.ts";
import { FeedSubscriber, type RepairEvent } from "../../src/subscriber/index.ts";
import { packBookDelta, packBookSnapshot, packBookStatus } from "../../src/wire/encoder.ts";
import { PKT_MSG_COUNT_OFFSET, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { decodeRetxControl, markRetransmit } from "../../src/wire/retransmit.ts";
import { levelsOf, makeInstrument, TestBook, waitFor } from "../wire/helpers.ts";
import { bidDelta, ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const other = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

function book(i = inst): TestBook {
  const b = new TestBook(i);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function watched(sub = newSubscriber()): { sub: FeedSubscriber; repairs: RepairEvent[] } {
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

  it("a channel gap that lost a BookStatus at the book's own instrSeq: the refresh differing in state alone is its recovery, no repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const a = book();
    const e = book(other);
    packBookSnapshot(p, a, 0, false);
    packBookSnapshot(p, e, 0, false);
    ingestAll(sub, take(p));
    a.state = BookState.RESYNCING; // a status qualifying the book's last event: at its instrSeq
    a.reason = StatusReason.SEQUENCE_GAP;
    packBookStatus(p, a);
    take(p); // lost: a channel gap, and the book's state at its instrSeq with it
    packBookDelta(p, e, bidDelta(e, [[943503, 2]]));
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect([sub.counters.gaps, sb.instrSeq, sb.valid, sb.state]).toEqual([1, a.instrSeq, false, BookState.LIVE]);
    packBookSnapshot(p, a, 0, true);
    ingestAll(sub, take(p));
    expect([sb.valid, sb.state, sb.reason]).toEqual([true, BookState.RESYNCING, StatusReason.SEQUENCE_GAP]);
    expect([sb.repairs, sub.counters.repairs, repairs.length]).toEqual([0, 0, 0]);
  });

  it("a valid book whose state differs from the refresh at its instrSeq (nothing lost) is still a repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const a = book();
    packBookSnapshot(p, a, 0, false);
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    a.state = BookState.RESYNCING; // the publisher's state at the same instrSeq, never sent: a divergence
    a.reason = StatusReason.SEQUENCE_GAP;
    packBookSnapshot(p, a, 0, true);
    ingestAll(sub, take(p));
    expect([sub.counters.gaps, sb.valid, sb.state]).toEqual([0, true, BookState.RESYNCING]);
    expect([sb.repairs, sub.counters.repairs]).toEqual([1, 1]);
    expect(repairs).toMatchObject([{ instrSeq: a.instrSeq, refresh: true, levelsDiffered: false }]);
  });

  // Each path that empties the book or loses one of its events takes it off its chain: the refresh at its instrSeq
  // that then differs is its recovery, no repair (a mutation keeping the chain there counts one).
  it("an exponent change (the status in the new units empties the book) then the refresh at that instrSeq: no repair", () => {
    const { sub, repairs } = watched();
    const p = packer();
    const b = book();
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    const nb = new TestBook({ ...inst, priceExp: 2, tickSize: "0.01" });
    nb.instrSeq = b.instrSeq + 1;
    nb.state = BookState.RESYNCING;
    nb.reason = StatusReason.INSTRUMENT_CHANGED;
    packBookStatus(p, nb);
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect([sub.counters.exponentChanges, sb.bidCount, sb.valid]).toEqual([1, 0, false]);
    nb.load([[9435030, 1500]], [[9435040, 250]], 2, T0);
    nb.instrSeq--; // load() advanced it: the refresh is at the status's instrSeq
    nb.state = BookState.LIVE;
    nb.reason = StatusReason.SNAPSHOT_APPLIED;
    packBookSnapshot(p, nb, 0, true);
    ingestAll(sub, take(p));
    expect([sb.instrSeq, sb.valid, sb.usable]).toEqual([nb.instrSeq, true, true]);
    expect(levelsOf(sb)).toEqual(levelsOf(nb));
    expect([sb.repairs, sub.counters.repairs, repairs.length]).toEqual([0, 0, 0]);
  });

  it("a side over a cap below 65,535 (the book emptied) then the refresh at that instrSeq: no repair", () => {
    const { sub, repairs } = watched(newSubscriber({ maxLevelsPerSide: 2 }));
    const p = packer();
    const b = book();
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    packBookDelta(p, b, bidDelta(b, [[943490, 3]]));
    ingestAll(sub, take(p));
    const sb = sub.book(inst.instrumentId)!;
    expect([sub.counters.levelsOverCap, sb.bidCount, sb.valid]).toEqual([1, 0, false]);
    b.bids.delete(943490); // the publisher's book fits the cap again at the same instrSeq: a refresh the subscriber can take
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect([sb.instrSeq, sb.valid]).toEqual([b.instrSeq, true]);
    expect([sb.repairs, sub.counters.repairs, repairs.length]).toEqual([0, 0, 0]);
  });

  it("a gap filled by retransmission (every event of the book came) keeps the chain: a refresh that differs is a repair", async () => {
    // The request server answers every request from the ring, flagged RETRANSMIT, as the publisher's does.
    const ring = new RetransmitRing(64 * 1024, 1400);
    const server = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.on("message", (msg, rinfo) => {
      const req = decodeRetxControl(msg, undefined);
      if (typeof req === "string") throw new Error(`bad request: ${req}`);
      for (let i = ring.find(req.seqNum); i >= 0 && i < ring.size && ring.seqOf(i) < req.seqNum + req.count; i++) {
        const copy = ring.datagram(i).slice();
        markRetransmit(copy, copy.length, undefined);
        server.send(copy, rinfo.port, "127.0.0.1");
      }
    });
    const port = (server.address() as { port: number }).port;
    const { sub, repairs } = watched(new FeedSubscriber({ groups: [], staleAfterMs: 0, retransmit: { host: "127.0.0.1", port, timeoutMs: 30_000 } }));
    await sub.start();
    cleanups.push(() => sub.stop());
    const p = packer();
    const b = book();
    const send = (lost: boolean) => {
      for (const d of take(p)) {
        const dv = new DataView(d.buffer, d.byteOffset);
        ring.push(d, d.length, dv.getUint32(PKT_SEQ_NUM_OFFSET, true), dv.getUint16(PKT_MSG_COUNT_OFFSET, true));
        if (!lost) sub.ingest(d, T0 + 50);
      }
    };
    const e = book(other);
    packBookSnapshot(p, b, 0, false);
    send(false);
    for (const [px, qty] of [[943503, 2], [943503, 3]] as const) {
      packBookDelta(p, e, bidDelta(e, [[px, qty]])); // the stream's line is proven (a gap right after its start is a jump)
      send(false);
    }
    packBookDelta(p, b, bidDelta(b, [[943500, 0]]));
    send(true); // lost on the way, asked for again
    packBookDelta(p, b, bidDelta(b, [[943503, 9]]));
    send(false);
    await waitFor(() => sub.retransmitsPending === 0, 20_000, "the gap asked for is answered");
    const sb = sub.book(inst.instrumentId)!;
    expect([sub.counters.retransmitRecovered, sub.counters.instrSeqJumps, sb.instrSeq, sb.valid]).toEqual([1, 0, b.instrSeq, true]);
    b.bids.set(943503, 10); // the publisher's book at the same instrSeq differs: a divergence
    packBookSnapshot(p, b, 0, true);
    send(false);
    expect(levelsOf(sb)).toEqual(levelsOf(b));
    expect([sb.repairs, sub.counters.repairs, repairs.length]).toEqual([1, 1, 1]);
  });
});
