/**
 * Coinbase Advanced Trade l2_data frame → book → encoded datagram, no I/O (`bun bench/coinbase.bench.ts`).
 *
 * There is no genuine Advanced Trade l2_data recording (docs/venues/coinbase.md, "Recordings"): the frames are the
 * simulator's (src/sim/coinbase-sim-frames.ts, the documented shape): BTC-USD at tick 0.01 / lot 0.00000001 with
 * prices and sizes printed as Coinbase prints them ("68900.00", "2.00000000"); updates from 2,000 steps of the
 * simulated market (sim-book.ts) on one product, and the same steps as two-product frames (two events per frame);
 * full-depth snapshots of 200, 1,000 and 10,000 levels per side (liquid Coinbase books run to thousands of levels).
 *
 * Ours, per frame: CoinbaseScanner.scan → per event BookBuilder.applyDelta / applySnapshot → packBookDelta /
 * packBookSnapshot into a ChannelPacker → stampSendTime → clear.
 * Peers, per frame, as their Coinbase handlers do it: JSON.parse(frame), then per event:
 * - ccxt (pro/coinbase.js handleOrderBook for l2_data): a snapshot resets the book; every update is
 *   safeNumber → parseFloat of price_level / new_quantity → bids/asks storeArray, by side.
 * - tardis-dev (its OrderBook, the Coinbase book-change shape): {price, amount} objects by side via parseFloat →
 *   OrderBook.update({isSnapshot, bids, asks}).
 * Rounds interleave ours, ccxt and tardis (as bybit.bench.ts); ratios within each round, then the median.
 * Target (issue #13): ≥ 10× the faster peer.
 * @module
 */
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument } from "../src/core/types.ts";
import { envelope, eventJson, timestamp } from "../src/sim/coinbase-sim-frames.ts";
import { Rng } from "../src/sim/rng.ts";
import { defaultSpec, diffLevels, SimBook, type Levels } from "../src/sim/sim-book.ts";
import { CB_L2, CoinbaseScanner, EventPool } from "../src/venues/coinbase/scanner.ts";
import { ProductTable } from "../src/venues/coinbase/product-table.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { peerDifference } from "./peer-agreement.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { agreed, measure, measureRounds, median, printTable, type Contender, type Measurement, QUICK, SMOKE } from "./harness.ts";

const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
const SNAPSHOT_SAMPLE_NS = 20_000;
const PRODUCTS = ["BTC-USD", "ETH-USD"];
/**
 * BTC-USD as Coinbase lists it (tick 0.01, lot 1e-8). The fair price moves ~0.1 tick per step, so an update frame
 * carries a few levels (4 on average) as level2 updates do, instead of a window shifted by a hundred ticks.
 */
const SPEC = { tickSize: "0.01", lotSize: "0.00000001", typicalLots: 5_000_000, priceDecimals: 2, volPerSqrtS: 1e-6 };

function instrument(symbol: string): Instrument {
  return { instrumentId: instrumentIdOf("coinbase", "spot", symbol), venue: "coinbase", market: "spot", symbol, priceExp: 2, qtyExp: 8, tickSize: SPEC.tickSize, lotSize: SPEC.lotSize };
}

// ---- frames from the simulator ----

const rng = new Rng(23);
const books = PRODUCTS.map((p) => new SimBook({ ...defaultSpec("spot", p), ...SPEC }, rng, 10_000));
const pairs = (l: Levels): [number, number][] => l.px.map((px, i) => [px, l.qty[i]!]);
const time = timestamp(Date.UTC(2026, 11, 4, 12));
let seq = 0;
function snapshotFrame(b: SimBook, product: string, levels: number): string {
  return envelope("l2_data", seq++, [eventJson("snapshot", product, b, pairs(b.windowLevels(true, levels)), pairs(b.windowLevels(false, levels)), time)], time);
}
const snapshots: [number, string][] = [200, 1_000, 10_000].map((n) => [n, snapshotFrame(books[0]!, "BTC-USD", n)]);
/** Updates against the 1,000/side book the snapshot row starts from. */
const DEPTH = 1_000;
const start = snapshotFrame(books[0]!, "BTC-USD", DEPTH);
const startBoth = envelope("l2_data", seq++, PRODUCTS.map((p, i) => eventJson("snapshot", p, books[i]!, pairs(books[i]!.windowLevels(true, DEPTH)), pairs(books[i]!.windowLevels(false, DEPTH)), time)), time);
const published = books.map((b) => ({ bids: b.windowLevels(true, DEPTH), asks: b.windowLevels(false, DEPTH) }));
function stepEvent(i: number): string {
  const b = books[i]!;
  b.mutate(rng.next() < 0.05 ? rng.int(20, 150) : rng.int(1, 5));
  const bids = b.windowLevels(true, DEPTH);
  const asks = b.windowLevels(false, DEPTH);
  const e = eventJson("update", PRODUCTS[i]!, b, diffLevels(published[i]!.bids, bids, true), diffLevels(published[i]!.asks, asks, false), time);
  published[i] = { bids, asks };
  return e;
}
const STEPS = SMOKE ? 200 : 2_000;
const single: string[] = [];
const multi: string[] = [];
for (let k = 0; k < STEPS; k++) {
  // The single-product stream is BTC alone; the two-product stream interleaves both books' steps in one frame.
  const btc = stepEvent(0);
  single.push(envelope("l2_data", seq++, [btc], time));
  multi.push(envelope("l2_data", seq++, [btc, stepEvent(1)], time));
}
// Replaying `single` needs the book the steps started from: the BTC window before the first step.
const BTC_START = start;

// ---- ours ----

class OursPath {
  readonly table = new ProductTable();
  readonly scanner = new CoinbaseScanner();
  readonly pool = new EventPool();
  readonly builders = PRODUCTS.map((p) => new BookBuilder(instrument(p)));
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed);
  bytesOut = 0;
  constructor() {
    PRODUCTS.forEach((p, i) => this.table.add(p, i, 2, 8));
  }
  onFrame(frame: string): void {
    if (this.scanner.scan(frame, this.table, this.pool) !== CB_L2) throw new Error("scan failed");
    const pool = this.pool;
    const packer = this.packer;
    for (let i = 0; i < pool.count; i++) {
      const u = pool.updates[i]!;
      u.tsRecvUs = 1_796_400_000_000_000;
      const builder = this.builders[this.table.indexes[pool.entries[i]!]!]!;
      if (u.isSnapshot) {
        if (builder.applySnapshot(u) !== ApplyResult.APPLIED) throw new Error("snapshot not applied");
        packBookSnapshot(packer, builder, 0, false);
      } else {
        if (builder.applyDelta(u) !== ApplyResult.APPLIED) throw new Error("delta not applied");
        packBookDelta(packer, builder, builder.changes);
      }
    }
    packer.stampSendTime(1_796_400_000_000_005);
    for (let i = 0; i < packer.count; i++) this.bytesOut += packer.lengths[i]!;
    packer.clear();
  }
}

// ---- peers ----

interface CbUpdate { side: string; price_level: string; new_quantity: string }
interface CbEvent { type: string; product_id: string; updates: CbUpdate[] }
type CcxtBook = InstanceType<typeof CcxtOrderBook> & { bids: { storeArray(l: number[]): void; length: number; [i: number]: number[] }; asks: { storeArray(l: number[]): void; length: number; [i: number]: number[] } };

function ccxtOnFrame(books: CcxtBook[], frame: string): void {
  const msg = JSON.parse(frame) as { events: CbEvent[] };
  for (const e of msg.events) {
    const book = books[PRODUCTS.indexOf(e.product_id)]!;
    if (e.type === "snapshot") book.reset({} as never);
    for (const u of e.updates) {
      const level = [parseFloat(u.price_level), parseFloat(u.new_quantity)];
      if (u.side === "bid") book.bids.storeArray(level);
      else book.asks.storeArray(level);
    }
  }
}

function tardisOnFrame(books: TardisOrderBook[], frame: string): void {
  const msg = JSON.parse(frame) as { events: CbEvent[]; timestamp: string };
  for (const e of msg.events) {
    const bids: { price: number; amount: number }[] = [];
    const asks: { price: number; amount: number }[] = [];
    for (const u of e.updates) (u.side === "bid" ? bids : asks).push({ price: parseFloat(u.price_level), amount: parseFloat(u.new_quantity) });
    books[PRODUCTS.indexOf(e.product_id)]!.update({ type: "book_change", symbol: e.product_id, exchange: "coinbase", isSnapshot: e.type === "snapshot", bids, asks, timestamp: new Date(msg.timestamp), localTimestamp: new Date() } as never);
  }
}

function agreement(): string {
  const ours = new OursPath();
  const ccxt = PRODUCTS.map(() => new CcxtOrderBook({}, undefined) as CcxtBook);
  const tardis = PRODUCTS.map(() => new TardisOrderBook());
  for (const f of [startBoth, ...multi]) {
    ours.onFrame(f);
    ccxtOnFrame(ccxt, f);
    tardisOnFrame(tardis, f);
  }
  // Prices and sizes of both sides against both peers (mantissas at 2 and 8 decimals, as instrument() gives them).
  const near = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y));
  for (let k = 0; k < PRODUCTS.length; k++) {
    const b = ours.builders[k]!;
    const c = ccxt[k]!;
    const tb = [...tardis[k]!.bids()];
    const ta = [...tardis[k]!.asks()];
    if (b.bidCount !== c.bids.length || b.bidCount !== tb.length || b.askCount !== c.asks.length || b.askCount !== ta.length) return `NO: ${PRODUCTS[k]} level counts differ`;
    for (let i = 0; i < b.bidCount; i++) {
      const p = b.bidPriceAt(i) / 100;
      const q = b.bidQtyAt(i) / 1e8;
      if (!near(p, c.bids[i]![0]!) || !near(p, tb[i]!.price) || !near(q, c.bids[i]![1]!) || !near(q, tb[i]!.amount)) return `NO: ${PRODUCTS[k]} bid ${i}`;
    }
    for (let i = 0; i < b.askCount; i++) {
      const p = b.askPriceAt(i) / 100;
      const q = b.askQtyAt(i) / 1e8;
      if (!near(p, c.asks[i]![0]!) || !near(p, ta[i]!.price) || !near(q, c.asks[i]![1]!) || !near(q, ta[i]!.amount)) return `NO: ${PRODUCTS[k]} ask ${i}`;
    }
  }
  return `yes (${PRODUCTS.map((_, k) => `${ours.builders[k]!.bidCount} + ${ours.builders[k]!.askCount}`).join(", ")} levels after ${multi.length} two-product frames)`;
}

function compare(contenders: Contender[]): { rows: Measurement[]; ratioMean: number; ratioP50: number; range: string } {
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const rm = perRound.map(([o, c, t]) => Math.min(c!.nsPerOp, t!.nsPerOp) / o!.nsPerOp);
  const rp = perRound.map(([o, c, t]) => Math.min(c!.p50Ns, t!.p50Ns) / o!.p50Ns);
  return { rows, ratioMean: median(rm), ratioP50: median(rp), range: `${Math.min(...rm).toFixed(1)}–${Math.max(...rm).toFixed(1)}×` };
}

function streamContenders(name: string, frames: string[], startFrame: string): Contender[] {
  const n = frames.length;
  const ours = new OursPath();
  const ccxt = PRODUCTS.map(() => new CcxtOrderBook({}, undefined) as CcxtBook);
  const tardis = PRODUCTS.map(() => new TardisOrderBook());
  const opts = { inner: 1, opsPerCall: n };
  return [
    { name: `ours: scan → apply → encode, ${name}`, fn: () => { for (let i = 0; i < n; i++) ours.onFrame(frames[i]!); }, opts: { ...opts, setup: () => ours.onFrame(startFrame) } },
    { name: `ccxt: JSON.parse → parseFloat → storeArray, ${name}`, fn: () => { for (let i = 0; i < n; i++) ccxtOnFrame(ccxt, frames[i]!); }, opts: { ...opts, setup: () => ccxtOnFrame(ccxt, startFrame) } },
    { name: `tardis: JSON.parse → objects → update, ${name}`, fn: () => { for (let i = 0; i < n; i++) tardisOnFrame(tardis, frames[i]!); }, opts: { ...opts, setup: () => tardisOnFrame(tardis, startFrame) } },
  ];
}

/**
 * The three contenders on one BTC-USD snapshot frame, and the check that their books hold the same levels once timed:
 * agreement() above covers the two-product frames only.
 */
function snapshotContenders(levels: number, frame: string): { contenders: Contender[]; agreement: () => string } {
  const ours = new OursPath();
  const ccxt = PRODUCTS.map(() => new CcxtOrderBook({}, undefined) as CcxtBook);
  const tardis = PRODUCTS.map(() => new TardisOrderBook());
  const opts = { minSampleNs: SNAPSHOT_SAMPLE_NS };
  const agreement = () => {
    const b = ours.builders[0]!;
    return peerDifference(b, ccxt[0]!, tardis[0]!) ?? `yes (${b.bidCount} + ${b.askCount} levels)`;
  };
  return {
    contenders: [
      { name: `ours: snapshot ${levels}/side`, fn: () => ours.onFrame(frame), opts },
      { name: `ccxt: snapshot ${levels}/side`, fn: () => ccxtOnFrame(ccxt, frame), opts },
      { name: `tardis: snapshot ${levels}/side`, fn: () => tardisOnFrame(tardis, frame), opts },
    ],
    agreement,
  };
}

const avg = (fs: string[]) => (fs.reduce((s, f) => s + f.length, 0) / fs.length).toFixed(0);
const levelsPer = (fs: string[]) => (fs.reduce((s, f) => s + (f.match(/"side"/g)?.length ?? 0), 0) / fs.length).toFixed(1);
console.log(`coinbase bench — Bun ${Bun.version}; simulator frames: ${STEPS} single-product updates (${avg(single)} B, ${levelsPer(single)} levels avg), ${STEPS} two-product frames (${avg(multi)} B, ${levelsPer(multi)} levels avg); ` +
  `snapshots ${snapshots.map(([n, f]) => `${n}/side ${(f.length / 1024).toFixed(0)} KB`).join(", ")}`);
console.log(`ours, ccxt and tardis books agree: ${agreed(agreement())}\n`);

const summary: Record<string, unknown>[] = [];
const fmt = (ns: number) => (ns < 1000 ? `${ns.toFixed(0)} ns` : ns < 1e6 ? `${(ns / 1000).toFixed(2)} µs` : `${(ns / 1e6).toFixed(2)} ms`);
function report(name: string, cmp: ReturnType<typeof compare>): void {
  printTable(cmp.rows);
  const [o, c, t] = cmp.rows;
  summary.push({ case: name, "ours p50": fmt(o!.p50Ns), "ours mean": fmt(o!.nsPerOp), "ccxt mean": fmt(c!.nsPerOp), "tardis mean": fmt(t!.nsPerOp), "ratio mean": `${cmp.ratioMean.toFixed(1)}×`, "ratio p50": `${cmp.ratioP50.toFixed(1)}×`, rounds: cmp.range, "≥ 10×": cmp.ratioMean >= 10 && cmp.ratioP50 >= 10 ? "yes" : cmp.ratioMean >= 10 || cmp.ratioP50 >= 10 ? "partly" : "NO" });
  console.log("");
}

console.log(`(${ROUNDS} interleaved rounds of ${ROUND_MS} ms per contender; medians over rounds)\n`);
console.log("== one update frame, one product (per frame) ==");
report("update, 1 product", compare(streamContenders("1 product", single, BTC_START)));
console.log("== one update frame, two products' events (per frame) ==");
report("update, 2 products", compare(streamContenders("2 products", multi, startBoth)));
for (const [levels, frame] of snapshots) {
  console.log(`== one full-depth snapshot, ${levels} levels per side (${(frame.length / 1024).toFixed(0)} KB) ==`);
  const { contenders, agreement } = snapshotContenders(levels, frame);
  const cmp = compare(contenders);
  console.log(`ours, ccxt and tardis books agree after this snapshot: ${agreed(agreement())}`);
  report(`snapshot ${levels}/side`, cmp);
}

console.log("== JSON.parse alone (the floor of every JSON.parse-based path) ==");
let sinkN = 0;
printTable([
  measure("JSON.parse only, 1-product update", () => { for (const f of single) sinkN += (JSON.parse(f) as { sequence_num: number }).sequence_num; }, { opsPerCall: single.length, durationMs: QUICK ? 300 : 1000 }),
  ...snapshots.map(([n, f]) => measure(`JSON.parse only, snapshot ${n}/side`, () => { sinkN += (JSON.parse(f) as { sequence_num: number }).sequence_num; }, { durationMs: QUICK ? 300 : 1000, minSampleNs: SNAPSHOT_SAMPLE_NS })),
]);

console.log("\n== allocation in steady state per frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k) ==");
{
  const ours = new OursPath();
  const step = (i: number) => {
    if (i % STEPS === 0) ours.onFrame(startBoth);
    ours.onFrame(multi[i % STEPS]!);
  };
  for (let i = 0; i < (SMOKE ? 2_000 : 50_000); i++) step(i);
  const frames = SMOKE ? 2_000 : QUICK ? 100_000 : 400_000;
  printTable([
    allocationRow(`ours: two-product frames (+ a 1,000/side snapshot pair every ${STEPS})`, measureAllocation(0, frames, step)),
    allocationRow("control: a 32 B object per step", allocationControl(frames)),
  ]);
}
if (sinkN === 42) console.log("");

console.log("\n== summary: ratio = faster peer / ours, per round, median over rounds ==");
printTable(summary);
