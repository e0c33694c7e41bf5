/**
 * s-rdsub: a stream still on a run its source left behind (retired: a later run was confirmed) while the newest run
 * is provisional. Its datagrams counted as evidence against the newest (duringPending took any session a stream was
 * on, where §6.2 says not older than the last confirmed one): two of them undid the restart and took the source and
 * its books back to the retired run, and the run confirmed before was then never retired. Once the live run was
 * stale, that run's late datagrams passed for a clock-step restart and retired the live run for good.
 */
import { expect, it } from "vitest";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a retired run's datagrams on a stream still in it prove nothing against a provisional restart", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const pub = new TestBook(inst);
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  const beat = (p: ReturnType<typeof packer>, at: number) => {
    p.appendHeartbeat(0);
    return take(p, at);
  };
  // Run 30 on channels 1 and 3; run 31 (channel 1 only) confirmed: 30 retired, channel 3's stream still on it.
  const r30c1 = packer({ channelId: 1, sessionId: 30, sessionStartUs: T0 });
  const r30c3 = packer({ channelId: 3, sessionId: 30, sessionStartUs: T0 });
  for (const d of [...beat(r30c1, T0), ...beat(r30c3, T0)]) sub.ingest(d, T0 + 50);
  const r31 = packer({ channelId: 1, sessionId: 31, sessionStartUs: T0 + 1_000_000 });
  for (const d of [...beat(r31, T0 + 1_000_000), ...beat(r31, T0 + 1_000_001)]) sub.ingest(d, T0 + 1_000_050);
  const late31 = [...beat(r31, T0 + 1_000_002), ...beat(r31, T0 + 1_000_003)]; // in flight when it died
  // Run 32 restarts; one datagram so far (provisional). Two late datagrams of run 30 on channel 3.
  const r32 = packer({ channelId: 1, sessionId: 32, sessionStartUs: T0 + 2_000_000 });
  packBookSnapshot(r32, pub, 0, false);
  for (const d of take(r32, T0 + 2_000_000)) sub.ingest(d, T0 + 2_000_050);
  for (const d of [...beat(r30c3, T0 + 10), ...beat(r30c3, T0 + 11)]) sub.ingest(d, T0 + 2_000_100);
  // Old code: 1 (run 32 undone, the source and the book back on run 30).
  expect(sub.counters.sessionsReverted).toBe(0);
  for (const d of beat(r32, T0 + 2_000_200)) sub.ingest(d, T0 + 2_000_250); // run 32 confirmed
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.usable]).toEqual([32, true]);
  sub.checkStale(monoEpochMs() + 5000); // a blip: run 32's stream stale
  for (const d of late31) sub.ingest(d, T0 + 7_000_000); // run 31's late datagrams: a dead run's
  packBookSnapshot(r32, pub, 0, true);
  for (const d of take(r32, T0 + 7_000_000)) sub.ingest(d, T0 + 7_000_050);
  expect([sb.sessionId, sb.usable]).toEqual([32, true]);
});
