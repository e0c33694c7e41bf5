/**
 * The subscriber's receipt clock across a step of the host's wall clock (NTP, a VM resumed, `date -s`). It stamped
 * receipt on the epoch as of its start plus the monotonic time since (mono-clock.ts), and showed that: while a
 * publisher's send times follow its host's wall clock within a second of a step (core/clock.ts nowUs), every update's
 * latency read the step (−1 h after a step forward of an hour) and its recvTimeUs stayed an hour behind, until the
 * subscriber restarted. Now what an update shows follows the wall clock within about a second (mono-clock.ts shownUs,
 * on the subscriber's own timer), while silences and ages stay monotonic: the step neither makes the stream stale nor
 * moves its lastRecvMs, nor ages an unfinished snapshot assembly (dropped after STALE_ASSEMBLY_MS of receive time).
 * Date.now stubbed (test/support/stepped-wall-clock.ts); datagrams through ingest(), no socket.
 */
import { expect, test } from "vitest";
import { FeedSubscriber, type UpdateEvent } from "../../src/subscriber/index.ts";
import { checkWallClock, monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { untilMono, useSteppedWallClock } from "../support/stepped-wall-clock.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

const HOUR_MS = 3_600_000;
const clock = useSteppedWallClock();

test("after a step either way, updates show receipt on the wall clock and latency against a publisher that followed it", async () => {
  let stepMs = 0;
  clock.cleanups.push(async () => {
    clock.step(-stepMs);
    checkWallClock(); // back on the real wall clock for the next test in this file
  });
  const inst = makeInstrument("bybit", "linear", "STEPUSDT", 1, 3);
  const book = new TestBook(inst);
  const p = packer({ sessionStartUs: Date.now() * 1000 });
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 2_000 });
  clock.cleanups.push(() => sub.stop());
  await sub.start(); // no groups: no socket; the stale timer runs
  let last: UpdateEvent | undefined;
  sub.on("update", (e) => (last = { ...e }));
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);

  let venueSeq = 0;
  /**
   * A fresh snapshot sent now by a publisher whose send times follow the (stubbed) wall clock, as nowUs does; whether
   * the update shows its receipt on that wall clock: between the wall clock read before and after the ingest (Date.now
   * floors to the ms: 2 ms either side), its latency between those and the send time.
   */
  const onWallClock = (): boolean => {
    book.load([[1000 + venueSeq, 5]], [[2000, 3]], ++venueSeq, Date.now() * 1000);
    packBookSnapshot(p, book, 0, false);
    last = undefined;
    const beforeUs = (Date.now() - 2) * 1000;
    for (const d of take(p, Date.now() * 1000)) sub.ingest(d);
    const afterUs = (Date.now() + 2) * 1000;
    expect(last, "an update").toBeDefined();
    const e = last!;
    return e.recvTimeUs >= beforeUs && e.recvTimeUs <= afterUs && e.latencyUs === e.recvTimeUs - e.sendTimeUs && e.sendTimeUs >= beforeUs && e.sendTimeUs <= afterUs;
  };

  expect(onWallClock()).toBe(true);
  for (const ms of [HOUR_MS, -2 * HOUR_MS]) {
    clock.step(ms);
    stepMs += ms;
    const monoBeforeMs = monoEpochMs();
    // The subscriber's own timer moves what it shows within about a second (before: never; latency stayed ∓1 h).
    await untilMono(onWallClock, `updates on the wall clock after a step of ${ms / HOUR_MS} h`, 5_000);
    expect(onWallClock()).toBe(true);
    // Silences stay monotonic: the stream's last receipt is not moved by the step, nor is anything stale.
    const [stream] = sub.streamInfo();
    expect(stream!.lastRecvMs).toBeGreaterThanOrEqual(monoBeforeMs);
    expect(stream!.lastRecvMs).toBeLessThanOrEqual(monoEpochMs());
    expect(stream!.stale).toBe(false);
    expect(sub.book(inst.instrumentId)!.usable).toBe(true);
  }
});

test("a step forward of an hour ages no snapshot assembly under way: none is dropped as untouched for 10 s", () => {
  let stepMs = 0;
  clock.cleanups.push(async () => {
    clock.step(-stepMs);
    checkWallClock();
  });
  const inst = makeInstrument("bybit", "linear", "ASMUSDT", 1, 3);
  /** A snapshot of 120 bids in two chunks: its first only (the second still to come). */
  const firstChunk = (id: number): Uint8Array => {
    const p = packer({ channelId: 100 + id });
    const b = new TestBook({ ...inst, instrumentId: id });
    b.load(Array.from({ length: 120 }, (_, k) => [10_000 - k, 1] as [number, number]), [[20_000, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    const chunks = take(p);
    expect(chunks.length).toBe(2);
    return chunks[0]!;
  };
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, maxAssemblyLevels: 3 * 256 + 100 });
  for (const id of [1, 2, 3]) sub.ingest(firstChunk(id));
  expect(sub.assemblyScratchLevels).toBe(3 * 256);
  clock.step(HOUR_MS);
  stepMs += HOUR_MS;
  expect(checkWallClock()).toBe(true); // what updates show is on the stepped wall clock now
  // A new book's snapshot does not fit beside the three under way, received a moment ago: refused, none dropped.
  const p = packer({ channelId: 110 });
  const b = new TestBook({ ...inst, instrumentId: 10 });
  b.load([[10, 1]], [[20, 1]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  for (const d of take(p)) sub.ingest(d);
  expect(sub.counters.assembliesExpired).toBe(0); // on the shown clock: 3, an hour "untouched"
  expect(sub.counters.assemblyOverBudget).toBe(1);
  expect(sub.assemblyScratchLevels).toBe(3 * 256);
});
