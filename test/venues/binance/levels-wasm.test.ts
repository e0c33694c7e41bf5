/**
 * The WebAssembly side reader of REST snapshots (levels-wasm.ts) against the TypeScript reader it speeds up
 * (`new BinanceScanner(false)`): randomized bodies whose numbers take every shape the module handles (integer and
 * fraction lengths 0–16 and 0–10, zeros and digits beyond the exponent, exponents 0–16) and what it must leave to the
 * TypeScript reader (whitespace, signs, exponents, broken levels, escapes, non-ASCII, truncation): the same result
 * code, error offset and levels either way, and the module must have accepted most of the plain sides itself.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test, vi } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceScanner } from "../../../src/venues/binance/scanner.ts";
import { StreamTable } from "../../../src/venues/binance/topic-table.ts";
import { parseDepthSnapshot } from "../../../src/venues/binance/parse-json.ts";
import { countSides } from "../common/count-wasm-sides.ts";
import { RandomLevelText } from "../common/random-level-text.ts";
import { loadRecording } from "./recordings.ts";

const g = new RandomLevelText(12345, { maxFracDigits: 10, longIntFrom: 11, longIntOneIn: 16 });

/** One side: Binance's compact layout mostly, sometimes whitespace, a broken level or a JSON number. */
function sideText(n: number, pe: number, qe: number): string {
  const levels: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = g.noise === 0 ? 9 : g.rnd(4 * g.noise);
    if (r === 0) levels.push(`[ "${g.number(pe)}","${g.number(qe)}"]`);
    else if (r === 1) levels.push(`["${g.number(pe)}",${g.number(qe) || "1"}]`);
    else if (r === 2) levels.push(`["${g.number(pe)}","${g.number(qe)}","1"]`);
    else if (r === 3) levels.push(`["${g.number(pe)}"]`);
    else levels.push(`["${g.number(pe)}","${g.number(qe)}"]`);
  }
  return "[" + levels.join(g.noise !== 0 && g.rnd(3 * g.noise) === 0 ? ", " : ",") + "]";
}

function bodyText(pe: number, qe: number): string {
  g.noise = g.rnd(2) === 0 ? 0 : [20, 100, 1000][g.rnd(3)]!;
  g.longInts = g.rnd(4) === 0;
  const bids = sideText(g.rnd(4) === 0 ? g.rnd(3) : g.rnd(60), pe, qe);
  const asks = sideText(g.rnd(4) === 0 ? g.rnd(3) : g.rnd(60), pe, qe);
  const body = g.rnd(2) === 0 ? `{"lastUpdateId":${1 + g.rnd(1e6)},"bids":${bids},"asks":${asks}}` : `{"lastUpdateId":7,"E":1626992741264,"T":1626992741261,"bids":${bids},"asks":${asks}}`;
  return g.noise !== 0 && g.rnd(10) === 0 ? body.slice(0, g.rnd(body.length)) : body;
}

function levels(u: BookUpdate): string {
  const side = (px: Float64Array, qty: Float64Array, n: number) => Array.from({ length: n }, (_, i) => `${px[i]}:${qty[i]}`).join(",");
  return `${side(u.bidPx, u.bidQty, u.bidCount)}|${side(u.askPx, u.askQty, u.askCount)}|${u.venueSeq}|${u.tsExchangeUs}|${u.tsEventUs}`;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Binance REST snapshots: WebAssembly side reader", () => {
  test("the embedded module is what scripts/gen-levels-wasm.mjs generates", () => {
    const script = fileURLToPath(new URL("../../../scripts/gen-levels-wasm.mjs", import.meta.url));
    const r = spawnSync("node", [script, "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("randomized bodies: the same code, error offset and levels as the TypeScript reader", () => {
    const counts = countSides();
    const fast = new BinanceScanner();
    const ref = new BinanceScanner(false);
    let ok = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const pe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const qe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const text = bodyText(pe, qe);
      const a = new BookUpdate();
      const b = new BookUpdate();
      const ra = fast.scanSnapshot(text, pe, qe, a);
      const rb = ref.scanSnapshot(text, pe, qe, b);
      expect(ra, text).toBe(rb);
      if (ra === 0) {
        expect(levels(a), text).toBe(levels(b));
        ok++;
      } else {
        expect(fast.errorPos, text).toBe(ref.errorPos);
        errors++;
      }
    }
    expect(ok).toBeGreaterThan(800);
    expect(errors).toBeGreaterThan(800);
    // Most sides must have been read by the module itself, and some left to the TypeScript reader.
    expect(counts.accepted).toBeGreaterThan(1200);
    expect(counts.declined).toBeGreaterThan(1000);
  });

  test("the recorded bodies are read by the module, with the JSON path's levels", () => {
    const counts = countSides();
    const scanner = new BinanceScanner();
    for (const name of ["BINANCE", "BINANCE_FUTURES"] as const) {
      const rec = loadRecording(name);
      for (const r of rec.records.filter((x) => x.url)) {
        const e = rec.exps.get(/symbol=([A-Z0-9]+)/.exec(r.url!)![1]!)!;
        const a = new BookUpdate();
        expect(scanner.scanSnapshot(r.text, e.price, e.qty, a)).toBe(0);
        const j = new BookUpdate();
        expect(parseDepthSnapshot(r.text, e.price, e.qty, j)).toBe(a.venueSeq);
        expect(levels(a)).toBe(levels(j));
      }
    }
    expect(counts.declined).toBe(0);
    expect(counts.accepted).toBe(16);
  });

  test("bodies of growing and shrinking sizes (the module's memory grows), sides longer than a BookUpdate holds", () => {
    const scanner = new BinanceScanner();
    const ref = new BinanceScanner(false);
    for (const n of [5, 3000, 40, 9000, 1, 2500]) {
      const level = (i: number) => `["${100000 - i}.${String(i % 100).padStart(2, "0")}000000","${1 + (i % 997)}.50000000"]`;
      const side = "[" + Array.from({ length: n }, (_, i) => level(i)).join(",") + "]";
      const text = `{"lastUpdateId":${n},"bids":${side},"asks":${side}}`;
      const a = new BookUpdate();
      const b = new BookUpdate();
      expect(scanner.scanSnapshot(text, 2, 1, a)).toBe(0);
      expect(ref.scanSnapshot(text, 2, 1, b)).toBe(0);
      expect(a.bidCount).toBe(n);
      expect(levels(a)).toBe(levels(b));
    }
  });

  test("the diff path keeps its own buffer after a snapshot", () => {
    const scanner = new BinanceScanner();
    const u = new BookUpdate();
    expect(scanner.scanSnapshot('{"lastUpdateId":5,"bids":[["1.5","2"]],"asks":[]}', 1, 0, u)).toBe(0);
    expect(u.bidPx[0]).toBe(15);
    // A malformed body: the TypeScript reader names the fault at the same place as without the module.
    const bad = '{"lastUpdateId":5,"bids":[["1.5","2"],["1.5" ,"x"]],"asks":[]}';
    const ref = new BinanceScanner(false);
    expect(scanner.scanSnapshot(bad, 1, 0, u)).toBe(ref.scanSnapshot(bad, 1, 0, new BookUpdate()));
    expect(scanner.errorPos).toBe(ref.errorPos);
    // Diffs before and after snapshots are read from the scanner's own buffer, with the right levels.
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 3, 1, 0);
    const diff = '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["2.5","7"]],"a":[]}}';
    expect(scanner.scan(diff, t, u)).toBe(3);
    expect(scanner.scanSnapshot("{" + '"lastUpdateId":5,"bids":[["9.5","2"]],"asks":[]' + " ".repeat(70000) + "}", 1, 0, u)).toBe(0);
    expect(u.bidPx[0]).toBe(95);
    expect(scanner.scan(diff, t, u)).toBe(3);
    expect([u.bidCount, u.bidPx[0], u.bidQty[0]]).toEqual([1, 25, 7]);
  });
});
