/**
 * The Upbit / Bithumb frame → book → encoded datagram comparison shared by bench/upbit.bench.ts (the genuine
 * recording) and bench/bithumb.bench.ts (simulator frames). No I/O.
 *
 * Ours, per frame: the frame's bytes (as a binary WebSocket frame delivers them) → UpbitScanner.scan →
 * BookBuilder.applyReplace (the whole top N replaces the book; the difference is the change set) → packBookDelta →
 * stampSendTime → clear: the core of what the feeder does for a
 * frame (scanner, book, encoder, seal). Not in it: the venue adapter's sequence rules and checks, the app's VenuePipeline
 * (its clock reads and latency histograms) and the publisher's flush per turn, nor the sendMany syscall; measured on
 * Binance's diffs they take the path to ~1.8–2.1× this row (bench/binance.bench.ts, "adapter path"; docs/performance.md
 * §10), so a ratio against the peers here is for that core, not for the whole feeder.
 * Peers, per frame, as their Upbit handlers do it on a binary frame: TextDecoder.decode → JSON.parse →
 * - ccxt (pro/upbit.js handleOrderBook): per unit safeFloat of ask/bid price and size → a fresh snapshot →
 *   OrderBook.reset (every message is a snapshot);
 * - tardis-dev (mappers/upbit.ts): {price, amount} objects per unit → OrderBook.update({isSnapshot: true}).
 * Rows are per frame; ours, ccxt and tardis run in interleaved rounds, ratios within each round, then the median.
 * @module
 */
import { OrderBook as TardisOrderBook } from "tardis-dev";
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import type { Instrument } from "../src/core/types.ts";
import { UPBIT_DEFAULT_DEPTH } from "../src/venues/upbit/protocol.ts";
import { CodeTable, UpbitScanner } from "../src/venues/upbit/scanner.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { agreed, measure, measureRounds, median, printTable, type Contender, type Measurement, QUICK, SMOKE } from "./harness.ts";
import { peerDifference } from "./peer-agreement.ts";

const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
const DURATION_MS = QUICK ? 300 : 1000;
const decoder = new TextDecoder();

export interface BenchFrame {
  /** The frame as a binary WebSocket frame carries it. */
  bytes: Uint8Array;
  code: string;
}

class OursPath {
  readonly table = new CodeTable();
  readonly scanner: UpbitScanner;
  readonly update = new BookUpdate();
  readonly builders: BookBuilder[];
  readonly packer = new ChannelPacker(1400, 1, 0, 0x5eed);
  bytesOut = 0;
  constructor(instruments: Instrument[], tsUnitUs: number) {
    this.scanner = new UpbitScanner(tsUnitUs);
    instruments.forEach((inst, i) => this.table.add(inst.symbol, i, inst.priceExp, inst.qtyExp, UPBIT_DEFAULT_DEPTH));
    this.builders = instruments.map((inst) => new BookBuilder(inst));
  }
  onFrame(b: Uint8Array): void {
    const i = this.scanner.scan(b, b.length, this.table, this.update);
    if (i < 0) throw new Error(`scan failed (${i}) at ${this.scanner.errorPos}`);
    this.update.tsRecvUs = 1_786_613_105_466_000;
    const builder = this.builders[i]!;
    const wasLive = builder.state === 1;
    if (builder.applyReplace(this.update) !== ApplyResult.APPLIED) throw new Error("replace not applied");
    if (wasLive) packBookDelta(this.packer, builder, builder.changes);
    else packBookSnapshot(this.packer, builder, 0, false);
    this.packer.stampSendTime(this.update.tsRecvUs + 5);
    for (let k = 0; k < this.packer.count; k++) this.bytesOut += this.packer.lengths[k]!;
    this.packer.clear();
  }
}

type Unit = Record<string, number>;
type Msg = Record<string, unknown>;
const units = (m: Msg) => (m.orderbook_units ?? m.obu) as Unit[];
const codeOf = (m: Msg) => (m.code ?? m.cd) as string;

/** ccxt pro upbit handleOrderBook on a binary frame. */
function ccxtOnFrame(books: Map<string, InstanceType<typeof CcxtOrderBook>>, b: Uint8Array): void {
  const m = JSON.parse(decoder.decode(b)) as Msg;
  const bids: number[][] = [];
  const asks: number[][] = [];
  for (const u of units(m)) {
    asks.push([parseFloat(String(u.ask_price ?? u.ap)), parseFloat(String(u.ask_size ?? u.as))]);
    bids.push([parseFloat(String(u.bid_price ?? u.bp)), parseFloat(String(u.bid_size ?? u.bs))]);
  }
  let book = books.get(codeOf(m));
  if (!book) books.set(codeOf(m), (book = new CcxtOrderBook({}, undefined)));
  book.reset({ symbol: codeOf(m), bids, asks, timestamp: (m.timestamp ?? m.tms) as number, datetime: undefined, nonce: undefined } as never);
}

/** tardis-dev upbit book_change mapper + OrderBook.update on a binary frame. */
function tardisOnFrame(books: Map<string, TardisOrderBook>, b: Uint8Array): void {
  const m = JSON.parse(decoder.decode(b)) as Msg;
  const us = units(m);
  let book = books.get(codeOf(m));
  if (!book) books.set(codeOf(m), (book = new TardisOrderBook()));
  book.update({
    type: "book_change",
    symbol: codeOf(m),
    exchange: "upbit",
    isSnapshot: true,
    bids: us.map((u) => ({ price: u.bid_price ?? u.bp!, amount: u.bid_size ?? u.bs! })),
    asks: us.map((u) => ({ price: u.ask_price ?? u.ap!, amount: u.ask_size ?? u.as! })),
    timestamp: new Date(),
    localTimestamp: new Date(),
  } as never);
}

type Levels = { [i: number]: number[]; length: number };

/** Ours, ccxt and tardis fed every frame once from empty books: the same levels in every book (or what differs). */
function checkAgreement(frames: BenchFrame[], instruments: Instrument[], tsUnitUs: number): string {
  const ours = new OursPath(instruments, tsUnitUs);
  const ccxt = new Map<string, InstanceType<typeof CcxtOrderBook>>();
  const tardis = new Map<string, TardisOrderBook>();
  for (const f of frames) {
    ours.onFrame(f.bytes);
    ccxtOnFrame(ccxt, f.bytes);
    tardisOnFrame(tardis, f.bytes);
  }
  let levels = 0;
  for (const b of ours.builders) {
    const sym = b.instrument.symbol;
    const c = ccxt.get(sym) as unknown as { bids: Levels; asks: Levels } | undefined;
    const t = tardis.get(sym);
    if (c === undefined || t === undefined) return `NO: no peer book for ${sym}`;
    const differs = peerDifference(b, c, t);
    if (differs !== undefined) return differs;
    levels += b.bidCount + b.askCount;
  }
  return `yes (${ours.builders.length} books, ${levels} levels after ${frames.length} frames)`;
}

export function runUpbitBench(title: string, frames: BenchFrame[], instruments: Instrument[], tsUnitUs: number): void {
  console.log(`ours, ccxt and tardis books agree after the frames: ${agreed(checkAgreement(frames, instruments, tsUnitUs))}`);
  const n = frames.length;
  const ours = new OursPath(instruments, tsUnitUs);
  const ccxt = new Map<string, InstanceType<typeof CcxtOrderBook>>();
  const tardis = new Map<string, TardisOrderBook>();
  const opts = { opsPerCall: n };
  const contenders: Contender[] = [
    { name: "ours: bytes → scan → applyReplace → encode", fn: () => { for (let i = 0; i < n; i++) ours.onFrame(frames[i]!.bytes); }, opts },
    { name: "ccxt: decode → JSON.parse → parseFloat → reset", fn: () => { for (let i = 0; i < n; i++) ccxtOnFrame(ccxt, frames[i]!.bytes); }, opts },
    { name: "tardis: decode → JSON.parse → objects → update", fn: () => { for (let i = 0; i < n; i++) tardisOnFrame(tardis, frames[i]!.bytes); }, opts },
  ];
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS, gcBeforeEach: true });
  const ratios = perRound.map(([o, c, t]) => Math.min(c!.nsPerOp, t!.nsPerOp) / o!.nsPerOp);
  let sink = 0;
  const parseOnly = measure("decode + JSON.parse only", () => { for (let i = 0; i < n; i++) sink += (JSON.parse(decoder.decode(frames[i]!.bytes)) as Msg).length === 1 ? 1 : 0; }, { opsPerCall: n, durationMs: DURATION_MS });
  const u = new BookUpdate();
  const scanOnly = measure("scan only", () => { for (let i = 0; i < n; i++) sink += ours.scanner.scan(frames[i]!.bytes, frames[i]!.bytes.length, ours.table, u); }, { opsPerCall: n, durationMs: DURATION_MS });
  // Replace → delta alone: the book step and the encoder, on updates scanned once beforehand.
  const scanned = frames.map((f) => {
    const x = new BookUpdate();
    const i = ours.scanner.scan(f.bytes, f.bytes.length, ours.table, x);
    return { i, x };
  });
  const replaceOnly = measure("applyReplace → packBookDelta only (replace to delta)", () => {
    for (let k = 0; k < n; k++) {
      const { i, x } = scanned[k]!;
      const builder = ours.builders[i]!;
      builder.applyReplace(x);
      packBookDelta(ours.packer, builder, builder.changes);
      ours.packer.clear();
    }
  }, { opsPerCall: n, durationMs: DURATION_MS });
  if (sink === 0.5) console.log("");
  console.log(`\n${title}: ${n} frames, ${frames.reduce((s, f) => s + f.bytes.length, 0) / n | 0} bytes per frame on average\n`);
  printTable([...rows, parseOnly, scanOnly, replaceOnly] as Measurement[]);
  const m = median(ratios);
  console.log(`\nfaster peer / ours, per frame (median over ${ratios.length === ROUNDS ? ROUNDS : `${ratios.length} of ${ROUNDS}`} rounds): ${m.toFixed(1)}× (rounds: ${ratios.map((r) => r.toFixed(1)).join(", ")}); target ≥ 10×`);
  // Allocation per frame in steady state, over and over the frames (bench/alloc-meter.ts), with the meter's control.
  const steps = SMOKE ? 2_000 : QUICK ? 50_000 : 200_000;
  for (let i = 0; i < 2 * n; i++) ours.onFrame(frames[i % n]!.bytes);
  console.log("\nallocation in steady state per frame (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k)");
  printTable([
    allocationRow("ours: bytes → scan → applyReplace → encode", measureAllocation(0, steps, (i) => ours.onFrame(frames[i % n]!.bytes))),
    allocationRow("control: a 32 B object per step", allocationControl(steps)),
  ]);
  console.log(`ours = scan ${(scanOnly.nsPerOp / rows[0]!.nsPerOp * 100).toFixed(0)} % + replace/encode; decode + JSON.parse alone = ${(parseOnly.nsPerOp / rows[0]!.nsPerOp).toFixed(1)}× ours`);
}
