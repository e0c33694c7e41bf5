/**
 * s-rdsub: a restart whose host clock stepped back (its start earlier than the dead run's, taken as a restart once
 * that run's streams were stale, docs/wire-protocol.md §3.4) replaced while provisional by a bogus header, then proved
 * by two of its own datagrams (the revert, §6.2). streams.ts proved retired the last confirmed run only when the run
 * proved was newer by (start, id); this one starts earlier, so the dead run stayed unretired, and its late datagrams,
 * once the live run was stale, passed for a newer session: confirmed, they retired the live run for good.
 */
import { expect, it } from "vitest";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a clock-step restart proved by a revert retires the run it replaced", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const pub = new TestBook(inst);
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  const beat = (p: ReturnType<typeof packer>, at: number) => {
    p.appendHeartbeat(0);
    return take(p, at);
  };
  const dead = packer({ channelId: 1, sessionId: 50, sessionStartUs: T0 + 10_000_000 });
  for (const d of [...beat(dead, T0 + 10_000_000), ...beat(dead, T0 + 10_000_001)]) sub.ingest(d, T0 + 10_000_050);
  const lateDead = [...beat(dead, T0 + 10_000_002), ...beat(dead, T0 + 10_000_003)];
  sub.checkStale(monoEpochMs() + 5000); // the run died: its stream stale
  const live = packer({ channelId: 1, sessionId: 51, sessionStartUs: T0 }); // its host clock stepped back
  for (const d of beat(live, T0 + 20_000_000)) sub.ingest(d, T0 + 20_000_050); // a clock-step restart, provisional
  const bogus = packer({ channelId: 2, sessionId: 99, sessionStartUs: T0 + 900_000_000 });
  for (const d of beat(bogus, T0 + 20_000_100)) sub.ingest(d, T0 + 20_000_150);
  for (const d of [...beat(live, T0 + 20_000_200), ...beat(live, T0 + 20_000_201)]) sub.ingest(d, T0 + 20_000_250);
  expect(sub.counters.sessionsReverted).toBe(1);
  packBookSnapshot(live, pub, 0, false);
  for (const d of take(live, T0 + 20_000_300)) sub.ingest(d, T0 + 20_000_350);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.usable]).toEqual([51, true]);
  sub.checkStale(monoEpochMs() + 10_000); // a blip: the live run's stream stale
  for (const d of lateDead) sub.ingest(d, T0 + 25_000_000); // the dead run's late datagrams
  packBookSnapshot(live, pub, 0, true);
  for (const d of take(live, T0 + 25_000_000)) sub.ingest(d, T0 + 25_000_050);
  // Old code: [50, false]: the dead run taken as newer and confirmed, the live run retired, its refresh dropped.
  expect([sb.sessionId, sb.usable]).toEqual([51, true]);
});
