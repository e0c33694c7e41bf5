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
          same(okxResult(ra, fast, a), okxResult(ref.scan(text, t, b), ref, b), text);
          if (ra < 0) return;
          // Accepted: JSON.parse reads the same from the string itself (not from the bytes both scanners share).
          accepted++;
          same(okxResult(parseOkx(JSON.parse(text), text, t, b, ref), ref, b), okxResult(ra, fast, a), text);
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
          same(bybitResult(ra, fast, a), bybitResult(ref.scan(text, t, b), ref, b), text);
          if (ra < 0) return;
          accepted++;
          const entry = { entry: -1 };
          same(parseBybit(JSON.parse(text), t, b, entry), ra, text);
          same(bybitResult(ra, { entry: entry.entry, errorPos: -1 } as unknown as BybitScanner, b), bybitResult(ra, fast, a), text);
        },
        () => fast.scan(longest, t, a),
      );
    }
    expect(n).toBeGreaterThan(10000);
    expect(accepted).toBeGreaterThan(1000);
  }, MUTATIONS_TIMEOUT_MS);
});
