/**
 * bench/harness.ts's measure and measureRounds on a fake clock (Bun.nanoseconds replaced): a stall of the process
 * (a loaded box) between a measure's start and its first sample, or a turn that measured no time, must never become a
 * ratio. Before: a measure whose duration had passed before its first sample returned no sample (p50 NaN, mean 0/0),
 * and bench/binance.bench.ts printed "live path: NaN×" from such a round.
 */
import { afterEach, expect, test, vi } from "vitest";
import { type Contender, fasterPeer, measure, measureRounds, median, medianRatio, SMOKE } from "../../bench/harness.ts";

/** measure's default minimum of samples (1 when this process runs with BENCH_SMOKE=1). */
const MIN_SAMPLES = SMOKE ? 1 : 3;

const realNanoseconds = Bun.nanoseconds;
afterEach(() => {
  Bun.nanoseconds = realNanoseconds;
  vi.restoreAllMocks();
});

/** A clock that moves `stepNs` a read: each read looks like a stall longer than any sampling time. */
function steppingClock(stepNs: number): () => number {
  let ns = 0;
  return () => (ns += stepNs);
}

test("a measure whose sampling time passed before its first sample still takes its minimum of samples", () => {
  Bun.nanoseconds = steppingClock(50e6); // 50 ms a read: longer than the warm-up and the whole sampling time
  let calls = 0;
  const m = measure("stalled", () => void calls++, { warmupMs: 1, durationMs: 5, inner: 1 });
  expect(m.p50Ns).toBe(50e6);
  expect(m.nsPerOp).toBe(50e6);
  expect(m.ops).toBe(MIN_SAMPLES);
  expect(calls).toBe(MIN_SAMPLES);
  expect(measure("one", () => {}, { warmupMs: 1, durationMs: 5, inner: 1, minSamples: 1 }).ops).toBe(1);
});

test("randomized stalls in interleaved rounds: every ratio comes from rounds where each contender has a sample", () => {
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 100; trial++) {
    // Reads mostly 1 µs apart, and now and then a stall of up to 20 ms (far longer than a round's sampling time).
    let ns = 0;
    Bun.nanoseconds = () => (ns += random() < 0.2 ? random() * 20e6 : 1000);
    const contenders: Contender[] = ["a", "b", "c"].map((name) => ({ name, fn: () => {}, opts: { warmupMs: 0, inner: 1, maxSamples: 100 } }));
    const { rows, perRound, roundsUsed } = measureRounds(contenders, { rounds: 3, roundMs: 0.05 });
    const ratios = perRound.map((r) => r[2]!.p50Ns / r[0]!.p50Ns);
    expect(ratios.every(Number.isFinite), `trial ${trial}: per-round ratios ${ratios.join(", ")}`).toBe(true);
    for (const row of rows) expect(Number.isFinite(row.p50Ns) && Number.isFinite(row.nsPerOp)).toBe(true);
    for (const round of perRound) for (const m of round) expect(m.ops).toBeGreaterThanOrEqual(MIN_SAMPLES);
    // Every contender got its samples, so no round had to be dropped.
    expect(perRound).toHaveLength(3);
    expect(roundsUsed).toBe(3);
  }
});

test("a round in which a contender measured no time is dropped, and the output says how many rounds were used", () => {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  // The clock stands still during contender b's turn in round 1 (its samples are 0 ns: a ratio over it is Infinity).
  let ns = 0;
  let frozen = false;
  Bun.nanoseconds = () => (frozen ? ns : (ns += 1000));
  let turn = 0;
  const contenders: Contender[] = ["a", "b"].map((name, i) => ({
    name,
    fn: () => {},
    opts: { warmupMs: 0, inner: 1, setup: i === 1 ? () => void (frozen = turn === 1) : () => void (frozen = false) },
  }));
  const { rows, perRound, roundsUsed } = measureRounds(contenders, { rounds: 3, roundMs: 0.01, onRound: () => void turn++ });
  expect(roundsUsed).toBe(2);
  expect(perRound).toHaveLength(2);
  expect(median(perRound.map(([a, b]) => b!.p50Ns / a!.p50Ns))).toBe(1);
  expect(rows[1]!.p50Ns).toBe(1000);
  expect(log.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/2 of 3 rounds used.*round 2 dropped.*"b"/);
});

test("no round with a sample of every contender: the bench stops with an error naming it, never a ratio", () => {
  Bun.nanoseconds = () => 7; // a clock that never moves: every sample is 0 ns
  const contenders: Contender[] = [{ name: "ours", fn: () => {}, opts: { warmupMs: 0, inner: 1, maxSamples: 100 } }];
  expect(() => measureRounds(contenders, { rounds: 2, roundMs: 1 })).toThrow(/no round of 2 had a timed sample of every contender.*"ours"/);
});

test("median refuses an empty list or a NaN instead of returning one", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(() => median([])).toThrow(/median of no figures/);
  expect(() => median([1, NaN, 2])).toThrow(/median of a list with NaN/);
});

test("medianRatio (bench/e2e.bench.ts's feeder / floor rounds) is over the rounds with a timed figure on both sides", () => {
  // A round in which the floor's subscriber got no latency sample has p50 undefined (or NaN from an empty sort): before,
  // e2e printed its ratio as NaN, and "median of 1 rounds: NaN×" when it was the smoke run's only round.
  expect(medianRatio([[undefined, 5]])).toEqual({ ratio: undefined, used: 0 });
  expect(medianRatio([[NaN, 5], [10, 0], [6, 3]])).toEqual({ ratio: 2, used: 1 });
  expect(medianRatio([[2, 1], [9, 3], [4, 1], [8, undefined]])).toEqual({ ratio: 3, used: 3 });
  expect(medianRatio([])).toEqual({ ratio: undefined, used: 0 });
});

test("fasterPeer is the peer faster in most of the rounds used, not of the rounds asked for (bybit, okx summaries)", () => {
  // 7 rounds asked, 3 dropped: ccxt faster in 3 of the 4 used. Counted against 7, the label said "tardis".
  expect(fasterPeer(3, 4)).toBe("ccxt");
  expect(fasterPeer(1, 4)).toBe("tardis");
  expect(fasterPeer(2, 4)).toBe("ccxt = tardis (2 of 4 rounds each)");
  expect(fasterPeer(4, 7)).toBe("ccxt");
});
