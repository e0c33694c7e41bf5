/**
 * Binance frame → book → encoded datagram, no I/O (`bun bench/binance.bench.ts`).
 *
 * Ours, per frame: BinanceScanner.scan (diff) or scanSnapshot (REST depth body) → BookBuilder.applyDelta /
 * applySnapshot → packBookDelta / packBookSnapshot into a ChannelPacker → stampSendTime → clear: the core of what the
 * feeder does for a frame (the chain check here is a compare on the scanner's ids); the rest of what it runs per frame
 * (the adapter, the VenuePipeline, the publisher's flush) is timed below as the adapter path. A diff is read in one
 * WebAssembly call into an update whose sides are the module's arrays, as a connection's are.
 * Peers, per frame, as their Binance handlers do it: JSON.parse(frame) → levels → apply.
 * - ccxt (pro/binance.js handleOrderBookMessage / handleDeltas): parseFloat per field → OrderBookSide.storeArray;
 *   snapshot (fetchRestOrderBookSafe → parseOrderBook): parseFloat, sortBy → OrderBook.reset.
 * - tardis-dev (mappers/binance.ts): {price, amount} via Number() → OrderBook.update.
 * Frames: every real diff of the genuine recordings (test/fixtures/cryptofeed: spot 177 over 4 symbols, USD-M 764
 * over 4 symbols) and their real REST depth snapshots (limit 1000). Ours, ccxt and tardis are measured in
 * interleaved rounds; rows are medians over rounds, ratios are taken within each round and then the median.
 * Target (issue #12): ≥ 10× the faster peer on deltas and on snapshots.
 * Then a breakdown of our diff path per frame (every real diff; each sample that applies diffs starts from the
 * snapshots): the frame copy, the scan (and its fixed part: the same frames with empty sides), applyDelta,
 * packBookDelta, seal (send time + CRC-32) and the floor Buffer.write + CRC; and of the snapshot path: the copy, applySnapshot, pack,
 * seal, and scanSnapshot with its WebAssembly side reader against the TypeScript reader alone, in interleaved rounds
 * (docs/performance.md §10).
 * The adapter path: the same recorded diffs through what the feeder runs per frame after the socket
 * (bench/binance-adapter-path.ts: BinanceConnection.onFrameAt → BinanceAdapter.onDiff, its sequence rule, depth clip and
 * per-diff verify() → the app's VenuePipeline → the publisher, sealed, sending nothing; flushed per frame through replay's
 * Feeder.ingest (its clock), through the live socket's entry (a Feeder of its own on the live clocks: onFrameAt with a
 * receipt read a frame, event times 1 ms before it), and once per pass), each book's diffs after the one that
 * bridges its REST snapshot, in interleaved rounds with ours on exactly those frames; and the replayed and live paths'
 * allocation per frame beside ours in the steady-state table.
 * @module
 */
import { Buffer } from "node:buffer";
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument, MarketName } from "../src/core/types.ts";
import { BinanceScanner } from "../src/venues/binance/scanner.ts";
import { StreamTable } from "../src/venues/binance/topic-table.ts";
import { datagramCrc32Zeroed } from "../src/wire/crc32.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { AdapterPath, type BinanceRecording, loadBinanceRecording, type Lvl } from "./binance-adapter-path.ts";
import { agreed, measure, measureRounds, median, printTable, type Contender, type Measurement, QUICK, SMOKE } from "./harness.ts";
import { peerDifference } from "./peer-agreement.ts";
import { adapterPathRows } from "./ws-adapter-path.ts";

const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
const SNAPSHOT_SAMPLE_NS = 20_000;

type Rec = BinanceRecording;
const load = loadBinanceRecording;

class OursPath {
  readonly table = new StreamTable();
  readonly scanner = new BinanceScanner();
  /** The diffs' update: its sides are the scanner's module arrays, as a connection's are (BinanceConnection). */
  readonly update = new BookUpdate();
  /** The REST snapshots' own update, as the snapshot fetch has. */
  readonly snap = new BookUpdate();
  readonly builders: BookBuilder[] = [];
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed);
  bytesOut = 0;
  lastU: number[] = [];
  /** The recording's symbol entries by index, once (not an iterator and an array per snapshot). */
  private readonly entries: { priceExp: number; qtyExp: number }[];
  constructor(readonly rec: Rec) {
    this.entries = [...rec.symbols.values()];
    let i = 0;
    for (const [sym, e] of rec.symbols) {
      const inst: Instrument = { instrumentId: instrumentIdOf("binance", rec.market, sym), venue: "binance", market: rec.market, symbol: sym, priceExp: e.priceExp, qtyExp: e.qtyExp, tickSize: "1", lotSize: "1" };
      this.builders.push(new BookBuilder(inst));
      this.table.addStream(e.stream, sym, i++, e.priceExp, e.qtyExp);
      this.lastU.push(0);
    }
    this.scanner.shareSides(this.update);
  }
  onSnapshot(index: number, body: string): void {
    const e = this.entries[index]!;
    if (this.scanner.scanSnapshot(body, e.priceExp, e.qtyExp, this.snap) !== 0) throw new Error("snapshot scan failed");
    const b = this.builders[index]!;
    b.applySnapshot(this.snap);
    this.lastU[index] = this.snap.venueSeq;
    packBookSnapshot(this.packer, b, 0, false);
    this.flush();
  }
  onDiff(frame: string): void {
    const u = this.update;
    const i = this.scanner.scan(frame, this.table, u);
    if (i < 0) throw new Error(`scan failed at ${this.scanner.errorPos}`);
    // The chain check the adapter makes (here it only counts: the replay loops over the recording).
    if (u.venueSeq <= this.lastU[i]!) this.bytesOut++;
    this.lastU[i] = u.venueSeq;
    const b = this.builders[i]!;
    b.applyDelta(u);
    packBookDelta(this.packer, b, b.changes);
    this.flush();
  }
  private flush(): void {
    const p = this.packer;
    p.stampSendTime(1_700_000_000_000_000);
    for (let k = 0; k < p.count; k++) this.bytesOut += p.lengths[k]!;
    p.clear();
  }
}

type CcxtBook = InstanceType<typeof CcxtOrderBook> & {
  bids: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
  asks: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
};

function ccxtDiff(books: Map<string, CcxtBook>, frame: string): void {
  const d = (JSON.parse(frame) as { data: { s: string; U: number; u: number; b: Lvl[]; a: Lvl[] } }).data;
  const book = books.get(d.s)!;
  for (let i = 0; i < d.b.length; i++) book.bids.storeArray([parseFloat(d.b[i]![0]), parseFloat(d.b[i]![1])]);
  for (let i = 0; i < d.a.length; i++) book.asks.storeArray([parseFloat(d.a[i]![0]), parseFloat(d.a[i]![1])]);
}

function ccxtSnapshot(book: CcxtBook, body: string): void {
  const m = JSON.parse(body) as { lastUpdateId: number; bids: Lvl[]; asks: Lvl[] };
  const bids = m.bids.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
  const asks = m.asks.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
  bids.sort((x, y) => y[0]! - x[0]!);
  asks.sort((x, y) => x[0]! - y[0]!);
  book.reset({ bids, asks, nonce: m.lastUpdateId, timestamp: undefined, datetime: undefined } as never);
}

function tardisDiff(books: Map<string, TardisOrderBook>, frame: string): void {
  const d = (JSON.parse(frame) as { data: { s: string; E: number; b: Lvl[]; a: Lvl[] } }).data;
  const level = (l: Lvl) => ({ price: Number(l[0]), amount: Number(l[1]) });
  books.get(d.s)!.update({ type: "book_change", symbol: d.s, exchange: "binance", isSnapshot: false, bids: d.b.map(level), asks: d.a.map(level), timestamp: new Date(d.E), localTimestamp: new Date() } as never);
}

function tardisSnapshot(book: TardisOrderBook, body: string): void {
  const m = JSON.parse(body) as { bids: Lvl[]; asks: Lvl[] };
  const level = (l: Lvl) => ({ price: Number(l[0]), amount: Number(l[1]) });
  book.update({ type: "book_change", symbol: "X", exchange: "binance", isSnapshot: true, bids: m.bids.map(level), asks: m.asks.map(level), timestamp: new Date(), localTimestamp: new Date() } as never);
}

/** Ours, ccxt and tardis after every symbol's REST snapshot and then every diff in order: the same levels in each book. */
function checkAgreement(rec: Rec): string {
  const ours = new OursPath(rec);
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  [...rec.symbols.entries()].forEach(([sym, e], i) => {
    ours.onSnapshot(i, e.body);
    ccxt.set(sym, new CcxtOrderBook({}, undefined) as CcxtBook);
    ccxtSnapshot(ccxt.get(sym)!, e.body);
    tardis.set(sym, new TardisOrderBook());
    tardisSnapshot(tardis.get(sym)!, e.body);
  });
  for (const f of rec.diffs) {
    ours.onDiff(f);
    ccxtDiff(ccxt, f);
    tardisDiff(tardis, f);
  }
  let levels = 0;
  for (const b of ours.builders) {
    const sym = b.instrument.symbol;
    const differs = peerDifference(b, ccxt.get(sym)!, tardis.get(sym)!);
    if (differs !== undefined) return differs;
    levels += b.bidCount + b.askCount;
  }
  return `yes (${ours.builders.length} ${rec.market} books, ${levels} levels after their snapshots + ${rec.diffs.length} diffs)`;
}

interface Row {
  case: string;
  rows: Measurement[];
  ratioMean: number;
  ratioP50: number;
  range: string;
}

function compare(name: string, contenders: Contender[]): Row {
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const rm: number[] = [];
  const rp: number[] = [];
  for (const [o, c, t] of perRound as [Measurement, Measurement, Measurement][]) {
    rm.push(Math.min(c.nsPerOp, t.nsPerOp) / o.nsPerOp);
    rp.push(Math.min(c.p50Ns, t.p50Ns) / o.p50Ns);
  }
  return { case: name, rows, ratioMean: median(rm), ratioP50: median(rp), range: `${Math.min(...rm).toFixed(1)}–${Math.max(...rm).toFixed(1)}×` };
}

function diffRow(rec: Rec, label: string): Row {
  const n = rec.diffs.length;
  const ours = new OursPath(rec);
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const syms = [...rec.symbols.keys()];
  // Each contender restores only its own books before a sample (a shared setup would leave the peers' JSON.parse
  // garbage to be collected inside our timed samples).
  const resetOurs = () => bodies.forEach((b, i) => ours.onSnapshot(i, b));
  const resetCcxt = () =>
    syms.forEach((s, i) => {
      const c = ccxt.get(s) ?? (new CcxtOrderBook({}, undefined) as CcxtBook);
      ccxtSnapshot(c, bodies[i]!);
      ccxt.set(s, c);
    });
  const resetTardis = () =>
    syms.forEach((s, i) => {
      const t = tardis.get(s) ?? new TardisOrderBook();
      tardisSnapshot(t, bodies[i]!);
      tardis.set(s, t);
    });
  resetOurs();
  resetCcxt();
  resetTardis();
  const opts = { inner: 1, opsPerCall: n };
  return compare(label, [
    { name: `ours: scan → applyDelta → encode (${label})`, fn: () => { for (let i = 0; i < n; i++) ours.onDiff(rec.diffs[i]!); }, opts: { ...opts, setup: resetOurs } },
    { name: `ccxt: JSON.parse → parseFloat → storeArray`, fn: () => { for (let i = 0; i < n; i++) ccxtDiff(ccxt, rec.diffs[i]!); }, opts: { ...opts, setup: resetCcxt } },
    { name: `tardis: JSON.parse → {price,amount} → update`, fn: () => { for (let i = 0; i < n; i++) tardisDiff(tardis, rec.diffs[i]!); }, opts: { ...opts, setup: resetTardis } },
  ]);
}

function snapshotRow(rec: Rec, sym: string): Row {
  const e = rec.symbols.get(sym)!;
  const index = [...rec.symbols.keys()].indexOf(sym);
  const ours = new OursPath(rec);
  const c = new CcxtOrderBook({}, undefined) as CcxtBook;
  const t = new TardisOrderBook();
  const m = JSON.parse(e.body) as { bids: unknown[]; asks: unknown[] };
  const label = `${rec.market} ${sym} REST snapshot ${m.bids.length}+${m.asks.length} levels`;
  const opts = { minSampleNs: SNAPSHOT_SAMPLE_NS };
  return compare(label, [
    { name: `ours: scanSnapshot → applySnapshot → encode`, fn: () => ours.onSnapshot(index, e.body), opts },
    { name: `ccxt: JSON.parse → parseOrderBook → reset`, fn: () => ccxtSnapshot(c, e.body), opts },
    { name: `tardis: JSON.parse → objects → update`, fn: () => tardisSnapshot(t, e.body), opts },
  ]);
}

const spot = load("BINANCE", "spot");
const usdm = load("BINANCE_FUTURES", "linear");
console.log(`binance bench — Bun ${Bun.version}; spot ${spot.diffs.length} real diffs, USD-M ${usdm.diffs.length} real diffs; ${ROUNDS} interleaved rounds of ${ROUND_MS} ms\n`);
console.log(`ours, ccxt and tardis books agree after the replay: ${agreed(checkAgreement(spot))}; ${agreed(checkAgreement(usdm))}\n`);
const results: Row[] = [];
for (const r of [diffRow(spot, "spot diffs"), diffRow(usdm, "USD-M diffs"), snapshotRow(spot, [...spot.symbols.keys()][0]!), snapshotRow(usdm, [...usdm.symbols.keys()][0]!)]) {
  console.log(`== ${r.case} ==`);
  printTable(r.rows);
  console.log("");
  results.push(r);
}
const fmt = (ns: number) => (ns < 1000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(2)} µs`);
console.log("== summary: faster peer / ours, per round, median over rounds ==");
printTable(
  results.map((r) => ({
    case: r.case,
    "ours p50": fmt(r.rows[0]!.p50Ns),
    "ours mean": fmt(r.rows[0]!.nsPerOp),
    "ccxt mean": fmt(r.rows[1]!.nsPerOp),
    "tardis mean": fmt(r.rows[2]!.nsPerOp),
    "ratio mean": `${r.ratioMean.toFixed(1)}×`,
    "ratio p50": `${r.ratioP50.toFixed(1)}×`,
    "rounds (mean)": r.range,
    target: "≥ 10×",
    met: r.ratioMean >= 10 && r.ratioP50 >= 10 ? "yes" : r.ratioMean >= 10 || r.ratioP50 >= 10 ? "partly" : "NO",
  })),
);

// ---- the adapter path on the same frames: what the feeder runs per frame beyond scan → apply → encode → seal ----
// Ours on exactly the frames the adapter path times (each book's diffs after its bridging diff), each sample from the
// snapshots and the bridging diffs. The adapter path flushes after every frame (a turn per frame, as a live feed at a
// few frames a millisecond mostly is), and once per pass (every frame in one turn: the flush's share of the rest).
async function adapterPathRow(rec: Rec, label: string, seed: number): Promise<{ path: AdapterPath; live: AdapterPath }> {
  const path = await AdapterPath.create(rec, seed);
  // The live path: a Feeder of its own, its adapters on the live clock (bench/binance-adapter-path.ts).
  const live = await AdapterPath.create(rec, seed + 100, "live");
  const { frames } = path;
  const ours = new OursPath(rec);
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const resetOurs = () =>
    bodies.forEach((b, i) => {
      ours.onSnapshot(i, b);
      ours.onDiff(path.bridging[i]!);
    });
  const oursName = `ours: scan → applyDelta → encode (${label}, the same ${frames.length} frames)`;
  adapterPathRows(label, oursName, { reset: resetOurs, onFrame: (k) => ours.onDiff(frames[k]!) }, path, live, { rounds: ROUNDS, roundMs: ROUND_MS });
  return { path, live };
}
const adapterSpot = await adapterPathRow(spot, "spot diffs", 11);
const adapterUsdm = await adapterPathRow(usdm, "USD-M diffs", 12);

// ---- breakdown of our diff path per frame ----
// Every sample that applies diffs starts from the REST snapshots, as the comparison rows do: replayed a second time
// without them, the recording crosses its books and most of its diffs are then ignored (not LIVE), which measured
// far too cheap (docs/performance.md §2.1).
function breakdown(rec: Rec, label: string): void {
  const ours = new OursPath(rec);
  const reset = () => [...rec.symbols.values()].forEach((e, i) => ours.onSnapshot(i, e.body));
  reset();
  const { scanner, table, builders, packer } = ours;
  const frames = rec.diffs;
  const n = frames.length;
  // The same frames with empty sides: what the scan costs whatever the levels.
  const empty = frames.map((f) => f.replace(/"b":\[.*\],"a":\[.*\]\}\}$/, '"b":[],"a":[]}}'));
  const updates = frames.map((f) => {
    const u = new BookUpdate();
    if (scanner.scan(f, table, u) < 0) throw new Error("scan failed");
    // Cut to its levels: 177/764 updates at 1024 levels (32 KiB each) would time cache misses on the bench's own input.
    u.bidPx = u.bidPx.slice(0, u.bidCount);
    u.bidQty = u.bidQty.slice(0, u.bidCount);
    u.askPx = u.askPx.slice(0, u.askCount);
    u.askQty = u.askQty.slice(0, u.askCount);
    return { u, index: table.indexes[scanner.entry]! };
  });
  for (const f of empty) if (scanner.scan(f, table, new BookUpdate()) < 0) throw new Error(`empty-sided frame not scanned: ${f}`);
  const u = ours.update;
  const buf = Buffer.alloc(1 << 16);
  let sink = 0;
  let crcBytes = 0;
  for (const { u: x, index } of updates) {
    const b = builders[index]!;
    b.applyDelta(x);
    packBookDelta(packer, b, b.changes);
    crcBytes += packer.lengths[0]!;
    packer.clear();
  }
  const crcBuf = packer.bytes[0]!;
  const crcLen = Math.round(crcBytes / n / 8) * 8;
  const crcView = crcBuf.subarray(0, crcLen); // what seal() checksums: an exact-length view (wire/exact-views.ts)
  const opts = { opsPerCall: n, durationMs: QUICK ? 200 : 600, warmupMs: QUICK ? 100 : 300 };
  const fresh = { ...opts, inner: 1, setup: reset };
  const rows: Measurement[] = [
    measure("JSON.parse alone (reference)", () => { for (let i = 0; i < n; i++) sink += (JSON.parse(frames[i]!) as { data: { u: number } }).data.u; }, opts),
    measure("frame copy: Buffer.write", () => { for (let i = 0; i < n; i++) sink += buf.write(frames[i]!, 0); }, opts),
    measure("scan, sides emptied (fixed part, copy included)", () => { for (let i = 0; i < n; i++) sink += scanner.scan(empty[i]!, table, u); }, opts),
    measure("scan (copy included)", () => { for (let i = 0; i < n; i++) sink += scanner.scan(frames[i]!, table, u); }, opts),
    measure("applyDelta (pre-scanned)", () => { for (let i = 0; i < n; i++) builders[updates[i]!.index]!.applyDelta(updates[i]!.u); }, fresh),
    measure("applyDelta + packBookDelta + clear", () => {
      for (let i = 0; i < n; i++) {
        const b = builders[updates[i]!.index]!;
        b.applyDelta(updates[i]!.u);
        packBookDelta(packer, b, b.changes);
        packer.clear();
      }
    }, fresh),
    measure("applyDelta + packBookDelta + seal + clear", () => {
      for (let i = 0; i < n; i++) {
        const b = builders[updates[i]!.index]!;
        b.applyDelta(updates[i]!.u);
        packBookDelta(packer, b, b.changes);
        packer.seal(1_700_000_000_000_000);
        packer.clear();
      }
    }, fresh),
    measure(`datagram CRC-32 alone, as seal() runs it, ${crcLen} B (the mean datagram)`, () => { for (let i = 0; i < n; i++) sink += datagramCrc32Zeroed(crcView); }, opts),
    measure("floor: Buffer.write + datagram CRC-32", () => {
      for (let i = 0; i < n; i++) sink += buf.write(frames[i]!, 0) + datagramCrc32Zeroed(crcView);
    }, opts),
    measure("whole path: scan → applyDelta → packBookDelta → seal → clear", () => {
      for (let i = 0; i < n; i++) {
        const r = scanner.scan(frames[i]!, table, u);
        const b = builders[r]!;
        b.applyDelta(u);
        packBookDelta(packer, b, b.changes);
        packer.seal(1_700_000_000_000_000);
        packer.clear();
      }
    }, fresh),
  ];
  const by = (k: number) => rows[k]!.nsPerOp;
  console.log(`\n== breakdown: ${label}, ${n} real diffs, ${(frames.reduce((a, f) => a + f.length, 0) / n).toFixed(0)} B mean, every sample from the snapshots (mean ns per frame) ==`);
  printTable(rows);
  console.log(
    `derived: scan of the levels ${(by(3) - by(2)).toFixed(0)} ns, scan without the copy ${(by(3) - by(1)).toFixed(0)} ns, ` +
      `packBookDelta + clear ${(by(5) - by(4)).toFixed(0)} ns, seal ${(by(6) - by(5)).toFixed(0)} ns (sink ${sink > 0 ? "ok" : "?"})`,
  );
}
breakdown(spot, "spot");
breakdown(usdm, "USD-M");

// ---- breakdown of our snapshot path (the first symbol's REST body), and the two level readers side by side ----
function snapshotBreakdown(rec: Rec, label: string): void {
  const [sym, e] = [...rec.symbols.entries()][0]!;
  const body = e.body;
  const ours = new OursPath(rec);
  ours.onSnapshot(0, body);
  const builder = ours.builders[0]!;
  const packer = ours.packer;
  const tsOnly = new BinanceScanner(false);
  const u = new BookUpdate();
  const v = new BookUpdate();
  if (ours.scanner.scanSnapshot(body, e.priceExp, e.qtyExp, u) !== 0 || tsOnly.scanSnapshot(body, e.priceExp, e.qtyExp, v) !== 0) throw new Error("snapshot scan failed");
  const buf = Buffer.alloc(3 * body.length + 8);
  let sink = 0;
  const opts = { minSampleNs: SNAPSHOT_SAMPLE_NS, durationMs: QUICK ? 200 : 600, warmupMs: QUICK ? 100 : 300 };
  const rows: Measurement[] = [
    measure(`frame copy: Buffer.write (${body.length} B)`, () => { sink += buf.write(body, 0); }, opts),
    measure("applySnapshot (pre-scanned)", () => builder.applySnapshot(u), opts),
    measure("applySnapshot + packBookSnapshot + clear", () => {
      builder.applySnapshot(u);
      packBookSnapshot(packer, builder, 0, false);
      packer.clear();
    }, opts),
    measure("applySnapshot + packBookSnapshot + seal + clear", () => {
      builder.applySnapshot(u);
      packBookSnapshot(packer, builder, 0, false);
      packer.seal(1_700_000_000_000_000);
      packer.clear();
    }, opts),
  ];
  // The readers in interleaved rounds: scanSnapshot with the WebAssembly side reader (what runs) and without it.
  const { rows: readers, perRound } = measureRounds(
    [
      { name: "scanSnapshot, sides in WebAssembly (levels-wasm.ts)", fn: () => { sink += ours.scanner.scanSnapshot(body, e.priceExp, e.qtyExp, u); }, opts },
      { name: "scanSnapshot, TypeScript reader only", fn: () => { sink += tsOnly.scanSnapshot(body, e.priceExp, e.qtyExp, v); }, opts },
      { name: "whole path: scanSnapshot → applySnapshot → pack → seal → clear", fn: () => ours.onSnapshot(0, body), opts },
    ],
    { rounds: ROUNDS, roundMs: QUICK ? 150 : 300 },
  );
  const levels = u.bidCount + u.askCount;
  console.log(`\n== snapshot breakdown: ${label} ${sym}, ${levels} levels, ${body.length} B (mean per snapshot) ==`);
  printTable([...rows, ...readers]);
  const ratio = median(perRound.map(([w, t]) => w!.p50Ns / t!.p50Ns));
  console.log(
    `WebAssembly / TypeScript reader, p50: ${ratio.toFixed(2)}× (median of per-round ratios); per level ${(readers[0]!.p50Ns / levels).toFixed(1)} / ` +
      `${(readers[1]!.p50Ns / levels).toFixed(1)} ns (sink ${sink > 0 ? "ok" : "?"})`,
  );
}
snapshotBreakdown(spot, "spot");
snapshotBreakdown(usdm, "USD-M");

// ---- allocation in steady state over many real diffs (and their snapshots) ----
{
  const rec = usdm;
  const ours = new OursPath(rec);
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  // A step is one real diff, and the 4 snapshots that restart the real sequence before every pass over them.
  let k = 0;
  const step = () => {
    if (k === 0) for (let j = 0; j < bodies.length; j++) ours.onSnapshot(j, bodies[j]!);
    ours.onDiff(rec.diffs[k]!);
    k = k + 1 === rec.diffs.length ? 0 : k + 1;
  };
  for (let i = 0; i < (SMOKE ? 2_000 : 200_000); i++) step();
  const frames = SMOKE ? 2_000 : QUICK ? 200_000 : 1_000_000;
  // The adapter path: one pass over its frames per chunk, the books reset to their snapshots before it (not counted:
  // a resync's bridge copies its diffs), so a chunk is LIVE books only; a full GC per pass bounds how many passes.
  const { path: a, live } = adapterUsdm;
  const n = a.frames.length;
  for (let i = 0; i < 3 * n; i++) {
    if (i % n === 0) a.reset(), live.reset();
    a.onFrame(i % n);
    live.onLiveFrame(i % n);
  }
  const passes = SMOKE ? 3 : QUICK ? 20 : 100;
  const adapterAlloc = measureAllocation(0, passes * n, (i) => a.onFrame(i % n), { chunkSteps: n, beforeChunk: () => a.reset() });
  // The live path's reset makes its frames anew (their exchange times): not counted, as the books' reset.
  const liveAlloc = measureAllocation(0, passes * n, (i) => live.onLiveFrame(i % n), { chunkSteps: n, beforeChunk: () => live.reset() });
  for (const [p, name] of [[a, "adapter"], [live, "live"]] as const) {
    const wrong = p.check();
    if (wrong !== "") throw new Error(`USD-M ${name} path left the steady state: ${wrong}`);
  }
  console.log("\n== allocation in steady state ==\nper frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k, or per pass)");
  printTable([
    allocationRow(`ours: real USD-M diffs (+ their 4 snapshots every ${rec.diffs.length})`, measureAllocation(0, frames, step)),
    allocationRow(`adapter path: the USD-M diffs after each bridging diff (${n} a pass, reset between passes)`, adapterAlloc),
    allocationRow("live path: the same diffs through the socket's onFrameAt, live clocks", liveAlloc),
    allocationRow("control: a 32 B object per step", allocationControl(Math.min(frames, 100_000))),
  ]);
}
for (const p of [adapterSpot.path, adapterSpot.live, adapterUsdm.path, adapterUsdm.live]) await p.stop();
