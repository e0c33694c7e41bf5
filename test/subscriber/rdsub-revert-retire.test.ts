/**
 * s-rdsub: a run replaced while provisional and then proved by its own late datagrams (two of them undo the newer
 * run, docs/wire-protocol.md §6.2) is as confirmed as one that sent twice, but the run it replaced was not retired
 * (streams.ts duringPending only cleared the runs skipped). That run's late datagrams, once the live run's streams
 * were stale, passed for a restart whose clock stepped back, were confirmed and retired the live run: its refreshes
 * were dropped as a dead run's, its books unusable for good (as s-seed's rev84-skipped-session, by the revert path).
 */
import { expect, it } from "vitest";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a run proved by a revert retires the one before it: that run's late datagrams never retire the live run", () => {
  const sub = newSubscriber({ staleAfterMs: 1000 });
  const pub = new TestBook(inst);
  pub.load([[943503, 1500]], [[943504, 250]], 1, T0);
  const run = (sessionId: number, startUs: number) => packer({ channelId: 1, sessionId, sessionStartUs: startUs });
  const beats = (p: ReturnType<typeof packer>, n: number, at: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      p.appendHeartbeat(0);
      out.push(...take(p, at + i));
    }
    return out;
  };
  const s45 = run(45, T0);
  for (const d of beats(s45, 2, T0)) sub.ingest(d, T0 + 50); // confirmed
  const late45 = beats(s45, 2, T0 + 10); // in flight when it died
  const s46 = run(46, T0 + 1_000_000);
  const [first46, ...more46] = beats(s46, 3, T0 + 1_000_000);
  sub.ingest(first46!, T0 + 1_000_050); // provisional
  const s47 = run(47, T0 + 2_000_000); // a bogus header, or a run whose next datagrams come after s46's
  for (const d of beats(s47, 1, T0 + 2_000_000)) sub.ingest(d, T0 + 2_000_050);
  for (const d of more46) sub.ingest(d, T0 + 2_000_100); // two of s46: s47 undone, s46 proved
  expect(sub.counters.sessionsReverted).toBe(1);
  packBookSnapshot(s46, pub, 0, false);
  for (const d of [...take(s46, T0 + 2_000_200), ...beats(s46, 1, T0 + 2_000_201)]) sub.ingest(d, T0 + 2_000_250);
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.usable]).toEqual([46, true]);
  sub.checkStale(monoEpochMs() + 5000); // a blip: s46's stream stale
  expect(sb.usable).toBe(false);
  for (const d of late45) sub.ingest(d, T0 + 7_000_000); // the run before: a dead run's late datagrams
  packBookSnapshot(s46, pub, 0, true);
  for (const d of take(s46, T0 + 7_000_000)) sub.ingest(d, T0 + 7_000_050);
  // Old code: s45 taken as a clock-step restart and confirmed, s46 retired: [45, false], its refresh dropped.
  expect([sb.sessionId, sb.usable]).toEqual([46, true]);
});
