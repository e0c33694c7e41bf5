/**
 * bench/book.bench.ts, section 6: the book side of the Binance and OKX recordings' snapshots and of the first deltas
 * after them (issue #12). Levels come pre-scanned by the venues' own scanners; ours only (the peers' whole paths are
 * in bench/binance.bench.ts and bench/okx.bench.ts).
 * - which Ladder path each delta level takes on the first pass after the snapshots (window update / insert / delete,
 *   overflow insert / delete and their memmove sizes, re-centres, window resizes), and how many deltas a second pass
 *   over the same recording really applies (it crosses books: most of it is then ignored, so a replay loop is no
 *   measure of the apply cost);
 * - applyDelta over every delta right after applySnapshot of the recording's books, one reused BookUpdate filled
 *   from flat arrays as a scanner fills its one update per frame (separate pre-scanned BookUpdates would make the
 *   loop measure their cache misses), against the same loop with empty sides (the fixed cost per frame);
 * - applySnapshot of each recorded book of 700+ levels, and copyLevels of all its levels in chunks of 80 per side
 *   (as the snapshot encoder reads them) right after it, and again after one delta.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ApplyResult, BookBuilder } from "../src/book/book-builder.ts";
import type { Ladder } from "../src/book/ladder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import type { Instrument, MarketName } from "../src/core/types.ts";
import { BinanceScanner } from "../src/venues/binance/scanner.ts";
import { StreamTable } from "../src/venues/binance/topic-table.ts";
import { OkxScanner } from "../src/venues/okx/scanner.ts";
import { OkxTopicTable } from "../src/venues/okx/topic-table.ts";
import { measure, type Measurement, printTable } from "./harness.ts";

const DIR = fileURLToPath(new URL("../test/fixtures/cryptofeed/", import.meta.url));

interface Recording {
  name: string;
  instruments: Instrument[];
  snaps: { index: number; update: BookUpdate }[];
  /** Deltas flattened: per delta its book, bid and ask counts; levels (bids then asks) in px/qty. */
  idx: Int32Array;
  bc: Int32Array;
  ac: Int32Array;
  px: Float64Array;
  qty: Float64Array;
}

function flatten(name: string, instruments: Instrument[], snaps: Recording["snaps"], deltas: { index: number; update: BookUpdate }[]): Recording {
  const total = deltas.reduce((t, d) => t + d.update.bidCount + d.update.askCount, 0);
  const r: Recording = { name, instruments, snaps, idx: new Int32Array(deltas.length), bc: new Int32Array(deltas.length), ac: new Int32Array(deltas.length), px: new Float64Array(total), qty: new Float64Array(total) };
  let o = 0;
  deltas.forEach(({ index, update: u }, k) => {
    r.idx[k] = index;
    r.bc[k] = u.bidCount;
    r.ac[k] = u.askCount;
    for (let j = 0; j < u.bidCount; j++, o++) [r.px[o], r.qty[o]] = [u.bidPx[j]!, u.bidQty[j]!];
    for (let j = 0; j < u.askCount; j++, o++) [r.px[o], r.qty[o]] = [u.askPx[j]!, u.askQty[j]!];
  });
  return r;
}

const places = (s: string) => (s.split(".")[1] ?? "").replace(/0+$/, "").length;

/** A Binance recording (as bench/binance.bench.ts loads it): its REST snapshots and every depthUpdate. */
function binance(name: string, market: MarketName): Recording {
  const syms = new Map<string, { body: string; priceExp: number; qtyExp: number }>();
  for (const line of readFileSync(DIR + `${name}.http.0.0`, "utf8").split("\n")) {
    const m = /^\S+symbol=([A-Z0-9]+)\S* -> [\d.]+: (.*)$/.exec(line);
    if (m) syms.set(m[1]!, { body: m[2]!, priceExp: 0, qtyExp: 0 });
  }
  const frames: string[] = [];
  const widen = (sym: string, l: [string, string][]) => {
    const e = syms.get(sym)!;
    for (const [p, q] of l) [e.priceExp, e.qtyExp] = [Math.max(e.priceExp, places(p)), Math.max(e.qtyExp, places(q))];
  };
  for (const line of readFileSync(DIR + `${name}.ws.1.0`, "utf8").split("\n")) {
    const m = /^[\d.]+: (\{.*\})$/.exec(line);
    if (!m || !m[1]!.includes('"depthUpdate"')) continue;
    const d = (JSON.parse(m[1]!) as { data: { s: string; b: [string, string][]; a: [string, string][] } }).data;
    widen(d.s, d.b);
    widen(d.s, d.a);
    frames.push(m[1]!);
  }
  for (const [sym, e] of syms) {
    const b = JSON.parse(e.body) as { bids: [string, string][]; asks: [string, string][] };
    widen(sym, b.bids);
    widen(sym, b.asks);
  }
  const table = new StreamTable();
  const scanner = new BinanceScanner();
  const instruments = [...syms].map(([sym, e], i): Instrument => {
    table.addStream(`${sym.toLowerCase()}@depth@100ms`, sym, i, e.priceExp, e.qtyExp);
    return { instrumentId: instrumentIdOf("binance", market, sym), venue: "binance", market, symbol: sym, priceExp: e.priceExp, qtyExp: e.qtyExp, tickSize: "1", lotSize: "1" };
  });
  const snaps = [...syms.values()].map((e, index) => {
    const update = new BookUpdate();
    if (scanner.scanSnapshot(e.body, e.priceExp, e.qtyExp, update) !== 0) throw new Error(`${name}: snapshot not scanned`);
    return { index, update };
  });
  const deltas = frames.map((f) => {
    const update = new BookUpdate();
    const index = scanner.scan(f, table, update);
    if (index < 0) throw new Error(`${name}: diff not scanned`);
    return { index, update };
  });
  return flatten(`Binance ${market === "spot" ? "spot" : "USD-M"}`, instruments, snaps, deltas);
}

/** The OKX recording (as bench/okx.bench.ts loads it): 3 snapshots of 400 levels per side and 287 updates. */
function okx(): Recording {
  const specs: [MarketName, string, string, string][] = [
    ["inverse", "BTC-USD-220527", "0.1", "1"],
    ["inverse", "UNI-USD-SWAP", "0.001", "1"],
    ["spot", "BTC-USDT", "0.1", "0.00000001"],
  ];
  const decimals = (s: string) => (s.includes(".") ? s.length - s.indexOf(".") - 1 : 0);
  const instruments = specs.map(([market, symbol, tickSize, lotSize]): Instrument => ({ instrumentId: instrumentIdOf("okx", market, symbol), venue: "okx", market, symbol, priceExp: decimals(tickSize), qtyExp: decimals(lotSize), tickSize, lotSize }));
  const table = new OkxTopicTable();
  instruments.forEach((inst, k) => table.add(`books:${inst.symbol}`, k, inst.priceExp, inst.qtyExp));
  const scanner = new OkxScanner();
  const snaps: Recording["snaps"] = [];
  const deltas: Recording["snaps"] = [];
  for (const line of readFileSync(DIR + "OKX.ws.1.0", "utf8").split("\n")) {
    const m = /^\d+\.\d+: (\{"arg":\{"channel":"books".*)$/.exec(line);
    if (!m || !m[1]!.includes('"data"')) continue;
    const update = new BookUpdate();
    const index = scanner.scan(m[1]!, table, update);
    if (index < 0) throw new Error("OKX: frame not scanned");
    (update.isSnapshot ? snaps : deltas).push({ index, update });
  }
  return flatten("OKX", instruments, snaps, deltas);
}

/** Applies every delta of r to books through one reused BookUpdate; `levels` false sends them with empty sides. */
function pass(r: Recording, books: BookBuilder[], u: BookUpdate, levels: boolean, results?: number[]): void {
  const { idx, bc, ac, px, qty } = r;
  let o = 0;
  for (let k = 0; k < idx.length; k++) {
    const nb = bc[k]!;
    const na = ac[k]!;
    if (levels) {
      for (let j = 0; j < nb; j++, o++) [u.bidPx[j], u.bidQty[j]] = [px[o]!, qty[o]!];
      for (let j = 0; j < na; j++, o++) [u.askPx[j], u.askQty[j]] = [px[o]!, qty[o]!];
    }
    u.bidCount = levels ? nb : 0;
    u.askCount = levels ? na : 0;
    const res = books[idx[k]!]!.applyDelta(u);
    if (results) results[res]!++;
  }
}

type Counts = Map<string, number>;

/** The path set() / applyLevels takes for one level, read from the ladder's state before it is applied. */
function classify(l: Ladder, price: number, qty: number, c: Counts, moves: number[]): void {
  const s = l as unknown as { sign: number; keyBase: number; wSize: number; wQty: Float64Array; wTop: number; oN: number; oKeys: Float64Array; oQtys: Float64Array };
  const inc = (k: string) => c.set(k, (c.get(k) ?? 0) + 1);
  const key = price * s.sign;
  const slot = key - s.keyBase;
  const [movesBefore, sizeBefore] = [l.windowMoves, l.windowSize];
  if (slot >= 0 && slot < s.wSize) {
    const prev = s.wQty[slot]!;
    if (qty !== 0) inc(prev === 0 ? "window insert" : prev === qty ? "window same qty" : "window update");
    else inc(prev === 0 ? "window absent delete" : slot === s.wTop ? "window delete of the best" : "window delete");
  } else if (slot >= s.wSize) {
    inc(qty === 0 ? "above: absent delete" : "above: insert (re-centre)");
  } else {
    let i = 0;
    while (i < s.oN && s.oKeys[i]! < key) i++;
    if (i < s.oN && s.oKeys[i] === key) {
      if (qty === 0) (inc("overflow delete"), moves.push(s.oN - i - 1));
      else inc("overflow update");
    } else if (qty !== 0) (inc("overflow insert"), moves.push(s.oN - i));
    else inc("overflow absent delete");
  }
  l.set(price, qty);
  if (l.windowMoves !== movesBefore) inc("(re-centres)");
  if (l.windowSize !== sizeBefore) inc("(window resizes)");
}

function paths(r: Recording): Record<string, unknown>[] {
  const books = r.instruments.map((i) => new BookBuilder(i));
  for (const s of r.snaps) books[s.index]!.applySnapshot(s.update);
  const c: Counts = new Map();
  const moves: number[] = [];
  let o = 0;
  for (let k = 0; k < r.idx.length; k++) {
    const b = books[r.idx[k]!]!;
    for (let j = 0; j < r.bc[k]!; j++, o++) classify(b.bids, r.px[o]!, r.qty[o]!, c, moves);
    for (let j = 0; j < r.ac[k]!; j++, o++) classify(b.asks, r.px[o]!, r.qty[o]!, c, moves);
  }
  moves.sort((x, y) => x - y);
  const row: Record<string, unknown> = { recording: r.name, levels: r.px.length };
  for (const [k, v] of [...c].sort()) row[k] = `${v} (${((100 * v) / r.px.length).toFixed(1)} %)`;
  if (moves.length) row["overflow memmove p50 / max"] = `${moves[moves.length >> 1]} / ${moves[moves.length - 1]}`;
  return Object.entries(row).map(([what, value]) => ({ what, value }));
}

export function benchRecordings(durationMs: number): void {
  const recs = [binance("BINANCE", "spot"), binance("BINANCE_FUTURES", "linear"), okx()];
  console.log("\n== 6. Binance and OKX recordings: the book side of snapshots and of the first deltas after them ==");
  for (const r of recs) {
    console.log(`\n${r.name}: Ladder paths of the ${r.idx.length} deltas' levels, first pass after the ${r.snaps.length} snapshots`);
    printTable(paths(r));
  }
  const rows: Measurement[] = [];
  const replays: string[] = [];
  const u = new BookUpdate();
  for (const r of recs) {
    const books = r.instruments.map((i) => new BookBuilder(i));
    const load = () => r.snaps.forEach((s) => books[s.index]!.applySnapshot(s.update));
    const opts = { inner: 1, opsPerCall: r.idx.length, durationMs, warmupMs: 200, setup: load };
    rows.push(measure(`${r.name}: applyDelta, first pass after applySnapshot, per delta`, () => pass(r, books, u, true), opts));
    rows.push(measure(`${r.name}: the same deltas with empty sides (fixed cost)`, () => pass(r, books, u, false), opts));
    load();
    pass(r, books, u, true);
    const res = [0, 0, 0];
    pass(r, books, u, true, res);
    replays.push(`${r.name} ${res[ApplyResult.APPLIED]} applied, ${res[ApplyResult.IGNORED_NOT_LIVE]} ignored, ${res[ApplyResult.CROSSED]} crossed of ${r.idx.length}`);
  }
  const px = new Float64Array(4096);
  const qty = new Float64Array(4096);
  const copyAll = (b: BookBuilder) => {
    for (let from = 0; from < b.bidCount; from += 80) b.copyBids(from, Math.min(80, b.bidCount - from), px, qty, 0);
    for (let from = 0; from < b.askCount; from += 80) b.copyAsks(from, Math.min(80, b.askCount - from), px, qty, 0);
  };
  const one = new BookUpdate();
  for (const r of recs) {
    for (const s of r.snaps) {
      const n = s.update.bidCount + s.update.askCount;
      if (n < 700) continue;
      const b = new BookBuilder(r.instruments[s.index]!);
      const name = `${r.name} ${b.instrument.symbol} ${s.update.bidCount}+${s.update.askCount}`;
      const opts = { durationMs, warmupMs: 200, minSampleNs: 20_000 };
      rows.push(measure(`${name}: applySnapshot`, () => b.applySnapshot(s.update), opts));
      b.applySnapshot(s.update);
      rows.push(measure(`${name}: copyLevels of all levels after it, chunks of 80`, () => copyAll(b), opts));
      // One qty update of the best bid first.
      one.reset();
      one.pushBid(b.bids.bestPrice(), b.bids.bestQty() + 1);
      rows.push(measure(`${name}: the same after one delta (from the ladder)`, () => copyAll(b), { ...opts, setup: () => (b.applySnapshot(s.update), b.applyDelta(one)) }));
    }
  }
  console.log("");
  printTable(rows);
  console.log(`second pass over the same deltas (books from the first): ${replays.join("; ")}`);
}
