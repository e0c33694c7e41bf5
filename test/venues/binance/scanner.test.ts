/**
 * The Binance scanner against JSON.parse + an independent exact conversion: every diff of both genuine
 * recordings, other key orders and whitespace, and fuzzed frames (truncations, edits, swapped types, bad numbers):
 * whatever the scanner accepts, the JSON path accepts with the same book (what it rejects, the JSON path decides).
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceScanner, isDiffObject, parseDepthSnapshot, parseDiffObject, parseFrameJson, StreamTable } from "../../../src/venues/binance/index.ts";
import { SCAN_ERR_LEVEL, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK } from "../../../src/venues/binance/scanner.ts";
import { BinanceConnection } from "../../../src/venues/binance/connection.ts";
import type { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { loadRecording, mantissa } from "./recordings.ts";

interface Frame {
  text: string;
  stream: string;
  symbol: string;
  priceExp: number;
  qtyExp: number;
}

function frames(): Frame[] {
  const out: Frame[] = [];
  for (const name of ["BINANCE", "BINANCE_FUTURES"] as const) {
    const rec = loadRecording(name);
    for (const r of rec.records) {
      if (r.url) continue;
      const m = JSON.parse(r.text) as { stream: string; data: { e: string; s: string } };
      if (m.data.e !== "depthUpdate") continue;
      const e = rec.exps.get(m.data.s)!;
      out.push({ text: r.text, stream: m.stream, symbol: m.data.s, priceExp: e.price, qtyExp: e.qty });
    }
  }
  return out;
}

function tableFor(f: Frame): StreamTable {
  const t = new StreamTable();
  t.addStream(f.stream, f.symbol, 7, f.priceExp, f.qtyExp);
  return t;
}

function levels(u: BookUpdate): string {
  const b: string[] = [];
  for (let i = 0; i < u.bidCount; i++) b.push(`b${u.bidPx[i]}:${u.bidQty[i]}`);
  for (let i = 0; i < u.askCount; i++) b.push(`a${u.askPx[i]}:${u.askQty[i]}`);
  return `${u.venueSeq}|${u.tsExchangeUs}|${u.tsEventUs}|${b.join(",")}`;
}

/** The JSON path's answer for a frame: index and book, or a negative code. */
function viaJson(text: string, table: StreamTable): { r: number; book: string; first: number; prev: number } {
  const u = new BookUpdate();
  const ids = { first: 0, prev: -1, entry: -1 };
  let parsed;
  try {
    parsed = parseFrameJson(text);
  } catch {
    return { r: -100, book: "", first: 0, prev: 0 };
  }
  if (!isDiffObject(parsed.msg)) return { r: SCAN_NOT_BOOK, book: "", first: 0, prev: 0 };
  const r = parseDiffObject(parsed.msg, table, u, ids, parsed.inexactInteger);
  return { r, book: r >= 0 ? levels(u) : "", first: ids.first, prev: ids.prev };
}

const scanner = new BinanceScanner();
function check(text: string, table: StreamTable): number {
  const u = new BookUpdate();
  const r = scanner.scan(text, table, u);
  const j = viaJson(text, table);
  if (r >= 0) {
    // Accepted: JSON.parse agrees on everything.
    expect(j.r, text).toBe(r);
    expect(levels(u), text).toBe(j.book);
    expect(scanner.firstId).toBe(j.first);
    expect(scanner.prevId).toBe(j.prev);
  }
  // A rejection is not final: connection.ts hands every frame the scanner does not accept to the JSON path, which
  // decides (e.g. a duplicate key whose first value is bad: JSON keeps the last one).
  return r;
}

describe("Binance scanner", () => {
  const all = frames();

  test("every diff of both recordings: same book as JSON.parse + an independent exact conversion", () => {
    expect(all.length).toBe(177 + 764);
    for (const f of all) {
      const t = tableFor(f);
      const u = new BookUpdate();
      expect(scanner.scan(f.text, t, u)).toBe(7);
      const d = (JSON.parse(f.text) as { data: { U: number; u: number; pu?: number; E: number; b: [string, string][]; a: [string, string][] } }).data;
      expect(u.venueSeq).toBe(d.u);
      expect(scanner.firstId).toBe(d.U);
      expect(scanner.prevId).toBe(d.pu ?? -1);
      expect(u.tsExchangeUs).toBe(d.E * 1000);
      expect(Array.from(u.bidPx.subarray(0, u.bidCount))).toEqual(d.b.map(([p]) => mantissa(p, f.priceExp)));
      expect(Array.from(u.bidQty.subarray(0, u.bidCount))).toEqual(d.b.map(([, q]) => mantissa(q, f.qtyExp)));
      expect(Array.from(u.askPx.subarray(0, u.askCount))).toEqual(d.a.map(([p]) => mantissa(p, f.priceExp)));
      expect(Array.from(u.askQty.subarray(0, u.askCount))).toEqual(d.a.map(([, q]) => mantissa(q, f.qtyExp)));
    }
  });

  test("other key orders and whitespace read the same", () => {
    for (const f of all.slice(0, 200)) {
      const t = tableFor(f);
      const m = JSON.parse(f.text) as { stream: string; data: Record<string, unknown> };
      const keys = Object.keys(m.data).reverse();
      const reordered = `{"stream":"${m.stream}","data":{${keys.map((k) => `${JSON.stringify(k)} : ${JSON.stringify(m.data[k])}`).join(" ,\n ")}} }`;
      expect(check(reordered, t)).toBe(7);
      // Unknown keys, among them the frame's integer keys spelt as no integer (not the frame's fields: skipped).
      const extra = f.text.replace('"data":{', '"data":{"x":[1,{"y":null,"u":1.5,"pu":2e3,"E":0.5}],');
      expect(check(extra, t)).toBe(7);
    }
  });

  test("fuzzed frames: truncations, single-character edits, swapped types, bad numbers never give a wrong book", () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = '0123456789.-eE"{}[],: abnptuUsS\\';
    let accepted = 0;
    let rejected = 0;
    for (let k = 0; k < 6000; k++) {
      const f = all[rnd(all.length)]!;
      const t = tableFor(f);
      let text = f.text;
      const op = rnd(5);
      if (op === 0) text = text.slice(0, rnd(text.length));
      else if (op === 1) {
        const i = rnd(text.length);
        text = text.slice(0, i) + alphabet[rnd(alphabet.length)] + text.slice(i + 1);
      } else if (op === 2) {
        const i = rnd(text.length);
        text = text.slice(0, i) + alphabet[rnd(alphabet.length)] + text.slice(i);
      } else if (op === 3) text = text.replace(/"U":(\d+)/, (_, v) => [`"U":"${v}"`, `"U":${v}.0`, `"U":-${v}`, `"U":1e3`, `"U":${v}99999999`][rnd(5)]!);
      else text = text.replace(/\["([0-9.]+)","/, (_, p) => `["${[p + "1", "-" + p, p + "e1", "", " " + p, p + "0000000000000000001"][rnd(6)]}","`);
      const r = check(text, t);
      if (r >= 0) accepted++;
      else rejected++;
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  test("the integer-literal rule holds for the frame's own ids and times (data's E, T, U, u, pu) only, on the scanner's and the JSON path's side alike", () => {
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    const data = (u = "2", extra = "") => `{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":${u},"pu":0,${extra}"b":[["1.00","1.00000"]],"a":[]}`;
    const streamFirst = (d: string, top = "") => `{${top}"stream":"btcusdt@depth@100ms","data":${d}}`;
    const dataFirst = (d: string, top = "") => `{${top}"data":${d},"stream":"btcusdt@depth@100ms"}`;
    const book = viaJson(streamFirst(data()), t).book;
    // The same keys elsewhere (an unknown nested object, the top level) are nothing the frame is read by: the scanner
    // skips them, and so does the JSON path (before 2026-12-06 it refused each frame as bad_number, so a frame it read,
    // the stream not first, reached no book).
    for (const text of [
      streamFirst(data("2", '"x":{"u":1.5,"U":0.5,"E":1e3,"T":2.0,"pu":100.99999999999999999},')),
      dataFirst(data("2", '"x":[{"u":1.5}],')),
      streamFirst(data(), '"u":1.5,'),
      dataFirst(data(), '"x":{"E":0.5},'),
    ]) {
      check(text, t); // what the scanner accepts, the JSON path accepts with the same book
      expect(viaJson(text, t), text).toMatchObject({ r: 0, book });
    }
    // The frame's own fields spelt as no integer stay malformed (bad_number) on both sides, whatever the key order.
    for (const [key, spelt] of [["u", "100.99999999999999999"], ["u", "1.01e2"], ["U", "1.0"], ["E", "1e0"], ["T", "5.5"], ["pu", "0.0"]] as const) {
      const d = data().replace(new RegExp(`"${key}":\\d+`), `"${key}":${spelt}`);
      for (const text of [streamFirst(d), dataFirst(d)]) {
        expect(text).toContain(`"${key}":${spelt}`);
        expect(check(text, t), text).toBeLessThan(0);
        expect(viaJson(text, t).r, text).toBe(-7); // SCAN_ERR_NUMBER
      }
    }
  });

  test("u 0 (and -0) is refused (bad_number) by every reader, spot and USD-M, and lastUpdateId 0 by both snapshot readers: 0 is the adapter's \"none\" (lastSeq)", () => {
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    // Binance's exact layouts (the module's and the TypeScript fast path's) and another key order (the general reader).
    const spot = (u: string) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":0,"u":${u},"b":[["1.00","1.00000"]],"a":[]}}`;
    const usdm = (u: string) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":0,"u":${u},"pu":0,"b":[["1.00","1.00000"]],"a":[]}}`;
    const moved = (u: string) => `{"stream":"btcusdt@depth@100ms","data":{"u":${u},"e":"depthUpdate","E":1,"s":"BTCUSDT","U":0,"b":[],"a":[["1.00","1.00000"]]}}`;
    for (const f of [spot, usdm, moved]) {
      for (const ref of [new BinanceScanner(), new BinanceScanner(false)]) {
        const one = new BookUpdate();
        expect(ref.scan(f("1"), t, one), f("1")).toBe(0);
        expect(one.venueSeq).toBe(1);
        expect(viaJson(f("1"), t).r).toBe(0);
        // Before: 0 taken by the scanner and the JSON path (which also took -0, a sign the scanner hands it).
        expect(ref.scan(f("0"), t, new BookUpdate()), f("0")).toBeLessThan(0);
        for (const u of ["0", "-0"]) expect(viaJson(f(u), t).r, f(u)).toBe(-7); // SCAN_ERR_NUMBER
      }
    }
    const body = (id: string) => `{"lastUpdateId":${id},"bids":[["1.00","1.00000"]],"asks":[]}`;
    for (const ref of [new BinanceScanner(), new BinanceScanner(false)]) {
      expect(ref.scanSnapshot(body("1"), 2, 5, new BookUpdate())).toBe(0);
      expect(ref.scanSnapshot(body("0"), 2, 5, new BookUpdate())).toBeLessThan(0);
    }
    expect(parseDepthSnapshot(body("1"), 2, 5, new BookUpdate())).toBe(1);
    for (const id of ["0", "-0"]) expect(() => parseDepthSnapshot(body(id), 2, 5, new BookUpdate())).toThrow(`depth snapshot: lastUpdateId ${id} is not an id`);
  });

  test("a REST depth snapshot: the integer-literal rule holds for its own lastUpdateId, E and T only", () => {
    const body = (extra: string, id = "5") => `{"lastUpdateId":${id},${extra}"bids":[["1.00","1.00000"]],"asks":[]}`;
    for (const text of [body('"x":{"lastUpdateId":1.5,"E":2.5},'), body('"u":1.5,'), `{"x":[{"lastUpdateId":1.5}],${body("").slice(1)}`]) {
      const a = new BookUpdate();
      expect(scanner.scanSnapshot(text, 2, 5, a), text).toBe(0);
      // Before 2026-12-06: "depth snapshot: lastUpdateId 5 is not an id" though the scanner read it.
      const j = new BookUpdate();
      expect(parseDepthSnapshot(text, 2, 5, j), text).toBe(5);
      expect(levels(j)).toBe(levels(a));
    }
    // Named as written (before: by the value it parses to, "lastUpdateId 101" and "lastUpdateId 5", which are ids).
    expect(() => parseDepthSnapshot(body("", "100.99999999999999999"), 2, 5, new BookUpdate())).toThrow("depth snapshot: lastUpdateId 100.99999999999999999 is not an id");
    expect(() => parseDepthSnapshot(body("", "5.0"), 2, 5, new BookUpdate())).toThrow("lastUpdateId 5.0 is not an id");
    // Before: named lastUpdateId, which was not what was wrong.
    expect(() => parseDepthSnapshot(body('"E":1.5,'), 2, 5, new BookUpdate())).toThrow("depth snapshot: E 1.5 is not an integer");
    expect(() => parseDepthSnapshot(body('"E":1,"T":1e3,'), 2, 5, new BookUpdate())).toThrow("depth snapshot: T 1e3 is not an integer");
  });

  test("a REST depth snapshot level that is not [price string, quantity string] is named so, not as a misfit of the instrument", () => {
    // Before: "a level does not fit the instrument (tick … / lot … decimals)", and the snapshot fetch, which takes
    // "does not fit" for a changed tick or step, reloaded the market's exchangeInfo (spot: weight 20) for a malformed body.
    const body = (bids: string) => `{"lastUpdateId":5,"bids":[["1.00","1.00000"],${bids}],"asks":[["1.01","2"]]}`;
    for (const level of ['["1.00"]', '[1.00,"2"]', '["1.00","2","3"]', '"1.00"', "null"]) {
      const text = body(level);
      expect(scanner.scanSnapshot(text, 2, 5, new BookUpdate()), text).toBeLessThan(0);
      let why = "";
      try {
        parseDepthSnapshot(text, 2, 5, new BookUpdate());
      } catch (err) {
        why = String(err);
      }
      expect(why, text).toBe(`Error: depth snapshot: bid 2 ${JSON.stringify(JSON.parse(level))} is not [price string, quantity string]`);
      expect(why, text).not.toContain("does not fit");
    }
    // A number with more decimals than the tick is the misfit it was (the re-check's cue).
    expect(() => parseDepthSnapshot(body('["1.001","2"]'), 2, 5, new BookUpdate())).toThrow("depth snapshot: a price does not fit the instrument (tick 2 / lot 5 decimals)");
  });

  test("a diff level's price or quantity that is no decimal is a bad level (no exchangeInfo reload); a decimal finer than the tick or step is the misfit", () => {
    // The JSON path decides a rejected frame's code (connection.ts), and adapter.ts onParseError reloads exchangeInfo
    // for bad_price / bad_qty only. Before, "abc" was bad_price too, and reloaded it.
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    const frame = (level: string) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[${level}],"a":[]}}`;
    const codes = ['["abc","1"]', '["1.00","-1"]', '["1e3","1"]', '["","1"]', '["1.001","1"]', '["1.00","0.000001"]'].map((l) => viaJson(frame(l), t).r);
    expect(codes).toEqual([SCAN_ERR_LEVEL, SCAN_ERR_LEVEL, SCAN_ERR_LEVEL, SCAN_ERR_LEVEL, SCAN_ERR_PRICE, SCAN_ERR_QTY]);
  });

  test("through BinanceConnection.onFrameAt: a frame that is not JSON is a syntax error even where the scanner refused a price or quantity on the way", () => {
    // Truncated, the JSON path cannot tell "abc" (no decimal) from a misfit: the scanner's bad_price would reload exchangeInfo.
    const codes: number[] = [];
    const stub = { rawFrameTap: undefined, onDiff: () => undefined, onUnknownTopic: () => undefined, onParseError: (_c: unknown, _e: number, code: number) => void codes.push(code), onText: () => false, onControl: () => undefined };
    const conn = new BinanceConnection(stub as unknown as BinanceAdapter, 0, "spot", "ws://127.0.0.1:1");
    conn.table.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    const frame = (level: string) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[${level}],"a":[]}}`;
    for (const l of ['["abc","1"]', '["1.001","1"]', '["1.00","0.000001"]']) conn.onFrameAt(frame(l), 1);
    expect(codes).toEqual([SCAN_ERR_LEVEL, SCAN_ERR_PRICE, SCAN_ERR_QTY]);
    codes.length = 0;
    for (const l of ['["abc","1"]', '["1.001","1"]', '["1.00","0.000001"]']) conn.onFrameAt(frame(l).slice(0, -1), 1);
    expect(codes).toEqual([SCAN_ERR_SYNTAX, SCAN_ERR_SYNTAX, SCAN_ERR_SYNTAX]);
    // Nor is one the scanner handed to the JSON path on the way (an escape): "fallback" is no error (until 2026-12-07
    // such a frame was counted as parse error "fallback").
    codes.length = 0;
    const escaped = frame('["1.00","1"]').replace('"s":"BTCUSDT"', '"s":"BTC\\u0055SDT"');
    expect(new BinanceScanner().scan(escaped, conn.table, new BookUpdate())).toBe(SCAN_FALLBACK);
    conn.onFrameAt(escaped.slice(0, -1), 1);
    expect(codes).toEqual([SCAN_ERR_SYNTAX]);
    // JSON, not a diff, its stream with an escape: a control frame as unescaped, not parse error "fallback".
    codes.length = 0;
    let controls = 0;
    stub.onControl = () => void controls++;
    for (const stream of ["btcusdt@trade", "btcusdt\\u0040trade"]) conn.onFrameAt(`{"stream":"${stream}","data":{"e":"trade"}}`, 1);
    expect([codes.length, controls]).toEqual([0, 2]);
  });

  test("what is not a diff frame: acks, errors, serverShutdown, other streams, unknown depth streams", () => {
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    const u = new BookUpdate();
    expect(scanner.scan('{"result":null,"id":"s1"}', t, u)).toBe(SCAN_NOT_BOOK);
    expect(scanner.scan('{"code":2,"msg":"Invalid request","id":"s1"}', t, u)).toBe(SCAN_NOT_BOOK);
    expect(scanner.scan('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}', t, u)).toBe(SCAN_NOT_BOOK);
    expect(scanner.scan('{"stream":"btcusdt@bookTicker","data":{}}', t, u)).toBe(SCAN_NOT_BOOK);
    expect(scanner.scan('{"stream":"ethusdt@depth@100ms","data":{}}', t, u)).toBe(-2);
    // The symbol must be the stream's.
    expect(scanner.scan('{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":1,"u":2,"b":[],"a":[]}}', t, u)).toBe(-10);
    expect(scanner.scan('{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}', t, u)).toBe(0);
  });

  test("REST depth snapshots: the scanner reads every recorded body as the JSON path does; fuzzed bodies never differ", () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let checked = 0;
    for (const name of ["BINANCE", "BINANCE_FUTURES"] as const) {
      const rec = loadRecording(name);
      for (const r of rec.records.filter((x) => x.url)) {
        const e = rec.exps.get(/symbol=([A-Z0-9]+)/.exec(r.url!)![1]!)!;
        const a = new BookUpdate();
        expect(scanner.scanSnapshot(r.text, e.price, e.qty, a)).toBe(0);
        const j = new BookUpdate();
        expect(parseDepthSnapshot(r.text, e.price, e.qty, j)).toBe(a.venueSeq);
        expect(levels(a)).toBe(levels(j));
        expect(a.isSnapshot).toBe(true);
        for (let k = 0; k < 300; k++) {
          let text = r.text;
          const i = rnd(text.length);
          if (rnd(2) === 0) text = text.slice(0, i);
          else text = text.slice(0, i) + '0.-e"{}[],:lx'[rnd(13)] + text.slice(i + 1);
          const u = new BookUpdate();
          if (scanner.scanSnapshot(text, e.price, e.qty, u) === 0) {
            const v = new BookUpdate();
            expect(parseDepthSnapshot(text, e.price, e.qty, v)).toBe(u.venueSeq);
            expect(levels(u)).toBe(levels(v));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  test("REST depth snapshots: E / T are absent (unknown) or a ms time below 2^53 µs, by both readers alike; else refused naming the field", () => {
    // The JSON path decides what the scanner refuses: before, it took E -1 or "x" as unknown and kept a far-future E
    // (10^13 ms: 10^16 µs, which the wire's ns field turns negative), where the diff path refuses all of them.
    const body = (k: string, v: string) => `{"lastUpdateId":5,"${k}":${v},"bids":[["1.0","2"]],"asks":[["1.5","3"]]}`;
    const limitMs = Math.ceil(9007199254740992 / 1000); // the first ms time whose µs reach 2^53
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const values = ["0", "1", String(limitMs - 1), String(limitMs), "10000000000000", "-1", '"x"', "null", "1.5", "1e3", "true"];
    for (let k = 0; k < 40; k++) values.push(String(limitMs - 3 + rnd(6)), String(rnd(2 ** 30) * 2 ** 13 + rnd(8192)));
    for (const key of ["E", "T"]) {
      for (const v of values) {
        const text = body(key, v);
        const ms = /^\d+$/.test(v) ? Number(v) : -1;
        const ok = ms >= 0 && ms < limitMs;
        const a = new BookUpdate();
        const scanned = scanner.scanSnapshot(text, 1, 0, a);
        const j = new BookUpdate();
        let read: number | string;
        try {
          read = parseDepthSnapshot(text, 1, 0, j);
        } catch (err) {
          read = String(err);
        }
        if (ok) {
          expect(scanned, text).toBe(0);
          expect(read, text).toBe(5);
          const us = key === "E" ? j.tsExchangeUs : j.tsEventUs;
          expect(us, text).toBe(ms * 1000);
          expect(levels(a), text).toBe(levels(j));
        } else {
          expect(scanned, text).toBeLessThan(0);
          expect(read, text).toMatch(new RegExp(`^Error: depth snapshot: ${key} .* is not (a time in ms|an integer)$`));
        }
      }
    }
  });

  test("REST depth snapshots, lastUpdateId / E / T at random together: both readers agree, and a refusal names a wrong field as it was written", () => {
    // Before: an integer past 2^53 (9007199254740993) was named by the value it parses to (…992) too.
    // Before: a lastUpdateId spelt as no integer literal was named by its parsed value ("lastUpdateId 5 is not an id"
    // for 5.0, "101" for 100.99999999999999999), a string unquoted and an object "[object Object]": nothing the
    // operator could find in the body. The reference: what each key may be, and each value's text as written.
    const limitMs = Math.ceil(9007199254740992 / 1000); // the first ms time whose µs reach 2^53
    const ids = ["1", "5", "9007199254740991"]; // ids: safe positive integer literals
    // 0 (and -0) is no id: the adapter's "none" (before 2026-12-07 taken by both readers).
    const badIds = ["0", "-0"];
    const times = ["0", "1", "1700000000000", String(limitMs - 1)]; // ms times whose µs fit below 2^53
    const bad = ["5.0", "1e3", "100.99999999999999999", "1.5", "-1", '"5"', '"x"', "null", "true", "{}", "[1,2]", '{"a":1}', "18014398509481984", "9007199254740993"]; // the last parses to …992
    let seed = 11;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const pick = (good: string[], absentOk: boolean, worse: string[] = []): string | undefined => {
      const r = rnd(10);
      if (r < 2) return absentOk || rnd(2) === 0 ? undefined : bad[rnd(bad.length)];
      if (r < 6) return good[rnd(good.length)];
      const all = bad.concat(worse);
      return all[rnd(all.length)];
    };
    let refused = 0;
    for (let k = 0; k < 600; k++) {
      const fields: [string, string | undefined, boolean][] = [
        ["lastUpdateId", pick(ids, false, badIds), false],
        ["E", pick(times, true), true],
        ["T", pick(times, true), true],
      ];
      const wrong = fields.filter(([key, v, absentOk]) => (v === undefined ? !absentOk : !(key === "lastUpdateId" ? ids : times).includes(v)));
      const order = fields.filter(([, v]) => v !== undefined).sort(() => rnd(3) - 1);
      const text = `{${order.map(([key, v]) => `"${key}":${v},`).join("")}"bids":[["1.0","2"]],"asks":[["1.5","3"]]}`;
      const a = new BookUpdate();
      const scanned = scanner.scanSnapshot(text, 1, 0, a);
      const j = new BookUpdate();
      let read: number | string;
      try {
        read = parseDepthSnapshot(text, 1, 0, j);
      } catch (err) {
        read = String(err);
      }
      if (wrong.length === 0) {
        const id = Number(fields[0]![1]);
        expect(scanned, text).toBe(0);
        expect(read, text).toBe(id);
        expect([a.venueSeq, a.tsExchangeUs, a.tsEventUs], text).toEqual([id, Number(fields[1]![1] ?? 0) * 1000, Number(fields[2]![1] ?? 0) * 1000]);
        expect([j.venueSeq, j.tsExchangeUs, j.tsEventUs, levels(j)], text).toEqual([a.venueSeq, a.tsExchangeUs, a.tsEventUs, levels(a)]);
        continue;
      }
      refused++;
      expect(scanned, text).toBeLessThan(0);
      const named = /^Error: depth snapshot: (lastUpdateId|E|T) (.*) is not (an id|a time in ms|an integer)$/.exec(String(read));
      expect(named, `${text} → ${read}`).not.toBeNull();
      const field = wrong.find(([key]) => key === named![1]);
      expect(field, `${text} → ${read}: names a field that is right`).toBeDefined();
      expect(named![2], `${text} → ${read}`).toBe(field![1] ?? "undefined");
    }
    expect(refused).toBeGreaterThan(200);
  });
});
