/**
 * Small timing helper shared by every bench/*.bench.ts: warm-up, then samples timed with Bun.nanoseconds().
 * A sample times `inner` calls (calibrated so one sample lasts ≥ minSampleNs, because Bun.nanoseconds() itself
 * costs ~50 ns on this VM) and divides by inner × opsPerCall. p50/p99 are over those per-sample means; nsPerOp is
 * total time / total ops. This VM is noisy (±20–40 % between runs): compare ratios measured in one run.
 * Every measure takes at least `minSamples` samples (3; 1 in a smoke run), even past its sampling time: on a loaded
 * box the process can be off the CPU for longer than a whole (smoke-mode) sampling time, and a measure that then took
 * no sample returned a p50 of NaN, which bench/binance.bench.ts once printed as a ratio ("live path: NaN×").
 * BENCH_SMOKE=1 (test/bench-smoke) runs every bench with tiny counts and durations (here: ≤ 2 ms warm-up, ≤ 5 ms of
 * samples per measure, no full GC before each contender of a round; the benches: one round), only to show that it
 * still runs and prints its result lines: its figures mean nothing.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh directory under the OS temp dir, removed when the process exits (test/bench-smoke runs every bench each time). */
export function benchTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** BENCH_SMOKE=1: tiny counts and durations everywhere; the output's shape is checked, never its figures. */
export const SMOKE = process.env.BENCH_SMOKE === "1";
/**
 * A bench's bound on a wait that is not measured (books LIVE, a restart done): `ms`, or 120 s at least in a smoke run,
 * which may share the CPU with a whole test suite (test/bench-smoke: a bench that is slow there must not fail).
 */
export function waitBoundMs(ms: number): number {
  return SMOKE ? Math.max(ms, 120_000) : ms;
}

/** BENCH_QUICK=1: the shorter runs of the benches that have them (implied by BENCH_SMOKE). */
export const QUICK = SMOKE || process.env.BENCH_QUICK === "1";

export interface MeasureOptions {
  /** Untimed warm-up before sampling, for the JIT. Defaults to 300 ms. */
  warmupMs?: number;
  /** Sampling time. Defaults to 1000 ms. */
  durationMs?: number;
  /** Minimum duration of one sample when `inner` is calibrated. Defaults to 2000 ns. */
  minSampleNs?: number;
  /** Calls per sample; fixed instead of calibrated (use 1 with `setup` when fn consumes state). */
  inner?: number;
  /** Operations one call performs (e.g. 49 deltas per replay); results are per operation. Defaults to 1. */
  opsPerCall?: number;
  /** Called before every sample (and warm-up call batch), not timed: restores state fn consumes. */
  setup?: () => void;
  /** Upper bound on samples kept. Defaults to 200 000. */
  maxSamples?: number;
  /**
   * Samples taken even when the sampling time has passed (a stalled process): never a p50 of nothing. Defaults to 3;
   * 1 in a smoke run, whose figures mean nothing (a slow peer's 3 snapshot samples would lengthen test/bench-smoke).
   */
  minSamples?: number;
}

export interface Measurement {
  name: string;
  /** Mean: total sampled time / total operations. */
  nsPerOp: number;
  p50Ns: number;
  p99Ns: number;
  /** Operations timed (warm-up excluded). */
  ops: number;
}

export function measure(name: string, fn: () => void, opts: MeasureOptions = {}): Measurement {
  const warmupNs = Math.min(opts.warmupMs ?? 300, SMOKE ? 2 : Infinity) * 1e6;
  const durationNs = Math.min(opts.durationMs ?? 1000, SMOKE ? 5 : Infinity) * 1e6;
  const minSampleNs = opts.minSampleNs ?? 2000;
  const opsPerCall = opts.opsPerCall ?? 1;
  const maxSamples = opts.maxSamples ?? 200_000;
  const minSamples = Math.min(opts.minSamples ?? (SMOKE ? 1 : 3), maxSamples);
  const setup = opts.setup;

  let inner = opts.inner ?? 1;
  const start = Bun.nanoseconds();
  while (Bun.nanoseconds() - start < warmupNs) {
    if (setup) setup();
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < inner; i++) fn();
    const dt = Bun.nanoseconds() - t0;
    if (opts.inner === undefined && dt < minSampleNs) inner = Math.min(inner * 2, 1 << 24);
  }

  const samples = new Float64Array(maxSamples);
  let n = 0;
  let totalNs = 0;
  let calls = 0;
  const begin = Bun.nanoseconds();
  while (n < minSamples || (n < maxSamples && Bun.nanoseconds() - begin < durationNs)) {
    if (setup) setup();
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < inner; i++) fn();
    const dt = Bun.nanoseconds() - t0;
    samples[n++] = dt / (inner * opsPerCall);
    totalNs += dt;
    calls += inner;
  }
  const sorted = samples.subarray(0, n).sort();
  return {
    name,
    nsPerOp: totalNs / (calls * opsPerCall),
    p50Ns: sorted[Math.floor((n - 1) * 0.5)] ?? NaN,
    p99Ns: sorted[Math.floor((n - 1) * 0.99)] ?? NaN,
    ops: calls * opsPerCall,
  };
}

/**
 * A comparison's agreement check ("yes …", or "NO: what differs" when a peer's book is not ours after the same
 * frames): the bench stops there (exit 1), since ratios against a peer that failed would compare different work.
 */
export function agreed(verdict: string): string {
  if (!verdict.startsWith("yes")) throw new Error(`the books do not agree (ours against the peers): ${verdict}`);
  return verdict;
}

/** Formats ns with a unit that keeps 3 significant digits. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 1e3) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

/**
 * Prints rows as an aligned text table. Measurement rows get ns columns formatted; other rows print as given
 * (numbers with up to 3 decimals). Columns are the union of the rows' keys in first-seen order.
 */
export function printTable(rows: readonly (Measurement | Record<string, unknown>)[]): void {
  if (rows.length === 0) return;
  const cols: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k);
  const cell = (k: string, v: unknown): string => {
    if (v === undefined) return "";
    if (typeof v === "number") {
      if (k === "nsPerOp" || k === "p50Ns" || k === "p99Ns") return formatNs(v);
      if (Number.isInteger(v)) return v.toLocaleString("en-US");
      return v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
    }
    return String(v);
  };
  const text = rows.map((r) => cols.map((k) => cell(k, (r as Record<string, unknown>)[k])));
  const widths = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(cols));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const t of text) console.log(line(t));
}

/** One contender of a comparison: a name, the timed function, and its measure options (setup etc.). */
export interface Contender {
  name: string;
  fn: () => void;
  opts: MeasureOptions;
}

/** The median of per-round figures; a list that is empty or holds a NaN is an error, never a figure. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no figures");
  if (xs.some(Number.isNaN)) throw new Error(`median of a list with NaN: ${xs.join(", ")}`);
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Which peer was faster in most of the rounds used (`rounds`: those measureRounds kept; counted against the rounds
 * asked for, each dropped round was in effect tardis's win), "ccxt = tardis" on a tie.
 */
export function fasterPeer(ccxtFasterRounds: number, rounds: number): string {
  if (ccxtFasterRounds * 2 > rounds) return "ccxt";
  return ccxtFasterRounds * 2 < rounds ? "tardis" : `ccxt = tardis (${ccxtFasterRounds} of ${rounds} rounds each)`;
}

/**
 * The median over rounds of numerator / denominator, from the rounds where both are timed figures (finite and > 0):
 * a round that got no sample on one side (a loaded box) gives no ratio. `used` says how many rounds it is over;
 * ratio is undefined when none.
 */
export function medianRatio(pairs: readonly (readonly [number | undefined, number | undefined])[]): { ratio: number | undefined; used: number } {
  const positive = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x > 0;
  const ratios = pairs.flatMap(([num, den]) => (positive(num) && positive(den) ? [num / den] : []));
  return { ratio: ratios.length > 0 ? median(ratios) : undefined, used: ratios.length };
}

export interface RoundsOptions {
  rounds: number;
  /** Sampling time of each contender in each round. */
  roundMs: number;
  /**
   * Full GC before each contender's turn, so it never pays for the previous one's garbage. Defaults to false. Not in a
   * smoke run: its figures mean nothing, and the GCs were most of a venue bench's smoke CPU.
   */
  gcBeforeEach?: boolean;
  /** Called after each round with that round's measurements (in contender order). */
  onRound?: (round: number, measurements: Measurement[]) => void;
}

export interface RoundsResult {
  /** Per contender: medians over rounds of the mean, p50 and p99; ops summed. */
  rows: Measurement[];
  /** perRound[r][i]: contender i in round r, for ratios taken within one round; only the rounds used. */
  perRound: Measurement[][];
  /** Rounds in which every contender has a timed sample (mean and p50 finite and > 0): those in perRound and rows. */
  roundsUsed: number;
}

/** A measurement a ratio can be taken over: a mean and a p50 of timed samples (a frozen or stalled clock gives 0 or NaN). */
function timed(m: Measurement): boolean {
  return m.ops > 0 && m.nsPerOp > 0 && m.p50Ns > 0 && Number.isFinite(m.nsPerOp) && Number.isFinite(m.p50Ns);
}

/**
 * Measures contenders in interleaved rounds (A, B, C, A, B, C, …), so that load from other processes on this
 * shared VM hits all of them alike. A round in which a contender has no timed sample is dropped whole (a ratio
 * within it would be NaN or Infinity) and a line says how many rounds were used; with none left, it throws.
 */
export function measureRounds(contenders: readonly Contender[], opts: RoundsOptions): RoundsResult {
  const per: Measurement[][] = contenders.map(() => []);
  const perRound: Measurement[][] = [];
  const dropped: string[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const round = contenders.map((c) => {
      if (opts.gcBeforeEach && !SMOKE) Bun.gc(true);
      return measure(c.name, c.fn, { warmupMs: 100, ...c.opts, durationMs: opts.roundMs });
    });
    opts.onRound?.(r, round);
    const untimed = round.find((m) => !timed(m));
    if (untimed !== undefined) {
      dropped.push(`round ${r + 1} dropped: "${untimed.name}" had no timed sample`);
      continue;
    }
    round.forEach((m, i) => per[i]!.push(m));
    perRound.push(round);
  }
  if (perRound.length === 0) {
    throw new Error(`no round of ${opts.rounds} had a timed sample of every contender (${dropped.join("; ")})`);
  }
  if (dropped.length > 0) console.log(`(${perRound.length} of ${opts.rounds} rounds used: ${dropped.join("; ")})`);
  const rows = contenders.map((c, i) => ({
    name: c.name,
    nsPerOp: median(per[i]!.map((m) => m.nsPerOp)),
    p50Ns: median(per[i]!.map((m) => m.p50Ns)),
    p99Ns: median(per[i]!.map((m) => m.p99Ns)),
    ops: per[i]!.reduce((t, m) => t + m.ops, 0),
  }));
  return { rows, perRound, roundsUsed: perRound.length };
}
