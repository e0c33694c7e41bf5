/**
 * A/B of BookBuilder's level check (price > 0, qty ≥ 0 before anything is applied) in one process:
 * `bun bench/experiments/price-check-ab/ab.ts [rounds]`. Old = the builder before the check (src/book/book-builder.ts at PRICE_AB_OLD, default 5c10efd, via ../load-source.ts),
 * new = src/book/book-builder.ts. Frames: the real Bybit XRPUSDT deltas (49, after its 500/side snapshot) and the
 * real Binance spot / USD-M diffs (test/fixtures), scanned once by the project's scanners into BookUpdate copies;
 * timed: applyDelta (+ the change set read, as the encoder would) of every delta, per pass; and applySnapshot of the
 * 500/side Bybit snapshot. Variants alternate inside each round (order flipped every round); medians over rounds.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BookBuilder as NewBuilder } from "../../../src/book/book-builder.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { instrumentIdOf } from "../../../src/core/instrument-id.ts";
import { BookState, type Instrument, type MarketName } from "../../../src/core/types.ts";
import { BinanceScanner } from "../../../src/venues/binance/scanner.ts";
import { StreamTable } from "../../../src/venues/binance/topic-table.ts";
import { BybitScanner, TopicTable } from "../../../src/venues/bybit/scanner.ts";
import { loadSource } from "../load-source.ts";

const ROUNDS = Number(process.argv[2] ?? 21);
const PASS_NS = 100_000_000; // per variant per round

const OldBuilder = (await loadSource<{ BookBuilder: typeof NewBuilder }>("src/book/book-builder.ts", process.env.PRICE_AB_OLD ?? "5c10efd", "price-ab-old")).BookBuilder;
type Builder = NewBuilder;
interface Case {
  name: string;
  instruments: Instrument[];
  snapshots: (BookUpdate | undefined)[];
  deltas: { index: number; u: BookUpdate }[];
}

function copy(u: BookUpdate): BookUpdate {
  const c = new BookUpdate(Math.max(u.bidCount, u.askCount, 1));
  c.isSnapshot = u.isSnapshot;
  c.venueSeq = u.venueSeq;
  for (let i = 0; i < u.bidCount; i++) c.pushBid(u.bidPx[i]!, u.bidQty[i]!);
  for (let i = 0; i < u.askCount; i++) c.pushAsk(u.askPx[i]!, u.askQty[i]!);
  return c;
}

function bybitCase(): Case {
  const file = fileURLToPath(new URL("../../../test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl", import.meta.url));
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  const t = new TopicTable();
  t.add("orderbook.500.XRPUSDT", 0, 4, 0);
  const sc = new BybitScanner();
  const up = new BookUpdate();
  const inst: Instrument = { instrumentId: instrumentIdOf("bybit", "linear", "XRPUSDT"), venue: "bybit", market: "linear", symbol: "XRPUSDT", priceExp: 4, qtyExp: 0, tickSize: "0.0001", lotSize: "1" };
  const out: Case = { name: "bybit XRPUSDT", instruments: [inst], snapshots: [], deltas: [] };
  for (const l of lines) {
    up.reset();
    if (sc.scan(l, t, up) !== 0) throw new Error("bybit scan failed");
    if (up.isSnapshot) out.snapshots[0] = copy(up);
    else out.deltas.push({ index: 0, u: copy(up) });
  }
  return out;
}

function places(s: string): number {
  return (s.split(".")[1] ?? "").replace(/0+$/, "").length;
}

function binanceCase(name: string, market: MarketName): Case {
  const dir = fileURLToPath(new URL("../../../test/fixtures/cryptofeed/", import.meta.url));
  const bodies = new Map<string, string>();
  for (const line of readFileSync(dir + `${name}.http.0.0`, "utf8").split("\n")) {
    const m = /^\S+symbol=([A-Z0-9]+)\S* -> [\d.]+: (.*)$/.exec(line);
    if (m) bodies.set(m[1]!, m[2]!);
  }
  const frames: string[] = [];
  const exps = new Map<string, [number, number]>();
  const widen = (s: string, l: [string, string][]) => {
    const e = exps.get(s) ?? [0, 0];
    for (const [p, q] of l) e.splice(0, 2, Math.max(e[0]!, places(p)), Math.max(e[1]!, places(q)));
    exps.set(s, e);
  };
  for (const [s, b] of bodies) {
    const j = JSON.parse(b) as { bids: [string, string][]; asks: [string, string][] };
    widen(s, j.bids);
    widen(s, j.asks);
  }
  for (const line of readFileSync(dir + `${name}.ws.1.0`, "utf8").split("\n")) {
    const m = /^[\d.]+: (\{.*\})$/.exec(line);
    if (!m || !m[1]!.includes('"depthUpdate"')) continue;
    const d = (JSON.parse(m[1]!) as { data: { s: string; b: [string, string][]; a: [string, string][] } }).data;
    widen(d.s, d.b);
    widen(d.s, d.a);
    frames.push(m[1]!);
  }
  const table = new StreamTable();
  const sc = new BinanceScanner();
  const up = new BookUpdate();
  const snap = new BookUpdate();
  const out: Case = { name: `binance ${market}`, instruments: [], snapshots: [], deltas: [] };
  let i = 0;
  for (const [s, body] of bodies) {
    const [pe, qe] = exps.get(s)!;
    out.instruments.push({ instrumentId: instrumentIdOf("binance", market, s), venue: "binance", market, symbol: s, priceExp: pe, qtyExp: qe, tickSize: "1", lotSize: "1" });
    table.addStream(`${s.toLowerCase()}@depth@100ms`, s, i, pe, qe);
    snap.reset();
    if (sc.scanSnapshot(body, pe, qe, snap) !== 0) throw new Error("snapshot scan failed");
    out.snapshots[i++] = copy(snap);
  }
  for (const f of frames) {
    up.reset();
    const k = sc.scan(f, table, up);
    if (k < 0) throw new Error("binance scan failed");
    out.deltas.push({ index: k, u: copy(up) });
  }
  return out;
}

/** One variant's books for a case, LIVE from the case's snapshots. */
function booksOf(c: Case, make: (i: Instrument) => Builder): Builder[] {
  return c.instruments.map((inst, k) => {
    const b = make(inst);
    b.applySnapshot(c.snapshots[k]!);
    return b;
  });
}

let sink = 0;
let applied = 0;
let ignored = 0;
/** One pass over the case's deltas from the snapshots (restored untimed), in order: ns per delta. */
function passDeltas(c: Case, books: Builder[]): number {
  for (let k = 0; k < books.length; k++) books[k]!.applySnapshot(c.snapshots[k]!);
  const t0 = Bun.nanoseconds();
  for (const d of c.deltas) {
    const b = books[d.index]!;
    if (b.applyDelta(d.u) === 0) applied++;
    else ignored++;
    sink += b.changes.bidCount + b.changes.askCount;
  }
  return (Bun.nanoseconds() - t0) / c.deltas.length;
}

/** One pass over the case's snapshots: ns per snapshot. */
function passSnapshots(c: Case, books: Builder[]): number {
  const t0 = Bun.nanoseconds();
  for (let k = 0; k < books.length; k++) sink += books[k]!.applySnapshot(c.snapshots[k]!);
  return (Bun.nanoseconds() - t0) / books.length;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/**
 * Samples alternate old/new pass by pass (order flipped every sample), so drift of this shared VM hits both; per
 * round the medians of each and of the paired differences; printed: the median over rounds of those.
 */
for (const c of [bybitCase(), binanceCase("BINANCE", "spot"), binanceCase("BINANCE_FUTURES", "linear")]) {
  const levels = c.deltas.reduce((s, d) => s + d.u.bidCount + d.u.askCount, 0) / c.deltas.length;
  const oldBooks = booksOf(c, (i) => new OldBuilder(i));
  const newBooks = booksOf(c, (i) => new NewBuilder(i));
  for (const [what, fn] of [["applyDelta", passDeltas], ["applySnapshot", passSnapshots]] as const) {
    const ro: number[] = [];
    const rn: number[] = [];
    const rd: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const o: number[] = [];
      const nw: number[] = [];
      const diff: number[] = [];
      const t0 = Bun.nanoseconds();
      for (let k = 0; Bun.nanoseconds() - t0 < 2 * PASS_NS; k++) {
        let a: number;
        let b: number;
        if (k % 2 === 0) {
          a = fn(c, oldBooks);
          b = fn(c, newBooks);
        } else {
          b = fn(c, newBooks);
          a = fn(c, oldBooks);
        }
        o.push(a);
        nw.push(b);
        diff.push(b - a);
      }
      ro.push(median(o));
      rn.push(median(nw));
      rd.push(median(diff));
    }
    if (what === "applyDelta") console.log(`  (${c.name}: deltas applied ${applied}, not (crossed or not LIVE) ${ignored})`);
    applied = ignored = 0;
    const per = what === "applyDelta" ? `${levels.toFixed(1)} levels/delta` : `${c.snapshots.reduce((s, u) => s + u!.bidCount + u!.askCount, 0) / c.snapshots.length} levels/snapshot`;
    const rdS = [...rd].sort((x, y) => x - y);
    console.log(`${c.name.padEnd(16)} ${what.padEnd(13)} old ${median(ro).toFixed(1).padStart(8)} ns  new ${median(rn).toFixed(1).padStart(8)} ns  new−old ${median(rd).toFixed(1).padStart(6)} ns (${((median(rd) / median(ro)) * 100).toFixed(1)} %; rounds ${rdS[0]!.toFixed(1)} … ${rdS[rdS.length - 1]!.toFixed(1)})  [${per}, ${ROUNDS} rounds]`);
  }
}
if (sink === 42) console.log("");
