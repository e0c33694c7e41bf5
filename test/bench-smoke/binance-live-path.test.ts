/**
 * bench/binance.bench.ts's live path row (bench/binance-adapter-path.ts onLiveFrame) runs what a live socket's
 * handler runs for a turn that reads one frame: the receipt stamp read for that frame (turnReceiptUs at a turn's
 * first frame), the adapters on the live clock (the monotonic one, not replay's), and event times on the receipt's
 * clock (1 ms before it, as the replayed row's recorded receipts are after theirs). Behaviour only: no figure is asserted.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { AdapterPath, loadBinanceRecording } from "../../bench/binance-adapter-path.ts";
import { monoEpochMs } from "../../src/core/clock.ts";

const rec = loadBinanceRecording("BINANCE_FUTURES", "linear");
let replayed: AdapterPath;
let live: AdapterPath;

beforeAll(async () => {
  replayed = await AdapterPath.create(rec, 31);
  live = await AdapterPath.create(rec, 32, "live");
});

afterAll(async () => {
  await replayed?.stop();
  await live?.stop();
});

/** Counts of the venue's exchange → receipt histogram added by a pass of `frame` after a reset (+Inf last). */
function exchangeToReceiptOf(path: AdapterPath, frame: (k: number) => void): number[] {
  const counts = () => Array.from(path.feeder.latencySnapshot().exchangeToReceipt.binance?.counts ?? []);
  path.reset();
  const before = counts();
  for (let k = 0; k < path.frames.length; k++) frame(k);
  return counts().map((c, i) => c - (before[i] ?? 0));
}

test("each frame of a live pass gets a receipt read for it, not the pass's first stamp (the timed loop is one turn)", () => {
  const n = live.frames.length;
  const stamps: number[] = [];
  const adapter = live.adapter as unknown as { rawFrameTap: ((m: string, c: string, f: string, recvUs: number) => void) | undefined };
  const realNow = performance.now;
  let fakeMs = realNow.call(performance);
  live.reset();
  adapter.rawFrameTap = (_m, _c, _f, recvUs) => void stamps.push(recvUs);
  // A clock that moves 1 µs a read: a stamp read per frame differs from every other frame's.
  performance.now = () => (fakeMs += 0.001);
  try {
    for (let k = 0; k < n; k++) live.onLiveFrame(k);
  } finally {
    performance.now = realNow;
    adapter.rawFrameTap = undefined;
  }
  expect(stamps.length).toBe(n);
  expect(new Set(stamps).size).toBe(n);
  expect(live.check()).toBe("");
});

test("the live path's adapters run on the monotonic clock (a live Feeder's), the replayed path's on the recording's", () => {
  const nowOf = (path: AdapterPath) => (path.adapter as unknown as { now: () => number }).now();
  const lastEventMs = Math.max(...rec.diffs.map((f) => (JSON.parse(f) as { data: { E: number } }).data.E));
  expect(Math.abs(nowOf(live) - monoEpochMs())).toBeLessThan(60_000);
  expect(nowOf(replayed)).toBeLessThanOrEqual(lastEventMs + 1);
});

test("both rows' frames reach the exchange → receipt histogram at the same scale (~ms), none past its last bound", () => {
  const n = live.frames.length;
  const fromReplay = exchangeToReceiptOf(replayed, (k) => replayed.onFrame(k));
  const fromLive = exchangeToReceiptOf(live, (k) => live.onLiveFrame(k));
  for (const counts of [fromReplay, fromLive]) {
    expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
    expect(counts.at(-1)).toBe(0); // +Inf: before, the live row's receipts (today) against the recording's exchange times
  }
  expect(live.check()).toBe("");
});
