/**
 * Deribit frame → book → encoded datagram, no I/O (`bun bench/deribit.bench.ts`), on the genuine recording
 * (test/fixtures/cryptofeed/DERIBIT.ws.1.0: 10 options, 10 snapshots + 36 changes, 1–22 levels per frame).
 *
 * Ours, per frame: DeribitScanner.scan → the change_id check → BookBuilder.applySnapshot / applyDelta →
 * packBookSnapshot / packBookDelta into a ChannelPacker → stampSendTime → clear: the core of what the feeder does for a
 * frame (scanner, book, encoder, seal). Not in it: the venue adapter's sequence rules and checks, the app's VenuePipeline
 * (its clock reads and latency histograms) and the publisher's flush per turn, nor the sendMany syscall; measured on
 * Binance's diffs they take the path to ~1.8–2.1× this row (bench/binance.bench.ts, "adapter path"; docs/performance.md
 * §10), so a ratio against the peers here is for that core, not for the whole feeder.
 * Peers, per frame, as their Deribit handlers do it:
 * - ccxt (pro/deribit.js handleOrderBook): JSON.parse → CountedOrderBook per instrument, handleDelta per level
 *   (storeArray([price, amount, 1 | 0])); it never clears on a snapshot.
 * - tardis-dev (mappers/deribit.ts): JSON.parse → {price, amount} per level (delete → 0) → OrderBook.update.
 * Rows are per frame over one pass of the 46 book frames (the snapshots come first for each instrument, so every
 * pass replays the same books); 7 interleaved rounds (bench/harness.ts measureRounds), ratios within each round.
 * Target: ≥ 10× the faster peer (issue #13), or a measured reason why not.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { CountedOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { ChangeSet } from "../src/core/change-set.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument } from "../src/core/types.ts";
import { ChannelTable } from "../src/venues/deribit/channel-table.ts";
import { DeribitScanner } from "../src/venues/deribit/scanner.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { advanceChannel, ChannelSim, deribitSpec, InstrumentSim, snapshotFrame } from "../src/sim/deribit-sim-book.ts";
import { Rng } from "../src/sim/rng.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { agreed, measure, measureRounds, median, printTable, type Contender, type Measurement, QUICK, SMOKE } from "./harness.ts";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/cryptofeed/DERIBIT.ws.1.0", import.meta.url));
const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
const PRICE_EXP = 4; // options: tick 0.0005
const QTY_EXP = 1; // lot 0.1

const frames = readFileSync(FIXTURE, "utf8")
  .split("\n")
  .map((l) => /^\d+\.\d+: (\{.*"channel":"book\..*)$/.exec(l)?.[1])
  .filter((f): f is string => f !== undefined);
const names = [...new Set(frames.map((f) => /"channel":"book\.([^"]+)\.raw"/.exec(f)![1]!))];
const changes = frames.filter((f) => f.includes('"type":"change"'));
const snapshots = frames.filter((f) => f.includes('"type":"snapshot"'));

/** Synthetic frames in Deribit's exact format at full-book size (the simulator's generator, src/sim/deribit-sim-book.ts): BTC-PERPETUAL, 200+ levels per side, a snapshot then changes of 1–5 book events (bursts of 20–80). */
const GEN_SYMBOL = "BTC-PERPETUAL";
const genRng = new Rng(3);
const genInst = new InstrumentSim("inverse", GEN_SYMBOL, deribitSpec("inverse", GEN_SYMBOL), genRng);
const genChannel = new ChannelSim(`book.${GEN_SYMBOL}.100ms`, 0, genInst);
advanceChannel(genChannel, genRng);
genChannel.changeId = genInst.changeId;
const genSnapshot = snapshotFrame(genChannel, genRng);
const genChanges: string[] = [];
while (genChanges.length < 300) {
  genInst.book.mutate(genRng.next() < 0.05 ? genRng.int(20, 80) : genRng.int(1, 5));
  genInst.changeId += genRng.int(1, 40);
  const f = advanceChannel(genChannel, genRng);
  if (f !== null) genChanges.push(f);
}
const genFrames = [genSnapshot, ...genChanges];

class OursPath {
  readonly table = new ChannelTable();
  readonly scanner = new DeribitScanner();
  readonly update = new BookUpdate();
  readonly changes = new ChangeSet();
  readonly builders: BookBuilder[];
  readonly lastChangeId: number[];
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed);
  bytesOut = 0;
  constructor() {
    this.builders = names.map((symbol, i) => {
      this.table.add(`book.${symbol}.raw`, i, PRICE_EXP, QTY_EXP, false);
      const inst: Instrument = { instrumentId: instrumentIdOf("deribit", "option", symbol), venue: "deribit", market: "option", symbol, priceExp: PRICE_EXP, qtyExp: QTY_EXP, tickSize: "0.0005", lotSize: "0.1" };
      return new BookBuilder(inst, { changes: this.changes });
    });
    this.lastChangeId = names.map(() => 0);
    const gi = this.builders.length;
    this.table.add(genChannel.name, gi, 1, 0, false);
    const inst: Instrument = { instrumentId: instrumentIdOf("deribit", "inverse", GEN_SYMBOL), venue: "deribit", market: "inverse", symbol: GEN_SYMBOL, priceExp: 1, qtyExp: 0, tickSize: "0.5", lotSize: "10" };
    this.builders.push(new BookBuilder(inst, { changes: this.changes }));
    this.lastChangeId.push(0);
  }
  onFrame(frame: string): void {
    const u = this.update;
    const i = this.scanner.scan(frame, this.table, u);
    if (i < 0) throw new Error(`scan failed at ${this.scanner.errorPos}`);
    u.tsRecvUs = 1_626_993_724_000_000;
    const b = this.builders[i]!;
    if (u.isSnapshot) {
      if (b.applySnapshot(u) !== ApplyResult.APPLIED) throw new Error("snapshot not applied");
      packBookSnapshot(this.packer, b, 0, false);
    } else {
      if (this.scanner.prevChangeId !== this.lastChangeId[i]) throw new Error("chain broken");
      if (b.applyDelta(u) !== ApplyResult.APPLIED) throw new Error("delta not applied");
      packBookDelta(this.packer, b, b.changes);
    }
    this.lastChangeId[i] = u.venueSeq;
    this.packer.stampSendTime(u.tsRecvUs + 5);
    for (let k = 0; k < this.packer.count; k++) this.bytesOut += this.packer.lengths[k]!;
    this.packer.clear();
  }
}

type Level = [string, number, number];
interface DeribitMsg {
  params: { channel: string; data: { type: string; timestamp: number; instrument_name: string; change_id: number; prev_change_id?: number; bids: Level[]; asks: Level[] } };
}
type CcxtSide = { storeArray(l: number[]): void; length: number; [i: number]: number[] };
type CcxtBook = { bids: CcxtSide; asks: CcxtSide };

/** ccxt pro deribit handleOrderBook. */
function ccxtOnFrame(books: Map<string, CcxtBook>, frame: string): void {
  const d = (JSON.parse(frame) as DeribitMsg).params.data;
  let book = books.get(d.instrument_name);
  if (!book) books.set(d.instrument_name, (book = new CountedOrderBook({}, undefined) as unknown as CcxtBook));
  for (const [side, levels] of [[book.asks, d.asks], [book.bids, d.bids]] as const) {
    for (let k = 0; k < levels.length; k++) {
      const l = levels[k]!;
      side.storeArray([l[1], l[2], l[0] === "delete" ? 0 : 1]);
    }
  }
}

/** tardis-dev deribitBookChangeMapper + OrderBook.update. */
function tardisOnFrame(books: Map<string, TardisOrderBook>, frame: string): void {
  const d = (JSON.parse(frame) as DeribitMsg).params.data;
  let book = books.get(d.instrument_name);
  if (!book) books.set(d.instrument_name, (book = new TardisOrderBook()));
  const level = (l: Level) => ({ price: l[1], amount: l[0] === "delete" ? 0 : l[2] });
  book.update({ type: "book_change", symbol: d.instrument_name, exchange: "deribit", isSnapshot: d.type === "snapshot" || d.prev_change_id === undefined, bids: d.bids.map(level), asks: d.asks.map(level), timestamp: new Date(d.timestamp), localTimestamp: new Date() } as never);
}

function checkAgreement(): string {
  const ours = new OursPath();
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  for (const f of [...frames, ...genFrames]) {
    ours.onFrame(f);
    ccxtOnFrame(ccxt, f);
    tardisOnFrame(tardis, f);
  }
  let levels = 0;
  for (const [i, name] of [...names, GEN_SYMBOL].entries()) {
    const pExp = i < names.length ? PRICE_EXP : 1;
    const qExp = i < names.length ? QTY_EXP : 0;
    const b = ours.builders[i]!;
    const c = ccxt.get(name)!;
    const t = tardis.get(name)!;
    const tb = [...t.bids()];
    const ta = [...t.asks()];
    if (b.bidCount !== c.bids.length || b.bidCount !== tb.length || b.askCount !== c.asks.length || b.askCount !== ta.length) return `NO: ${name} level counts differ`;
    for (let r = 0; r < b.bidCount; r++) {
      const p = b.bidPriceAt(r) / 10 ** pExp;
      const q = b.bidQtyAt(r) / 10 ** qExp;
      if (p !== c.bids[r]![0] || p !== tb[r]!.price || q !== c.bids[r]![1] || q !== tb[r]!.amount) return `NO: ${name} bid ${r}`;
    }
    for (let r = 0; r < b.askCount; r++) {
      const p = b.askPriceAt(r) / 10 ** pExp;
      const q = b.askQtyAt(r) / 10 ** qExp;
      if (p !== c.asks[r]![0] || p !== ta[r]!.price || q !== c.asks[r]![1] || q !== ta[r]!.amount) return `NO: ${name} ask ${r}`;
    }
    levels += b.bidCount + b.askCount;
  }
  return `yes (${names.length} recorded books + 1 generated, ${levels} levels after ${snapshots.length + 1} snapshots + ${changes.length + genChanges.length} changes)`;
}

interface Compared {
  rows: Measurement[];
  ratioMean: number[];
  ratioP50: number[];
}

function compare(list: readonly string[], label: string, opts: { minSampleNs?: number } = {}): Compared {
  const n = list.length;
  const ours = new OursPath();
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  // One call replays the whole list (snapshots first), so every call sees the same books.
  const o = n === 1 ? { minSampleNs: opts.minSampleNs ?? 20_000 } : { inner: 1, opsPerCall: n };
  const contenders: Contender[] = [
    { name: `ours: scan → chain check → apply → encode (${label})`, fn: () => { for (let k = 0; k < n; k++) ours.onFrame(list[k]!); }, opts: o },
    { name: `ccxt: JSON.parse → storeArray (${label})`, fn: () => { for (let k = 0; k < n; k++) ccxtOnFrame(ccxt, list[k]!); }, opts: o },
    { name: `tardis: JSON.parse → {price,amount} → update (${label})`, fn: () => { for (let k = 0; k < n; k++) tardisOnFrame(tardis, list[k]!); }, opts: o },
  ];
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const ratioMean: number[] = [];
  const ratioP50: number[] = [];
  for (const [a, c, t] of perRound as [Measurement, Measurement, Measurement][]) {
    ratioMean.push(Math.min(c.nsPerOp, t.nsPerOp) / a.nsPerOp);
    ratioP50.push(Math.min(c.p50Ns, t.p50Ns) / a.p50Ns);
  }
  return { rows, ratioMean, ratioP50 };
}

/** Parts of our path alone, on the same frames: scan only, and JSON.parse only (the floor of a JSON.parse path). */
function parts(): Measurement[] {
  const ours = new OursPath();
  let sink = 0;
  const n = frames.length;
  const rows = [
    measure("JSON.parse only, per recorded frame", () => {
      for (let k = 0; k < n; k++) sink += (JSON.parse(frames[k]!) as DeribitMsg).params.data.change_id;
    }, { opsPerCall: n, durationMs: QUICK ? 300 : 1000 }),
    measure("ours: scan only, per recorded frame", () => {
      for (let k = 0; k < n; k++) sink += ours.scanner.scan(frames[k]!, ours.table, ours.update);
    }, { opsPerCall: n, durationMs: QUICK ? 300 : 1000 }),
  ];
  if (sink === 42) console.log("");
  return rows;
}

function steadyState(passes: number): Record<string, unknown>[] {
  const ours = new OursPath();
  for (let p = 0; p < (SMOKE ? 20 : 20_000); p++) for (const f of frames) ours.onFrame(f);
  const n = passes * frames.length;
  return [
    allocationRow("ours: recorded frames, in order, over and over", measureAllocation(0, n, (i) => ours.onFrame(frames[i % frames.length]!))),
    allocationRow("control: a 32 B object per step", allocationControl(Math.min(n, 100_000))),
  ];
}

const levelsPerFrame = frames.reduce((s, f) => s + (f.match(/\["(?:new|change|delete)"/g)?.length ?? 0), 0) / frames.length;
console.log(`deribit bench — Bun ${Bun.version}; recording: ${frames.length} book frames (${snapshots.length} snapshots, ${changes.length} changes) over ${names.length} options, ${levelsPerFrame.toFixed(1)} levels and ${(frames.reduce((s, f) => s + f.length, 0) / frames.length).toFixed(0)} B per frame on average`);
console.log(`ours, ccxt and tardis books agree after the replay: ${agreed(checkAgreement())}\n`);
const summary: Record<string, unknown>[] = [];
function report(c: Compared, label: string): void {
  printTable(c.rows);
  const rm = median(c.ratioMean);
  const rp = median(c.ratioP50);
  summary.push({ case: label, "ours mean": c.rows[0]!.nsPerOp, "faster peer mean": Math.min(c.rows[1]!.nsPerOp, c.rows[2]!.nsPerOp), "ratio mean": `${rm.toFixed(1)}×`, "ratio p50": `${rp.toFixed(1)}×`, rounds: `${Math.min(...c.ratioMean).toFixed(1)}–${Math.max(...c.ratioMean).toFixed(1)}×`, "≥ 10×": rm >= 10 && rp >= 10 ? "yes" : "NO" });
  console.log("");
}
const genLevels = genChanges.reduce((s, f) => s + (f.match(/\["(?:new|change|delete)"/g)?.length ?? 0), 0) / genChanges.length;
console.log(`== recorded frames → book → datagram (per frame; ${ROUNDS} interleaved rounds of ${ROUND_MS} ms, medians) ==`);
report(compare(frames, "46 recorded frames"), `recorded: 46 frames, ${levelsPerFrame.toFixed(1)} levels/frame`);
console.log(`== generated full-book changes (1 snapshot + ${genChanges.length} changes, ${genLevels.toFixed(1)} levels/change) ==`);
report(compare(genFrames, "generated changes"), `generated: changes, ${genLevels.toFixed(1)} levels/frame`);
console.log(`== generated full-book snapshot (${(genSnapshot.match(/\["new"/g) ?? []).length} levels, ${genSnapshot.length} B) ==`);
report(compare([genSnapshot], "generated snapshot"), "generated: snapshot 200+/side");
console.log("== parts ==");
printTable(parts());
console.log("\n== allocation in steady state per frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k) ==");
printTable(steadyState(SMOKE ? 20 : QUICK ? 5_000 : 20_000));
console.log("\n== summary: faster peer / ours, per round, median over rounds ==");
printTable(summary);
