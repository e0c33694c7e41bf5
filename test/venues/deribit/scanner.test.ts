/**
 * The Deribit scanner against an independent reading of the genuine recording (JSON.parse with each number's source
 * text, BigInt decimals), every key order, exponent-form numbers, the grouped shape, and fuzzed frames: the scanner
 * and the JSON path agree, and a frame either gives exactly the reference's levels or is refused.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { Rng } from "../../../src/sim/rng.ts";
import { ChannelTable } from "../../../src/venues/deribit/channel-table.ts";
import { parseBookObject, parseJsonRaw } from "../../../src/venues/deribit/parse-json.ts";
import { DeribitScanner, SCAN_ERR_LEVEL, SCAN_ERR_NUMBER, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "../../../src/venues/deribit/scanner.ts";
import { canonical, canonicalOf, parseWithSource, recordedFrames, recordedInstruments } from "./recording.ts";

const P_EXP = 4;
const Q_EXP = 1;

function table(): ChannelTable {
  const t = new ChannelTable();
  recordedInstruments().forEach((name, i) => t.add(`book.${name}.raw`, i, P_EXP, Q_EXP, false));
  t.add("book.BTC-PERPETUAL.none.10.100ms", 100, 1, 0, true);
  return t;
}

interface Levels {
  index: number;
  snapshot: boolean;
  replace: boolean;
  seq: number;
  prev: number;
  bids: [string, string][];
  asks: [string, string][];
}

function levelsOf(u: BookUpdate, index: number, prev: number): Levels {
  const side = (px: Float64Array, q: Float64Array, n: number) => Array.from({ length: n }, (_, i) => [canonicalOf(px[i]!, P_EXP), canonicalOf(q[i]!, Q_EXP)] as [string, string]);
  return { index, snapshot: u.isSnapshot, replace: u.replace, seq: u.venueSeq, prev, bids: side(u.bidPx, u.bidQty, u.bidCount), asks: side(u.askPx, u.askQty, u.askCount) };
}

/** What the reference says the frame holds (levels as canonical decimals; delete → 0). */
function reference(frame: string, index: number): Levels {
  const d = (parseWithSource(frame) as { params: { data: Record<string, { num: string } | string | unknown[]> } }).params.data as Record<string, unknown>;
  const side = (l: [string, { num: string }, { num: string }][]) => l.map(([a, p, q]) => [canonical(p.num), a === "delete" ? "0" : canonical(q.num)] as [string, string]);
  return {
    index,
    snapshot: d.type === "snapshot",
    replace: false,
    seq: Number((d.change_id as { num: string }).num),
    prev: d.prev_change_id ? Number((d.prev_change_id as { num: string }).num) : -1,
    bids: side(d.bids as never),
    asks: side(d.asks as never),
  };
}

function scanBoth(frame: string, t: ChannelTable): { scan: number; json: number; viaScan?: Levels; viaJson?: Levels } {
  const sc = new DeribitScanner();
  const u = new BookUpdate();
  const r = sc.scan(frame, t, u);
  const out: { scan: number; json: number; viaScan?: Levels; viaJson?: Levels } = { scan: r, json: 0 };
  if (r >= 0) out.viaScan = levelsOf(u, r, sc.prevChangeId);
  let msg;
  try {
    msg = parseJsonRaw(frame);
  } catch {
    out.json = -4;
    return out;
  }
  const info = { entry: -1, prev: -1, detail: "" };
  const u2 = new BookUpdate();
  out.json = parseBookObject(msg, t, u2, info);
  if (out.json >= 0) out.viaJson = levelsOf(u2, out.json, info.prev);
  return out;
}

const BOOK_FRAMES = recordedFrames().filter((f) => f.frame.includes('"channel":"book.'));

describe("Deribit scanner on the genuine recording", () => {
  test("every book frame: scanner = JSON path = independent reference; 10 snapshots, 36 changes", () => {
    const t = table();
    const names = recordedInstruments();
    let snapshots = 0;
    let changes = 0;
    for (const { frame } of BOOK_FRAMES) {
      const index = names.indexOf(/"channel":"book\.([^"]+)\.raw"/.exec(frame)![1]!);
      const r = scanBoth(frame, t);
      expect(r.scan).toBe(index);
      expect(r.viaScan).toEqual(reference(frame, index));
      expect(r.viaJson).toEqual(r.viaScan);
      if (r.viaScan!.snapshot) snapshots++;
      else changes++;
    }
    expect(names).toHaveLength(10);
    expect([snapshots, changes]).toEqual([10, 36]);
  });

  test("other channels and control frames are not books; an unsubscribed book channel is unknown", () => {
    const t = table();
    const sc = new DeribitScanner();
    const others = recordedFrames().filter((f) => !f.frame.includes('"channel":"book.'));
    expect(others.length).toBeGreaterThan(50);
    for (const { frame } of others) expect(sc.scan(frame, t, new BookUpdate())).toBe(SCAN_NOT_BOOK);
    const foreign = BOOK_FRAMES[0]!.frame.replace(/book\.[^"]+\.raw/, "book.SOL-PERPETUAL.raw");
    expect(sc.scan(foreign, t, new BookUpdate())).toBe(SCAN_UNKNOWN_TOPIC);
    // A channel name written with an escape (valid JSON naming one of ours) is the JSON path's to decide: before
    // 2026-12-07 the scanner called it unknown, and the frame was dropped with every book of its connection resynced.
    const plain = BOOK_FRAMES[0]!.frame;
    const escaped = plain.replace(/("channel":"book\.[^"-]*)-/, "$1\\u002d");
    expect(escaped).not.toBe(plain);
    const r = scanBoth(escaped, t);
    expect(r.scan).toBe(SCAN_FALLBACK);
    expect(r.viaJson).toEqual(scanBoth(plain, t).viaScan);
    // Escaped and not ours: unknown there too.
    expect(scanBoth(foreign.replace("SOL-", "SOL\\u002d"), t)).toMatchObject({ scan: SCAN_FALLBACK, json: SCAN_UNKNOWN_TOPIC });
  });

  test("every key order of the data object gives the same levels (scanner or JSON path)", () => {
    const t = table();
    const rng = new Rng(7);
    for (const { frame } of BOOK_FRAMES) {
      const want = scanBoth(frame, t).viaScan!;
      const dataAt = frame.indexOf('"data":{') + 8;
      const body = frame.slice(dataAt, frame.length - 3);
      const parts = body.match(/"[a-z_]+":(?:\[(?:\[[^\]]*\],?)*\]|"[^"]*"|\d+)/g)!;
      expect(parts.join(",")).toBe(body);
      for (let k = 0; k < 6; k++) {
        const shuffled = [...parts].sort(() => rng.next() - 0.5);
        const f = frame.slice(0, dataAt) + shuffled.join(",") + "}}}";
        const r = scanBoth(f, t);
        expect(r.scan).toBe(want.index); // key order alone never sends a frame to the slow path
        expect(r.viaScan).toEqual(want);
      }
      // Whitespace and an unknown key: the JSON path takes it with the same result.
      const spaced = frame.replace('"data":{', '"data": { "extra" : [1, {"a": null}] ,');
      const r = scanBoth(spaced, t);
      expect(r.scan).toBe(SCAN_FALLBACK);
      expect(r.viaJson).toEqual(want);
    }
  });

  test("numbers in exponent form are read exactly, never through a double", () => {
    const t = table();
    const f = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-24SEP21-8000-P.raw","data":{"type":"snapshot","timestamp":1,"instrument_name":"BTC-24SEP21-8000-P","change_id":5,"bids":[["new",5e-4,1.531E2],["new",1.0E-3,0.1e1]],"asks":[["new",2.5e-3,1e0]]}}}';
    const r = scanBoth(f, t);
    expect(r.viaScan!.bids).toEqual([["0.0005", "153.1"], ["0.001", "1"]]);
    expect(r.viaScan!.asks).toEqual([["0.0025", "1"]]);
    expect(r.viaJson).toEqual(r.viaScan);
    // A digit the exponent cannot hold is refused, not rounded.
    const bad = f.replace("5e-4", "5.00001e-4");
    expect(scanBoth(bad, t).scan).toBe(SCAN_FALLBACK);
    expect(scanBoth(bad, t).json).toBeLessThan(0);
  });

  test("grouped channels: [price, amount] levels, every message a replace", () => {
    const t = table();
    const f = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{"timestamp":1786563084954,"instrument_name":"BTC-PERPETUAL","change_id":169600103289,"bids":[[63324.5,372280],[63324.0,10]],"asks":[[63325,7730]]}}}';
    const sc = new DeribitScanner();
    const u = new BookUpdate();
    expect(sc.scan(f, t, u)).toBe(100);
    expect([u.replace, u.isSnapshot, u.venueSeq, u.bidCount, u.askCount, u.bidPx[0], u.bidQty[0], u.askPx[0]]).toEqual([true, false, 169600103289, 2, 1, 633245, 372280, 633250]);
    expect(u.tsExchangeUs).toBe(1786563084954000);
  });

  test("timestamps: absent → 0 (unknown, null on the wire); one whose µs reach 2^53 is refused (bad_number), never published inexact", () => {
    const t = table();
    const f = (ts: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{${ts}"instrument_name":"BTC-PERPETUAL","change_id":7,"bids":[[63324.5,1]],"asks":[]}}}`;
    const tsOf = (frame: string) => {
      const u = new BookUpdate();
      const r = new DeribitScanner().scan(frame, t, u);
      const u2 = new BookUpdate();
      const j = parseBookObject(parseJsonRaw(frame), t, u2, { entry: -1, prev: -1, detail: "" });
      return { scan: r >= 0 ? u.tsExchangeUs : r, json: j >= 0 ? u2.tsExchangeUs : j };
    };
    expect(tsOf(f(""))).toEqual({ scan: 0, json: 0 });
    expect(tsOf(f('"timestamp":1786563084954,'))).toEqual({ scan: 1786563084954000, json: 1786563084954000 });
    // The last ms whose µs are below 2^53 (the year 2255), then the next and the largest integer literal read.
    expect(tsOf(f('"timestamp":9007199254740,'))).toEqual({ scan: 9007199254740000, json: 9007199254740000 });
    for (const ms of ["9007199254741", "9007199254740991"]) {
      // Before: taken, its µs (a double past 2^53) inexact and their ns past the wire's i64 (wire/words.ts).
      expect(tsOf(f(`"timestamp":${ms},`))).toEqual({ scan: SCAN_FALLBACK, json: SCAN_ERR_NUMBER });
    }
  });

  test("change_id and prev_change_id must be 0 … 2^53 − 1 (the wire's venueSeq): 2^53 or more is refused (bad_number)", () => {
    const t = table();
    const f = (cid: string, prev: string) =>
      `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${recordedInstruments()[0]}.raw","data":{"type":"change","instrument_name":"${recordedInstruments()[0]}","change_id":${cid},"prev_change_id":${prev},"bids":[],"asks":[]}}}`;
    const seqOf = (frame: string) => {
      const u = new BookUpdate();
      const r = new DeribitScanner().scan(frame, t, u);
      const u2 = new BookUpdate();
      const j = parseBookObject(parseJsonRaw(frame), t, u2, { entry: -1, prev: -1, detail: "" });
      return { scan: r >= 0 ? u.venueSeq : r, json: j >= 0 ? u2.venueSeq : j };
    };
    expect(seqOf(f("9007199254740991", "9007199254740990"))).toEqual({ scan: 9007199254740991, json: 9007199254740991 });
    for (const [cid, prev] of [["9007199254740992", "7"], ["9007199254740993", "7"], ["123456789012345678", "7"], ["9007199254740993", "9007199254740992"]]) {
      expect(seqOf(f(cid!, prev!)), `change_id ${cid}`).toEqual({ scan: SCAN_FALLBACK, json: SCAN_ERR_NUMBER });
    }
    expect(seqOf(f("7", "9007199254740993")), "prev_change_id").toEqual({ scan: SCAN_FALLBACK, json: SCAN_ERR_NUMBER });
    for (const cid of ["-1", "-7"]) expect(seqOf(f(cid, "-8")), `change_id ${cid}`).toEqual({ scan: SCAN_FALLBACK, json: SCAN_ERR_NUMBER });
  });

  test("change_id 0 (and -0) is refused (bad_number) on every channel kind: 0 is the adapter's \"no id\" (lastSeq)", () => {
    const t = table();
    const inst = recordedInstruments()[0];
    const frames = [
      (cid: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${inst}.raw","data":{"type":"snapshot","instrument_name":"${inst}","change_id":${cid},"bids":[],"asks":[]}}}`,
      (cid: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.${inst}.raw","data":{"type":"change","instrument_name":"${inst}","change_id":${cid},"prev_change_id":0,"bids":[],"asks":[]}}}`,
      (cid: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{"instrument_name":"BTC-PERPETUAL","change_id":${cid},"bids":[[63324.5,1]],"asks":[]}}}`,
    ];
    for (const f of frames) {
      const both = (frame: string) => {
        const u = new BookUpdate();
        const r = new DeribitScanner().scan(frame, t, u);
        const u2 = new BookUpdate();
        const j = parseBookObject(parseJsonRaw(frame), t, u2, { entry: -1, prev: -1, detail: "" });
        return { scan: r >= 0 ? u.venueSeq : r, json: j >= 0 ? u2.venueSeq : j };
      };
      // 1 is the least id taken (a change linking to prev_change_id 0 is the adapter's to judge: a break).
      expect(both(f("1"))).toEqual({ scan: 1, json: 1 });
      // Before: 0 taken by both readers (a book LIVE at lastSeq 0, "no id").
      for (const cid of ["0", "-0"]) expect(both(f(cid)), `${f(cid)}`).toEqual({ scan: SCAN_FALLBACK, json: SCAN_ERR_NUMBER });
    }
  });

  test("a negative price or amount is bad_level (no re-check); one finer than the tick / lot or past 2^53 is bad_price / bad_qty", () => {
    const t = table(); // the grouped channel: price exponent 1, amount exponent 0
    const f = (px: string, amount: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.none.10.100ms","data":{"instrument_name":"BTC-PERPETUAL","change_id":7,"bids":[[${px},${amount}]],"asks":[]}}}`;
    const json = (frame: string) => parseBookObject(parseJsonRaw(frame), t, new BookUpdate(), { entry: -1, prev: -1, detail: "" });
    for (const v of ["-1", "-63324.5", "-0", "-1e3"]) {
      expect(json(f(v, "1")), `price ${v}`).toBe(SCAN_ERR_LEVEL);
      expect(json(f("63324.5", v)), `amount ${v}`).toBe(SCAN_ERR_LEVEL);
    }
    for (const v of ["63324.55", "1e20", "9007199254740993"]) expect(json(f(v, "1")), `price ${v}`).toBe(SCAN_ERR_PRICE);
    for (const v of ["1.5", "1e-1", "9007199254740993"]) expect(json(f("63324.5", v)), `amount ${v}`).toBe(SCAN_ERR_QTY);
  });

  test("fuzzed frames: truncations, edits, swapped types, bad numbers never give wrong levels", () => {
    const t = table();
    const rng = new Rng(99);
    let refused = 0;
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const base = BOOK_FRAMES[rng.int(0, BOOK_FRAMES.length - 1)]!.frame;
      let f = base;
      const op = rng.int(0, 5);
      const at = rng.int(0, f.length - 1);
      if (op === 0) f = f.slice(0, at);
      else if (op === 1) f = f.slice(0, at) + String.fromCharCode(rng.int(32, 126)) + f.slice(at + 1);
      else if (op === 2) f = f.slice(0, at) + f.slice(at + 1);
      else if (op === 3) f = f.replace(/(\d)\.(\d)/, rng.next() < 0.5 ? "$1.$2.1" : "$1e$2");
      else if (op === 4) f = f.replace(/"change_id":(\d+)/, '"change_id":"$1"');
      else f = f.replace(/\["(new|change|delete)"/, rng.next() < 0.5 ? '["add"' : "[1");
      const r = scanBoth(f, t);
      let expected: Levels | undefined;
      try {
        JSON.parse(f);
        expected = reference(f, r.scan >= 0 ? r.scan : r.json);
      } catch {
        expected = undefined;
      }
      if (r.scan >= 0) {
        accepted++;
        expect(r.viaScan).toEqual(expected); // whatever the scanner takes is exactly what JSON says
        expect(r.viaJson).toEqual(r.viaScan);
      } else if (r.json >= 0) {
        accepted++;
        expect(r.viaJson).toEqual(expected);
      } else refused++;
    }
    expect(refused).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(1000);
  });
});
