/**
 * OKX frame → book → encoded datagram, no I/O (`bun bench/okx.bench.ts`).
 *
 * Ours, per frame: OkxScanner.scan(frame) → BookBuilder.applyDelta / applySnapshot → packBookDelta /
 * packBookSnapshot into a ChannelPacker → stampSendTime → clear: the core of what the feeder does for a
 * frame (scanner, book, encoder, seal). Not in it: the venue adapter's sequence rules and checks, the app's VenuePipeline
 * (its clock reads and latency histograms) and the publisher's flush per turn, nor the sendMany syscall: the "adapter
 * path" rows time them on the same updates (bench/ws-adapter-path.ts; docs/performance.md §11), so a ratio against the
 * peers here is for that core, not for the whole feeder. The checksum is 0 in production since June 2026
 * (verify() returns at once); a separate row adds verify() over the recording's real checksums (CRC-32 of the top 25).
 * Peers, per frame, as their OKX handlers do it: JSON.parse(frame) → levels converted → apply.
 * - ccxt (pro/okx.js handleOrderBookMessage): snapshot = parseOrderBook (parseFloat, sortBy) → OrderBook.reset;
 *   update = parseFloat per level → OrderBookSide.storeArray (ccxt's own checksum is left out: it only slows ccxt).
 * - tardis-dev (mappers/okex.ts v5 book change): {price, amount} via parseFloat → OrderBook.update.
 * Frames: the genuine recording test/fixtures/cryptofeed/OKX.ws.1.0: 287 updates of 3 instruments (after their
 * snapshots) and the 3 snapshots (400 levels per side). Ours, ccxt and tardis are measured in interleaved rounds;
 * rows are medians over rounds, ratios are taken within each round and then the median over rounds. Further rows
 * time our parts alone (scan; book apply; apply + encode on pre-scanned frames), to say where the time goes.
 * Target: ≥ 10× the faster peer on deltas and snapshots (issue #12).
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument, MarketName } from "../src/core/types.ts";
import { bookChecksum } from "../src/venues/okx/checksum.ts";
import { OkxScanner } from "../src/venues/okx/scanner.ts";
import { OkxTopicTable } from "../src/venues/okx/topic-table.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { OKX_VENUE } from "../src/venues/okx/index.ts";
import { peerDifference } from "./peer-agreement.ts";
import { adapterPathAllocationRows, adapterPathRows, WsAdapterPath, type WsPathInput } from "./ws-adapter-path.ts";
import { agreed, fasterPeer, measure as harnessMeasure, measureRounds, median, type Contender, type MeasureOptions, type Measurement, printTable, QUICK, SMOKE } from "./harness.ts";

function measure(name: string, fn: () => void, opts?: MeasureOptions): Measurement {
  Bun.gc(true);
  return harnessMeasure(name, fn, opts);
}

const FIXTURE = fileURLToPath(new URL("../test/fixtures/cryptofeed/OKX.ws.1.0", import.meta.url));
const DURATION_MS = QUICK ? 300 : 1000;
const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
const SNAPSHOT_SAMPLE_NS = 20_000;
const MAX_DATAGRAM_BYTES = 1400;

/** The recording's instruments: tick and lot (as in test/venues/okx/recording.ts). */
const SPECS: { market: MarketName; symbol: string; tickSize: string; lotSize: string }[] = [
  { market: "inverse", symbol: "BTC-USD-220527", tickSize: "0.1", lotSize: "1" },
  { market: "inverse", symbol: "UNI-USD-SWAP", tickSize: "0.001", lotSize: "1" },
  { market: "spot", symbol: "BTC-USDT", tickSize: "0.1", lotSize: "0.00000001" },
];
const decimals = (s: string) => (s.includes(".") ? s.length - s.indexOf(".") - 1 : 0);
const INSTRUMENTS: Instrument[] = SPECS.map((s) => ({
  instrumentId: instrumentIdOf("okx", s.market, s.symbol),
  venue: "okx",
  market: s.market,
  symbol: s.symbol,
  priceExp: decimals(s.tickSize),
  qtyExp: decimals(s.lotSize),
  tickSize: s.tickSize,
  lotSize: s.lotSize,
}));

type Lvl = [string, string, string, string];
interface OkxFrame {
  arg: { channel: string; instId: string };
  action: "snapshot" | "update";
  data: { asks: Lvl[]; bids: Lvl[]; ts: string; checksum: number }[];
}

const frames: string[] = [];
for (const line of readFileSync(FIXTURE, "utf8").split("\n")) {
  const m = /^\d+\.\d+: (\{"arg":\{"channel":"books".*)$/.exec(line);
  if (m && m[1]!.includes('"data"')) frames.push(m[1]!);
}
const snapshotFrames = frames.filter((f) => f.includes('"action":"snapshot"'));
const deltaFrames = frames.filter((f) => f.includes('"action":"update"'));

// ---- ours ----

class OursPath {
  readonly table = new OkxTopicTable();
  readonly scanner = new OkxScanner();
  readonly update = new BookUpdate();
  readonly builders = INSTRUMENTS.map((i) => new BookBuilder(i));
  readonly packer = new ChannelPacker(MAX_DATAGRAM_BYTES, 1, 0, 0x5eed);
  bytesOut = 0;
  mismatches = 0;
  constructor(readonly verify: boolean) {
    INSTRUMENTS.forEach((inst, k) => this.table.add(`books:${inst.symbol}`, k, inst.priceExp, inst.qtyExp));
    this.scanner.shareSides(this.update); // as OkxConnection does: the levels are read in place
  }
  onFrame(frame: string): void {
    const update = this.update;
    const index = this.scanner.scan(frame, this.table, update);
    if (index < 0) throw new Error(`scan failed: ${index}`);
    update.tsRecvUs = 1_652_459_225_500_000;
    const builder = this.builders[index]!;
    const packer = this.packer;
    if (update.isSnapshot) {
      if (builder.applySnapshot(update) !== ApplyResult.APPLIED) throw new Error("snapshot not applied");
      if (this.verify && bookChecksum(builder, builder.instrument.priceExp, builder.instrument.qtyExp) !== this.scanner.checksum) this.mismatches++;
      packBookSnapshot(packer, builder, 0, false);
    } else {
      if (builder.applyDelta(update) !== ApplyResult.APPLIED) throw new Error("delta not applied");
      if (this.verify && bookChecksum(builder, builder.instrument.priceExp, builder.instrument.qtyExp) !== this.scanner.checksum) this.mismatches++;
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

function ccxtOnFrame(books: Map<string, CcxtBook>, frame: string): void {
  const msg = JSON.parse(frame) as OkxFrame;
  const d = msg.data[0]!;
  let book = books.get(msg.arg.instId);
  if (!book) books.set(msg.arg.instId, (book = new CcxtOrderBook({}, undefined) as CcxtBook));
  if (msg.action === "snapshot") {
    const bids = d.bids.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
    const asks = d.asks.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
    bids.sort((x, y) => y[0]! - x[0]!);
    asks.sort((x, y) => x[0]! - y[0]!);
    book.reset({ symbol: msg.arg.instId, bids, asks, timestamp: Number(d.ts), datetime: undefined, nonce: undefined } as never);
  } else {
    for (let i = 0; i < d.asks.length; i++) book.asks.storeArray([parseFloat(d.asks[i]![0]), parseFloat(d.asks[i]![1])]);
    for (let i = 0; i < d.bids.length; i++) book.bids.storeArray([parseFloat(d.bids[i]![0]), parseFloat(d.bids[i]![1])]);
  }
}

function tardisOnFrame(books: Map<string, TardisOrderBook>, frame: string): void {
  const msg = JSON.parse(frame) as OkxFrame;
  const d = msg.data[0]!;
  let book = books.get(msg.arg.instId);
  if (!book) books.set(msg.arg.instId, (book = new TardisOrderBook()));
  const level = (l: Lvl) => ({ price: parseFloat(l[0]), amount: parseFloat(l[1]) });
  book.update({ type: "book_change", symbol: msg.arg.instId, exchange: "okex", isSnapshot: msg.action === "snapshot", bids: d.bids.map(level), asks: d.asks.map(level), timestamp: new Date(Number(d.ts)), localTimestamp: new Date() } as never);
}

// ---- 0. all three agree, and every checksum holds ----

function checkAgreement(): string {
  const ours = new OursPath(true);
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  for (const f of frames) {
    ours.onFrame(f);
    ccxtOnFrame(ccxt, f);
    tardisOnFrame(tardis, f);
  }
  if (ours.mismatches !== 0) return `NO: ${ours.mismatches} checksum mismatches`;
  for (const b of ours.builders) {
    const c = ccxt.get(b.instrument.symbol);
    const t = tardis.get(b.instrument.symbol);
    if (c === undefined || t === undefined) return `NO: no peer book for ${b.instrument.symbol}`;
    // Every level's price and size against both peers (it once checked prices against ccxt and sizes against tardis only).
    const differs = peerDifference(b, c, t);
    if (differs !== undefined) return differs;
  }
  const memory = ours.builders.map((b) => `${b.instrument.symbol} ${b.bidCount}+${b.askCount} levels: windows ${b.bids.windowSize}+${b.asks.windowSize} slots, ${(b.bytesAllocated() / 1024).toFixed(1)} KiB`);
  return `yes (3 books after ${snapshotFrames.length} snapshots + ${deltaFrames.length} updates; ${frames.length} checksums verified)\nladder arrays per book: ${memory.join("; ")}`;
}

interface Compared {
  rows: Measurement[];
  ratioMean: number[];
  ratioP50: number[];
  ccxtFaster: number;
}

function compare(contenders: Contender[]): Compared {
  // A full GC before each turn: no contender pays for the JSON.parse garbage of the one before it.
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const ratioMean: number[] = [];
  const ratioP50: number[] = [];
  let ccxtFaster = 0;
  for (const [o, c, t] of perRound as [Measurement, Measurement, Measurement][]) {
    ratioMean.push(Math.min(c.nsPerOp, t.nsPerOp) / o.nsPerOp);
    ratioP50.push(Math.min(c.p50Ns, t.p50Ns) / o.p50Ns);
    if (c.nsPerOp <= t.nsPerOp) ccxtFaster++;
  }
  return { rows, ratioMean, ratioP50, ccxtFaster };
}

function deltaContenders(): Contender[] {
  const n = deltaFrames.length;
  const ours = new OursPath(false);
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  const opts = { inner: 1, opsPerCall: n };
  return [
    { name: "ours: scan → applyDelta → encode", fn: () => { for (let i = 0; i < n; i++) ours.onFrame(deltaFrames[i]!); }, opts: { ...opts, setup: () => snapshotFrames.forEach((f) => ours.onFrame(f)) } },
    { name: "ccxt: JSON.parse → parseFloat → storeArray", fn: () => { for (let i = 0; i < n; i++) ccxtOnFrame(ccxt, deltaFrames[i]!); }, opts: { ...opts, setup: () => snapshotFrames.forEach((f) => ccxtOnFrame(ccxt, f)) } },
    { name: "tardis: JSON.parse → {price,amount} → update", fn: () => { for (let i = 0; i < n; i++) tardisOnFrame(tardis, deltaFrames[i]!); }, opts: { ...opts, setup: () => snapshotFrames.forEach((f) => tardisOnFrame(tardis, f)) } },
  ];
}

function snapshotContenders(): Contender[] {
  const n = snapshotFrames.length;
  const ours = new OursPath(false);
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  const opts = { opsPerCall: n, minSampleNs: SNAPSHOT_SAMPLE_NS };
  return [
    { name: "ours: scan → applySnapshot → encode", fn: () => { for (let i = 0; i < n; i++) ours.onFrame(snapshotFrames[i]!); }, opts },
    { name: "ccxt: JSON.parse → parseOrderBook → reset", fn: () => { for (let i = 0; i < n; i++) ccxtOnFrame(ccxt, snapshotFrames[i]!); }, opts },
    { name: "tardis: JSON.parse → objects → update", fn: () => { for (let i = 0; i < n; i++) tardisOnFrame(tardis, snapshotFrames[i]!); }, opts },
  ];
}

/**
 * Each frame scanned once into its own BookUpdate (not shared: each keeps its levels): the book and encoder rows below
 * then time no scanning. Each update's arrays are cut to its levels: left at their 1024-level capacity (32 KiB per
 * frame), the rows timed cache misses on inputs the real path never has (it reuses one update; docs/performance.md §2.2).
 */
function prescanned(list: string[], path: OursPath): { index: number; update: BookUpdate }[] {
  return list.map((f) => {
    const update = new BookUpdate();
    const index = path.scanner.scan(f, path.table, update);
    if (index < 0) throw new Error(`scan failed: ${index}`);
    update.bidPx = update.bidPx.slice(0, update.bidCount);
    update.bidQty = update.bidQty.slice(0, update.bidCount);
    update.askPx = update.askPx.slice(0, update.askCount);
    update.askQty = update.askQty.slice(0, update.askCount);
    return { index, update };
  });
}

function others(): Measurement[] {
  let sink = 0;
  const n = deltaFrames.length;
  const withVerify = new OursPath(true);
  const scanner = new OursPath(false);
  const parts = new OursPath(false);
  const snaps = prescanned(snapshotFrames, parts);
  const upds = prescanned(deltaFrames, parts);
  const loadSnapshots = () => snaps.forEach((x) => parts.builders[x.index]!.applySnapshot(x.update));
  const packer = parts.packer;
  const rows = [
    measure("JSON.parse only, real update", () => { for (let i = 0; i < n; i++) sink += (JSON.parse(deltaFrames[i]!) as OkxFrame).data.length; }, { opsPerCall: n, durationMs: DURATION_MS }),
    measure("JSON.parse only, snapshot 400/side", () => { for (const f of snapshotFrames) sink += (JSON.parse(f) as OkxFrame).data.length; }, { opsPerCall: snapshotFrames.length, durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }),
    measure("scan only, real update", () => { for (let i = 0; i < n; i++) scanner.scanner.scan(deltaFrames[i]!, scanner.table, scanner.update); }, { inner: 1, opsPerCall: n, durationMs: DURATION_MS }),
    measure("scan only, snapshot 400/side", () => { for (const f of snapshotFrames) scanner.scanner.scan(f, scanner.table, scanner.update); }, { opsPerCall: snapshotFrames.length, durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }),
    measure("applyDelta only (pre-scanned), real update", () => { for (let i = 0; i < n; i++) { const x = upds[i]!; parts.builders[x.index]!.applyDelta(x.update); } }, { inner: 1, opsPerCall: n, durationMs: DURATION_MS, setup: loadSnapshots }),
    measure("applyDelta + encode (pre-scanned), real update", () => {
      for (let i = 0; i < n; i++) {
        const x = upds[i]!;
        const b = parts.builders[x.index]!;
        b.applyDelta(x.update);
        packBookDelta(packer, b, b.changes);
        packer.stampSendTime(1);
        packer.clear();
      }
    }, { inner: 1, opsPerCall: n, durationMs: DURATION_MS, setup: loadSnapshots }),
    measure("applySnapshot only (pre-scanned), snapshot 400/side", () => { for (const x of snaps) parts.builders[x.index]!.applySnapshot(x.update); }, { opsPerCall: snaps.length, durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }),
    measure("applySnapshot + encode (pre-scanned), snapshot 400/side", () => {
      for (const x of snaps) {
        const b = parts.builders[x.index]!;
        b.applySnapshot(x.update);
        packBookSnapshot(packer, b, 0, false);
        packer.stampSendTime(1);
        packer.clear();
      }
    }, { opsPerCall: snaps.length, durationMs: DURATION_MS, minSampleNs: SNAPSHOT_SAMPLE_NS }),
    measure("ours + verify() on a real checksum (CRC-32 of the top 25), real update", () => { for (let i = 0; i < n; i++) withVerify.onFrame(deltaFrames[i]!); }, { inner: 1, opsPerCall: n, durationMs: DURATION_MS, setup: () => snapshotFrames.forEach((f) => withVerify.onFrame(f)) }),
  ];
  if (withVerify.mismatches !== 0) throw new Error("checksum mismatch");
  if (sink === 42) console.log("");
  return rows;
}

function steadyState(count: number): Record<string, unknown>[] {
  const ours = new OursPath(true);
  // A step is one real update, and the snapshots that restart the real sequence before every pass over them.
  const step = (i: number) => {
    if (i % deltaFrames.length === 0) for (let s = 0; s < snapshotFrames.length; s++) ours.onFrame(snapshotFrames[s]!);
    ours.onFrame(deltaFrames[i % deltaFrames.length]!);
  };
  for (let i = 0; i < (SMOKE ? 2_000 : 100_000); i++) step(i);
  return [
    allocationRow(`ours + verify(): real updates (+ their ${snapshotFrames.length} snapshots every ${deltaFrames.length})`, measureAllocation(0, count, step)),
    allocationRow("control: a 32 B object per step", allocationControl(Math.min(count, 100_000))),
  ];
}

function formatUs(ns: number): string {
  return ns < 1000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(2)} µs`;
}

const levelsPerUpdate = deltaFrames.reduce((s, f) => { const d = (JSON.parse(f) as OkxFrame).data[0]!; return s + d.bids.length + d.asks.length; }, 0) / deltaFrames.length;
console.log(`okx bench — Bun ${Bun.version}; OKX.ws.1.0 recording: ${deltaFrames.length} real updates (${levelsPerUpdate.toFixed(1)} levels, ` +
  `${(deltaFrames.reduce((s, f) => s + f.length, 0) / deltaFrames.length).toFixed(0)} B per frame on average), ${snapshotFrames.length} snapshots (400/side, ${snapshotFrames.map((f) => f.length).join(" / ")} B)`);
console.log(`ours, ccxt and tardis books agree: ${agreed(checkAgreement())}\n`);
console.log(`(${ROUNDS} interleaved rounds of ${ROUND_MS} ms per contender; figures are medians over rounds)\n`);
const summary: Record<string, unknown>[] = [];
for (const [name, contenders] of [["real update", deltaContenders()], ["snapshot 400/side", snapshotContenders()]] as const) {
  console.log(`== ${name}: frame → book → datagram (per frame) ==`);
  const c = compare(contenders as Contender[]);
  printTable(c.rows);
  const rm = median(c.ratioMean);
  const rp = median(c.ratioP50);
  summary.push({
    case: name,
    "ours p50": formatUs(c.rows[0]!.p50Ns),
    "ours mean": formatUs(c.rows[0]!.nsPerOp),
    "ccxt mean": formatUs(c.rows[1]!.nsPerOp),
    "tardis mean": formatUs(c.rows[2]!.nsPerOp),
    "faster peer": fasterPeer(c.ccxtFaster, c.ratioMean.length),
    "ratio mean": `${rm.toFixed(1)}×`,
    "ratio p50": `${rp.toFixed(1)}×`,
    "rounds (mean)": `${Math.min(...c.ratioMean).toFixed(1)}–${Math.max(...c.ratioMean).toFixed(1)}×`,
    target: "≥ 10×",
    met: rm >= 10 && rp >= 10 ? "yes" : rm >= 10 || rp >= 10 ? "partly" : "NO",
  });
  console.log("");
}
console.log("== JSON.parse alone, our parts alone (scan; book; book + encode, on pre-scanned frames), and ours with verify() on real checksums ==");
printTable(others());

// ---- the adapter path on the same frames: what the feeder runs per frame beyond scan → apply → encode → seal ----
// (bench/ws-adapter-path.ts: OkxConnection.onFrameAt → the seqId chain, the checksum (the recording's are real, so the
// adapter verifies each) → VenuePipeline → publisher flush; a live path of its own on the live clocks), beside ours with
// verify() on exactly those frames, every sample from the snapshots.
const marketOf = (frame: string) => SPECS.find((x) => frame.includes(`"instId":"${x.symbol}"`))!.market;
const pathInput: WsPathInput = {
  spec: OKX_VENUE,
  venueConfig: {
    ...Object.fromEntries([...new Set(SPECS.map((x) => x.market))].map((m) => [m, { depth: 400, symbols: SPECS.filter((x) => x.market === m).map((x) => x.symbol) }])),
    overrides: Object.fromEntries(SPECS.map((x) => [`${x.market}:${x.symbol}`, { tick_size: x.tickSize, lot_size: x.lotSize }])),
  },
  snapshots: snapshotFrames.map((frame) => ({ market: marketOf(frame), frame })),
  frames: deltaFrames.map((frame) => ({ market: marketOf(frame), frame })),
  times: /"ts":"(\d+)"/g,
};
const adapterPath = await WsAdapterPath.create(pathInput, 23);
const livePath = await WsAdapterPath.create(pathInput, 24, "live");
{
  const ours = new OursPath(true);
  adapterPathRows(
    "3 books",
    `ours + verify(): scan → applyDelta → checksum → encode (the same ${deltaFrames.length} frames)`,
    { reset: () => snapshotFrames.forEach((f) => ours.onFrame(f)), onFrame: (k) => ours.onFrame(deltaFrames[k]!) },
    adapterPath,
    livePath,
    { rounds: ROUNDS, roundMs: ROUND_MS },
  );
  if (ours.mismatches !== 0) throw new Error("checksum mismatch");
}
console.log("\n== allocation in steady state per frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k) ==");
printTable([
  ...steadyState(SMOKE ? 2_000 : QUICK ? 100_000 : 500_000),
  ...adapterPathAllocationRows(`the ${deltaFrames.length} real updates`, adapterPath, livePath, SMOKE ? 3 : QUICK ? 40 : 200),
]);
await adapterPath.stop();
await livePath.stop();
console.log("\n== summary: ratios = faster peer / ours, per round, median over rounds ==");
printTable(summary);
