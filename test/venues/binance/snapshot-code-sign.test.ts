/**
 * The Binance scanner and its JSON path, given the same inputs, give the same result: a REST depth snapshot carrying
 * a numeric `code` (Binance's error answer key) is refused by both, naming the code, wherever the key stands; and a
 * field written `-0` (pu, E, T, U: the scanner hands a sign to the JSON path) is read as 0, as the scanner reads `0`.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceScanner, isDiffObject, parseDepthSnapshot, parseDiffObject, parseFrameJson, StreamTable } from "../../../src/venues/binance/index.ts";

const readers = [new BinanceScanner(), new BinanceScanner(false)];

/** The JSON path alone: lastUpdateId, or its error's message. */
function viaJson(body: string): number | string {
  try {
    return parseDepthSnapshot(body, 2, 5, new BookUpdate());
  } catch (err) {
    return String(err);
  }
}

/** As SnapshotFetch.read: the scanner, else the JSON path, which decides. */
function viaScanner(sc: BinanceScanner, body: string): number | string {
  const u = new BookUpdate();
  return sc.scanSnapshot(body, 2, 5, u) === 0 ? u.venueSeq : viaJson(body);
}

describe("Binance snapshot and diff readers agree", () => {
  test("a depth snapshot carrying a numeric code is refused by the scanner and the JSON path alike, naming the code", () => {
    const sides = '"bids":[["1.00","1.00000"]],"asks":[]';
    for (const [body, code] of [
      [`{"code":-1121,"msg":"Invalid symbol."}`, "code -1121 Invalid symbol."],
      [`{"code":-1,"lastUpdateId":5,${sides}}`, "code -1"],
      [`{"lastUpdateId":5,${sides},"code":0}`, "code 0"],
      [`{"lastUpdateId":5,"code":-1003,"msg":"Too much request weight used",${sides}}`, "code -1003 Too much request weight used"],
    ] as const) {
      expect(viaJson(body), body).toBe(`Error: depth snapshot refused: ${code}`);
      // Before: the scanner skipped `code` as an unknown key and took the body as a book (lastUpdateId 5).
      for (const sc of readers) expect(viaScanner(sc, body), body).toBe(viaJson(body));
    }
    // A code that is no number is no error answer: an unknown key, skipped by both.
    const body = `{"lastUpdateId":5,"code":"x",${sides}}`;
    for (const sc of readers) expect([viaScanner(sc, body), viaJson(body)], body).toEqual([5, 5]);
  });

  test("a diff's pu, E, T or U written -0 is read as 0 by both paths (the JSON path kept the sign of zero)", () => {
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    const frame = (v: { pu?: string; E?: string; T?: string; U?: string }) =>
      `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":${v.E ?? "1"},"T":${v.T ?? "1"},"s":"BTCUSDT","U":${v.U ?? "1"},"u":6,"pu":${v.pu ?? "5"},"b":[["1.00","1.00000"]],"a":[]}}`;
    /** As BinanceConnection: the scanner, else the JSON path; the ids and times read. */
    const read = (sc: BinanceScanner, text: string): number[] => {
      const u = new BookUpdate();
      if (sc.scan(text, t, u) >= 0) return [sc.firstId, sc.prevId, u.tsExchangeUs, u.tsEventUs];
      const p = parseFrameJson(text);
      const ids = { first: 0, prev: -1, entry: -1 };
      expect(isDiffObject(p.msg)).toBe(true);
      expect(parseDiffObject(p.msg, t, u, ids, p.inexactInteger), text).toBe(0);
      return [ids.first, ids.prev, u.tsExchangeUs, u.tsEventUs];
    };
    for (const key of ["pu", "E", "T", "U"] as const) {
      for (const sc of readers) {
        const zero = read(sc, frame({ [key]: "0" }));
        const minusZero = read(sc, frame({ [key]: "-0" }));
        // toEqual tells 0 from -0 (Object.is): before, the JSON path gave -0 for pu and U, and -0 µs for E and T.
        expect(minusZero, key).toEqual(zero);
        for (const v of minusZero) expect(Object.is(v, -0), key).toBe(false);
      }
    }
  });
});
