/**
 * The Upbit scanner against JSON.parse and an exact reference (the raw-number JSON reader + BigInt) on every
 * recorded message in every key order, DEFAULT names, whitespace, and on fuzzed frames (truncations, byte edits,
 * swapped types, bad numbers): whatever it accepts JSON.parse accepts, with exactly the reference's levels.
 */
import { describe, expect, it } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { exponentOf } from "../../../src/core/fixed.ts";
import { parseBookObject, parseRawJson, RawNumber, type RawJson } from "../../../src/venues/upbit/parse-json.ts";
import { CodeTable, SCAN_ERR_FIELD, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_CODE, UpbitScanner } from "../../../src/venues/upbit/scanner.ts";
import type { MarketName } from "../../../src/core/types.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UpbitConnection } from "../../../src/venues/upbit/connection.ts";
import { exactMantissa, UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "./recording.ts";

const enc = new TextEncoder();
const table = new CodeTable();
UPBIT_RECORDING_CODES.forEach((c, i) => table.add(c, i, exponentOf(UPBIT_RECORDING_SPECS[c]!.tickSize), 8, 15));
const scanner = new UpbitScanner(1000);
const u = new BookUpdate();
const books = upbitFrames().filter((f) => f.text.startsWith('{"ty":"orderbook"'));

let seed = 99;
const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rnd(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Re-serializes raw JSON with keys shuffled, names optionally DEFAULT, random whitespace; numbers as their text. */
const LONG: Record<string, string> = { ty: "type", cd: "code", tms: "timestamp", tas: "total_ask_size", tbs: "total_bid_size", obu: "orderbook_units", ap: "ask_price", bp: "bid_price", as: "ask_size", bs: "bid_size", st: "stream_type" };
function write(v: RawJson, long: boolean): string {
  const ws = () => [" ", "", "\n", "\t", ""][rnd(5)]!;
  if (v instanceof RawNumber) return v.raw;
  if (Array.isArray(v)) return `[${ws()}${v.map((x) => write(x, long)).join(`,${ws()}`)}${ws()}]`;
  if (v !== null && typeof v === "object") {
    const keys = shuffle(Object.keys(v));
    return `{${ws()}${keys.map((k) => `${JSON.stringify(long ? (LONG[k] ?? k) : k)}${ws()}:${ws()}${write(v[k]!, long)}`).join(`,${ws()}`)}${ws()}}`;
  }
  return JSON.stringify(v);
}

/** The exact reference of a book object: sides with price and size > 0. */
function reference(text: string): { index: number; bids: Map<number, number>; asks: Map<number, number>; ts: number } {
  const o = parseRawJson(text) as Record<string, RawJson>;
  const g = (a: string, b: string) => o[a] ?? o[b];
  const code = g("cd", "code") as string;
  const pe = exponentOf(UPBIT_RECORDING_SPECS[code]!.tickSize);
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  for (const unit of g("obu", "orderbook_units") as Record<string, RawNumber>[]) {
    const x = (a: string, b: string, e: number) => Number(exactMantissa((unit[a] ?? unit[b])!.raw, e));
    const [ap, bp, as, bs] = [x("ap", "ask_price", pe), x("bp", "bid_price", pe), x("as", "ask_size", 8), x("bs", "bid_size", 8)];
    if (ap > 0 && as > 0) asks.set(ap, as);
    if (bp > 0 && bs > 0) bids.set(bp, bs);
  }
  return { index: UPBIT_RECORDING_CODES.indexOf(code), bids, asks, ts: Number((g("tms", "timestamp") as RawNumber).raw) };
}

function scan(text: string): number {
  const b = enc.encode(text);
  return scanner.scan(b, b.length, table, u);
}

function levels(): { bids: Map<number, number>; asks: Map<number, number> } {
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  for (let i = 0; i < u.bidCount; i++) bids.set(u.bidPx[i]!, u.bidQty[i]!);
  for (let i = 0; i < u.askCount; i++) asks.set(u.askPx[i]!, u.askQty[i]!);
  return { bids, asks };
}

describe("Upbit scanner", () => {
  it("reads every recorded message in shuffled key orders, DEFAULT names and whitespace exactly", () => {
    for (const f of books) {
      for (let k = 0; k < 4; k++) {
        const text = write(parseRawJson(f.text), k % 2 === 1);
        const ref = reference(text);
        expect(scan(text), text.slice(0, 80)).toBe(ref.index);
        expect(levels()).toEqual({ bids: ref.bids, asks: ref.asks });
        expect(u.venueSeq).toBe(ref.ts);
      }
    }
  });

  it("zero prices and sizes leave their side out; exponent forms are exact", () => {
    const t = '{"type":"orderbook","code":"BTC-XTZ","timestamp":5,"orderbook_units":[{"ask_price":1.2E-4,"bid_price":0,"ask_size":0.0,"bid_size":3},{"ask_price":1.3e-4,"bid_price":1.1E-4,"ask_size":2.571E-5,"bid_size":1E+1}]}';
    expect(scan(t)).toBe(2);
    expect(levels()).toEqual({ bids: new Map([[11000, 1_000_000_000]]), asks: new Map([[13000, 2571]]) });
  });

  it("tells control frames, unknown codes, escapes and unfit numbers apart", () => {
    expect(scan('{"status":"UP"}')).toBe(SCAN_NOT_BOOK);
    expect(scan('{"error":{"name":"INVALID_PARAM","message":"x"}}')).toBe(SCAN_NOT_BOOK);
    expect(scan('{"ty":"orderbook","cd":"KRW-BTC","tms":1,"obu":[]}')).toBe(SCAN_UNKNOWN_CODE);
    expect(scan('{"ty":"orderbook","cd":"KRW-\\u004cAMB","tms":1,"obu":[]}')).toBe(SCAN_FALLBACK);
    expect(scan('{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":127.5,"bp":1,"as":1,"bs":1}]}')).toBe(SCAN_ERR_PRICE);
    expect(scan('{"ty":"orderbook","cd":"KRW-LAMB","tms":1.0,"obu":[]}')).toBeLessThan(0);
  });

  it("a negative price or size is a field error on both paths (no re-check); one that does not fit is price / qty", () => {
    const frame = (unit: string) => `{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{${unit}}]}`; // KRW-LAMB: tick 1, size exponent 8
    const json = (text: string) => parseBookObject(parseRawJson(text) as Record<string, RawJson>, table, new BookUpdate(), 1000, { entry: -1 });
    const cases: [string, number][] = [
      ['"ap":-127,"bp":1,"as":1,"bs":1', SCAN_ERR_FIELD],
      ['"ap":127,"bp":1,"as":-1e-3,"bs":1', SCAN_ERR_FIELD],
      ['"ap":127.5,"bp":1,"as":1,"bs":1', SCAN_ERR_PRICE],
      ['"ap":127,"bp":1,"as":1e-9,"bs":1', SCAN_ERR_QTY],
      ['"ap":127,"bp":1,"as":1,"bs":9007199254740993', SCAN_ERR_QTY],
    ];
    for (const [unit, code] of cases) {
      expect(json(frame(unit)), `JSON path: ${unit}`).toBe(code);
      expect(scan(frame(unit)), `scanner: ${unit}`).toBe(code);
    }
    // Through the connection: a frame that is not JSON ("ap":1.2.3 or 01: no number) is syntax, not the scanner's price.
    const codes: number[] = [];
    const stub = { rawFrameTap: undefined, onBook: () => undefined, onText: () => false, onMisfitStamp: () => undefined, onParseError: (_c: unknown, _e: number, code: number) => void codes.push(code) };
    const conn = new UpbitConnection(stub as unknown as UpbitAdapter, 0, "spot" as MarketName, "ws://127.0.0.1:1", 1000);
    conn.table.add("KRW-LAMB", 0, 0, 8, 30);
    for (const unit of ['"ap":1.2.3,"bp":1,"as":1,"bs":1', '"ap":127,"bp":1,"as":01,"bs":1', '"ap":127.5,"bp":1,"as":1,"bs":1']) conn.onFrameAt(frame(unit), 1);
    expect(codes).toEqual([SCAN_ERR_SYNTAX, SCAN_ERR_SYNTAX, SCAN_ERR_PRICE]);
  });

  it("fuzzed frames: accepted only when JSON.parse accepts them, and then exactly as the reference", () => {
    const mutations = [
      (s: string) => s.slice(0, rnd(s.length)),
      (s: string) => { const i = rnd(s.length); return s.slice(0, i) + String.fromCharCode(32 + rnd(95)) + s.slice(i + 1); },
      (s: string) => s.replace(/"ap":([0-9.eE+-]+)/, rnd(2) ? '"ap":"$1"' : '"ap":-$1'),
      (s: string) => s.replace(/"tms":(\d+)/, rnd(2) ? '"tms":"$1"' : '"tms":$1e0'),
      (s: string) => s.replace(/"as":([0-9.]+)/, ["\"as\":1e999", "\"as\":01", "\"as\":1.", "\"as\":.5", "\"as\":NaN"][rnd(5)]!),
      (s: string) => { const i = rnd(s.length); return s.slice(0, i) + s.slice(i + 1 + rnd(3)); },
    ];
    let accepted = 0;
    for (let k = 0; k < 3000; k++) {
      const base = books[rnd(books.length)]!.text;
      const text = mutations[rnd(mutations.length)]!(base);
      const r = scan(text);
      if (r < 0) continue;
      accepted++;
      expect(() => JSON.parse(text), text).not.toThrow();
      const ref = reference(text);
      expect(r).toBe(ref.index);
      expect(levels()).toEqual({ bids: ref.bids, asks: ref.asks });
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
