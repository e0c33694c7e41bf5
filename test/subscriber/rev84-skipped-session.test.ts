/**
 * s-rev84: a session replaced while still provisional (a publisher restarting twice in quick succession, only one
 * datagram of the middle run seen) was never retired (streams.ts confirm retired only the last confirmed one). Once
 * the newest run's streams were stale, two late datagrams of the middle run passed for a restart whose clock stepped
 * back, were confirmed, and retired the newest run: its refreshes were dropped as a dead run's, the books unusable
 * for good. Found by rev84-mixed-random (seed 15 of 30).
 */
import { describe, expect, it } from "vitest";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("a run replaced while provisional is retired with the one before it: its late datagrams never retire the live run", () => {
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
  const s46 = run(46, T0 + 1_000_000);
  const [first46, ...late46] = beats(s46, 3, T0 + 1_000_000);
  sub.ingest(first46!, T0 + 1_000_050); // provisional; its other datagrams late
  const s47 = run(47, T0 + 2_000_000);
  packBookSnapshot(s47, pub, 0, false);
  for (const d of [...take(s47, T0 + 2_000_000), ...beats(s47, 1, T0 + 2_000_001)]) sub.ingest(d, T0 + 2_000_050); // confirmed
  const sb = sub.book(inst.instrumentId)!;
  expect([sb.sessionId, sb.usable]).toEqual([47, true]);
  sub.checkStale(monoEpochMs() + 5000); // a blip: s47's stream stale
  expect(sb.usable).toBe(false);
  for (const d of late46) sub.ingest(d, T0 + 7_000_000); // the middle run's late datagrams: a dead run's
  packBookSnapshot(s47, pub, 0, true);
  for (const d of take(s47, T0 + 7_000_000)) sub.ingest(d, T0 + 7_000_050);
  // Old code: s46 taken as a clock-step restart and confirmed, s47 retired: [46, false], its refresh dropped.
  expect([sb.sessionId, sb.usable, sub.counters.superseded]).toEqual([47, true, 0]);
});

describe("a stream still on a session its source left behind (s-undo)", () => {
  const STALE_MS = 60_000;
  const stream = (channelId: number, sessionId: number, startUs: number) => packer({ channelId, sessionId, sessionStartUs: T0 + startUs });
  const snap = (p: ReturnType<typeof packer>, refresh = false): Uint8Array[] => {
    const b = new TestBook(inst);
    b.load([[943503, 1500]], [[943504, 250]], 1, T0);
    packBookSnapshot(p, b, 0, refresh);
    return take(p);
  };
  const beat = (p: ReturnType<typeof packer>): Uint8Array[] => {
    p.appendHeartbeat(0);
    return take(p);
  };
  const silence = (sub: ReturnType<typeof newSubscriber>) => sub.checkStale(Math.max(...sub.streamInfo().map((s) => s.lastRecvMs)) + 10 * STALE_MS);

  it("the dead run a clock-step restart replaced: its late snapshot takes no book of the live run", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const dead = stream(1, 2, 2000);
    for (const d of [...snap(dead), ...beat(dead)]) sub.ingest(d, T0 + 50); // confirmed
    const late = snap(dead, true);
    silence(sub);
    const live = stream(2, 1, 1000); // a restart whose clock stepped back, on channel 2: confirmed, the dead run retired
    for (const d of [...snap(live), ...beat(live)]) sub.ingest(d, T0 + 50);
    const sb = sub.book(inst.instrumentId)!;
    expect([sb.sessionId, sb.usable]).toEqual([1, true]);
    for (const d of late) sub.ingest(d, T0 + 50); // channel 1's stream is still on the dead run's session
    // Old code: taken as a newer session's at the book, [2, true]: usable with the dead run's snapshot.
    expect([sb.sessionId, sb.usable, sub.counters.oldSessionDatagrams]).toEqual([1, true, 1]);
  });

  it("its datagrams are no evidence against a provisional session: they never undo it in the dead run's favour", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const dead = stream(1, 1, 1000);
    for (const d of [...beat(dead), ...beat(dead)]) sub.ingest(d, T0 + 50); // confirmed
    const next = stream(2, 3, 3000);
    for (const d of [...beat(next), ...beat(next)]) sub.ingest(d, T0 + 50); // a restart, confirmed: the dead run retired
    silence(sub);
    const stepped = stream(2, 2, 2000); // a restart whose clock stepped back: provisional
    for (const d of beat(stepped)) sub.ingest(d, T0 + 50);
    for (const d of [...beat(dead), ...beat(dead)]) sub.ingest(d, T0 + 50); // the first run's late datagrams, channel 1
    // Old code: sessionsReverted 1, the source back on the first run (retired), channel 2's stream gone.
    expect([sub.counters.sessionsReverted, sub.counters.oldSessionDatagrams]).toEqual([0, 2]);
    for (const d of snap(stepped)) sub.ingest(d, T0 + 50); // confirmed
    expect([sub.book(inst.instrumentId)!.sessionId, sub.book(inst.instrumentId)!.usable]).toEqual([2, true]);
  });
});
