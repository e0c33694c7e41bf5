/**
 * The WebAssembly paths (OKX "okxdata" + "levelsx", Bybit "levels") against the TypeScript-only scanners on every
 * truncation and on single-byte mutations of the genuine recordings' frames: each prefix of each frame (a `]`, `"`
 * or digit at the end of the buffer, every key cut anywhere) and each byte replaced by a character the readers
 * decide on (quotes, brackets, signs, dots, digits, whitespace, escapes, a non-ASCII unit), scanned by the module's
 * scanner (its update shared with the module's arrays, as a connection does) and by the reference alike, with a
 * full frame scanned between them so that stale bytes of a longer frame lie past every prefix's sentinel; and what they
 * accept, JSON.parse reads the same from the string (which no shared byte buffer can mislead).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BybitScanner, parseBookObject as parseBybit, TopicTable } from "../../../src/venues/bybit/index.ts";
import { OkxScanner, OkxTopicTable, parseBookObject as parseOkx } from "../../../src/venues/okx/index.ts";
import { okxRecordingFrames, OKX_RECORDING_INSTRUMENTS } from "../okx/recording.ts";

const BYBIT_FIXTURE = resolve(import.meta.dirname, "../../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const REPLACEMENTS = ['"', "]", "[", "}", ",", ".", "-", "0", "9", " ", "\\", "e", ":", "\u00e9", "\u0000"];

function side(px: Float64Array, qty: Float64Array, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += `${px[i]}:${qty[i]},`;
  return s;
}
const num = (x: number) => (Object.is(x, -0) ? "-0" : String(x));

function okxResult(r: number, sc: OkxScanner, u: BookUpdate): string {
  if (r < 0) return `code ${r}`;
  return [r, sc.entry, sc.action, sc.hasSeqId, num(sc.seqId), sc.hasPrevSeqId, num(sc.prevSeqId), num(sc.checksum), u.isSnapshot, num(u.tsExchangeUs), num(u.venueSeq), side(u.bidPx, u.bidQty, u.bidCount), side(u.askPx, u.askQty, u.askCount)].join("|");
}

function bybitResult(r: number, sc: BybitScanner, u: BookUpdate): string {
  if (r < 0) return `code ${r} at ${sc.errorPos} entry ${sc.entry}`;
  return [r, sc.entry, u.isSnapshot, u.venueSeq, u.tsExchangeUs, u.tsEventUs, side(u.bidPx, u.bidQty, u.bidCount), side(u.askPx, u.askQty, u.askCount)].join("|");
}

/**
 * True only when okxResult / bybitResult of the two would be the same text, read from the fields themselves: building
 * both texts for each of ~800k scans (every level of both sides) was ~40 % of these tests' CPU. Where this says
 * false, the texts are built and compared as before (same(), the same check and message). `===` on a number implies
 * the same String() (0 and -0 both "0"); fields the texts write with num() (which tells -0 from 0) use Object.is.
 */
function sameSides(a: BookUpdate, b: BookUpdate): boolean {
  if (a.bidCount !== b.bidCount || a.askCount !== b.askCount) return false;
  for (let i = 0; i < a.bidCount; i++) if (a.bidPx[i] !== b.bidPx[i] || a.bidQty[i] !== b.bidQty[i]) return false;
  for (let i = 0; i < a.askCount; i++) if (a.askPx[i] !== b.askPx[i] || a.askQty[i] !== b.askQty[i]) return false;
  return true;
}
type OkxFields = Pick<OkxScanner, "entry" | "action" | "hasSeqId" | "seqId" | "hasPrevSeqId" | "prevSeqId" | "checksum">;
function okxSame(ra: number, sa: OkxFields, a: BookUpdate, rb: number, sb: OkxFields, b: BookUpdate): boolean {
  if (ra !== rb) return false;
  if (ra < 0) return true;
  return (
    sa.entry === sb.entry && sa.action === sb.action && sa.hasSeqId === sb.hasSeqId && Object.is(sa.seqId, sb.seqId) &&
    sa.hasPrevSeqId === sb.hasPrevSeqId && Object.is(sa.prevSeqId, sb.prevSeqId) && Object.is(sa.checksum, sb.checksum) &&
    a.isSnapshot === b.isSnapshot && Object.is(a.tsExchangeUs, b.tsExchangeUs) && Object.is(a.venueSeq, b.venueSeq) && sameSides(a, b)
  );
}
type BybitFields = Pick<BybitScanner, "entry" | "errorPos">;
function bybitSame(ra: number, sa: BybitFields, a: BookUpdate, rb: number, sb: BybitFields, b: BookUpdate): boolean {
  if (ra !== rb || sa.entry !== sb.entry) return false;
  if (ra < 0) return sa.errorPos === sb.errorPos;
  return a.isSnapshot === b.isSnapshot && a.venueSeq === b.venueSeq && a.tsExchangeUs === b.tsExchangeUs && a.tsEventUs === b.tsEventUs && sameSides(a, b);
}

/**
 * expect(actual, text).toBe(expected), built only when they differ: a passing expect() costs ~9 µs under vitest, and
 * these tests make hundreds of thousands of them (the comparison and the failure message are the same).
 */
function same<T>(actual: T, expected: T, text: string): void {
  if (!Object.is(actual, expected)) expect(actual, text).toBe(expected);
}

function decimals(step: string): number {
  const dot = step.indexOf(".");
  return dot < 0 ? 0 : step.length - dot - 1;
}

/** Every prefix and every single-byte mutation of `frame`, each given to `each`, the longest frame scanned every 64 bytes. */
function variants(frame: string, each: (text: string) => void, between: () => void): number {
  let n = 0;
  for (let k = 0; k < frame.length; k++) {
    each(frame.slice(0, k));
    n++;
    for (const c of REPLACEMENTS) {
      if (frame[k] === c) continue;
      each(frame.slice(0, k) + c + frame.slice(k + 1));
      n++;
    }
    if (k % 64 === 0) between();
  }
  return n;
}

// Hundreds of thousands of scans per test: ~5 s on an idle 2-vCPU VM, more when the suite shares it (vitest's 5 s
// default is a wall-clock limit, not an assertion about speed).
const MUTATIONS_TIMEOUT_MS = 120_000;

test("the quick comparisons say equal only where the result texts are equal (a difference in any field is caught)", () => {
  const okx = () => ({ entry: 1, action: 2, hasSeqId: true, seqId: 5, hasPrevSeqId: true, prevSeqId: 4, checksum: -7 }) as unknown as OkxScanner;
  const update = () => {
    const u = new BookUpdate();
    u.pushBid(100, 2);
    u.pushBid(99, 3);
    u.pushAsk(101, 1);
    u.tsExchangeUs = 10;
    u.tsEventUs = 8;
    u.venueSeq = 3;
    return u;
  };
  type Change = (s: Record<string, unknown>, u: BookUpdate) => void;
  const sides: [string, Change][] = [
    ["last bid qty", (_, u) => (u.bidQty[1] = 4)],
    ["bid px", (_, u) => (u.bidPx[0] = 98)],
    ["ask px", (_, u) => (u.askPx[0] = 102)],
    ["ask qty", (_, u) => (u.askQty[0] = 9)],
    ["one more ask", (_, u) => u.pushAsk(102, 1)],
    ["one fewer bid", (_, u) => (u.bidCount = 1)],
  ];
  /** Each case: the change made to the second result; for -0, the reference's value too: 0 (num() tells them apart). */
  const okxCases: [string, Change, Change?][] = [
    ["same", () => {}],
    ["entry", (s) => (s.entry = 0)],
    ["action", (s) => (s.action = 1)],
    ["hasSeqId", (s) => (s.hasSeqId = false)],
    ["seqId", (s) => (s.seqId = 6)],
    ["seqId -0", (s) => (s.seqId = -0), (s) => (s.seqId = 0)],
    ["hasPrevSeqId", (s) => (s.hasPrevSeqId = false)],
    ["prevSeqId", (s) => (s.prevSeqId = 3)],
    ["prevSeqId -0", (s) => (s.prevSeqId = -0), (s) => (s.prevSeqId = 0)],
    ["checksum", (s) => (s.checksum = 7)],
    ["checksum -0", (s) => (s.checksum = -0), (s) => (s.checksum = 0)],
    ["snapshot", (_, u) => (u.isSnapshot = true)],
    ["ts", (_, u) => (u.tsExchangeUs = 11)],
    ["ts -0", (_, u) => (u.tsExchangeUs = -0), (_, u) => (u.tsExchangeUs = 0)],
    ["venueSeq", (_, u) => (u.venueSeq = 4)],
    ["venueSeq -0", (_, u) => (u.venueSeq = -0), (_, u) => (u.venueSeq = 0)],
    ...sides,
  ];
  for (const [what, change, reference] of okxCases) {
    const s = okx();
    const u = update();
    reference?.(s as unknown as Record<string, unknown>, u);
    const s2 = okx();
    const u2 = update();
    change(s2 as unknown as Record<string, unknown>, u2);
    const texts = okxResult(0, s, u) === okxResult(0, s2, u2);
    expect(okxSame(0, s, u, 0, s2, u2), what).toBe(texts);
    expect(texts, what).toBe(what === "same");
  }
  expect(okxSame(-3, okx(), update(), -3, okx(), new BookUpdate())).toBe(true); // both "code -3"
  expect(okxSame(-3, okx(), update(), -2, okx(), update())).toBe(false);
  // Bybit's text writes its numbers with String() (-0 as "0"): === is its comparison, so no -0 cases.
  const by = () => ({ entry: 0, errorPos: 1 }) as unknown as BybitScanner;
  const bybitCases: [string, Change][] = [
    ["same", () => {}],
    ["entry", (s) => (s.entry = 1)],
    ["errorPos", (s) => (s.errorPos = 9)],
    ["snapshot", (_, u) => (u.isSnapshot = true)],
    ["venueSeq", (_, u) => (u.venueSeq = 4)],
    ["ts", (_, u) => (u.tsExchangeUs = 11)],
    ["event ts", (_, u) => (u.tsEventUs = 5)],
    ...sides,
  ];
  for (const r of [0, -1]) {
    for (const [what, change] of bybitCases) {
      const s = by();
      const u = update();
      const s2 = by();
      const u2 = update();
      change(s2 as unknown as Record<string, unknown>, u2);
      const texts = bybitResult(r, s, u) === bybitResult(r, s2, u2);
      expect(bybitSame(r, s, u, r, s2, u2), `${what}, result ${r}`).toBe(texts);
      // A failure's text is its code, errorPos and entry alone; a success's has no errorPos.
      const differs = r < 0 ? what === "entry" || what === "errorPos" : what !== "same" && what !== "errorPos";
      expect(texts, `${what}, result ${r}`).toBe(!differs);
    }
  }
  expect(bybitSame(0, by(), update(), -1, by(), update())).toBe(false);
});

describe("WebAssembly paths: every truncation and single-byte mutation of the recorded frames", () => {
  test("OKX books frames: the same result as the TypeScript-only scanner", () => {
    const t = new OkxTopicTable();
    OKX_RECORDING_INSTRUMENTS.forEach((ins, k) => t.add(`books:${ins.symbol}`, k, decimals(ins.tickSize), decimals(ins.lotSize)));
    const books = okxRecordingFrames().books.map((r) => r.frame);
    const longest = books.reduce((a, b) => (b.length > a.length ? b : a));
    // The shortest frames whole, and a sample of the others (each mutation is a full scan on both scanners).
    const picked = [...books].sort((a, b) => a.length - b.length).filter((_, i) => i < 6 || i % 8 === 0);
    const fast = new OkxScanner();
    const ref = new OkxScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    fast.shareSides(a);
    let n = 0;
    let accepted = 0;
    for (const f of picked) {
      n += variants(
        f,
        (text) => {
          const ra = fast.scan(text, t, a);
          const rb = ref.scan(text, t, b);
          if (!okxSame(ra, fast, a, rb, ref, b)) same(okxResult(ra, fast, a), okxResult(rb, ref, b), text);
          if (ra < 0) return;
          // Accepted: JSON.parse reads the same from the string itself (not from the bytes both scanners share).
          accepted++;
          const rp = parseOkx(JSON.parse(text), text, t, b, ref);
          if (!okxSame(rp, ref, b, ra, fast, a)) same(okxResult(rp, ref, b), okxResult(ra, fast, a), text);
        },
        () => fast.scan(longest, t, a),
      );
    }
    expect(n).toBeGreaterThan(10000);
    expect(accepted).toBeGreaterThan(1000);
  }, MUTATIONS_TIMEOUT_MS);

  test("Bybit frames of 512+ chars: the same result as the TypeScript-only scanner", () => {
    const lines = readFileSync(BYBIT_FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length >= 512);
    const t = new TopicTable();
    t.add("orderbook.500.XRPUSDT", 0, 4, 0);
    const longest = lines.reduce((a, b) => (b.length > a.length ? b : a));
    const picked = [...lines].sort((a, b) => a.length - b.length).filter((l, i) => i < 8 || i % 4 === 0);
    const fast = new BybitScanner();
    const ref = new BybitScanner(false);
    const a = new BookUpdate();
    const b = new BookUpdate();
    let n = 0;
    let accepted = 0;
    for (const f of picked) {
      n += variants(
        f,
        (text) => {
          const ra = fast.scan(text, t, a);
          const rb = ref.scan(text, t, b);
          if (!bybitSame(ra, fast, a, rb, ref, b)) same(bybitResult(ra, fast, a), bybitResult(rb, ref, b), text);
          if (ra < 0) return;
          accepted++;
          const entry = { entry: -1, errorPos: -1 };
          same(parseBybit(JSON.parse(text), t, b, entry), ra, text);
          if (!bybitSame(ra, entry, b, ra, fast, a)) same(bybitResult(ra, entry as unknown as BybitScanner, b), bybitResult(ra, fast, a), text);
        },
        () => fast.scan(longest, t, a),
      );
    }
    expect(n).toBeGreaterThan(10000);
    expect(accepted).toBeGreaterThan(1000);
  }, MUTATIONS_TIMEOUT_MS);
});
