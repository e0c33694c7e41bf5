/**
 * Book engine benchmark (`bun bench/book.bench.ts`):
 * 1. apply cost per real Bybit delta (XRPUSDT ob500 recording) and per snapshot of 50 / 200 / 1000 levels per
 *    side — ours (BookBuilder, pre-filled BookUpdate) against ccxt's and tardis-dev's OrderBook given the same
 *    already-parsed levels in the shape each normally receives ([price, qty] arrays / {price, amount} objects);
 * 2. the ladder structure experiment (sorted arrays vs a dense tick window) and the move-loop threshold;
 * 3. memory per symbol (1000 × 200 and 100 × 1000 levels per side) and allocation in steady state;
 * 4. the Binance and OKX recordings: Ladder paths, applyDelta right after their snapshots, applySnapshot and
 *    copyLevels of their 700+-level books (bench/book-recordings.ts).
 * Numbers are printed; nothing is asserted except that all three books agree after the replay.
 */
import { heapStats } from "bun:jsc";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OrderBook as TardisOrderBook } from "tardis-dev";
// ccxt's package exports only its root (which loads every exchange); its OrderBook module is imported directly.
import { OrderBook as CcxtOrderBook } from "../node_modules/ccxt/js/src/base/ws/OrderBook.js";
import { BookBuilder } from "../src/book/book-builder.ts";
import { Ladder } from "../src/book/ladder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { ChangeSet } from "../src/core/change-set.ts";
import { parseFixed, parseFixedCodes } from "../src/core/fixed.ts";
import { type Instrument, Side } from "../src/core/types.ts";
import { allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { DenseLadder, SortedLadder } from "./book-alternatives.ts";
import { benchRecordings } from "./book-recordings.ts";
import { agreed, measure, measureRounds, median, type Contender, type MeasureOptions, type Measurement, printTable, QUICK, SMOKE } from "./harness.ts";

const FIXTURE = fileURLToPath(
  new URL("../test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl", import.meta.url),
);
const PRICE_EXP = 4; // XRPUSDT: tick 0.0001
const QTY_EXP = 0; // lot 1
const INSTRUMENT: Instrument = {
  instrumentId: 1,
  venue: "bybit",
  market: "linear",
  symbol: "XRPUSDT",
  priceExp: PRICE_EXP,
  qtyExp: QTY_EXP,
  tickSize: "0.0001",
  lotSize: "1",
};
const DURATION_MS = QUICK ? 300 : 1000;
/** Interleaved rounds per comparison and sampling time per round. */
const ROUNDS = SMOKE ? 1 : QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 150 : 300;
/** BENCH_VERBOSE=1 prints every round. */
const VERBOSE = process.env.BENCH_VERBOSE === "1";

type Lvl = [string, string];
interface BybitMsg {
  type: "snapshot" | "delta";
  data: { b: Lvl[]; a: Lvl[]; u: number };
}

/** One message in every input shape: ours (pre-filled BookUpdate), ccxt ([price, qty] arrays), tardis (objects). */
interface Msg {
  ours: BookUpdate;
  ccxtBids: number[][];
  ccxtAsks: number[][];
  tardis: { isSnapshot: boolean; bids: { price: number; amount: number }[]; asks: { price: number; amount: number }[] };
}

function makeMsg(isSnapshot: boolean, bids: Lvl[], asks: Lvl[], venueSeq: number): Msg {
  const u = new BookUpdate();
  u.isSnapshot = isSnapshot;
  u.venueSeq = venueSeq;
  for (const [p, q] of bids) u.pushBid(parseFixed(p, PRICE_EXP), parseFixed(q, QTY_EXP));
  for (const [p, q] of asks) u.pushAsk(parseFixed(p, PRICE_EXP), parseFixed(q, QTY_EXP));
  const num = (l: Lvl[]) => l.map(([p, q]) => [Number(p), Number(q)]);
  const obj = (l: Lvl[]) => l.map(([p, q]) => ({ price: Number(p), amount: Number(q) }));
  return {
    ours: u,
    ccxtBids: num(bids),
    ccxtAsks: num(asks),
    tardis: { isSnapshot, bids: obj(bids), asks: obj(asks) },
  };
}

const raw: BybitMsg[] = readFileSync(FIXTURE, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as BybitMsg);
const snapshot500 = makeMsg(true, raw[0]!.data.b, raw[0]!.data.a, raw[0]!.data.u);
const deltas = raw.slice(1).map((m) => makeMsg(false, m.data.b, m.data.a, m.data.u));
const levelsPerDelta = deltas.reduce((s, d) => s + d.ours.bidCount + d.ours.askCount, 0) / deltas.length;

// ---- peers' application paths, as their Bybit handlers do it ----

type CcxtBook = InstanceType<typeof CcxtOrderBook> & {
  bids: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
  asks: { storeArray(l: number[]): void; [i: number]: number[]; length: number };
};
const clone = (levels: number[][]) => levels.map((l) => [l[0]!, l[1]!]);

function ccxtSnapshot(book: CcxtBook, m: Msg, fresh: boolean): void {
  // ccxt keeps the level arrays it is given and mutates them on later updates; `fresh` copies untimed inputs.
  book.reset({ bids: fresh ? clone(m.ccxtBids) : m.ccxtBids, asks: fresh ? clone(m.ccxtAsks) : m.ccxtAsks });
}
function ccxtDelta(book: CcxtBook, bids: number[][], asks: number[][]): void {
  // = ccxt pro bybit handleDeltas: storeArray per level
  for (let i = 0; i < bids.length; i++) book.bids.storeArray(bids[i]!);
  for (let i = 0; i < asks.length; i++) book.asks.storeArray(asks[i]!);
}
function tardisApply(book: TardisOrderBook, m: Msg): void {
  book.update(m.tardis as never);
}

// ---- 0. all three agree after the replay ----

function checkAgreement(): string {
  const ours = new BookBuilder(INSTRUMENT);
  const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
  const tardis = new TardisOrderBook();
  ours.applySnapshot(snapshot500.ours);
  ccxtSnapshot(ccxt, snapshot500, true);
  tardisApply(tardis, snapshot500);
  for (const d of deltas) {
    ours.applyDelta(d.ours);
    ccxtDelta(ccxt, clone(d.ccxtBids), clone(d.ccxtAsks));
    tardisApply(tardis, d);
  }
  const scale = 10 ** PRICE_EXP;
  const tb = [...tardis.bids()];
  const ta = [...tardis.asks()];
  if (ours.bidCount !== ccxt.bids.length || ours.bidCount !== tb.length) return `bid counts differ`;
  if (ours.askCount !== ccxt.asks.length || ours.askCount !== ta.length) return `ask counts differ`;
  for (let r = 0; r < ours.bidCount; r++) {
    const p = ours.bidPriceAt(r) / scale;
    const q = ours.bidQtyAt(r);
    if (p !== ccxt.bids[r]![0] || q !== ccxt.bids[r]![1] || p !== tb[r]!.price || q !== tb[r]!.amount) return `bid rank ${r}`;
  }
  for (let r = 0; r < ours.askCount; r++) {
    const p = ours.askPriceAt(r) / scale;
    const q = ours.askQtyAt(r);
    if (p !== ccxt.asks[r]![0] || q !== ccxt.asks[r]![1] || p !== ta[r]!.price || q !== ta[r]!.amount) return `ask rank ${r}`;
  }
  return `yes (${ours.bidCount} + ${ours.askCount} levels after ${deltas.length} deltas)`;
}

// ---- 1. per real delta ----

/**
 * How many times faster contender 0 (ours) is than the faster of the others: the ratio is taken within each
 * round (same machine conditions), then the median over rounds; on the mean and on the p50.
 */
function ratioVsFasterPeer(perRound: Measurement[][]): { mean: number; p50: number } {
  const mean: number[] = [];
  const p50: number[] = [];
  for (const round of perRound) {
    const [ours, ...peers] = round as [Measurement, ...Measurement[]];
    mean.push(Math.min(...peers.map((m) => m.nsPerOp)) / ours.nsPerOp);
    p50.push(Math.min(...peers.map((m) => m.p50Ns)) / ours.p50Ns);
  }
  return { mean: median(mean), p50: median(p50) };
}

let lastRounds: Measurement[][] = [];

/** Interleaved rounds (bench/harness.ts) with a full GC before each contender; keeps the per-round results for ratios. */
function rounds(contenders: Contender[], n: number): Measurement[] {
  const result = measureRounds(contenders, {
    rounds: n,
    roundMs: ROUND_MS,
    gcBeforeEach: true,
    onRound: (_r, ms) => {
      if (VERBOSE) printTable(ms);
    },
  });
  lastRounds = result.perRound;
  return result.rows;
}

function deltaContenders(): Contender[] {
  const n = deltas.length;
  const ours = new BookBuilder(INSTRUMENT);
  const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
  const tardis = new TardisOrderBook();
  let ccxtInputs: { b: number[][]; a: number[][] }[] = [];
  // One sample = the 49 real deltas in order, after an untimed snapshot: every delta meets the book it was made for.
  const opts = { inner: 1, opsPerCall: n };
  return [
    {
      name: "ours: BookBuilder.applyDelta",
      fn: () => {
        for (let i = 0; i < n; i++) ours.applyDelta(deltas[i]!.ours);
      },
      opts: { ...opts, setup: () => ours.applySnapshot(snapshot500.ours) },
    },
    {
      name: "ccxt: OrderBookSide.storeArray",
      fn: () => {
        for (let i = 0; i < n; i++) ccxtDelta(ccxt, ccxtInputs[i]!.b, ccxtInputs[i]!.a);
      },
      opts: {
        ...opts,
        setup: () => {
          ccxtSnapshot(ccxt, snapshot500, true);
          ccxtInputs = deltas.map((d) => ({ b: clone(d.ccxtBids), a: clone(d.ccxtAsks) }));
        },
      },
    },
    {
      name: "tardis: OrderBook.update",
      fn: () => {
        for (let i = 0; i < n; i++) tardisApply(tardis, deltas[i]!);
      },
      opts: { ...opts, setup: () => tardisApply(tardis, snapshot500) },
    },
  ];
}

// ---- 2. per snapshot ----

/** Deterministic PRNG for synthetic books. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 1000-level-per-side XRP-like book: tick 0.0001, mostly adjacent ticks, some gaps of 2–6 ticks. */
function synthSnapshot(levels: number, seed = 7): Msg {
  const r = rng(seed);
  const bids: Lvl[] = [];
  const asks: Lvl[] = [];
  const fmt = (m: number) => (m / 10 ** PRICE_EXP).toFixed(PRICE_EXP);
  const qty = () => String(1 + Math.floor(Math.exp(r() * Math.log(200_000))));
  let px = 19531;
  for (let i = 0; i < levels; i++, px -= r() < 0.85 ? 1 : 2 + Math.floor(r() * 5)) bids.push([fmt(px), qty()]);
  px = 19532;
  for (let i = 0; i < levels; i++, px += r() < 0.85 ? 1 : 2 + Math.floor(r() * 5)) asks.push([fmt(px), qty()]);
  return makeMsg(true, bids, asks, 1);
}

function benchSnapshots(): { levels: number; rows: Measurement[]; ratio: { mean: number; p50: number } }[] {
  const sizes: [number, Msg][] = [
    [50, makeMsg(true, raw[0]!.data.b.slice(0, 50), raw[0]!.data.a.slice(0, 50), 1)],
    [200, makeMsg(true, raw[0]!.data.b.slice(0, 200), raw[0]!.data.a.slice(0, 200), 1)],
    [1000, synthSnapshot(1000)],
  ];
  const out: { levels: number; rows: Measurement[]; ratio: { mean: number; p50: number } }[] = [];
  for (const [levels, m] of sizes) {
    const ours = new BookBuilder(INSTRUMENT);
    const ccxt = new CcxtOrderBook({}, undefined) as CcxtBook;
    const tardis = new TardisOrderBook();
    const rows = rounds(
      [
        { name: `ours: applySnapshot ${levels}/side`, fn: () => ours.applySnapshot(m.ours), opts: {} },
        { name: `ccxt: OrderBook.reset ${levels}/side`, fn: () => ccxtSnapshot(ccxt, m, false), opts: {} },
        { name: `tardis: OrderBook.update ${levels}/side`, fn: () => tardisApply(tardis, m), opts: {} },
      ],
      ROUNDS,
    );
    out.push({ levels, rows, ratio: ratioVsFasterPeer(lastRounds) });
  }
  return out;
}

// ---- 3. structure experiment: hybrid (ours) vs all-sorted arrays vs a pure dense tick window ----

interface SideOps {
  set(px: number, qty: number): number;
  priceAt(rank: number): number;
}

function load(m: Msg, bid: SideOps & { clear(): void }, ask: SideOps & { clear(): void }): void {
  bid.clear();
  ask.clear();
  for (let i = m.ours.bidCount - 1; i >= 0; i--) bid.set(m.ours.bidPx[i]!, m.ours.bidQty[i]!);
  for (let i = m.ours.askCount - 1; i >= 0; i--) ask.set(m.ours.askPx[i]!, m.ours.askQty[i]!);
}

function benchStructures(): Record<string, unknown>[] {
  const hybrid: [Ladder, Ladder] = [new Ladder(Side.BID), new Ladder(Side.ASK)];
  const sorted: [SortedLadder, SortedLadder] = [new SortedLadder(Side.BID, 1024), new SortedLadder(Side.ASK, 1024)];
  const dense: [DenseLadder, DenseLadder] = [new DenseLadder(true), new DenseLadder(false)];
  const n = deltas.length;
  let sink = 0;
  // Each structure gets its own copy of the loops (no shared polymorphic call site between them).
  const contenders: Contender[] = [
    {
      name: "hybrid (ours): real deltas",
      fn: () => {
        for (let k = 0; k < n; k++) {
          const u = deltas[k]!.ours;
          for (let i = 0; i < u.bidCount; i++) hybrid[0].set(u.bidPx[i]!, u.bidQty[i]!);
          for (let i = 0; i < u.askCount; i++) hybrid[1].set(u.askPx[i]!, u.askQty[i]!);
        }
      },
      opts: { inner: 1, opsPerCall: n, setup: () => {
        hybrid[0].loadSorted(snapshot500.ours.bidPx, snapshot500.ours.bidQty, snapshot500.ours.bidCount);
        hybrid[1].loadSorted(snapshot500.ours.askPx, snapshot500.ours.askQty, snapshot500.ours.askCount);
      } },
    },
    {
      name: "all sorted: real deltas",
      fn: () => {
        for (let k = 0; k < n; k++) {
          const u = deltas[k]!.ours;
          for (let i = 0; i < u.bidCount; i++) sorted[0].set(u.bidPx[i]!, u.bidQty[i]!);
          for (let i = 0; i < u.askCount; i++) sorted[1].set(u.askPx[i]!, u.askQty[i]!);
        }
      },
      opts: { inner: 1, opsPerCall: n, setup: () => {
        sorted[0].loadSorted(snapshot500.ours.bidPx, snapshot500.ours.bidQty, snapshot500.ours.bidCount);
        sorted[1].loadSorted(snapshot500.ours.askPx, snapshot500.ours.askQty, snapshot500.ours.askCount);
      } },
    },
    {
      name: "dense window: real deltas",
      fn: () => {
        for (let k = 0; k < n; k++) {
          const u = deltas[k]!.ours;
          for (let i = 0; i < u.bidCount; i++) dense[0].set(u.bidPx[i]!, u.bidQty[i]!);
          for (let i = 0; i < u.askCount; i++) dense[1].set(u.askPx[i]!, u.askQty[i]!);
        }
      },
      opts: { inner: 1, opsPerCall: n, setup: () => load(snapshot500, dense[0], dense[1]) },
    },
  ];
  const applied = rounds(contenders, ROUNDS);
  hybrid[0].loadSorted(snapshot500.ours.bidPx, snapshot500.ours.bidQty, snapshot500.ours.bidCount);
  hybrid[1].loadSorted(snapshot500.ours.askPx, snapshot500.ours.askQty, snapshot500.ours.askCount);
  sorted[0].loadSorted(snapshot500.ours.bidPx, snapshot500.ours.bidQty, snapshot500.ours.bidCount);
  sorted[1].loadSorted(snapshot500.ours.askPx, snapshot500.ours.askQty, snapshot500.ours.askCount);
  load(snapshot500, dense[0], dense[1]);
  const topPx = new Float64Array(100);
  const topQty = new Float64Array(100);
  const reads = rounds(
    [
      { name: "hybrid (ours): top 50 × 2 by rank", fn: () => {
        for (let r = 0; r < 50; r++) sink += hybrid[0].priceAt(r) + hybrid[1].priceAt(r);
      }, opts: {} },
      { name: "hybrid (ours): top 50 × 2 bulk (copyLevels, the snapshot encoder's read)", fn: () => {
        hybrid[0].copyLevels(0, 50, topPx, topQty, 0);
        hybrid[1].copyLevels(0, 50, topPx, topQty, 50);
        sink += topPx[49]! + topPx[99]!;
      }, opts: {} },
      { name: "all sorted: top 50 × 2 by rank", fn: () => {
        for (let r = 0; r < 50; r++) sink += sorted[0].priceAt(r) + sorted[1].priceAt(r);
      }, opts: {} },
      { name: "dense window: top 50 × 2 by rank", fn: () => {
        for (let r = 0; r < 50; r++) sink += dense[0].priceAt(r) + dense[1].priceAt(r);
      }, opts: {} },
    ],
    ROUNDS,
  );
  // Memory for three book shapes (both sides).
  const shapes: [string, Msg][] = [
    ["XRP ob500 (dense, 500 ticks)", snapshot500],
    ["1000/side, 15 % gaps of 2–6 ticks", synthSnapshot(1000, 3)],
    ["8/side, 10^9 ticks apart", wideSnapshot()],
  ];
  const memRows: Record<string, unknown>[] = [];
  for (const [name, m] of shapes) {
    const h: [Ladder, Ladder] = [new Ladder(Side.BID), new Ladder(Side.ASK)];
    h[0].loadSorted(m.ours.bidPx, m.ours.bidQty, m.ours.bidCount);
    h[1].loadSorted(m.ours.askPx, m.ours.askQty, m.ours.askCount);
    const so: [SortedLadder, SortedLadder] = [new SortedLadder(Side.BID), new SortedLadder(Side.ASK)];
    so[0].loadSorted(m.ours.bidPx, m.ours.bidQty, m.ours.bidCount);
    so[1].loadSorted(m.ours.askPx, m.ours.askQty, m.ours.askCount);
    const spanTicks = Math.max(
      m.ours.bidPx[0]! - m.ours.bidPx[m.ours.bidCount - 1]!,
      m.ours.askPx[m.ours.askCount - 1]! - m.ours.askPx[0]!,
    );
    const denseBytes = 2 * 8 * 2 ** Math.ceil(Math.log2(2 * (spanTicks + 1)));
    memRows.push({
      name: `memory: ${name}`,
      hybridB: h[0].bytesAllocated() + h[1].bytesAllocated(),
      inWindow: `${h[0].windowCount + h[1].windowCount}/${h[0].count + h[1].count}`,
      sortedB: so[0].bytesAllocated() + so[1].bytesAllocated(),
      denseB: denseBytes > 2 ** 32 ? `${(denseBytes / 2 ** 30).toExponential(1)} GiB (infeasible)` : denseBytes,
    });
  }
  if (sink === 42) console.log("");
  return [
    ...[...applied, ...reads].map((m) => ({ name: m.name, nsPerOp: m.nsPerOp, p50Ns: m.p50Ns, p99Ns: m.p99Ns })),
    ...memRows,
  ];
}

/** A thin book: 8 levels per side, 10^9 ticks apart (priceExp 4 here, so prices up to ~10^6). */
function wideSnapshot(): Msg {
  const bids: Lvl[] = [];
  const asks: Lvl[] = [];
  for (let i = 0; i < 8; i++) {
    bids.push([((5e13 - i * 1e9) / 1e4).toFixed(4), "5"]);
    asks.push([((5e13 + 1 + i * 1e9) / 1e4).toFixed(4), "5"]);
  }
  return makeMsg(true, bids, asks, 1);
}

/** copyWithin vs a plain loop for moving k entries of two Float64Arrays (sets Ladder.SMALL_MOVE). */
function benchMoves(): Record<string, unknown>[] {
  const a = new Float64Array(2048);
  const b = new Float64Array(2048);
  const rows: Record<string, unknown>[] = [];
  for (const k of [1, 2, 4, 8, 16, 32, 128]) {
    const cw = measure(`copyWithin k=${k}`, () => {
      a.copyWithin(101, 100, 100 + k);
      b.copyWithin(101, 100, 100 + k);
    }, { durationMs: DURATION_MS / 2 });
    const loop = measure(`loop k=${k}`, () => {
      for (let j = 100 + k; j > 100; j--) {
        a[j] = a[j - 1]!;
        b[j] = b[j - 1]!;
      }
    }, { durationMs: DURATION_MS / 2 });
    rows.push({ k, copyWithinNs: cw.p50Ns, loopNs: loop.p50Ns });
  }
  return rows;
}

/** Where real deltas land: rank (0 = best) of each level at the moment it is applied. */
function deltaRanks(): Record<string, unknown> {
  const b = new BookBuilder(INSTRUMENT);
  b.applySnapshot(snapshot500.ours);
  const ranks: number[] = [];
  for (const d of deltas) {
    const u = d.ours;
    for (let i = 0; i < u.bidCount; i++) {
      let r = 0;
      while (r < b.bidCount && b.bidPriceAt(r) > u.bidPx[i]!) r++;
      ranks.push(r);
    }
    for (let i = 0; i < u.askCount; i++) {
      let r = 0;
      while (r < b.askCount && b.askPriceAt(r) < u.askPx[i]!) r++;
      ranks.push(r);
    }
    b.applyDelta(u);
  }
  ranks.sort((x, y) => x - y);
  const q = (f: number) => ranks[Math.floor((ranks.length - 1) * f)];
  return { levels: ranks.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: ranks[ranks.length - 1] };
}

/** Decimal string → mantissa on every price string of the recording's deltas (the parser venue scanners call). */
function benchParse(): Record<string, unknown>[] {
  const prices: string[] = [];
  for (const m of raw.slice(1)) for (const [p] of [...m.data.b, ...m.data.a]) prices.push(p);
  const n = prices.length;
  let sink = 0;
  const rows = rounds(
    [
      { name: "parseFixedCodes (exact)", fn: () => {
        for (let i = 0; i < n; i++) {
          const s = prices[i]!;
          sink += parseFixedCodes(s, 0, s.length, PRICE_EXP);
        }
      }, opts: { opsPerCall: n } },
      { name: "Math.round(parseFloat(s) × 10^4)", fn: () => {
        for (let i = 0; i < n; i++) sink += Math.round(parseFloat(prices[i]!) * 10_000);
      }, opts: { opsPerCall: n } },
    ],
    ROUNDS,
  );
  if (sink === 42) console.log("");
  return rows.map((m) => ({ name: m.name, nsPerOp: m.nsPerOp, p50Ns: m.p50Ns }));
}

// ---- 4. memory ----

function heapBytes(): number {
  Bun.gc(true);
  Bun.gc(true);
  return heapStats().heapSize; // includes typed-array backing stores ("extra memory")
}

function memory(symbols: number, levelsPerSide: number, shared: boolean): Record<string, unknown> {
  const snap = synthSnapshot(levelsPerSide, 11).ours;
  const changes = new ChangeSet();
  const opts = shared ? { changes } : {};
  const h0 = heapBytes();
  const empty: BookBuilder[] = [];
  for (let i = 0; i < symbols; i++) empty.push(new BookBuilder(INSTRUMENT, opts));
  const h1 = heapBytes();
  const full: BookBuilder[] = [];
  for (let i = 0; i < symbols; i++) {
    const b = new BookBuilder(INSTRUMENT, opts);
    b.applySnapshot(snap);
    full.push(b);
  }
  const h2 = heapBytes();
  const fixed = (h1 - h0) / symbols;
  const perSymbol = (h2 - h1) / symbols;
  const levels = 2 * levelsPerSide;
  const budget = 40 * levels + 4096;
  const keep = empty.length + full.length; // keep both alive until measured
  return {
    case: `${symbols} × ${levelsPerSide}/side${shared ? ", shared ChangeSet" : ", own ChangeSet"}`,
    fixedB: Math.round(fixed),
    perSymbolB: Math.round(perSymbol),
    perLevelB: (perSymbol - fixed) / levels,
    allInPerLevelB: perSymbol / levels,
    ladderArraysB: full[0]!.bytesAllocated(),
    budgetB: budget,
    ok: perSymbol <= budget && fixed <= 4096 + (shared ? 0 : 8192) ? "yes" : "NO",
    n: keep,
  };
}

// ---- 5. allocation in steady state ----

function steadyState(applies: number): Record<string, unknown>[] {
  const b = new BookBuilder(INSTRUMENT);
  const n = deltas.length;
  // A step is one real delta, and the snapshot that restarts the real sequence before every 49th.
  let k = 0;
  const step = () => {
    if (k === 0) b.applySnapshot(snapshot500.ours);
    b.applyDelta(deltas[k]!.ours);
    k = k + 1 === n ? 0 : k + 1;
  };
  for (let i = 0; i < (SMOKE ? 2_000 : 200_000); i++) step(); // warm-up: JIT tiers, change set and ladders at their final capacity
  const rows: Record<string, unknown>[] = [];
  rows.push(allocationRow(`ours: real deltas (+ a snapshot every ${n})`, measureAllocation(0, applies, step)));
  // The same meter on tardis, and on its own control.
  const tardis = new TardisOrderBook();
  const control = Math.min(applies, 100_000);
  let j = 0;
  rows.push(allocationRow("tardis: real deltas", measureAllocation(0, control, () => {
    if (j === 0) tardisApply(tardis, snapshot500);
    tardisApply(tardis, deltas[j]!);
    j = j + 1 === n ? 0 : j + 1;
  })));
  rows.push(allocationRow("control: a 32 B object per step", allocationControl(control)));
  return rows;
}

// ---- run ----

console.log(`book engine bench — Bybit XRPUSDT ob500 recording: 1 snapshot (500/side) + ${deltas.length} deltas, ` +
  `${levelsPerDelta.toFixed(1)} levels per delta on average`);
console.log(`all three books agree after the replay: ${agreed(checkAgreement())}\n`);

console.log(`== apply one real delta (ns per delta message; median of ${ROUNDS} interleaved rounds) ==`);
const deltaRows = rounds(deltaContenders(), ROUNDS);
const deltaRatios = ratioVsFasterPeer(lastRounds);
printTable(deltaRows);
const [oursD, ccxtD, tardisD] = deltaRows as [Measurement, Measurement, Measurement];
const fasterPeerD = ccxtD.nsPerOp < tardisD.nsPerOp ? ccxtD : tardisD;
const deltaRatio = deltaRatios.mean;
console.log(
  `ratio vs faster peer (median of per-round ratios): ${deltaRatios.mean.toFixed(1)}× on the mean, ` +
    `${deltaRatios.p50.toFixed(1)}× on p50 (target ≥ 8×) | faster peer: ${fasterPeerD.name.split(":")[0]} | ` +
    `vs tardis ${(tardisD.nsPerOp / oursD.nsPerOp).toFixed(1)}× | ours ${(oursD.p50Ns / levelsPerDelta).toFixed(1)} ns per level (p50)\n`,
);

console.log(`== apply one snapshot (median of ${ROUNDS} interleaved rounds) ==`);
const snapRatios: string[] = [];
for (const { levels, rows, ratio } of benchSnapshots()) {
  printTable(rows);
  snapRatios.push(`${levels}/side ${ratio.mean.toFixed(1)}×`);
  console.log(`${levels}/side: ratio vs faster peer ${ratio.mean.toFixed(1)}× on the mean, ${ratio.p50.toFixed(1)}× on p50 (target ≥ 10×)\n`);
}

console.log("== ladder structure: hybrid window + sorted overflow (ours) vs all-sorted arrays vs dense tick window ==");
printTable(benchStructures());
console.log("\nwhere real deltas land (rank from best when applied):");
printTable([deltaRanks()]);
console.log("\nmove k entries in two Float64Arrays, p50 (SMALL_MOVE threshold):");
printTable(benchMoves());

console.log(`\n== decimal → fixed point, per price field of the recording's deltas ==`);
printTable(benchParse());

console.log("\n== memory (heapStats().heapSize after full GC, typed-array stores included) ==");
// Smoke: a tenth of the books (each full GC walks them all; a smoke run's figures mean nothing).
const memoryBooks = (n: number) => (SMOKE ? n / 10 : n);
printTable([memory(memoryBooks(1000), 200, true), memory(memoryBooks(1000), 200, false), memory(memoryBooks(100), 1000, true), memory(memoryBooks(100), 1000, false)]);

console.log("\n== allocation in steady state per apply (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k) ==");
printTable(steadyState(SMOKE ? 2_000 : QUICK ? 200_000 : 1_000_000));

benchRecordings(DURATION_MS);

console.log(`\nsummary: delta ${deltaRatio.toFixed(1)}× faster than the faster peer (≥ 8×); snapshots ${snapRatios.join(", ")} (≥ 10×)`);
