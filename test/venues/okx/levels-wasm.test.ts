/**
 * OKX book frames with their sides read by the WebAssembly side reader (common/levels-wasm.ts, export "levelsx")
 * against the TypeScript-only scanner (`new OkxScanner(false)`): randomized frames whose numbers take every shape
 * (integer and fraction lengths, zeros and digits beyond the exponent, exponents 0–16), whose levels carry the 3rd
 * and 4th fields as OKX sends them, odd or missing, with noise (whitespace, signs, escapes, broken levels) and
 * truncation: the same result code and the same levels, sequence numbers and fields either way, and the module must
 * have accepted most plain sides itself. The genuine recording: every side read by the module, equal to the JSON path.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { WasmLevels } from "../../../src/venues/common/levels-wasm.ts";
import { OkxScanner, OkxTopicTable, parseBookObject } from "../../../src/venues/okx/index.ts";
import { RandomLevelText } from "../common/random-level-text.ts";
import { okxRecordingFrames, OKX_RECORDING_INSTRUMENTS } from "./recording.ts";

const g = new RandomLevelText(4242, { maxFracDigits: 12, longIntFrom: 10, longIntOneIn: 12 });

/** The fields after the size: OKX's `,"0","n"` mostly; at times missing, one or three, odd (noise) ones. */
function tailText(odd = false): string {
  const r = odd ? 3 + g.rnd(13) : g.rnd(40);
  if (r === 0) return "";
  if (r === 1) return ',"0"';
  if (r === 2) return `,"0","${g.digits(1 + g.rnd(4), true)}","7"`;
  if (!odd && (g.noise === 0 || g.rnd(g.noise) > 2)) return `,"0","${g.digits(1 + g.rnd(3), true)}"`;
  if (r === 3) return ',"0",""';
  if (r === 4) return ',"x","1"';
  if (r === 5) return ',"0","1.5"';
  if (r === 6) return ',"0",3';
  if (r === 7) return ',"0","-1"';
  if (r === 8) return ', "0","1"';
  if (r === 9) return ',"0","1\\""';
  if (r === 10) return ',"0","1';
  if (r === 11) return ',"0","12x"';
  if (r === 12) return ',"0","ab"';
  if (r === 13) return ',"0","\\u0031"';
  if (r === 14) return ',"0","1x';
  if (r === 15) return ',"0","1\\","1"';
  return `,"0","${g.digits(1 + g.rnd(3), true)}"`;
}

/** Per side: the one level (else -1) of an otherwise plain side whose tail is odd, so that nothing else decides. */
let oddAt = -1;

/** One side: OKX's layout mostly, sometimes whitespace, a broken level or a JSON number. */
function sideText(n: number, pe: number, qe: number): string {
  const levels: string[] = [];
  oddAt = g.noise === 0 && g.rnd(3) === 0 ? g.rnd(n + 1) : -1;
  for (let i = 0; i < n; i++) {
    if (i === oddAt) {
      levels.push(`["${g.number(pe)}","${g.number(qe)}"${tailText(true)}]`);
      continue;
    }
    const r = g.noise === 0 ? 9 : g.rnd(4 * g.noise);
    if (r === 0) levels.push(`[ "${g.number(pe)}","${g.number(qe)}"${tailText()}]`);
    else if (r === 1) levels.push(`["${g.number(pe)}",${g.number(qe) || "1"}${tailText()}]`);
    else if (r === 2) levels.push(`["${g.number(pe)}"]`);
    else if (r === 3) levels.push(`["${g.number(pe)}","${g.number(qe)}"${tailText()} ]`);
    else levels.push(`["${g.number(pe)}","${g.number(qe)}"${tailText()}]`);
  }
  return "[" + levels.join(g.noise !== 0 && g.rnd(3 * g.noise) === 0 ? ", " : ",") + "]";
}

function frameText(pe: number, qe: number): string {
  g.noise = g.rnd(2) === 0 ? 0 : [20, 100, 1000][g.rnd(3)]!;
  g.longInts = g.rnd(4) === 0;
  const size = () => (g.rnd(4) === 0 ? g.rnd(3) : g.rnd(g.rnd(3) === 0 ? 400 : 40));
  const asks = sideText(size(), pe, qe);
  const bids = sideText(size(), pe, qe);
  const action = g.rnd(3) === 0 ? "snapshot" : "update";
  const data =
    g.rnd(2) === 0
      ? `{"asks":${asks},"bids":${bids},"ts":"1652459225464","checksum":-914047754,"prevSeqId":15,"seqId":16}`
      : `{"bids":${bids},"ts":"1652459225464","asks":${asks},"seqId":16,"checksum":3,"prevSeqId":15}`;
  const frame = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"${action}","data":[${data}]}`;
  return g.noise !== 0 && g.rnd(10) === 0 ? frame.slice(0, g.rnd(frame.length)) : frame;
}

/** Everything a scan leaves for the adapter, as text. */
function resultOf(r: number, sc: OkxScanner, u: BookUpdate): string {
  if (r < 0) return `code ${r}`;
  const side = (px: Float64Array, qty: Float64Array, n: number) => Array.from({ length: n }, (_, i) => `${px[i]}:${qty[i]}`).join(",");
  return [r, sc.entry, sc.action, sc.hasSeqId, sc.seqId, sc.hasPrevSeqId, sc.prevSeqId, sc.checksum, u.isSnapshot, u.tsExchangeUs, u.venueSeq, side(u.bidPx, u.bidQty, u.bidCount), side(u.askPx, u.askQty, u.askCount)].join("|");
}

/** Counts the sides the module accepted (readSide ≥ 0) and declined. */
function countSides(): { accepted: number; declined: number } {
  const counts = { accepted: 0, declined: 0 };
  const real = WasmLevels.prototype.readSide;
  vi.spyOn(WasmLevels.prototype, "readSide").mockImplementation(function (this: WasmLevels, ...args: Parameters<WasmLevels["readSide"]>) {
    const r = real.apply(this, args);
    if (r >= 0) counts.accepted++;
    else counts.declined++;
    return r;
  });
  return counts;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("OKX frames: WebAssembly side reader", () => {
  test("randomized frames: the same code, levels and fields as the TypeScript-only scanner", () => {
    const counts = countSides();
    const fast = new OkxScanner();
    const ref = new OkxScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    let ok = 0;
    let fallbacks = 0;
    for (let i = 0; i < 3000; i++) {
      const pe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const qe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const t = new OkxTopicTable();
      t.add("books:BTC-USDT", 5, pe, qe);
      const text = frameText(pe, qe);
      const ra = fast.scan(text, t, a);
      const rb = ref.scan(text, t, b);
      expect(resultOf(ra, fast, a), text).toBe(resultOf(rb, ref, b));
      if (ra >= 0) ok++;
      else fallbacks++;
    }
    // Not vacuous: many frames are read, many go to the JSON path, and the module took most sides itself.
    expect(ok).toBeGreaterThan(800);
    expect(fallbacks).toBeGreaterThan(200);
    expect(counts.accepted).toBeGreaterThan(1200);
    expect(counts.declined).toBeGreaterThan(200);
  });

  test("the genuine recording: every side read by the module, equal to the JSON path", () => {
    const counts = countSides();
    const t = new OkxTopicTable();
    OKX_RECORDING_INSTRUMENTS.forEach((ins, k) => t.add(`books:${ins.symbol}`, k, decimals(ins.tickSize), decimals(ins.lotSize)));
    const fast = new OkxScanner();
    const u = new BookUpdate();
    let sides = 0;
    for (const rec of okxRecordingFrames().books) {
      const r = fast.scan(rec.frame, t, u);
      expect(r).toBeGreaterThanOrEqual(0);
      const got = resultOf(r, fast, u);
      sides += (u.bidCount > 0 ? 1 : 0) + (u.askCount > 0 ? 1 : 0);
      const sc = new OkxScanner(false);
      const v = new BookUpdate();
      const rj = parseBookObject(JSON.parse(rec.frame), rec.frame, t, v, sc);
      expect(got, rec.frame).toBe(resultOf(rj, sc, v));
    }
    expect(sides).toBeGreaterThan(500);
    expect(counts.declined).toBe(0);
    expect(counts.accepted).toBe(sides);
  });
});

function decimals(step: string): number {
  const dot = step.indexOf(".");
  return dot < 0 ? 0 : step.length - dot - 1;
}
