/**
 * Bybit frames with their sides read by the WebAssembly side reader (common/levels-wasm.ts, export "levels") against
 * the TypeScript-only scanner (`new BybitScanner(false)`): randomized snapshot and delta frames whose numbers take
 * every shape (integer and fraction lengths, leading zeros, zeros and digits beyond the exponent, exponents 0–16,
 * long integer parts), with noise (whitespace, signs, exponents, escapes, broken levels, JSON numbers) and
 * truncation: the same result code, error offset, table entry, levels and fields either way, and the module must have
 * accepted most plain sides itself. The genuine recording: every side read by the module, equal to the JSON path.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { WasmLevels } from "../../../src/venues/common/levels-wasm.ts";
import { BybitScanner, parseBookObject, TopicTable } from "../../../src/venues/bybit/index.ts";
import { WASM_MIN_CHARS } from "../../../src/venues/bybit/scanner.ts";
import { countSides } from "../common/count-wasm-sides.ts";
import { RandomLevelText } from "../common/random-level-text.ts";

const g = new RandomLevelText(9091, { maxFracDigits: 12, longIntFrom: 9, longIntOneIn: 10 });
const FIXTURE = resolve(import.meta.dirname, "../../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");

/** One side: Bybit's compact layout mostly; with noise, whitespace, a broken level or a JSON number at times. */
function sideText(n: number, pe: number, qe: number): string {
  const levels: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = g.noise === 0 ? 9 : g.rnd(4 * g.noise);
    if (r === 0) levels.push(`[ "${g.number(pe)}","${g.number(qe)}"]`);
    else if (r === 1) levels.push(`["${g.number(pe)}",${g.number(qe) || "1"}]`);
    else if (r === 2) levels.push(`["${g.number(pe)}"]`);
    else if (r === 3) levels.push(`["${g.number(pe)}","${g.number(qe)}" ]`);
    else if (r === 4) levels.push(`["${g.number(pe)}","${g.number(qe)}","0"]`);
    else levels.push(`["${g.number(pe)}","${g.number(qe)}"]`);
  }
  const sep = g.noise !== 0 && g.rnd(3 * g.noise) === 0 ? ", " : ",";
  return (g.noise !== 0 && g.rnd(4 * g.noise) === 0 ? "[ " : "[") + levels.join(sep) + "]";
}

function frameText(pe: number, qe: number): string {
  g.noise = g.rnd(2) === 0 ? 0 : [20, 100, 1000][g.rnd(3)]!;
  g.longInts = g.rnd(4) === 0;
  // Deltas: 0–40 levels a side; snapshots up to 200 (some short: frames below WASM_MIN_CHARS stay in TypeScript).
  const snapshot = g.rnd(3) === 0;
  const size = () => (g.rnd(5) === 0 ? g.rnd(3) : g.rnd(snapshot ? 200 : 40));
  const b = sideText(size(), pe, qe);
  const a = sideText(size(), pe, qe);
  const type = snapshot ? "snapshot" : "delta";
  const data = g.rnd(4) === 0 ? `{"s":"BTCUSDT","a":${a},"b":${b},"seq":7,"u":42}` : `{"s":"BTCUSDT","b":${b},"a":${a},"u":42,"seq":7}`;
  const frame =
    g.rnd(3) === 0
      ? `{"topic":"orderbook.200.BTCUSDT","ts":1672304484978,"type":"${type}","data":${data},"cts":1672304484976}`
      : `{"topic":"orderbook.200.BTCUSDT","type":"${type}","ts":1672304484978,"data":${data},"cts":1672304484976}`;
  return g.noise !== 0 && g.rnd(10) === 0 ? frame.slice(0, g.rnd(frame.length)) : frame;
}

/** Everything a scan leaves for the adapter, as text: code, error offset or fields and both sides. */
function resultOf(r: number, sc: BybitScanner, u: BookUpdate): string {
  if (r < 0) return `code ${r} at ${sc.errorPos} entry ${sc.entry}`;
  const side = (px: Float64Array, qty: Float64Array, n: number) => Array.from({ length: n }, (_, i) => `${px[i]}:${qty[i]}`).join(",");
  return [r, sc.entry, u.isSnapshot, u.venueSeq, u.tsExchangeUs, u.tsEventUs, side(u.bidPx, u.bidQty, u.bidCount), side(u.askPx, u.askQty, u.askCount)].join("|");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Bybit frames: WebAssembly side reader", () => {
  test("randomized frames: the same code, error offset, levels and fields as the TypeScript-only scanner", () => {
    const counts = countSides();
    const fast = new BybitScanner();
    const ref = new BybitScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    let ok = 0;
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const pe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const qe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const t = new TopicTable();
      t.add("orderbook.200.BTCUSDT", 3, pe, qe);
      const text = frameText(pe, qe);
      const ra = fast.scan(text, t, a);
      const rb = ref.scan(text, t, b);
      expect(resultOf(ra, fast, a), text).toBe(resultOf(rb, ref, b));
      if (ra >= 0) ok++;
      else rejected++;
    }
    // Not vacuous: many frames are read, many rejected or handed over, and the module took many sides itself (it
    // declines every side holding one number it does not take: long integer parts with large exponents, noise).
    expect(ok).toBeGreaterThan(900);
    expect(rejected).toBeGreaterThan(1500);
    expect(counts.accepted).toBeGreaterThan(1100);
    expect(counts.declined).toBeGreaterThan(1500);
  });

  test("a frame in the module's memory after a longer one, and a short one after it, reads the same", () => {
    const t = new TopicTable();
    t.add("orderbook.200.BTCUSDT", 0, 1, 3);
    const fast = new BybitScanner();
    const ref = new BybitScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    const lv = (n: number, q: string) => Array.from({ length: n }, (_, i) => `["${30000 - i}.5","${q}"]`).join(",");
    const frame = (n: number, q: string) =>
      `{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[${lv(n, q)}],"a":[],"u":${n},"seq":1},"cts":1}`;
    // Long (memory grows), shorter (stale bytes of the long one past the sentinel), short (own buffer), long again.
    for (const [n, q] of [[3000, "1.25"], [40, "2"], [1, "0.001"], [4000, "0.5"], [60, "1.0000"]] as const) {
      const text = frame(n, q);
      expect(resultOf(fast.scan(text, t, a), fast, a)).toBe(resultOf(ref.scan(text, t, b), ref, b));
      expect(a.bidCount).toBe(n);
    }
  });

  test("the genuine recording: every side of its long frames read by the module, equal to the JSON path", () => {
    const counts = countSides();
    const lines = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);
    const t = new TopicTable();
    t.add("orderbook.500.XRPUSDT", 0, 4, 0);
    const fast = new BybitScanner();
    const u = new BookUpdate();
    const v = new BookUpdate();
    let sides = 0;
    let long = 0;
    for (const line of lines) {
      const r = fast.scan(line, t, u);
      expect(r).toBe(0);
      if (line.length >= WASM_MIN_CHARS) {
        long++;
        sides += (u.bidCount > 0 ? 1 : 0) + (u.askCount > 0 ? 1 : 0);
      }
      const got = resultOf(r, fast, u);
      const entry = { entry: -1 };
      const rj = parseBookObject(JSON.parse(line), t, v, entry);
      expect(rj).toBe(0);
      const side = (px: Float64Array, qty: Float64Array, n: number) => Array.from({ length: n }, (_, i) => `${px[i]}:${qty[i]}`).join(",");
      expect(got).toBe([rj, entry.entry, v.isSnapshot, v.venueSeq, v.tsExchangeUs, v.tsEventUs, side(v.bidPx, v.bidQty, v.bidCount), side(v.askPx, v.askQty, v.askCount)].join("|"));
    }
    // Frames below WASM_MIN_CHARS (11 short deltas) are read by TypeScript alone; every other side by the module.
    expect(long).toBeGreaterThan(35);
    expect(sides).toBe(2 * long);
    expect(counts.declined).toBe(0);
    expect(counts.accepted).toBe(sides);
  });

  test("where WebAssembly is unavailable, the TypeScript reader reads every side", () => {
    vi.spyOn(WasmLevels, "create").mockReturnValue(null);
    const counts = countSides();
    const lines = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);
    const t = new TopicTable();
    t.add("orderbook.500.XRPUSDT", 0, 4, 0);
    const fast = new BybitScanner();
    const ref = new BybitScanner(false);
    const u = new BookUpdate();
    const v = new BookUpdate();
    for (const line of lines) expect(resultOf(fast.scan(line, t, u), fast, u)).toBe(resultOf(ref.scan(line, t, v), ref, v));
    expect(WasmLevels.create).toHaveBeenCalled();
    expect(counts.accepted + counts.declined).toBe(0);
  });
});
