/**
 * OKX book frames read by the WebAssembly module (common/levels-wasm.ts: the whole data object by export "okxdata",
 * else each side by "levelsx") against the TypeScript-only scanner (`new OkxScanner(false)`): randomized frames whose
 * numbers take every shape (integer and fraction lengths, zeros and digits beyond the exponent, exponents 0–16), whose
 * levels carry the 3rd and 4th fields as OKX sends them, odd or missing, whose data keys come in any order, missing,
 * repeated or unknown, with `ts`, `checksum`, `prevSeqId` and `seqId` of every shape (signs, -0, leading zeros, 15 and
 * 16 digits, the int32 edges, fractions, strings), with noise (whitespace, signs, escapes, broken levels) and
 * truncation: the same result code and the same levels, sequence numbers and fields either way, and the module must
 * have taken most data objects itself. The genuine recording: every data object read by the module in one call,
 * equal to the JSON path. Growing the module's memory (which detaches the update's side arrays) loses nothing.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { WasmLevels } from "../../../src/venues/common/levels-wasm.ts";
import { OkxScanner, OkxTopicTable, parseBookObject } from "../../../src/venues/okx/index.ts";
import { SCAN_FALLBACK } from "../../../src/venues/okx/scanner.ts";
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

/** An integer field (prevSeqId, seqId; checksum: within int32): plain mostly, else any shape. */
function intText(int32 = false): string {
  if (g.noise === 0 || g.rnd(3) !== 0) {
    const sign = g.rnd(4) === 0 ? "-" : "";
    if (g.rnd(10) === 0) return sign + "0";
    return sign + (int32 ? String(1 + g.rnd(1 << 24) * 128 + g.rnd(127)) : g.digits(1 + g.rnd(g.rnd(3) === 0 ? 15 : 10), true));
  }
  const odd = ["0", "-0", "007", "-", "", "1.5", "1e3", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295",
    g.digits(15, true), g.digits(16, true), "-" + g.digits(15, true), '"5"', "--1", "+1", " 1", "1 ", "-01", "00"];
  return odd[g.rnd(odd.length)]!;
}

/** `ts`: a quoted millisecond count mostly, else any shape. */
function tsText(): string {
  if (g.noise === 0 || g.rnd(3) !== 0) return `"${g.digits(1 + g.rnd(g.rnd(4) === 0 ? 15 : 13), g.rnd(5) !== 0)}"`;
  const odd = ['""', '"0123"', `"${g.digits(15)}"`, `"${g.digits(16, true)}"`, '"12a"', "1652459225464", '"-1"', '"1.5"', '"1\u0030"', '"1'];
  return odd[g.rnd(odd.length)]!;
}

function frameText(pe: number, qe: number): string {
  g.noise = g.rnd(2) === 0 ? 0 : [20, 100, 1000][g.rnd(3)]!;
  g.longInts = g.rnd(4) === 0;
  const size = () => (g.rnd(4) === 0 ? g.rnd(3) : g.rnd(g.rnd(3) === 0 ? 400 : 40));
  const action = g.rnd(3) === 0 ? "snapshot" : "update";
  // OKX's key order mostly (without the sequence numbers at times, as in 2022), else shuffled; with noise a key
  // missing, repeated, unknown or books5's instId.
  const fields: [string, () => string][] = [
    ["asks", () => sideText(size(), pe, qe)],
    ["bids", () => sideText(size(), pe, qe)],
    ["ts", tsText],
    ["checksum", () => intText(true)],
    ["prevSeqId", () => intText()],
    ["seqId", () => intText()],
  ];
  if (g.rnd(4) === 0) fields.length = 4;
  if (g.rnd(3) === 0) for (let i = fields.length - 1; i > 0; i--) { const j = g.rnd(i + 1); [fields[i], fields[j]] = [fields[j]!, fields[i]!]; }
  if (g.noise !== 0 && g.rnd(4) === 0) {
    const r = g.rnd(5);
    if (r === 0) fields.splice(g.rnd(fields.length), 1);
    else if (r === 1) fields.splice(g.rnd(fields.length), 0, fields[g.rnd(fields.length)]!);
    else if (r === 2) fields.splice(g.rnd(fields.length), 0, ["instId", () => '"BTC-USDT"']);
    else if (r === 3) fields.splice(g.rnd(fields.length), 0, ["foo", () => "1"]);
    else fields.splice(g.rnd(fields.length), 0, ["seq", () => "1"]);
  }
  const data = "{" + fields.map(([k, v]) => `"${k}":${v()}`).join(",") + "}";
  // The books channel with an action mostly (the scanner's one-compare head); else other channels, no action.
  const channel = g.rnd(4) === 0 ? ["books-l2-tbt", "books50-l2-tbt", "bbo-tbt", "book"][g.rnd(4)] : "books";
  const head = `{"arg":{"channel":"${channel}","instId":"BTC-USDT"}` + (g.rnd(6) === 0 ? "" : `,"action":"${action}"`);
  const frame = `${head},"data":[${data}]}`;
  return g.noise !== 0 && g.rnd(10) === 0 ? frame.slice(0, g.rnd(frame.length)) : frame;
}

/** Everything a scan leaves for the adapter, as text. */
function resultOf(r: number, sc: OkxScanner, u: BookUpdate): string {
  if (r < 0) return `code ${r}`;
  const side = (px: Float64Array, qty: Float64Array, n: number) => Array.from({ length: n }, (_, i) => `${px[i]}:${qty[i]}`).join(",");
  const num = (x: number) => (Object.is(x, -0) ? "-0" : String(x)); // -0 (from "-0") kept apart from 0
  return [r, sc.entry, sc.action, sc.hasSeqId, num(sc.seqId), sc.hasPrevSeqId, num(sc.prevSeqId), num(sc.checksum), u.isSnapshot, num(u.tsExchangeUs), num(u.venueSeq), side(u.bidPx, u.bidQty, u.bidCount), side(u.askPx, u.askQty, u.askCount)].join("|");
}

interface Counts {
  /** Data objects "okxdata" took whole, and declined. */
  objects: number;
  objectsDeclined: number;
  /** Sides "levelsx" took (after "okxdata" declined the object), and declined. */
  sides: number;
  sidesDeclined: number;
}

/** Counts what the module accepted and declined. */
function countModule(): Counts {
  const counts = { objects: 0, objectsDeclined: 0, sides: 0, sidesDeclined: 0 };
  const realSide = WasmLevels.prototype.readSide;
  vi.spyOn(WasmLevels.prototype, "readSide").mockImplementation(function (this: WasmLevels, ...args: Parameters<WasmLevels["readSide"]>) {
    const r = realSide.apply(this, args);
    if (r >= 0) counts.sides++;
    else counts.sidesDeclined++;
    return r;
  });
  const realData = WasmLevels.prototype.readOkxData;
  vi.spyOn(WasmLevels.prototype, "readOkxData").mockImplementation(function (this: WasmLevels, ...args: Parameters<WasmLevels["readOkxData"]>) {
    const r = realData.apply(this, args);
    if (r >= 0) counts.objects++;
    else counts.objectsDeclined++;
    return r;
  });
  return counts;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("OKX frames: WebAssembly side reader", () => {
  test("randomized frames: the same code, levels and fields as the TypeScript-only scanner", () => {
    const counts = countModule();
    const fast = new OkxScanner();
    const ref = new OkxScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    fast.shareSides(a);
    // A second module scanner whose update is not shared: the levels are copied out of the module's arrays.
    const copying = new OkxScanner();
    const c = new BookUpdate();
    let ok = 0;
    let fallbacks = 0;
    for (let i = 0; i < 6000; i++) {
      const pe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const qe = g.rnd(10) === 0 ? g.rnd(17) : g.rnd(9);
      const t = new OkxTopicTable();
      for (const c of ["books", "books-l2-tbt", "books50-l2-tbt", "bbo-tbt"]) t.add(`${c}:BTC-USDT`, 5, pe, qe);
      const text = frameText(pe, qe);
      const ra = fast.scan(text, t, a);
      const rb = ref.scan(text, t, b);
      expect(resultOf(ra, fast, a), text).toBe(resultOf(rb, ref, b));
      expect(resultOf(copying.scan(text, t, c), copying, c), text).toBe(resultOf(rb, ref, b));
      if (ra >= 0) ok++;
      else fallbacks++;
    }
    // Not vacuous: many frames are read, many go to the JSON path; the module took most data objects whole, and of
    // those it declined, the side reader took many sides and declined others.
    expect(ok).toBeGreaterThan(1000);
    expect(fallbacks).toBeGreaterThan(3000);
    expect(counts.objects).toBeGreaterThan(600);
    expect(counts.objectsDeclined).toBeGreaterThan(2500);
    expect(counts.sides).toBeGreaterThan(700);
    expect(counts.sidesDeclined).toBeGreaterThan(2500);
  }, 120_000); // wall-clock bounds under load (5 s exceeded at load 12-16), not speed assertions

  test("growing the module's memory: the update's side arrays stay usable by every reader", () => {
    const t = new OkxTopicTable();
    t.add("books:BTC-USDT", 0, 1, 8);
    const fast = new OkxScanner();
    const ref = new OkxScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    fast.shareSides(a);
    const level = (i: number) => `["${30000 + i}.5","0.${String(i).padStart(3, "0")}1","0","${1 + (i % 9)}"]`;
    const side = (n: number, from: number) => "[" + Array.from({ length: n }, (_, i) => level(from + i)).join(",") + "]";
    const frame = (n: number, extra = "") =>
      `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":${side(n, 0)},"bids":${side(n, 5000)}${extra},"ts":"1","checksum":0}]}`;
    const same = (text: string) => {
      const ra = fast.scan(text, t, a);
      expect(resultOf(ra, fast, a), text.slice(0, 200)).toBe(resultOf(ref.scan(text, t, b), ref, b));
      return ra;
    };
    // Each frame longer than any before grows the memory; each is then read by another path into the same update:
    // the module whole, the side reader ("instId" in the data object), the TypeScript reader (a level's order count
    // that is not digits),
    // and the JSON path (whitespace between keys: the scanner falls back).
    expect(same(frame(3))).toBe(0);
    expect(same(frame(200, ',"instId":"BTC-USDT"'))).toBe(0);
    expect(same(frame(2000).replace('"0","2"]', '"0","x"]'))).toBe(0);
    const text = frame(20000).replace(',"ts"', ', "ts"');
    expect(fast.scan(text, t, a)).toBe(SCAN_FALLBACK);
    const sc = new OkxScanner(false);
    const v = new BookUpdate();
    expect(parseBookObject(JSON.parse(text), text, t, a, fast)).toBe(0);
    expect(parseBookObject(JSON.parse(text), text, t, v, sc)).toBe(0);
    expect(resultOf(0, fast, a)).toBe(resultOf(0, sc, v));
    expect(a.askCount).toBe(20000);
    expect(same(frame(5))).toBe(0);
  });

  test("updates the scanner does not share keep their levels through later scans", () => {
    const t = new OkxTopicTable();
    OKX_RECORDING_INSTRUMENTS.forEach((ins, k) => t.add(`books:${ins.symbol}`, k, decimals(ins.tickSize), decimals(ins.lotSize)));
    const frames = okxRecordingFrames().books.slice(0, 60).map((r) => r.frame);
    const fast = new OkxScanner();
    fast.shareSides(new BookUpdate());
    const kept = frames.map((f) => {
      const u = new BookUpdate();
      const r = fast.scan(f, t, u);
      return { r, u };
    });
    // Read again after every scan: each must still hold its own frame's levels (and the shared one its last).
    const ref = new OkxScanner(false);
    frames.forEach((f, i) => {
      const v = new BookUpdate();
      expect(resultOf(kept[i]!.r, ref, kept[i]!.u).split("|").slice(8).join("|")).toBe(resultOf(ref.scan(f, t, v), ref, v).split("|").slice(8).join("|"));
    });
  });

  test("a scanner shares its sides with one update only: a second one is refused by name", () => {
    const fast = new OkxScanner();
    const u = new BookUpdate();
    fast.shareSides(u);
    fast.shareSides(u); // the same update again is fine
    expect(() => fast.shareSides(new BookUpdate())).toThrow(/already shares its sides with another update/);
  });

  test("the genuine recording: every data object read by the module in one call, equal to the JSON path", () => {
    const counts = countModule();
    const t = new OkxTopicTable();
    OKX_RECORDING_INSTRUMENTS.forEach((ins, k) => t.add(`books:${ins.symbol}`, k, decimals(ins.tickSize), decimals(ins.lotSize)));
    const fast = new OkxScanner();
    const u = new BookUpdate();
    fast.shareSides(u);
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
    expect(counts.objectsDeclined).toBe(0);
    expect(counts.objects).toBe(okxRecordingFrames().books.length);
    expect(counts.sides + counts.sidesDeclined).toBe(0);
  }, 120_000);
});

function decimals(step: string): number {
  const dot = step.indexOf(".");
  return dot < 0 ? 0 : step.length - dot - 1;
}
