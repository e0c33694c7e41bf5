/**
 * s-rev58: a dead session's late (delayed or duplicated) datagram once the source's newest session went silent for a
 * moment (a network blip). s-subscr took any older session arriving then for a restart whose clock stepped back, so
 * the dead run's snapshot made its book usable with the dead run's levels, and the live session's books were wiped.
 * HMAC does not help: the copy is authentic, only late.
 */
import { expect, it } from "vitest";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

/** One session's first two datagrams: definition + snapshot of `bidQty`, then a heartbeat (confirms it). */
function sessionStart(sessionId: number, startUs: number, bidQty: number): Uint8Array[] {
  const p = packer({ sessionId, sessionStartUs: startUs });
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);
  const b = new TestBook(inst);
  b.load([[943503, bidQty]], [[943504, 250]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  const out = take(p, startUs + 1000);
  p.appendHeartbeat(0);
  return [...out, ...take(p, startUs + 2000)];
}

/** The heartbeat the session sends 1 s after sessionStart's (the same seqNum, a later send time). */
function nextBeat(sessionId: number, startUs: number, bidQty: number): Uint8Array {
  const p = packer({ sessionId, sessionStartUs: startUs });
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);
  const b = new TestBook(inst);
  b.load([[943503, bidQty]], [[943504, 250]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  take(p, startUs + 1000); // as sessionStart's: the heartbeat's seqNum follows them
  p.appendHeartbeat(0);
  return take(p, startUs + 1_002_000)[0]!;
}

it("a dead older session's late datagram after the newest went silent a moment: dropped, never the book's", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const dead = sessionStart(500, T0 + 1_000_000, 1500);
  for (const d of dead) sub.ingest(d, T0 + 1_010_000);
  const live = sessionStart(600, T0 + 2_000_000, 900); // the restart (its clock as before: a later start)
  for (const d of live) sub.ingest(d, T0 + 2_010_000);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.usable, sb.sessionId, sb.bidQtyAt(0)]).toEqual([true, 600, 900]);
  sub.checkStale(sub.streamInfo()[0]!.lastRecvMs + 1500); // a blip: the live session is stale for a moment
  sub.ingest(dead[0]!, T0 + 3_000_000); // the dead run's snapshot datagram, duplicated or delayed on the way
  expect(sb.usable).toBe(false); // old: true, with the dead run's 1500
  expect(sb.sessionId).toBe(600); // old: 500
  expect(sub.counters.oldSessionDatagrams).toBe(1); // old: 0 (taken as a restart)
  // The live session goes on: its next datagram makes the book usable again, its levels kept (old: superseded).
  // Its next heartbeat (at the same seqNum: not a duplicate; sent later: no copy of the last, isBeatCopy).
  sub.ingest(nextBeat(600, T0 + 2_000_000, 900), T0 + 3_100_000);
  expect([sb.usable, sb.sessionId, sb.bidQtyAt(0)]).toEqual([true, 600, 900]);
  expect(sub.counters.superseded).toBe(1); // old: 3 (to the dead run and back)
});

it("after a clock-step restart is taken, a late datagram of the run it replaced (a later start) does not take over", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const dead = sessionStart(500, T0 + 600_000_000, 1500); // the clock was 10 min fast
  for (const d of dead) sub.ingest(d, T0 + 600_010_000);
  sub.checkStale(sub.streamInfo()[0]!.lastRecvMs + 1500); // it crashed
  const restarted = sessionStart(600, T0 + 1_000_000, 900); // the clock stepped back
  for (const d of restarted) sub.ingest(d, T0 + 600_020_000);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.usable, sb.sessionId, sb.bidQtyAt(0)]).toEqual([true, 600, 900]);
  sub.ingest(dead[0]!, T0 + 600_030_000); // the dead run's snapshot datagram, late
  expect([sb.usable, sb.sessionId, sb.bidQtyAt(0)]).toEqual([true, 600, 900]); // old: [true, 500, 1500]
  expect(sub.counters.oldSessionDatagrams).toBe(1); // old: 0
});

it("a late datagram of the replaced run between a clock-step restart's first and second datagram: no hold on it", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const dead = sessionStart(500, T0 + 600_000_000, 1500);
  for (const d of dead) sub.ingest(d, T0 + 600_010_000);
  sub.checkStale(sub.streamInfo()[0]!.lastRecvMs + 1500); // it crashed
  const restarted = sessionStart(600, T0 + 1_000_000, 900);
  sub.ingest(restarted[0]!, T0 + 600_020_000); // the restart's first datagram: provisional
  sub.ingest(dead[0]!, T0 + 600_020_100); // the dead run's snapshot datagram, late
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.bidQtyAt(0)]).toEqual([600, 900]); // old: [500, 1500], usable
  sub.ingest(restarted[1]!, T0 + 600_020_200); // the restart goes on
  expect([sb.usable, sb.sessionId, sb.bidQtyAt(0)]).toEqual([true, 600, 900]); // old: the restart dropped for good
  expect(sub.counters.oldSessionDatagrams).toBe(1);
});
