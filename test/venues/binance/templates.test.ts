/**
 * The scanner's fast path (scanner.ts fastFrame): a stream's frame is matched against its templates in the
 * StreamTable (topic-table.ts), found by the name's first 8 bytes. These tests cover what the genuine recordings do
 * not: names that share their first 8 bytes, many streams (the index grows), names and symbols the frame spells with
 * non-ASCII characters or escapes (no template: the general reader), and the word compare itself. Every scanned frame
 * is checked against the JSON path (parse-json.ts) and an independent exact conversion.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceScanner, isDiffObject, parseDiffObject, parseFrameJson, StreamTable } from "../../../src/venues/binance/index.ts";
import { SCAN_FALLBACK } from "../../../src/venues/binance/scanner.ts";
import { FRAME_NAME_OFFSET, fastKey, templateWords, wordsEqual } from "../../../src/venues/binance/topic-table.ts";
import { mantissa } from "./recordings.ts";

interface Stream {
  name: string;
  symbol: string;
}

function frame(s: Stream, k: number, futures: boolean): { text: string; bids: [string, string][]; asks: [string, string][]; U: number; u: number; pu: number; E: number } {
  const E = 1_633_998_512_068 + k * 100;
  const U = 499_869_750 + k * 7;
  const u = U + (k % 5);
  const pu = U - 1;
  const bids: [string, string][] = [];
  const asks: [string, string][] = [];
  for (let i = 0; i < k % 4; i++) bids.push([`0.${String(3513 + i * 17 + k).padStart(4, "0")}0000`, `${6195 + k * 31 + i}.00000000`]);
  for (let i = 0; i < (k * 7) % 3; i++) asks.push([`0.${String(3600 + i * 13 + k).padStart(4, "0")}0000`, i === 0 ? "0.00000000" : `${k + i}.50000000`]);
  const lv = (l: [string, string][]) => `[${l.map(([p, q]) => `["${p}","${q}"]`).join(",")}]`;
  const T = futures ? `"T":${E - 13},` : "";
  const PU = futures ? `"pu":${pu},` : "";
  const text = `{"stream":"${s.name}","data":{"e":"depthUpdate","E":${E},${T}"s":"${s.symbol}","U":${U},"u":${u},${PU}"b":${lv(bids)},"a":${lv(asks)}}}`;
  return { text, bids, asks, U, u, pu: futures ? pu : -1, E };
}

/** Scans `text` and checks everything against the JSON path and the frame's own numbers; returns the index. */
function check(sc: BinanceScanner, t: StreamTable, f: ReturnType<typeof frame>, want: number): void {
  const u = new BookUpdate();
  expect(sc.scan(f.text, t, u), f.text).toBe(want);
  expect(u.venueSeq).toBe(f.u);
  expect(sc.firstId).toBe(f.U);
  expect(sc.prevId).toBe(f.pu);
  expect(u.tsExchangeUs).toBe(f.E * 1000);
  expect(Array.from(u.bidPx.subarray(0, u.bidCount))).toEqual(f.bids.map(([p]) => mantissa(p, 4)));
  expect(Array.from(u.bidQty.subarray(0, u.bidCount))).toEqual(f.bids.map(([, q]) => mantissa(q, 1)));
  expect(Array.from(u.askPx.subarray(0, u.askCount))).toEqual(f.asks.map(([p]) => mantissa(p, 4)));
  expect(Array.from(u.askQty.subarray(0, u.askCount))).toEqual(f.asks.map(([, q]) => mantissa(q, 1)));
  const j = new BookUpdate();
  const parsed = parseFrameJson(f.text);
  expect(isDiffObject(parsed.msg)).toBe(true);
  expect(parseDiffObject(parsed.msg, t, j, { first: 0, prev: -1, entry: -1 }, parsed.inexactInteger)).toBe(want);
  expect(j.venueSeq).toBe(u.venueSeq);
}

describe("Binance scanner: the stream templates", () => {
  test("streams sharing their first 8 bytes, and enough of them that the index grows: each frame is its own stream's", () => {
    const streams: Stream[] = [];
    for (const base of ["1000shibusdt", "1000shibusdc", "1000pepeusdt", "btcusdt", "btcusdc", "ethbtc", "xrpusdt"]) {
      for (const suffix of ["@depth@100ms", "@depth", "@depth@500ms"]) streams.push({ name: base + suffix, symbol: base.toUpperCase() });
    }
    for (let i = 0; i < 30; i++) streams.push({ name: `coin${i}usdt@depth@100ms`, symbol: `COIN${i}USDT` });
    const t = new StreamTable();
    streams.forEach((s, i) => t.addStream(s.name, s.symbol, 100 + i, 4, 1));
    expect(t.fastSlots.length).toBeGreaterThanOrEqual(2 * streams.length);
    const sc = new BinanceScanner();
    for (let k = 0; k < 400; k++) {
      const i = (k * 13) % streams.length;
      check(sc, t, frame(streams[i]!, k, k % 2 === 1), 100 + i);
    }
    // The index itself: every name is found by its first 8 bytes.
    const dv = new DataView(new ArrayBuffer(64));
    for (const [e, s] of streams.entries()) {
      for (let i = 0; i < 8; i++) dv.setUint8(FRAME_NAME_OFFSET + i, s.name.charCodeAt(i));
      let slot = fastKey(dv.getInt32(FRAME_NAME_OFFSET, true), dv.getInt32(FRAME_NAME_OFFSET + 4, true)) & t.fastMask;
      while (t.fastSlots[slot] !== e) {
        expect(t.fastSlots[slot]).toBeGreaterThanOrEqual(0);
        slot = (slot + 1) & t.fastMask;
      }
    }
  });

  test("a name or symbol with non-ASCII characters has no template: the general reader reads its frames the same way", () => {
    const t = new StreamTable();
    const cn: Stream = { name: "币安人生usdt@depth@100ms", symbol: "币安人生USDT" };
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 4, 1);
    t.addStream(cn.name, cn.symbol, 1, 4, 1);
    expect(t.headBytes[1]).toBe(0);
    expect(t.headBytes[0]).toBeGreaterThan(0);
    const sc = new BinanceScanner();
    for (let k = 0; k < 50; k++) check(sc, t, frame(cn, k, k % 2 === 0), 1);
  });

  test("a name the frame must escape has no template; the escaped frame goes to the JSON path, which reads it", () => {
    const t = new StreamTable();
    const odd: Stream = { name: 'a"b@depth', symbol: "AB" };
    t.addStream(odd.name, odd.symbol, 3, 4, 1);
    expect(t.headBytes[0]).toBe(0);
    const f = frame({ name: 'a\\"b@depth', symbol: "AB" }, 5, false);
    const u = new BookUpdate();
    expect(new BinanceScanner().scan(f.text, t, u)).toBe(SCAN_FALLBACK);
    const parsed = parseFrameJson(f.text);
    expect(parseDiffObject(parsed.msg, t, u, { first: 0, prev: -1, entry: -1 }, parsed.inexactInteger)).toBe(3);
    expect(u.venueSeq).toBe(f.u);
  });

  test("a frame off the template in one place (pu -1, spaces, a leading zero, a 16-digit id) is not misread", () => {
    const t = new StreamTable();
    const s: Stream = { name: "btcusdt@depth@100ms", symbol: "BTCUSDT" };
    t.addStream(s.name, s.symbol, 0, 4, 1);
    const sc = new BinanceScanner();
    const base = frame(s, 3, true).text;
    const variants = [
      base.replace(/"pu":\d+/, '"pu":-1'),
      base.replace('"E":', '"E": '),
      base.replace('"u":', '"u" :'),
      base.replace(/"U":(\d+)/, '"U":0$1'),
      base.replace(/"u":(\d+)/, '"u":9007199254740993'),
      base.replace('"s":"BTCUSDT"', '"s":"BTCUSDC"'),
      base.replace('}}', '},"x":1}'),
    ];
    for (const text of variants) {
      const u = new BookUpdate();
      const r = sc.scan(text, t, u);
      let j = -100;
      const ju = new BookUpdate();
      try {
        const parsed = parseFrameJson(text);
        j = parseDiffObject(parsed.msg, t, ju, { first: 0, prev: -1, entry: -1 }, parsed.inexactInteger);
      } catch {
        /* not JSON */
      }
      if (r >= 0) {
        expect(j, text).toBe(r);
        expect(u.venueSeq, text).toBe(ju.venueSeq);
      }
    }
    // Accepted by the general reader with the JSON path's values: whitespace and a trailing key.
    expect(sc.scan(variants[1]!, t, new BookUpdate())).toBe(0);
    expect(sc.scan(variants[6]!, t, new BookUpdate())).toBe(0);
    // Not read by the scanner: a sign, a leading zero, an id beyond 2^53, another symbol.
    for (const i of [0, 3, 4, 5]) expect(sc.scan(variants[i]!, t, new BookUpdate()), variants[i]).toBeLessThan(0);
  });

  test("wordsEqual: the template's bytes exactly, for every length (the last word overlaps the one before)", () => {
    const buf = new ArrayBuffer(96);
    const dv = new DataView(buf);
    const bytes = new Uint8Array(buf);
    for (let n = 8; n <= 41; n++) {
      const text = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 37) % 95))).join("");
      const words = templateWords(text);
      for (let at = 0; at < 9; at++) {
        bytes.fill(0);
        for (let i = 0; i < n; i++) bytes[at + i] = text.charCodeAt(i);
        expect(wordsEqual(dv, at, words, n)).toBe(true);
        for (let i = 0; i < n; i++) {
          // Any other byte (0x80 marks a non-ASCII unit, 0 the end) makes another word, never an equal double.
          for (const x of [1, 0x80, 0xff, text.charCodeAt(i)]) {
            bytes[at + i] ^= x;
            expect(wordsEqual(dv, at, words, n), `n ${n} at ${at} byte ${i} ^ ${x}`).toBe(false);
            bytes[at + i] ^= x;
          }
        }
      }
    }
    expect(() => templateWords("1234567")).toThrow(/8 bytes/);
  });
});
