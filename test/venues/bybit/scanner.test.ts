import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { isBookObject, parseBookObject } from "../../../src/venues/bybit/parse-json.ts";
import {
  BybitScanner,
  SCAN_ERR_DEPTH,
  SCAN_ERR_LEVEL,
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_PRICE,
  SCAN_ERR_QTY,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_SYNTAX,
  SCAN_ERR_TYPE,
  SCAN_FALLBACK,
  SCAN_NOT_BOOK,
  SCAN_RESULT_NAMES,
  SCAN_UNKNOWN_TOPIC,
  TopicTable,
} from "../../../src/venues/bybit/scanner.ts";
import type { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { BybitConnection } from "../../../src/venues/bybit/connection.ts";

const FIXTURE = resolve(import.meta.dirname, "../../fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl");
const LINES = readFileSync(FIXTURE, "utf8").split(/\r?\n/).filter((l) => l.length > 0);

/** Independent exact conversion (BigInt), the oracle for scanner and JSON path. */
function refDecimal(s: unknown, exp: number): number | null {
  if (typeof s !== "string") return null;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (/[1-9]/.test(frac.slice(exp))) return null;
  const v = BigInt(m[1]! + frac.slice(0, exp).padEnd(exp, "0"));
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(v);
}

interface Book {
  snap: boolean;
  u: number;
  ts: number;
  cts: number;
  bids: [number, number][];
  asks: [number, number][];
}

/** The oracle: JSON.parse + exact conversion; null = must be rejected. */
function oracle(line: string, topic: string, pe: number, qe: number): Book | null {
  let msg: any;
  try {
    msg = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof msg !== "object" || msg === null || msg.topic !== topic) return null;
  if (msg.type !== "snapshot" && msg.type !== "delta") return null;
  const d = msg.data;
  if (typeof d !== "object" || d === null || Array.isArray(d)) return null;
  const uint = (v: unknown) => (v === undefined ? 0 : typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null);
  const ts = uint(msg.ts);
  const cts = uint(msg.cts);
  if (ts === null || cts === null || ts * 1000 >= 2 ** 53 || cts * 1000 >= 2 ** 53) return null;
  // u starts at 1 (0 and -0 refused: 0 is the adapter's "no sequence"); seq may be 0 (never compared).
  if (d.u === undefined || uint(d.u) === null || uint(d.u)! <= 0 || (d.seq !== undefined && uint(d.seq) === null)) return null;
  if (d.s !== undefined && d.s !== topic.split(".").slice(2).join(".")) return null;
  if (!Array.isArray(d.b) || !Array.isArray(d.a)) return null;
  const side = (levels: unknown[]): [number, number][] | null => {
    const out: [number, number][] = [];
    for (const l of levels) {
      if (!Array.isArray(l) || l.length !== 2) return null;
      const p = refDecimal(l[0], pe);
      const q = refDecimal(l[1], qe);
      if (p === null || q === null) return null;
      out.push([p, q]);
    }
    return out;
  };
  const bids = side(d.b);
  const asks = side(d.a);
  if (!bids || !asks) return null;
  // A snapshot holds at most the topic's depth (orderbook.N.…) a side.
  const depth = Number(topic.split(".")[1]);
  if (msg.type === "snapshot" && (bids.length > depth || asks.length > depth)) return null;
  return { snap: msg.type === "snapshot", u: uint(d.u)! + 0, ts: ts * 1000, cts: cts * 1000, bids, asks };
}

function fromUpdate(u: BookUpdate): Book {
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let i = 0; i < u.bidCount; i++) bids.push([u.bidPx[i]!, u.bidQty[i]!]);
  for (let i = 0; i < u.askCount; i++) asks.push([u.askPx[i]!, u.askQty[i]!]);
  return { snap: u.isSnapshot, u: u.venueSeq, ts: u.tsExchangeUs, cts: u.tsEventUs, bids, asks };
}

const XRP = "orderbook.500.XRPUSDT";
function xrpTable(): TopicTable {
  const t = new TopicTable();
  t.add("orderbook.50.BTCUSDT", 3, 1, 3);
  t.add(XRP, 7, 4, 0);
  return t;
}

/**
 * The updates both() fills, reused as a connection reuses its own (scan and parseBookObject reset them first): a
 * new BookUpdate (its arrays sized for a deep book) cost ~0.3 ms, two per call, ~15k calls in this file.
 */
const SCAN_UPDATE = new BookUpdate();
const JSON_UPDATE = new BookUpdate();

/** Scanner, then the JSON path the adapter would use on anything but success; returns the accepted book or the code. */
function both(line: string, table: TopicTable, scanner = new BybitScanner()): { scan: number; book: Book | null; json: number } {
  const up = SCAN_UPDATE;
  const scan = scanner.scan(line, table, up);
  const scanBook = scan >= 0 ? fromUpdate(up) : null;
  let json: number;
  const up2 = JSON_UPDATE;
  try {
    json = parseBookObject(JSON.parse(line), table, up2);
  } catch {
    json = SCAN_ERR_SYNTAX;
  }
  if (scan >= 0) {
    expect(json, "JSON path must accept what the scanner accepts").toBe(scan);
    expect(fromUpdate(up2)).toEqual(scanBook);
  }
  return { scan, book: scanBook ?? (json >= 0 ? fromUpdate(up2) : null), json };
}

describe("BybitScanner on the genuine recording", { timeout: 180_000 }, () => {
  test("every fixture line: scanner output equals JSON.parse + exact conversion", () => {
    const table = xrpTable();
    const scanner = new BybitScanner();
    expect(LINES.length).toBe(50);
    let lastU = 0;
    for (const line of LINES) {
      const r = both(line, table, scanner);
      expect(r.scan).toBe(7);
      expect(r.book).toEqual(oracle(line, XRP, 4, 0));
      if (lastU !== 0) expect(r.book!.u).toBe(lastU + 1);
      lastU = r.book!.u;
    }
    const first = both(LINES[0]!, table).book!;
    expect(first.snap).toBe(true);
    expect(first.bids.length).toBe(500);
    expect(first.asks.length).toBe(500);
    expect(first.u).toBe(20254869);
    expect(first.ts).toBe(1733011200691000);
    expect(first.cts).toBe(1733011200589000);
    expect(first.bids[0]).toEqual([19531, 6203]);
  });

  test("pretty-printed (whitespace everywhere) gives the same book", () => {
    const table = xrpTable();
    for (const line of LINES.slice(0, 5)) {
      const pretty = JSON.stringify(JSON.parse(line), null, 2).replace(/\n/g, "\r\n\t");
      const r = both(pretty, table);
      expect(r.scan).toBe(7);
      expect(r.book).toEqual(oracle(line, XRP, 4, 0));
    }
  });
});

describe("BybitScanner layouts", { timeout: 180_000 }, () => {
  // TC0: spot key order (ts before type), genuine rbot capture [docs/venues/bybit.md §4.5]
  test("spot order: ts before type", () => {
    const t = new TopicTable();
    t.add("orderbook.200.BTCUSDT", 0, 2, 6);
    const line =
      '{"topic":"orderbook.200.BTCUSDT","ts":1703430557896,"type":"delta","data":{"s":"BTCUSDT","b":[["43728.19","0.5"],["43725.35","0"],["43725.34","0"],["43725.32","0"],["43724.11","0.333012"],["43724.1","0"],["43720.3","0.034717"],["43636.36","0.027705"]],"a":[["43736.01","0.525"],["43743.03","0.009152"],["43752.77","0.5"],["43829.75","0"],["43829.92","0"]],"u":5179080,"seq":19967461033},"cts":1703430557847}';
    const r = both(line, t);
    expect(r.scan).toBe(0);
    expect(r.book!.snap).toBe(false);
    expect(r.book!.u).toBe(5179080);
    expect(r.book!.bids[0]).toEqual([4372819, 500000]);
    expect(r.book!.bids[5]).toEqual([4372410, 0]);
    expect(r.book!.asks.length).toBe(5);
    expect(r.book!.cts).toBe(1703430557847000);
  });

  // TC1: option with top-level id [docs/venues/bybit.md §4.3, pybit#246]
  test("option: extra id key, integer prices", () => {
    const t = new TopicTable();
    t.add("orderbook.25.BTC-13SEP24-58500-P", 2, 0, 2);
    const line =
      '{"topic":"orderbook.25.BTC-13SEP24-58500-P","ts":1725967410822,"type":"snapshot","id":"orderbook.25.BTC-13SEP24-58500-P-26718245417-1725967410822","data":{"s":"BTC-13SEP24-58500-P","b":[["1940","28.71"],["1525","2"],["5","6"]],"a":[["2075","1"],["2080","7.14"],["2100","21.57"],["2495","2"]],"u":19527,"seq":26718245417},"cts":1725967407642}';
    const r = both(line, t);
    expect(r.scan).toBe(2);
    expect(r.book!.snap).toBe(true);
    expect(r.book!.bids).toEqual([
      [1940, 2871],
      [1525, 200],
      [5, 600],
    ]);
  });

  // TC2: doc example with trailing zeros beyond the exponent ("16493.50" at tick 0.1)
  test("trailing zeros beyond the exponent are accepted", () => {
    const t = new TopicTable();
    t.add("orderbook.50.BTCUSDT", 1, 1, 3);
    const line =
      '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},"cts":1672304484976}';
    const r = both(line, t);
    expect(r.scan).toBe(1);
    expect(r.book!.bids).toEqual([
      [164935, 6],
      [164930, 100],
    ]);
  });

  // TC2b: the plain fast path and parseFixedCodes agree at every boundary of the number loop (exp 4 and 0)
  test("number edge cases: fraction shorter/longer than the exponent, 15-digit limit, missing digits", () => {
    const prices = ["1", "1.5", "1.0001", "1.00010", "1.000100000", "1.00001", "1.", ".5", "00.5", "0", "0.0000", "0.00001",
      "99999999999.9999", "999999999999.9999", "999999999999", "9007199254740991", "1.2.3", "12a", "1e4", "-1", "",
      // 4-digit groups (read 4 bytes at once): long runs, and characters 0x2F and 0x3A–0x3F next to digits
      "12345678.1234", "1234.12345678", "1234.12340000", "0000000000001.5", "123456789012", "12345678901234567",
      "12:4", "1?34.5", "123/", "1234.12;4", "9999.;999", "123>", "12345.6789<"];
    const qtys = ["10", "10.0", "10.000", "10.5", "0", "0.0", "999999999999999", "9999999999999999", "1.", "01", "1234", "12345678", "1234:", "1234.5678"];
    // One scanner for the 1428 lines, as a connection has: a fresh one per line instantiated WebAssembly each time (~4 s).
    const scanner = new BybitScanner();
    for (const [pe, qe] of [[4, 0], [0, 0], [2, 3]] as const) {
      const t = new TopicTable();
      t.add(XRP, 7, pe, qe);
      for (const px of prices) {
        for (const q of qtys) {
          const line = `{"topic":"${XRP}","type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[["${px}","${q}"]],"a":[["${q}","${px}"]],"u":5},"cts":2}`;
          const r = both(line, t, scanner);
          const want = oracle(line, XRP, pe, qe);
          if (r.scan >= 0) expect(r.book, line).toEqual(want);
          else if (r.scan !== SCAN_FALLBACK) expect(want, `${SCAN_RESULT_NAMES[-r.scan]}: ${line}`).toBeNull();
        }
      }
    }
  });

  // TC3: unknown keys of every JSON kind are skipped
  test("unknown keys anywhere are skipped", () => {
    const t = xrpTable();
    const line =
      '{"topic":"orderbook.500.XRPUSDT","x":{"a":[1,-2.5e+3,true,false,null,"q\\"\\u00e9"]},"type":"delta","ts":1,"data":{"z":[],"s":"XRPUSDT","b":[],"a":[["1.9538","10"]],"u":5,"extra":{}},"cts":2,"y":null}';
    const r = both(line, t);
    expect(r.scan).toBe(7);
    expect(r.book).toEqual({ snap: false, u: 5, ts: 1000, cts: 2000, bids: [], asks: [[19538, 10]] });
  });

  test("non-book frames and unknown topics", () => {
    const t = xrpTable();
    const s = new BybitScanner();
    const up = new BookUpdate();
    expect(s.scan('{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}', t, up)).toBe(SCAN_NOT_BOOK);
    expect(s.scan('{"args":["1672916271846"],"op":"pong"}', t, up)).toBe(SCAN_NOT_BOOK);
    expect(s.scan('{"topic":"tickers.BTCUSDT","type":"snapshot","data":{}}', t, up)).toBe(SCAN_NOT_BOOK);
    expect(s.scan('{"topic":"orderbook.1.XRPUSDT","type":"snapshot","data":{}}', t, up)).toBe(SCAN_UNKNOWN_TOPIC);
    expect(s.scan('{"type":"delta","topic":"orderbook.500.XRPUSDT","data":{"b":[],"a":[],"u":1}}', t, up)).toBe(SCAN_NOT_BOOK);
    // ...which the JSON path reads: data before topic is legal JSON
    const obj = JSON.parse('{"data":{"b":[["1.5","2"]],"a":[],"u":1},"type":"delta","topic":"orderbook.500.XRPUSDT"}');
    expect(isBookObject(obj)).toBe(true);
    expect(parseBookObject(obj, t, up)).toBe(7);
    expect(up.bidPx[0]).toBe(15000);
  });

  test("legal JSON the scanner leaves to the JSON path", () => {
    const t = xrpTable();
    const base = { topic: XRP, type: "delta", ts: 1, data: { s: "XRPUSDT", b: [["1.9531", "1"]], a: [], u: 9 }, cts: 2 };
    const cases = [
      JSON.stringify(base).replace('"type"', '"\\u0074ype"'), // escaped key
      JSON.stringify(base).replace('"u":9', '"u":9.0'), // integer in float form
      JSON.stringify(base).replace('"u":9', '"u":9e0'),
      JSON.stringify(base).replace('"ts":1,', '"ts":1,"ts":3,'), // duplicate key: last wins in JSON.parse
      JSON.stringify(base).replace('"1.9531"', '"1.953\\u0031"'), // escaped digit
    ];
    for (const c of cases) {
      const r = both(c, t);
      expect(r.scan, c).toBe(SCAN_FALLBACK);
      expect(r.json, c).toBe(7);
    }
  });
});

describe("BybitScanner whole-word key matching", { timeout: 180_000 }, () => {
  // The compact `"key":` layouts are matched as 4-byte words; near misses must take the general path and agree
  // with JSON.parse.
  const base = '{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":17,"data":{"s":"XRPUSDT","b":[["1.9531","6"]],"a":[],"u":20254870,"seq":12},"cts":15}';
  test("near-miss keys, spaces before colons, and every key order agree with the oracle", () => {
    const t = xrpTable();
    const keys = ['"ts"', '"type"', '"data"', '"cts"', '"s"', '"b"', '"a"', '"u"', '"seq"', '"topic"'];
    const variants = (k: string) => {
      const name = k.slice(1, -1);
      return [`"${name}x"`, `"${name.slice(0, -1)}"`, `"x${name}"`, `"${name}" `, `"${name}"\t`, `"${name.toUpperCase()}"`];
    };
    let checked = 0;
    for (const k of keys) {
      for (const v of variants(k)) {
        const line = base.split(`${k}:`).join(`${v}:`);
        if (line === base) continue;
        const r = both(line, t);
        const want = oracle(line, XRP, 4, 0);
        if (r.scan >= 0) expect(r.book, line).toEqual(want);
        else if (r.scan !== SCAN_FALLBACK) expect(want, `${SCAN_RESULT_NAMES[-r.scan]}: ${line}`).toBeNull();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(both(base, t).scan).toBe(7);
  });

  test("ts / u / seq / cts of every length up to 2^53 and beyond, with leading zeros and fractions", () => {
    const t = xrpTable();
    const nums = ["0", "1", "12", "123", "1234", "12345", "1733011200123", "9007199254", "9007199254740991", "9007199254740992",
      "90071992547409921", "123456789012345678901234", "00", "01", "0.5", "1234.5", "12345e1", "1234E1", "-1", "1234-"];
    for (const n of nums) {
      for (const key of ['"ts":17', '"u":20254870', '"seq":12', '"cts":15']) {
        const line = base.replace(key, key.replace(/\d+$/, n));
        const r = both(line, t);
        const want = oracle(line, XRP, 4, 0);
        if (r.scan >= 0) expect(r.book, line).toEqual(want);
        else if (r.scan !== SCAN_FALLBACK) expect(want, `${SCAN_RESULT_NAMES[-r.scan]}: ${line}`).toBeNull();
      }
    }
  });

  test("non-ASCII units in the topic and the symbol are compared as UTF-16, not as bytes", () => {
    const t = new TopicTable();
    t.add("orderbook.50.X\u0101", 4, 4, 0);
    const line = (topicSym: string, dataSym: string) =>
      `{"topic":"orderbook.50.${topicSym}","type":"delta","ts":1,"data":{"s":"${dataSym}","b":[],"a":[["1.5","2"]],"u":3},"cts":2}`;
    expect(both(line("X\u0101", "X\u0101"), t).scan).toBe(4);
    expect(both(line("X\u0101", "X\u0102"), t).scan).toBe(SCAN_ERR_SYMBOL);
    expect(both(line("X\u0102", "X\u0102"), t).scan).toBe(SCAN_UNKNOWN_TOPIC);
    expect(both(line("X\u0080", "X\u0080"), t).scan).toBe(SCAN_UNKNOWN_TOPIC);
  });
});

describe("BybitScanner rejects with a counted, named error", { timeout: 180_000 }, () => {
  const t = xrpTable();
  const ok = LINES[1]!;
  // TC: [mutation, expected code]
  const cases: [string, string, number][] = [
    ["price with too many decimals", ok.replace('"1.9531"', '"1.95311"'), SCAN_ERR_PRICE],
    ["price with a letter", ok.replace('"1.9531"', '"1.95x1"'), SCAN_ERR_PRICE],
    ["empty price", ok.replace('"1.9531"', '""'), SCAN_ERR_PRICE],
    ["negative qty", ok.replace('"6198"', '"-6198"'), SCAN_ERR_QTY],
    ["fractional qty at exp 0", ok.replace('"6198"', '"6198.5"'), SCAN_ERR_QTY],
    ["qty ≥ 2^53", ok.replace('"6198"', '"9007199254740993"'), SCAN_ERR_QTY],
    ["number as price", ok.replace('"1.9531"', "1.9531"), SCAN_ERR_LEVEL],
    ["three-element level", ok.replace('["1.9531","6198"]', '["1.9531","6198","1"]'), SCAN_ERR_LEVEL],
    ["type unknown", ok.replace('"delta"', '"deltas"'), SCAN_ERR_TYPE],
    ["type number", ok.replace('"delta"', "1"), SCAN_ERR_TYPE],
    ["u string", ok.replace('"u":20254870', '"u":"20254870"'), SCAN_ERR_NUMBER],
    ["u too big", ok.replace('"u":20254870', '"u":90071992547409930'), SCAN_ERR_NUMBER],
    ["u missing", ok.replace('"u":20254870,', ""), SCAN_ERR_MISSING],
    ["u zero", ok.replace('"u":20254870', '"u":0'), SCAN_ERR_NUMBER],
    ["bids missing", ok.replace('"b":', '"bb":'), SCAN_ERR_MISSING],
    ["data array", ok.replace('"data":{', '"data":[{').replace(',"cts"', '],"cts"'), SCAN_ERR_MISSING],
    ["symbol mismatch", ok.replace('"s":"XRPUSDT"', '"s":"XRPUSDC"'), SCAN_ERR_SYMBOL],
    ["trailing garbage", ok + "x", SCAN_ERR_SYNTAX],
    ["truncated", ok.slice(0, ok.length - 1), SCAN_ERR_SYNTAX],
    ["leading zero", ok.replace('"u":20254870', '"u":020254870'), SCAN_ERR_SYNTAX],
  ];
  for (const [name, line, code] of cases) {
    test(`${name} → ${SCAN_RESULT_NAMES[-code]}`, () => {
      const r = both(line, t);
      expect(r.scan).toBe(code);
      expect(r.json).toBeLessThan(0);
      expect(oracle(line, XRP, 4, 0)).toBeNull();
    });
  }
});

describe("Bybit u below 1 and snapshots deeper than their topic: refused alike by the scanner and the JSON path", () => {
  const ok = LINES[1]!;
  test('"u":0 and "u":-0 are bad_number (the scanner hands -0 over; until 2026-12-07 both read u = 0)', () => {
    const t = xrpTable();
    for (const [line, scanCode] of [
      [ok.replace('"u":20254870', '"u":0'), SCAN_ERR_NUMBER],
      [ok.replace('"u":20254870', '"u":-0'), SCAN_FALLBACK],
      [ok.replace('"u":20254870', '"u":1'), 7],
    ] as const) {
      const r = both(line, t);
      expect(r.scan, line.slice(0, 120)).toBe(scanCode);
      expect(r.json).toBe(line.includes('"u":1,') ? 7 : SCAN_ERR_NUMBER);
    }
    // seq is never compared and has no "none" meaning: 0 stays accepted.
    expect(both(ok.replace('"seq":', '"seq":0,"x":'), t).scan).toBe(7);
  });

  /** A frame of orderbook.50.BTCUSDT with `bids` and `asks` levels (long enough for the WebAssembly side reader). */
  const frame = (type: string, bids: number, asks: number) => {
    const side = (n: number, from: number, step: number) => Array.from({ length: n }, (_, i) => `["${(from + i * step).toFixed(1)}","0.125"]`).join(",");
    return `{"topic":"orderbook.50.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[${side(bids, 1000, -0.1)}],"a":[${side(asks, 1000.1, 0.1)}],"u":7,"seq":9},"cts":2}`;
  };
  test("a snapshot of 51 levels a side on orderbook.50 is over_depth; 50 are taken, and so is a delta of 51", () => {
    const t = xrpTable(); // orderbook.50.BTCUSDT: index 3, exponents 1 and 3
    for (const scanner of [new BybitScanner(), new BybitScanner(false)]) {
      for (const [type, bids, asks, want] of [
        ["snapshot", 50, 50, 3],
        ["snapshot", 51, 3, SCAN_ERR_DEPTH],
        ["snapshot", 0, 51, SCAN_ERR_DEPTH],
        ["snapshot", 51, 51, SCAN_ERR_DEPTH],
        ["delta", 51, 51, 3], // a delta's count says nothing of the book's (see docs/venues/bybit.md)
      ] as const) {
        const line = frame(type, bids, asks);
        const r = both(line, t, scanner);
        expect([r.scan, r.json], `${type} ${bids}/${asks}`).toEqual([want, want]);
        expect(r.book === null).toBe(oracle(line, "orderbook.50.BTCUSDT", 1, 3) === null);
      }
    }
    // The genuine ob500 snapshot (500 a side) is exactly at its depth: taken.
    expect(both(LINES[0]!, t).scan).toBe(7);
  });
});

describe("Bybit JSON path: only a decimal that does not fit is bad_price / bad_qty (the adapter re-checks the instrument)", () => {
  const t = xrpTable(); // XRP: price exponent 4, qty exponent 0
  const ok = LINES[1]!;
  const px = (v: string) => ok.replace('"1.9531"', JSON.stringify(v));
  const qty = (v: string) => ok.replace('"6198"', JSON.stringify(v));
  const scanner = new BybitScanner();

  test("no decimal ('abc', '-1', '1e3', '') is bad_level; finer than the tick / lot or past 2^53 is bad_price / bad_qty", () => {
    for (const v of ["abc", "-1", "1e3", "", " 1", "1.", ".5", "1.2.3"]) {
      expect(both(px(v), t).json, `price ${v}`).toBe(SCAN_ERR_LEVEL);
      expect(both(qty(v), t).json, `qty ${v}`).toBe(SCAN_ERR_LEVEL);
    }
    expect(both(px("1.95311"), t).json).toBe(SCAN_ERR_PRICE);
    expect(both(px("9007199254740993"), t).json).toBe(SCAN_ERR_PRICE);
    expect(both(qty("6198.5"), t).json).toBe(SCAN_ERR_QTY);
    expect(both(qty("9007199254740993"), t).json).toBe(SCAN_ERR_QTY);
  });

  test("through BybitConnection.onFrameAt (scanner, then the JSON path): the code onParseError gets, which decides the re-check", () => {
    const codes: number[] = [];
    const stub = { rawFrameTap: undefined, onBook: () => undefined, onUnknownTopic: () => undefined, onParseError: (_c: unknown, _e: number, code: number) => void codes.push(code), onText: () => false, onControl: () => undefined };
    const conn = new BybitConnection(stub as unknown as BybitAdapter, 0, "linear", "ws://127.0.0.1:1");
    conn.table.add(XRP, 7, 4, 0);
    for (const line of [px("abc"), qty("-1"), px("1e3"), px("1.95311"), qty("6198.5")]) conn.onFrameAt(line, 1);
    expect(codes.map((c) => SCAN_RESULT_NAMES[-c])).toEqual(["bad_level", "bad_level", "bad_level", "bad_price", "bad_qty"]);
    // Not JSON (truncated): what the scanner said of a number on the way is unconfirmed, the frame a syntax error.
    codes.length = 0;
    for (const line of [px("abc"), qty("-1"), px("1.95311")]) conn.onFrameAt(line.slice(0, -1), 1);
    expect(codes.map((c) => SCAN_RESULT_NAMES[-c])).toEqual(["syntax", "syntax", "syntax"]);
    // Nor is one the scanner handed to the JSON path on the way (an escape, a number in exponent form): "fallback" is
    // no error (until 2026-12-07 such a frame was counted as parse error "fallback").
    codes.length = 0;
    const escaped = ok.replace('"s":"XRPUSDT"', '"s":"XRP\\u0055SDT"');
    const exponent = ok.replace('"ts":1733011200693', '"ts":1.733011200693e12');
    expect(both(escaped, t).scan).toBe(SCAN_FALLBACK);
    for (const line of [escaped, exponent]) conn.onFrameAt(line.slice(0, -1), 1);
    expect(codes.map((c) => SCAN_RESULT_NAMES[-c])).toEqual(["syntax", "syntax"]);
    // JSON, not a book, its topic with an escape: a control frame as unescaped, not parse error "fallback" (which,
    // naming no topic of ours, resynced every book of the connection until 2026-12-07).
    codes.length = 0;
    let controls = 0;
    stub.onControl = () => void controls++;
    for (const topic of ["tickers.XRPUSDT", "tickers\\u002eXRPUSDT"]) conn.onFrameAt(`{"topic":"${topic}","ts":1,"type":"snapshot","data":{}}`, 1);
    expect([codes.length, controls]).toEqual([0, 2]);
  });

  test("random price / qty strings: the code follows a reference (decimal that does not fit → price / qty, else level)", () => {
    let seed = 777;
    const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0) >>> 0) / 4294967296;
    const alphabet = "0123456789.-eEx ";
    for (let n = 0; n < 400; n++) {
      const len = Math.floor(rnd() * 20);
      let v = "";
      for (let i = 0; i < len; i++) v += rnd() < 0.8 ? String(Math.floor(rnd() * 10)) : alphabet[Math.floor(rnd() * alphabet.length)]!;
      const onPrice = rnd() < 0.5;
      const exp = onPrice ? 4 : 0;
      const want = refDecimal(v, exp) !== null ? null : /^\d+(\.\d+)?$/.test(v) ? (onPrice ? SCAN_ERR_PRICE : SCAN_ERR_QTY) : SCAN_ERR_LEVEL;
      const r = both(onPrice ? px(v) : qty(v), t, scanner).json;
      if (want === null) expect(r, v).toBeGreaterThanOrEqual(0);
      else expect(r, `${onPrice ? "price" : "qty"} ${JSON.stringify(v)}`).toBe(want);
    }
  });
});

describe("BybitScanner fuzz: never a wrong book", { timeout: 180_000 }, () => {
  // A small deterministic PRNG so failures reproduce.
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0) >>> 0) / 4294967296;
  const table = xrpTable();
  const scanner = new BybitScanner();
  const alphabet = '0123456789.-"[]{},:eE \\ntruefalsnul\u0001x';

  function check(line: string): void {
    const r = both(line, table, scanner);
    const expected = oracle(line, XRP, 4, 0);
    if (r.scan >= 0) {
      expect(r.book, line.slice(0, 200)).toEqual(expected);
    } else if (r.scan !== SCAN_FALLBACK && r.scan !== SCAN_NOT_BOOK && r.scan !== SCAN_UNKNOWN_TOPIC) {
      // A hard rejection must agree with the oracle.
      expect(expected, `scanner rejected (${SCAN_RESULT_NAMES[-r.scan]}) a frame the oracle accepts: ${line.slice(0, 300)}`).toBeNull();
    }
    // Whatever the adapter ends up with (scanner or JSON path) equals the oracle.
    if (r.json >= 0) expect(r.book).toEqual(expected);
    else expect(expected).toBeNull();
  }

  test("truncations of every delta at random points", () => {
    for (const line of LINES.slice(1)) {
      for (let k = 0; k < 30; k++) check(line.slice(0, Math.floor(rnd() * line.length)));
    }
  });

  test("random single-character edits (replace, insert, delete)", () => {
    for (let n = 0; n < 6000; n++) {
      const line = LINES[1 + Math.floor(rnd() * (LINES.length - 1))]!;
      const i = Math.floor(rnd() * line.length);
      const ch = alphabet[Math.floor(rnd() * alphabet.length)]!;
      const op = Math.floor(rnd() * 3);
      const mutated = op === 0 ? line.slice(0, i) + ch + line.slice(i + 1) : op === 1 ? line.slice(0, i) + ch + line.slice(i) : line.slice(0, i) + line.slice(i + 1);
      check(mutated);
    }
  });

  test("non-ASCII edits, incl. units whose low byte is a quote, digit, dot, comma or bracket (the level loop reads bytes)", () => {
    // U+0122 → 0x22 '"', U+0130 → '0', U+0135 → '5', U+012E → '.', U+012C → ',', U+015D → ']', U+015B → '['
    const wide = ["\u0122", "\u0130", "\u0135", "\u012e", "\u012c", "\u015d", "\u015b", "é", "\u2603", "\ud83d\ude00", "\ud83d"];
    for (let n = 0; n < 4000; n++) {
      const line = LINES[1 + Math.floor(rnd() * (LINES.length - 1))]!;
      const i = Math.floor(rnd() * line.length);
      const ch = wide[Math.floor(rnd() * wide.length)]!;
      const op = Math.floor(rnd() * 2);
      check(op === 0 ? line.slice(0, i) + ch + line.slice(i + 1) : line.slice(0, i) + ch + line.slice(i));
      if (n % 4 === 0) check(LINES[1 + (n % (LINES.length - 1))]!); // an ASCII frame after a non-ASCII one: same scanner
    }
    // Inside a level's strings, a wide unit is never read as the ASCII character of its low byte.
    const base = '{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[["1.9531","10"]],"a":[],"u":5},"cts":2}';
    for (const [from, to] of [['"1.9531"', '"1.953\u0131"'], ['"10"', '"1\u0130"'], ['"1.9531"', '"1\u012e9531"'], ['"10"]', '"10\u0122]'], ['"10"]]', '"10"\u015d]']]) {
      const line = base.replace(from!, to!);
      const r = both(line, table, scanner);
      expect(r.scan, line).toBeLessThan(0);
      check(line);
    }
  });

  test("structural mutations: swapped types and bad numbers", () => {
    const values = ['"x"', "1", "-1", "1.5", "1e2", "[]", "{}", "null", "true", '"1.2.3"', '"1e5"', '" 1"', '"０"', "18446744073709551616"];
    for (let n = 0; n < 3000; n++) {
      const line = LINES[1 + Math.floor(rnd() * (LINES.length - 1))]!;
      // Replace one JSON token (a string or a number) with another kind of value.
      const tokens = [...line.matchAll(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?/g)];
      const t = tokens[Math.floor(rnd() * tokens.length)]!;
      const v = values[Math.floor(rnd() * values.length)]!;
      check(line.slice(0, t.index) + v + line.slice(t.index! + t[0].length));
    }
  });

  test("random whitespace between and inside tokens", () => {
    const ws = [" ", "\n", "\r", "\t", "  \n "];
    for (let n = 0; n < 3000; n++) {
      let line = LINES[1 + Math.floor(rnd() * (LINES.length - 1))]!;
      for (let k = 0; k < 3; k++) {
        const i = Math.floor(rnd() * line.length);
        line = line.slice(0, i) + ws[Math.floor(rnd() * ws.length)]! + line.slice(i);
      }
      check(line);
    }
    // Whitespace only between tokens: the scanner itself must accept it (no fallback).
    const spaced = LINES[5]!.replace(/([\[\]{},:])/g, " $1\n\t");
    const r = both(spaced, table, scanner);
    expect(r.scan).toBe(7);
    expect(r.book).toEqual(oracle(spaced, XRP, 4, 0));
  });

  test("random decimal strings at many exponents: exact or rejected, as the oracle says", () => {
    const digitRun = (n: number) => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join("");
    const numbers: string[] = ["9007199254740991", "9007199254740992", "900719925474099.1", "0", "0.0", "00.10", "1.", ".1", "1e5"];
    for (let n = 0; n < 4000; n++) {
      const intPart = rnd() < 0.1 ? "0" : digitRun(1 + Math.floor(rnd() * 17));
      const r = rnd();
      const frac = r < 0.3 ? "" : "." + digitRun(1 + Math.floor(rnd() * 10)) + (rnd() < 0.3 ? "0".repeat(Math.floor(rnd() * 6)) : "");
      numbers.push(intPart + frac);
    }
    for (const exp of [0, 1, 2, 4, 6, 8, 10]) {
      const t = new TopicTable();
      t.add("orderbook.50.BTCUSDT", 1, exp, 8 - Math.min(exp, 8));
      for (const num of numbers) {
        const other = numbers[Math.floor(rnd() * numbers.length)]!;
        const line = `{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["${num}","${other}"]],"a":[["${other}","${num}"]],"u":2},"cts":3}`;
        const r2 = both(line, t, scanner); // the describe's scanner: a fresh one per line instantiated WebAssembly 28,000 times (~35 s)
        const expected = oracle(line, "orderbook.50.BTCUSDT", exp, 8 - Math.min(exp, 8));
        if (r2.scan >= 0) expect(r2.book, line).toEqual(expected);
        else expect(expected, line).toBeNull();
      }
    }
  });

  test("snapshot (1000 levels) truncated and edited", () => {
    const snap = LINES[0]!;
    for (let k = 0; k < 200; k++) check(snap.slice(0, Math.floor(rnd() * snap.length)));
    for (let k = 0; k < 200; k++) {
      const i = Math.floor(rnd() * snap.length);
      check(snap.slice(0, i) + alphabet[Math.floor(rnd() * alphabet.length)]! + snap.slice(i + 1));
    }
  });
});

describe("BybitConnection.onFrameAt (scanner, then the JSON path) against the oracle: key order and value classes", { timeout: 60_000 }, () => {
  // The fuzz above edits the recording in place: its keys never change order and the JSON path it checks is plain
  // JSON.parse. Here frames are built with their keys shuffled at both levels (`topic` sometimes not first: the JSON
  // path's case), unknown keys (one holding `"b":null`), escapes, and the value classes a venue or a proxy could
  // garble: `"b":null`, `{}`, `[[]]`, `"1e-8"`, `"0.10"` beside `"0.1"`, negatives, leading zeros, `-0`, `5.0`,
  // `5e0`, 2^53, numbers as strings, a symbol escaped, null, in lower case or with a space. Each goes through the
  // connection's own frame entry (scanner, else parseFrameJson + parseBookObject): the book the adapter would get
  // must be the oracle's, and a frame the oracle refuses must reach no book.
  const books: Book[] = [];
  const errors: number[] = [];
  const adapterStub = {
    rawFrameTap: undefined,
    onBook: (index: number, u: BookUpdate) => {
      expect(index).toBe(7);
      books.push(fromUpdate(u));
    },
    onUnknownTopic: () => undefined,
    onParseError: (_conn: unknown, _entry: number, code: number) => void errors.push(code),
    onText: () => false,
    onControl: () => undefined,
  };
  const conn = new BybitConnection(adapterStub as unknown as BybitAdapter, 0, "linear", "ws://127.0.0.1:1");
  conn.table.add(XRP, 7, 4, 0);

  /**
   * The oracle, with Bybit's integer fields required as integer literals in the text: the frame's own `ts` and `cts`,
   * its data's `u` and `seq` (the same keys anywhere else are no sequence number or time of the frame's).
   */
  function strictOracle(line: string): Book | null {
    let msg: any;
    const inexact: [unknown, string][] = [];
    try {
      msg = JSON.parse(line, function (this: unknown, key: string, value: unknown, ctx?: { source?: string }) {
        if (typeof value === "number" && !/^-?\d+$/.test(ctx?.source ?? "")) inexact.push([this, key]);
        return value;
      } as (key: string, value: unknown) => unknown);
    } catch {
      return null;
    }
    const data = typeof msg === "object" && msg !== null ? msg.data : undefined;
    const integerLiterals = !inexact.some(([holder, key]) => (holder === msg && (key === "ts" || key === "cts")) || (holder === data && (key === "u" || key === "seq")));
    return integerLiterals ? oracle(line, XRP, 4, 0) : null;
  }

  test("shuffled keys and garbled values: the book reached equals the oracle's, or none when it refuses", () => {
    let seed = 4242;
    const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0) >>> 0) / 4294967296;
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const shuffle = <T,>(a: T[]): T[] => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    };
    const prices = ['"1.9531"', '"1.95310"', '"1.9530"', '"1.953"', '"01.9531"', '"1e-8"', '"1E2"', '"-1.9531"', '"+1.9531"', '"1.9531 "', '"0"', '"0.0000"', '"1.95311"', '"1.9531\\u0000"', '"1.\\u0039531"', '1.9531', "null", '"900719925474.0991"', '"900719925474.0992"', '""', '"."', '"1."', '".5"'];
    const qtys = ['"6"', '"6.0"', '"6.00"', '"0"', '"-0"', '"-6"', '"6e0"', '"06"', '"6.5"', "null", "6", '"9007199254740991"', '"9007199254740992"'];
    const syms = ['"XRPUSDT"', '"XRP\\u0055SDT"', "null", '"xrpusdt"', '"XRPUSDT "', "1", '"BTCUSDT"', '""'];
    const ints = ["5", "0", "-0", "5.0", "5e0", "-5", "1733011200691", "9007199254740991", "9007199254740992", '"5"', "null", "1.5", "05"];
    const sides = (): string => {
      const r = rnd();
      if (r < 0.06) return pick(["null", "{}", "[[]]", '""', "[null]", '[["1.9531"]]', '[["1.9531","6","1"]]']);
      const levels: string[] = [];
      for (let k = Math.floor(rnd() * 4); k > 0; k--) levels.push(`[${rnd() < 0.9 ? '"1.9531"' : pick(prices)},${rnd() < 0.9 ? '"6"' : pick(qtys)}]`);
      return `[${levels.join(",")}]`;
    };
    let accepted = 0;
    let refused = 0;
    let fromJsonPath = 0;
    for (let n = 0; n < 4000; n++) {
      const data = [`"s":${rnd() < 0.7 ? '"XRPUSDT"' : pick(syms)}`, `"b":${sides()}`, `"a":${sides()}`, `"u":${rnd() < 0.7 ? "20254870" : pick(ints)}`, `"seq":${rnd() < 0.8 ? "12" : pick(ints)}`];
      if (rnd() < 0.2) data.push(pick(['"x":{"b":null}', '"b2":[]', '"us":-1', '"S":"BTCUSDT"', '"x":{"u":1.5,"seq":5e0}', '"ts":1.01e2', '"cts":5.0']));
      const kept = shuffle(data.filter(() => rnd() < 0.98));
      const type = rnd() < 0.8 ? pick(['"delta"', '"snapshot"']) : pick(['"d\\u0065lta"', '"Delta"', "null", '"snap"']);
      const top = [`"type":${type}`, `"ts":${rnd() < 0.8 ? "17" : pick(ints)}`, `"cts":${rnd() < 0.8 ? "15" : pick(ints)}`, `"data":{${kept.join(",")}}`];
      if (rnd() < 0.3) top.push(pick(['"id":"orderbook.500.XRPUSDT-1-2"', '"data2":{"b":null}', '"u":3', '"u":1.5', '"seq":5e0', '"x":{"ts":1.5,"u":[{"cts":2.5}]}']));
      const fields = shuffle(top.filter(() => rnd() < 0.97));
      const topic = rnd() < 0.9 ? `"topic":"${XRP}"` : '"topic":"orderbook.500.XRP\\u0055SDT"';
      fields.splice(rnd() < 0.75 ? 0 : Math.floor(rnd() * (fields.length + 1)), 0, topic);
      let line = `{${fields.join(",")}}`;
      if (rnd() < 0.2) line = line.replace(/[,:]/g, (c) => (rnd() < 0.3 ? ` ${c}\n\t` : c));
      const expected = strictOracle(line);
      books.length = 0;
      const fallbacksBefore = conn.fallbacks;
      conn.onFrameAt(line, 1);
      if (expected === null) {
        expect(books, `reached a book, the oracle refuses: ${line}`).toEqual([]);
        refused++;
      } else {
        expect(books, line).toEqual([expected]);
        accepted++;
        if (conn.fallbacks > fallbacksBefore) fromJsonPath++;
      }
    }
    // Every class is exercised: accepted by the scanner, accepted only by the JSON path, and refused.
    expect(accepted - fromJsonPath).toBeGreaterThan(300);
    expect(fromJsonPath).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(1500);
  });

  test("the integer-literal rule holds for the frame's ts and cts and its data's u and seq, not for those keys elsewhere", () => {
    // Before: parseFrameJson checked the keys at any depth, so a frame the JSON path reads (its `topic` not first)
    // was refused for a `"u":1.5` in an unknown object, one the scanner accepted when `topic` came first.
    const frame = (top: string, data: string) => `{"type":"delta","ts":17,"data":{"s":"XRPUSDT","b":[["1.9531","6"]],"a":[],"u":9,"seq":12${data}},"cts":15${top},"topic":"${XRP}"}`;
    const want: Book = { snap: false, u: 9, ts: 17000, cts: 15000, bids: [[19531, 6]], asks: [] };
    for (const [top, data] of [
      [',"x":{"u":1.5,"seq":5e0,"ts":1.01e2,"cts":2.5}', ""],
      [',"u":100.99999999999999999,"seq":5.0', ""],
      ["", ',"x":{"u":1.5}'],
      ["", ',"ts":1.01e2,"cts":5.0,"y":[{"seq":0.5}]'],
      [',"id":"orderbook.500.XRPUSDT-1-2","z":[[{"ts":1e0}]]', ',"w":{"u":{"u":2.5}}'],
    ]) {
      const line = frame(top!, data!);
      books.length = 0;
      conn.onFrameAt(line, 1);
      expect(books, line).toEqual([want]);
      expect(strictOracle(line), line).toEqual(want);
    }
    // The fields themselves: 101 by JSON.parse's rounding, yet no integer literal, so no sequence number or time.
    for (const [from, to] of [
      ['"u":9,', '"u":100.99999999999999999,'],
      ['"u":9,', '"u":1.01e2,'],
      ['"seq":12', '"seq":12.0'],
      ['"ts":17,', '"ts":1.7e1,'],
      ['"cts":15', '"cts":15.000000000000001'],
    ]) {
      const line = frame("", "").replace(from!, to!);
      expect(line).toContain(to);
      books.length = 0;
      const errorsBefore = errors.length;
      conn.onFrameAt(line, 1);
      expect(books, line).toEqual([]);
      expect(errors.slice(errorsBefore), line).toEqual([SCAN_ERR_NUMBER]);
      expect(strictOracle(line), line).toBeNull();
    }
  });

  test('"0.10" and "0.1", "6" and "6.000": the same price and size through the scanner and the JSON path', () => {
    const frame = (px: string, qty: string, topicFirst: boolean) => {
      const rest = `"type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[["${px}","${qty}"]],"a":[],"u":9},"cts":2`;
      return topicFirst ? `{"topic":"${XRP}",${rest}}` : `{${rest},"topic":"${XRP}"}`;
    };
    const seen = new Set<string>();
    for (const [px, qty] of [["1.95", "6"], ["1.950", "6.0"], ["1.9500", "6.000"], ["1.95000000", "06"]]) {
      for (const topicFirst of [true, false]) {
        books.length = 0;
        conn.onFrameAt(frame(px!, qty!, topicFirst), 1);
        expect(books.length).toBe(1);
        seen.add(JSON.stringify(books[0]!.bids));
      }
    }
    expect([...seen]).toEqual([JSON.stringify([[19500, 6]])]);
  });
});
