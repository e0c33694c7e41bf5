/**
 * Bybit frame → book → encoded datagram, no I/O (`bun bench/bybit.bench.ts`).
 *
 * Ours, per frame: BybitScanner.scan(frame) (sides of frames of 512+ chars read by the WebAssembly side reader, §1.1
 * of docs/performance.md) → BookBuilder.applyDelta / applySnapshot → packBookDelta /
 * packBookSnapshot into a ChannelPacker (the publisher's packer) → stampSendTime (seal: send time + CRC) → clear: the core of what the feeder does for a
 * frame (scanner, book, encoder, seal). Not in it: the venue adapter's sequence rules and checks, the app's VenuePipeline
 * (its clock reads and latency histograms) and the publisher's flush per turn, nor the sendMany syscall: the "adapter
 * path" rows time them on the same deltas (bench/ws-adapter-path.ts; docs/performance.md §1.2), so a ratio against the
 * peers here is for that core, not for the whole feeder.
 * Peers, per frame, as their Bybit handlers do it: JSON.parse(frame) → levels converted to the shape the book
 * takes → apply.
 * - ccxt (pro/bybit.js handleOrderBook): snapshot = parseOrderBook (parseFloat per field, sortBy) → OrderBook.reset;
 *   delta = parseOrderBookBidAsk (parseFloat) → OrderBookSide.storeArray per level.
 * - tardis-dev (mappers/bybit.ts): {price, amount} objects via parseFloat → OrderBook.update({isSnapshot, bids, asks}).
 * Frames: the 49 real deltas of the XRPUSDT ob500 recording (after its 500/side snapshot); snapshots of the
 * recording's top 50 and 200 levels per side in the genuine frame format; a 1000/side snapshot = the recording's
 * 500 levels extended by 500 synthetic levels per side (same tick, same gap and size statistics, same format).
 * Every row is per frame: p50 is over samples (each sample = one pass over the 49 deltas, or ≥ 20 µs of snapshots:
 * Bun.nanoseconds() itself costs ~40 ns on this VM, which a 2 µs sample of one 50/side snapshot would charge to
 * ours at ~2 %), mean = total time / frames. Ours, ccxt and tardis are measured in interleaved rounds (7 × 300 ms
 * each); rows are medians over rounds, ratios are taken within each round and then the median over rounds.
 * Targets: ≥ 6× the faster peer on deltas, ≥ 10× on snapshots.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OrderBook as TardisOrderBook } from "tardis-dev";
// ccxt's package exports only its root (which loads every exchange); its OrderBook module is imported directly.
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument } from "../src/core/types.ts";
import { BybitScanner, TopicTable } from "../src/venues/bybit/scanner.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { BYBIT_VENUE } from "../src/venues/bybit/index.ts";
import { peerDifference } from "./peer-agreement.ts";
import { adapterPathAllocationRows, adapterPathRows, WsAdapterPath, type WsPathInput } from "./ws-adapter-path.ts";
import { agreed, fasterPeer, measure as harnessMeasure, measureRounds, median, type Contender, type MeasureOptions, type Measurement, printTable, QUICK, SMOKE } from "./harness.ts";

/** harness.measure after a full GC, so garbage left by the previous (JSON.parse-based) row is not collected inside this one. */
function measure(name: string, fn: () => void, opts?: MeasureOptions): Measurement {
  Bun.gc(true);
  return harnessMeasure(name, fn, opts);
}

const FIXTURE = fileURLToPath(new URL("../test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl", import.meta.url));
const PRICE_EXP = 4; // XRPUSDT linear: tick 0.0001
const QTY_EXP = 0; // lot 1
const INSTRUMENT: Instrument = {
  instrumentId: instrumentIdOf("bybit", "linear", "XRPUSDT"),
  venue: "bybit",
  market: "linear",
  symbol: "XRPUSDT",
  priceExp: PRICE_EXP,
  qtyExp: QTY_EXP,
  tickSize: "0.0001",
  lotSize: "1",
};
const MAX_DATAGRAM_BYTES = 1400; // the config default
const DURATION_MS = QUICK ? 300 : 1000;
/**
 * The three paths of a comparison are measured in interleaved rounds (ours, ccxt, tardis, ours, …), as in
 * book.bench.ts: this shared VM changes speed by up to ~1.6× for seconds at a time, and a ratio of two rows measured
 * seconds apart can catch one in a slow phase. Ratios are taken within each round, then the median over rounds.
 */
const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
/** Minimum sample length for per-snapshot rows: several of our snapshots per timed sample (see the header). */
const SNAPSHOT_SAMPLE_NS = 20_000;

type Lvl = [string, string];
interface BybitFrame {
  topic: string;
  type: "snapshot" | "delta";
  ts: number;
  data: { s: string; b: Lvl[]; a: Lvl[]; u: number; seq: number };
  cts: number;
}

const lines = readFileSync(FIXTURE, "utf8").split("\n").filter((l) => l.trim() !== "");
const parsed = lines.map((l) => JSON.parse(l) as BybitFrame);
const snapshot500Frame = lines[0]!;
const deltaFrames = lines.slice(1);
const snap0 = parsed[0]!;

/** A frame in Bybit's exact linear key order and number format. */
function frameOf(depth: number, type: "snapshot" | "delta", b: Lvl[], a: Lvl[], u: number, ts: number, seq: number): string {
  const lv = (l: Lvl[]) => l.map(([p, q]) => `["${p}","${q}"]`).join(",");
  return `{"topic":"orderbook.${depth}.XRPUSDT","type":"${type}","ts":${ts},"data":{"s":"XRPUSDT","b":[${lv(b)}],"a":[${lv(a)}],"u":${u},"seq":${seq}},"cts":${ts - 2}}`;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The recording's side extended to `levels`: price gaps and sizes drawn from the recording's own side. */
function extendSide(side: Lvl[], levels: number, isBid: boolean, r: () => number): Lvl[] {
  const out = side.slice();
  const ticks = side.map(([p]) => Math.round(Number(p) * 10 ** PRICE_EXP));
  const gaps: number[] = [];
  for (let i = 1; i < ticks.length; i++) gaps.push(Math.abs(ticks[i]! - ticks[i - 1]!));
  let px = ticks[ticks.length - 1]!;
  while (out.length < levels) {
    px += (isBid ? -1 : 1) * gaps[Math.floor(r() * gaps.length)]!;
    out.push([(px / 10 ** PRICE_EXP).toFixed(PRICE_EXP), side[Math.floor(r() * side.length)]![1]]);
  }
  return out;
}

const r = rng(7);
const snapshotFrames: [levels: number, frame: string][] = [
  [50, frameOf(50, "snapshot", snap0.data.b.slice(0, 50), snap0.data.a.slice(0, 50), snap0.data.u, snap0.ts, snap0.data.seq)],
  [200, frameOf(200, "snapshot", snap0.data.b.slice(0, 200), snap0.data.a.slice(0, 200), snap0.data.u, snap0.ts, snap0.data.seq)],
  [
    1000,
    frameOf(1000, "snapshot", extendSide(snap0.data.b, 1000, true, r), extendSide(snap0.data.a, 1000, false, r), snap0.data.u, snap0.ts, snap0.data.seq),
  ],
];

// ---- ours ----

class OursPath {
  readonly table = new TopicTable();
  readonly scanner = new BybitScanner();
  readonly update = new BookUpdate();
  readonly builder = new BookBuilder(INSTRUMENT);
  readonly packer = new ChannelPacker(MAX_DATAGRAM_BYTES, 1, 0, 0x5eed);
  /** Datagram bytes produced (keeps the encoder's work observable). */
  bytesOut = 0;
  constructor() {
    for (const depth of [1, 50, 200, 500, 1000]) this.table.add(`orderbook.${depth}.XRPUSDT`, 0, PRICE_EXP, QTY_EXP);
  }
  /**
   * A snapshot at the live book's own u, as the adapter hands it on (BookUpdate.replace) and the app applies it: the
   * level-1 re-push every 3 s per topic. Unchanged, it is one BookDelta of no level (instrSeq + 1).
   */
  onRepush(frame: string): void {
    const update = this.update;
    if (this.scanner.scan(frame, this.table, update) < 0) throw new Error(`scan failed at ${this.scanner.errorPos}`);
    update.replace = true;
    update.tsRecvUs = 1_733_011_200_700_000;
    if (this.builder.applyReplace(update) !== ApplyResult.APPLIED) throw new Error("replace not applied");
    packBookDelta(this.packer, this.builder, this.builder.changes);
    this.packer.stampSendTime(update.tsRecvUs + 5);
    for (let i = 0; i < this.packer.count; i++) this.bytesOut += this.packer.lengths[i]!;
    this.packer.clear();
  }
  // Frame → datagram(s): the builder and packer calls VenuePipeline.onBookUpdate + FeedPublisher.flush make (not the
  // adapter's sequence rules, the pipeline's clocks and histograms, nor sendMany: the header).
  onFrame(frame: string): void {
    const update = this.update;
    if (this.scanner.scan(frame, this.table, update) < 0) throw new Error(`scan failed at ${this.scanner.errorPos}`);
    update.tsRecvUs = 1_733_011_200_700_000;
    const builder = this.builder;
    const packer = this.packer;
    if (update.isSnapshot) {
      if (builder.applySnapshot(update) !== ApplyResult.APPLIED) throw new Error("snapshot not applied");
      packBookSnapshot(packer, builder, 0, false);
    } else {
      if (builder.applyDelta(update) !== ApplyResult.APPLIED) throw new Error("delta not applied");
      packBookDelta(packer, builder, builder.changes);
    }
    packer.stampSendTime(update.tsRecvUs + 5);
    for (let i = 0; i < packer.count; i++) this.bytesOut += packer.lengths[i]!;
    packer.clear();
  }
}

// ---- peers ----

type CcxtBook = InstanceType<typeof CcxtOrderBook> & {
  bids: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
  asks: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
};

/** ccxt pro bybit handleOrderBook on a raw frame. */
function ccxtOnFrame(book: CcxtBook, frame: string): void {
  const msg = JSON.parse(frame) as BybitFrame;
  const d = msg.data;
  if (msg.type === "snapshot") {
    // Exchange.parseOrderBook: parseOrderBookBidAsk per level (safeFloat → parseFloat), then sortBy.
    const bids = d.b.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
    const asks = d.a.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
    bids.sort((x, y) => y[0]! - x[0]!);
    asks.sort((x, y) => x[0]! - y[0]!);
    book.reset({ symbol: "XRP/USDT:USDT", bids, asks, timestamp: msg.ts, datetime: undefined, nonce: undefined } as never);
  } else {
    for (let i = 0; i < d.a.length; i++) book.asks.storeArray([parseFloat(d.a[i]![0]), parseFloat(d.a[i]![1])]);
    for (let i = 0; i < d.b.length; i++) book.bids.storeArray([parseFloat(d.b[i]![0]), parseFloat(d.b[i]![1])]);
  }
}

/** tardis-dev bybit book-change mapper + OrderBook.update on a raw frame. */
function tardisOnFrame(book: TardisOrderBook, frame: string): void {
  const msg = JSON.parse(frame) as BybitFrame;
  const d = msg.data;
  const level = (l: Lvl) => ({ price: parseFloat(l[0]), amount: parseFloat(l[1]) });
  book.update({
    type: "book_change",
    symbol: d.s,
    exchange: "bybit",
    isSnapshot: msg.type === "snapshot",
    bids: d.b.map(level),
    asks: d.a.map(level),
    timestamp: new Date(msg.ts),
    localTimestamp: new Date(),
  } as never);
}

// ---- 0. all three agree ----

function checkAgreement(): string {
  const ours = new OursPath();
  const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
  const tardis = new TardisOrderBook();
  for (const f of lines) {
    ours.onFrame(f);
    ccxtOnFrame(ccxt, f);
    tardisOnFrame(tardis, f);
  }
  const b = ours.builder;
  const scale = 10 ** PRICE_EXP;
  const tb = [...tardis.bids()];
  const ta = [...tardis.asks()];
  if (b.bidCount !== ccxt.bids.length || b.bidCount !== tb.length) return "NO: bid counts differ";
  if (b.askCount !== ccxt.asks.length || b.askCount !== ta.length) return "NO: ask counts differ";
  for (let i = 0; i < b.bidCount; i++) {
    const p = b.bidPriceAt(i) / scale;
    if (p !== ccxt.bids[i]![0] || p !== tb[i]!.price || b.bidQtyAt(i) !== ccxt.bids[i]![1] || b.bidQtyAt(i) !== tb[i]!.amount) return `NO: bid ${i}`;
  }
  for (let i = 0; i < b.askCount; i++) {
    const p = b.askPriceAt(i) / scale;
    if (p !== ccxt.asks[i]![0] || p !== ta[i]!.price || b.askQtyAt(i) !== ccxt.asks[i]![1] || b.askQtyAt(i) !== ta[i]!.amount) return `NO: ask ${i}`;
  }
  return `yes (${b.bidCount} + ${b.askCount} levels after 1 snapshot + ${deltaFrames.length} deltas)`;
}

// ---- 1. per real delta ----


interface Compared {
  /** Per contender: medians over rounds of the mean, p50 and p99. */
  rows: [Measurement, Measurement, Measurement];
  /** Per round: faster peer (by mean) / ours, on the mean and on the p50. */
  ratioMean: number[];
  ratioP50: number[];
  /** Rounds in which ccxt was the faster peer (by mean). */
  ccxtFaster: number;
}

/**
 * Ours, ccxt, tardis in ROUNDS interleaved rounds (bench/harness.ts measureRounds); ratios taken within each round. A
 * full GC before each turn: without it tardis's turns collected ccxt's JSON.parse garbage (a GC in 7 of 7 of them).
 */
function compare(contenders: [Contender, Contender, Contender]): Compared {
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const ratioMean: number[] = [];
  const ratioP50: number[] = [];
  let ccxtFaster = 0;
  for (const [o, c, t] of perRound as [Measurement, Measurement, Measurement][]) {
    ratioMean.push(Math.min(c.nsPerOp, t.nsPerOp) / o.nsPerOp);
    ratioP50.push(Math.min(c.p50Ns, t.p50Ns) / o.p50Ns);
    if (c.nsPerOp <= t.nsPerOp) ccxtFaster++;
  }
  return { rows: rows as [Measurement, Measurement, Measurement], ratioMean, ratioP50, ccxtFaster };
}

function deltaContenders(): [Contender, Contender, Contender] {
  const n = deltaFrames.length;
  const ours = new OursPath();
  const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
  const tardis = new TardisOrderBook();
  const opts = { inner: 1, opsPerCall: n };
  return [
    { name: "ours: scan → applyDelta → encode", fn: () => {
      for (let i = 0; i < n; i++) ours.onFrame(deltaFrames[i]!);
    }, opts: { ...opts, setup: () => ours.onFrame(snapshot500Frame) } },
    { name: "ccxt: JSON.parse → parseFloat → storeArray", fn: () => {
      for (let i = 0; i < n; i++) ccxtOnFrame(ccxt, deltaFrames[i]!);
    }, opts: { ...opts, setup: () => ccxtOnFrame(ccxt, snapshot500Frame) } },
    { name: "tardis: JSON.parse → {price,amount} → update", fn: () => {
      for (let i = 0; i < n; i++) tardisOnFrame(tardis, deltaFrames[i]!);
    }, opts: { ...opts, setup: () => tardisOnFrame(tardis, snapshot500Frame) } },
  ];
}

/** JSON.parse alone on the same frames: the floor any JSON.parse-based path pays. */
function benchJsonParse(): Measurement[] {
  let sink = 0;
  const n = deltaFrames.length;
  const rows = [
    measure("JSON.parse only, real delta", () => {
      for (let i = 0; i < n; i++) sink += (JSON.parse(deltaFrames[i]!) as BybitFrame).data.u;
    }, { opsPerCall: n, durationMs: DURATION_MS }),
  ];
  for (const [levels, frame] of snapshotFrames) {
    rows.push(measure(`JSON.parse only, snapshot ${levels}/side`, () => {
      sink += (JSON.parse(frame) as BybitFrame).data.u;
    }, { durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }));
  }
  if (sink === 42) console.log("");
  return rows;
}

// ---- 2. per snapshot ----

/**
 * The three contenders on one snapshot frame, and the check that their books hold the same levels once timed: the
 * agreement after the replay above does not cover these frames (the 1000/side one is extended by synthetic levels).
 */
function snapshotContenders(levels: number, frame: string): { contenders: [Contender, Contender, Contender]; agreement: () => string } {
  const ours = new OursPath();
  const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
  const tardis = new TardisOrderBook();
  const opts = { minSampleNs: SNAPSHOT_SAMPLE_NS };
  const agreement = () => {
    const b = ours.builder;
    return peerDifference(b, ccxt, tardis) ?? `yes (${b.bidCount} + ${b.askCount} levels)`;
  };
  return {
    contenders: [
      { name: `ours: scan → applySnapshot → encode, ${levels}/side`, fn: () => ours.onFrame(frame), opts },
      { name: `ccxt: JSON.parse → parseOrderBook → reset, ${levels}/side`, fn: () => ccxtOnFrame(ccxt, frame), opts },
      { name: `tardis: JSON.parse → objects → update, ${levels}/side`, fn: () => tardisOnFrame(tardis, frame), opts },
    ],
    agreement,
  };
}

/** Where our time goes: the scanner alone on the same frames (book + encode = the rest). */
function benchScanOnly(): Measurement[] {
  const ours = new OursPath();
  const n = deltaFrames.length;
  const scan = (f: string) => {
    if (ours.scanner.scan(f, ours.table, ours.update) < 0) throw new Error("scan failed");
  };
  const rows = [
    measure("scan only, real delta", () => {
      for (let i = 0; i < n; i++) scan(deltaFrames[i]!);
    }, { opsPerCall: n, durationMs: DURATION_MS }),
  ];
  for (const [levels, frame] of snapshotFrames) rows.push(measure(`scan only, snapshot ${levels}/side`, () => scan(frame), { durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }));
  return rows;
}

/** The same scans with every side read by the TypeScript loop (`new BybitScanner(false)`: no WebAssembly side reader). */
function benchScanTypeScriptOnly(): Measurement[] {
  const scanner = new BybitScanner(false);
  const ours = new OursPath();
  const n = deltaFrames.length;
  const scan = (f: string) => {
    if (scanner.scan(f, ours.table, ours.update) < 0) throw new Error("scan failed");
  };
  const rows = [
    measure("scan only, TypeScript sides, real delta", () => {
      for (let i = 0; i < n; i++) scan(deltaFrames[i]!);
    }, { opsPerCall: n, durationMs: DURATION_MS }),
  ];
  for (const [levels, frame] of snapshotFrames) {
    rows.push(measure(`scan only, TypeScript sides, snapshot ${levels}/side`, () => scan(frame), { durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }));
  }
  return rows;
}

// ---- 3. allocation in steady state ----

function steadyState(frames: number): Record<string, unknown>[] {
  const ours = new OursPath();
  const n = deltaFrames.length;
  // A step is one real delta, and the 500/side snapshot that restarts the real sequence before every 49th.
  let k = 0;
  const step = () => {
    if (k === 0) ours.onFrame(snapshot500Frame);
    ours.onFrame(deltaFrames[k]!);
    k = k + 1 === n ? 0 : k + 1;
  };
  for (let i = 0; i < (SMOKE ? 2_000 : 200_000); i++) step(); // warm-up: JIT tiers; ladders, change set and packer pool at their final capacity
  const rows: Record<string, unknown>[] = [];
  rows.push(allocationRow(`ours: real deltas (+ a 500/side snapshot every ${n})`, measureAllocation(0, frames, step)));
  const big = snapshotFrames[2]![1];
  for (let i = 0; i < (SMOKE ? 20 : 2000); i++) ours.onFrame(big);
  const snaps = SMOKE ? 50 : QUICK ? 5_000 : 20_000;
  rows.push(allocationRow("ours: snapshots 1000/side", measureAllocation(0, snaps, () => ours.onFrame(big))));
  // Level 1's re-push (every 3 s per topic): the same snapshot at the book's u, applied as a replace, no level changed.
  const l1 = frameOf(1, "snapshot", snap0.data.b.slice(0, 1), snap0.data.a.slice(0, 1), snap0.data.u, snap0.ts, snap0.data.seq);
  const repush = new OursPath();
  repush.onFrame(l1);
  for (let i = 0; i < (SMOKE ? 20 : 20_000); i++) repush.onRepush(l1);
  rows.push(allocationRow("ours: level-1 re-push (unchanged replace, empty BookDelta)", measureAllocation(0, snaps, () => repush.onRepush(l1))));
  // The same meter on a JSON.parse path, and on its own control.
  const tardis = new TardisOrderBook();
  tardisOnFrame(tardis, snapshot500Frame);
  const control = SMOKE ? 200 : 20_000;
  rows.push(allocationRow("tardis: real deltas", measureAllocation(0, control, (i) => tardisOnFrame(tardis, deltaFrames[i % n]!))));
  rows.push(allocationRow("control: a 32 B object per step", allocationControl(control)));
  return rows;
}

// ---- run ----

const levelsPerDelta = parsed.slice(1).reduce((s, m) => s + m.data.b.length + m.data.a.length, 0) / deltaFrames.length;
const bytesPerDelta = deltaFrames.reduce((s, f) => s + f.length, 0) / deltaFrames.length;
console.log(`bybit bench — Bun ${Bun.version}; XRPUSDT ob500 recording: ${deltaFrames.length} real deltas ` +
  `(${levelsPerDelta.toFixed(1)} levels, ${bytesPerDelta.toFixed(0)} B per frame on average); ` +
  `snapshot frames ${snapshotFrames.map(([l, f]) => `${l}/side ${f.length} B`).join(", ")}`);
console.log(`ours, ccxt and tardis books agree after the replay: ${agreed(checkAgreement())}\n`);

interface RatioRow {
  case: string;
  oursP50: number;
  oursMean: number;
  ccxtMean: number;
  tardisMean: number;
  fasterPeer: string;
  ratioMean: number;
  ratioP50: number;
  /** Lowest–highest per-round ratio on the mean. */
  ratioMeanRange: string;
  target: string;
  met: string;
}
const summary: RatioRow[] = [];
function ratioRow(name: string, cmp: Compared, target: number): RatioRow {
  const [o, c, t] = cmp.rows;
  const ratioMean = median(cmp.ratioMean);
  const ratioP50 = median(cmp.ratioP50);
  return {
    case: name,
    oursP50: o.p50Ns,
    oursMean: o.nsPerOp,
    ccxtMean: c.nsPerOp,
    tardisMean: t.nsPerOp,
    fasterPeer: fasterPeer(cmp.ccxtFaster, cmp.ratioMean.length),
    ratioMean,
    ratioP50,
    ratioMeanRange: `${Math.min(...cmp.ratioMean).toFixed(1)}–${Math.max(...cmp.ratioMean).toFixed(1)}×`,
    target: `≥ ${target}×`,
    met: ratioMean >= target && ratioP50 >= target ? "yes" : ratioMean >= target || ratioP50 >= target ? "partly" : "NO",
  };
}

console.log(`(${ROUNDS} interleaved rounds of ${ROUND_MS} ms per contender; figures are medians over rounds)\n`);
console.log("== one real delta frame → book → datagram (per frame) ==");
const d = compare(deltaContenders());
printTable(d.rows);
summary.push(ratioRow("real delta", d, 6));
console.log("");

for (const [levels, frame] of snapshotFrames) {
  console.log(`== one snapshot frame, ${levels} levels per side (${frame.length} B) ==`);
  const { contenders, agreement } = snapshotContenders(levels, frame);
  const s = compare(contenders);
  console.log(`ours, ccxt and tardis books agree after this snapshot: ${agreed(agreement())}`);
  printTable(s.rows);
  summary.push(ratioRow(`snapshot ${levels}/side`, s, 10));
  console.log("");
}

console.log("== JSON.parse alone on the same frames (floor of every JSON.parse-based path) ==");
printTable(benchJsonParse());

console.log("\n== where our time goes: BybitScanner.scan alone (book apply + encode = full path − this) ==");
const scanRows = benchScanOnly();
const fullP50 = [summaryP50("real delta"), summaryP50("snapshot 50/side"), summaryP50("snapshot 200/side"), summaryP50("snapshot 1000/side")];
printTable(scanRows.map((m, i) => ({ ...m, "share of our p50": `${((m.p50Ns / fullP50[i]!) * 100).toFixed(0)} %` })));
console.log("\n== the same scans without the WebAssembly side reader (frames of 512+ chars have their sides read by it) ==");
printTable(benchScanTypeScriptOnly());

function summaryP50(name: string): number {
  return summary.find((x) => x.case === name)!.oursP50;
}

console.log("\n== level-1 re-push: the same snapshot at the book's u → replace → empty BookDelta (per frame; every 3 s per level-1 topic) ==");
{
  const l1 = frameOf(1, "snapshot", snap0.data.b.slice(0, 1), snap0.data.a.slice(0, 1), snap0.data.u, snap0.ts, snap0.data.seq);
  const repush = new OursPath();
  repush.onFrame(l1);
  printTable([measure("ours: level-1 re-push", () => repush.onRepush(l1), { durationMs: DURATION_MS })]);
}

// ---- the adapter path on the same frames: what the feeder runs per frame beyond scan → apply → encode → seal ----
// (bench/ws-adapter-path.ts: BybitConnection.onFrameAt → the u chain and checks → VenuePipeline → publisher flush;
// a live path of its own on the live clocks), beside ours on exactly those frames, every sample from the snapshot.
// Bybit's linear depths are now 1, 50, 200 and 1000: the recording's orderbook.500 frames go as orderbook.1000's.
const asDepth1000 = (frame: string) => frame.replace('"topic":"orderbook.500.', '"topic":"orderbook.1000.');
const pathInput: WsPathInput = {
  spec: BYBIT_VENUE,
  venueConfig: { linear: { depth: 1000, symbols: ["XRPUSDT"] }, overrides: { "linear:XRPUSDT": { tick_size: "0.0001", lot_size: "1" } } },
  snapshots: [{ market: "linear", frame: asDepth1000(snapshot500Frame) }],
  frames: deltaFrames.map((frame) => ({ market: "linear", frame: asDepth1000(frame) })),
  // ts: the system's time of the frame, cts: the matching engine's (the exchange → receipt histogram's).
  times: /"c?ts":(\d+)/g,
};
const adapterPath = await WsAdapterPath.create(pathInput, 21);
const livePath = await WsAdapterPath.create(pathInput, 22, "live");
{
  const ours = new OursPath();
  console.log("");
  adapterPathRows("XRPUSDT linear", `ours: scan → applyDelta → encode (the same ${deltaFrames.length} frames)`, { reset: () => ours.onFrame(snapshot500Frame), onFrame: (k) => ours.onFrame(deltaFrames[k]!) }, adapterPath, livePath, { rounds: ROUNDS, roundMs: ROUND_MS });
}

console.log("\n== allocation in steady state per frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k frames) ==");
printTable([
  ...steadyState(SMOKE ? 2_000 : QUICK ? 200_000 : 1_000_000),
  ...adapterPathAllocationRows(`the ${deltaFrames.length} real deltas`, adapterPath, livePath, SMOKE ? 3 : QUICK ? 200 : 1000),
]);
await adapterPath.stop();
await livePath.stop();

console.log("\n== summary: ratios = faster peer / ours, per round, median over rounds (mean: total time ratio; p50: ratio of per-sample medians) ==");
printTable(
  summary.map((s) => ({
    case: s.case,
    "ours p50": formatUs(s.oursP50),
    "ours mean": formatUs(s.oursMean),
    "ccxt mean": formatUs(s.ccxtMean),
    "tardis mean": formatUs(s.tardisMean),
    "faster peer": s.fasterPeer,
    "ratio mean": `${s.ratioMean.toFixed(1)}×`,
    "ratio p50": `${s.ratioP50.toFixed(1)}×`,
    "rounds (mean)": s.ratioMeanRange,
    target: s.target,
    met: s.met,
  })),
);

function formatUs(ns: number): string {
  return ns < 1000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(2)} µs`;
}
