/**
 * The OKX scanner against the JSON path and an independent conversion: every `books` line of the genuine
 * recording, every order of the data keys, the books5 / bbo-tbt shape, and fuzzed frames (truncations, edits,
 * swapped types, bad numbers): whatever the scanner accepts, JSON.parse accepts with the same result.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import { isBookObject, OkxScanner, OkxTopicTable, parseBookObject } from "../../../src/venues/okx/index.ts";
import type { OkxAdapter } from "../../../src/venues/okx/adapter.ts";
import { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { SCAN_ERR_FIELD, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SHAPE, SCAN_ERR_SYNTAX, SCAN_FALLBACK, SCAN_NOT_BOOK, SCAN_UNKNOWN_TOPIC } from "../../../src/venues/okx/scanner.ts";
import { Rng } from "../../../src/sim/rng.ts";
import { okxRecordingFrames, OKX_RECORDING_INSTRUMENTS } from "./recording.ts";

function table(): OkxTopicTable {
  const t = new OkxTopicTable();
  OKX_RECORDING_INSTRUMENTS.forEach((i, k) => t.add(`books:${i.symbol}`, k, decimals(i.tickSize), decimals(i.lotSize)));
  t.add("books5:BTC-USDT", 3, 1, 8);
  t.add("bbo-tbt:BTC-USDT", 4, 1, 8);
  return t;
}

function decimals(step: string): number {
  const dot = step.indexOf(".");
  return dot < 0 ? 0 : step.length - dot - 1;
}

interface Result {
  r: number;
  action: number;
  seq: [boolean, number, boolean, number];
  checksum: number;
  snapshot: boolean;
  ts: number;
  bids: number[];
  asks: number[];
}

function snapshotOf(r: number, sc: OkxScanner, u: BookUpdate): Result {
  const levels = (px: Float64Array, q: Float64Array, n: number) => Array.from({ length: n }, (_, i) => [px[i]!, q[i]!]).flat();
  return {
    r,
    action: sc.action,
    seq: [sc.hasSeqId, sc.seqId, sc.hasPrevSeqId, sc.prevSeqId],
    checksum: sc.checksum,
    snapshot: u.isSnapshot,
    ts: u.tsExchangeUs,
    bids: levels(u.bidPx, u.bidQty, u.bidCount),
    asks: levels(u.askPx, u.askQty, u.askCount),
  };
}

/** The JSON path's verdict: a Result when the frame is a valid push, else a negative code. */
function viaJson(frame: string, t: OkxTopicTable): Result | number {
  let msg: unknown;
  try {
    msg = JSON.parse(frame);
  } catch {
    return -100;
  }
  if (!isBookObject(msg)) return SCAN_NOT_BOOK;
  const sc = new OkxScanner();
  const u = new BookUpdate();
  const r = parseBookObject(msg, frame, t, u, sc);
  return r >= 0 ? snapshotOf(r, sc, u) : r;
}

/** One scanner for every frame, as a connection has (each holds a WebAssembly instance: too costly per frame). */
const shared = new OkxScanner();

function viaScanner(frame: string, t: OkxTopicTable): Result | number {
  const sc = shared;
  const u = new BookUpdate();
  const r = sc.scan(frame, t, u);
  return r >= 0 ? snapshotOf(r, sc, u) : r;
}

describe("okx scanner", () => {
  const t = table();
  const { books } = okxRecordingFrames();

  test("every books line of the recording: scanner = JSON path = an independent conversion", () => {
    for (const rec of books) {
      const s = viaScanner(rec.frame, t);
      expect(typeof s).toBe("object");
      expect(s).toEqual(viaJson(rec.frame, t));
      const msg = JSON.parse(rec.frame) as { arg: { instId: string }; data: { bids: string[][]; asks: string[][]; checksum: number; ts: string }[] };
      const inst = OKX_RECORDING_INSTRUMENTS.find((i) => i.symbol === msg.arg.instId)!;
      const conv = (l: string[][]) => l.flatMap((x) => [parseFixed(x[0]!, decimals(inst.tickSize)), parseFixed(x[1]!, decimals(inst.lotSize))]);
      const r = s as Result;
      expect(r.bids).toEqual(conv(msg.data[0]!.bids));
      expect(r.asks).toEqual(conv(msg.data[0]!.asks));
      expect(r.checksum).toBe(msg.data[0]!.checksum);
      expect(r.ts).toBe(Number(msg.data[0]!.ts) * 1000);
    }
  });

  test("data keys in every order, with seqIds; other top-level orders and whitespace go to the JSON path with the same result", () => {
    const parts = ['"asks":[["30238.8","2","0","1"]]', '"bids":[["30233.6","3","0","1"],["30219.4","104","0","2"]]', '"ts":"1652459225464"', '"checksum":-914047754', '"prevSeqId":15', '"seqId":3'];
    const perms = (a: string[]): string[][] => (a.length <= 1 ? [a] : a.flatMap((x, i) => perms([...a.slice(0, i), ...a.slice(i + 1)]).map((p) => [x, ...p])));
    let n = 0;
    for (const p of perms(parts)) {
      const f = `{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{${p.join(",")}}]}`;
      const s = viaScanner(f, t);
      expect(typeof s).toBe("object");
      expect(s).toEqual(viaJson(f, t));
      n++;
    }
    expect(n).toBe(720);
    const base = `{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{${parts.join(",")}}]}`;
    const expected = viaJson(base, t);
    for (const f of [
      `{"action":"update","arg":{"channel":"books","instId":"BTC-USD-220527"},"data":[{${parts.join(",")}}]}`,
      `{"arg":{"instId":"BTC-USD-220527","channel":"books"},"action":"update","data":[{${parts.join(",")}}]}`,
      `{"arg":{"channel":"books","instId":"BTC-USD-220527"},"data":[{${parts.join(",")}}],"action":"update"}`,
      base.replace(",", ", "),
    ]) {
      expect([SCAN_FALLBACK, SCAN_NOT_BOOK]).toContain(viaScanner(f, t)); // both go to the JSON path
      expect(viaJson(f, t)).toEqual(expected);
    }
  });

  test("books5 and bbo-tbt frames (no action, an instId in data)", () => {
    for (const ch of ["books5", "bbo-tbt"]) {
      const f = `{"arg":{"channel":"${ch}","instId":"BTC-USDT"},"data":[{"asks":[["111.1","0.5","0","2"]],"bids":[["111","1.25","0","3"]],"instId":"BTC-USDT","ts":"1700000000123","seqId":123456789}]}`;
      const s = viaScanner(f, t) as Result;
      expect(s.r).toBe(ch === "books5" ? 3 : 4);
      expect(s.bids).toEqual([1110, 125000000]);
      expect(s).toEqual(viaJson(f, t));
    }
  });

  test("levels with 2, 3, 5 fields, another third field or an unusual count take the general path with the JSON path's result", () => {
    const tails = ['', ',"0"', ',"0","1"', ',"0","12345"', ',"0",""', ',"0","x1"', ',"1","3"', ',"0","3","extra"', ',"00","3"', ',"0","3"]', ',"0",3', ',"0","3\\"'];
    let accepted = 0;
    for (const tail of tails) {
      const f = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30243.5","1.2112"${tail}],["30243.6","0"${tail}]],"bids":[],"ts":"1","checksum":0}]}`;
      const s = viaScanner(f, t);
      const j = viaJson(f, t);
      if (typeof s === "object") {
        accepted++;
        expect(j).toEqual(s);
        expect((s as Result).asks).toEqual([302435, 121120000, 302436, 0]);
      } else expect(s).toBe(SCAN_FALLBACK);
    }
    expect(accepted).toBeGreaterThanOrEqual(8);
  });

  test("the topic table finds a push's topic on its bytes (findFrame) exactly as by name, and nothing else", () => {
    const tt = new OkxTopicTable();
    const rng = new Rng(7);
    const names: string[] = [];
    for (let i = 0; i < 300; i++) {
      const base = ["BTC", "ETH", "UNI", "X", "SHIB1000", "A"][rng.int(0, 5)]!;
      const inst = `${base}-${["USDT", "USD", "USDC"][rng.int(0, 2)]}${rng.int(0, 1) ? "-SWAP" : `-2${rng.int(10_000, 99_999)}`}`;
      names.push(`${["books", "books5", "bbo-tbt"][rng.int(0, 2)]}:${inst}`);
    }
    names.forEach((name, k) => tt.add(name, k, 1, 1));
    const bytes = Buffer.alloc(256);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const look = (channel: string, inst: string) => {
      bytes.fill(0x41); // stale bytes beyond the run must not matter
      const run = `${channel}","instId":"${inst}`;
      bytes.write(run, 3);
      return tt.findFrame(dv, 3, 3 + run.length);
    };
    for (const name of names) {
      const [channel, inst] = name.split(":") as [string, string];
      expect(look(channel, inst)).toBe(tt.entryOf(name));
      expect(look(channel, inst)).toBeGreaterThanOrEqual(0);
      // near misses: one character changed, one more or one fewer, the other channel
      expect(look(channel, inst.slice(0, -1) + "#")).toBe(-1);
      expect(look(channel, inst + "A")).toBe(tt.entryOf(`${channel}:${inst}A`));
      expect(look(channel, inst.slice(0, -1))).toBe(tt.entryOf(`${channel}:${inst.slice(0, -1)}`));
      expect(look(channel === "books" ? "trades" : "books", inst)).toBe(tt.entryOf(`${channel === "books" ? "trades" : "books"}:${inst}`));
    }
    expect(look("books", "")).toBe(-1);
  });

  test("control frames and unknown channels", () => {
    expect(viaScanner('{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', t)).toBe(SCAN_NOT_BOOK);
    expect(viaScanner("pong", t)).toBe(SCAN_NOT_BOOK);
    expect(viaScanner('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"last":"1"}]}', t)).toBe(SCAN_UNKNOWN_TOPIC);
  });

  test("through OkxConnection.onFrameAt: a frame handed to the JSON path that is no push is a control frame unless it names a book of ours", () => {
    const errors: [number, number][] = [];
    let controls = 0;
    const stub = { rawFrameTap: undefined, onBook: () => undefined, onUnknownTopic: () => undefined, onParseError: (_c: unknown, e: number, code: number) => void errors.push([e, code]), onText: () => false, onControl: () => void controls++ };
    const conn = new OkxConnection(stub as unknown as OkxAdapter, 0, "spot", "ws://127.0.0.1:1");
    conn.table.add("books5:BTC-USDT", 3, 1, 8);
    // Not ASCII, or no instId next to the channel: the scanner hands it over (FALLBACK); JSON says no push of ours.
    const status = ['{"arg":{"channel":"status"},"data":[{"title":"upgrade"}]}', '{"arg":{"channel":"status"},"data":[{"title":"upgrade \u00e9"}]}', '{"arg":{"channel":"status"},"data":[{"title":"upgrade é"}]}'];
    for (const f of status) expect(new OkxScanner().scan(f, conn.table, new BookUpdate())).toBe(SCAN_FALLBACK);
    for (const f of status) conn.onFrameAt(f, 1);
    // Until 2026-12-07 each a syntax parse error naming no book: every book of the connection resynced.
    expect([errors, controls]).toEqual([[], 3]);
    // One naming our book but no push of it (no data) is malformed: that book's parse error, not a control frame.
    conn.onFrameAt('{"arg":{"channel":"books5","instId":"BTC-USDT"},"dat":[{"note":"é"}]}', 1);
    expect([errors, controls]).toEqual([[[conn.table.entryOf("books5:BTC-USDT"), SCAN_ERR_SYNTAX]], 3]);
  });

  test("fuzzed frames never give a result the JSON path disagrees with", () => {
    const rng = new Rng(99);
    const seeds = books.filter((_, i) => i % 10 === 0).map((b) => b.frame);
    seeds.push('{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["1.5","2","0","1"]],"ts":"1","checksum":0,"prevSeqId":-1,"seqId":100}]}');
    const edits = ["", "0", "-", ".", "e", '"', "[", "]", "{", "}", ",", ":", "1", "x", " ", "\\", "00", "1e3", "null", "true"];
    let accepted = 0;
    let total = 0;
    for (const seed of seeds) {
      for (let k = 0; k < 300; k++) {
        let f: string;
        const kind = rng.int(0, 3);
        if (kind === 0) f = seed.slice(0, rng.int(0, seed.length - 1));
        else {
          const at = rng.int(0, seed.length - 1);
          const len = kind === 1 ? 1 : rng.int(0, 4);
          f = seed.slice(0, at) + edits[rng.int(0, edits.length - 1)] + seed.slice(at + len);
        }
        total++;
        const s = viaScanner(f, t);
        if (typeof s === "object") {
          accepted++;
          expect(viaJson(f, t)).toEqual(s);
        }
      }
    }
    expect(total).toBeGreaterThanOrEqual(9000);
    expect(accepted).toBeGreaterThan(100); // the fuzzer also produces valid variants the scanner takes
  });

  test("numbers at the fast path's limits (9 int32 digits per part, 15 digits in all, decimals beyond the exponent) equal the JSON path's", () => {
    const nums = [
      "0", "1", "7.5", "007.50", "123456789", "1234567890", "999999999.9", "1000000000.25", "123456789012345", "1234567890123456",
      "9007199254740991", "0.1", "0.123456789", "0.1234567890", "0.12345678901", "1.000000000000", "1.0000000001", "5.", ".5",
      "", "-1", "1e5", "1.2.3", "12a", "99999.99999", "4294967296", "2147483648.5", "0.000000001", "3.14159265358979", "0.99999999999", "1.23456789012", "99999999999",
    ];
    const exps = [0, 1, 3, 8, 9, 10, 12];
    const tt = new OkxTopicTable();
    exps.forEach((e, k) => tt.add(`books:E${e}-USDT`, k, e, e));
    let accepted = 0;
    for (const [k, e] of exps.entries()) {
      for (const px of nums) {
        for (const qty of ["2", px]) {
          const f = `{"arg":{"channel":"books","instId":"E${e}-USDT"},"action":"update","data":[{"asks":[["${px}","${qty}","0","1"],["${px}","${qty}","0","12"]],"bids":[],"ts":"1","checksum":0}]}`;
          const s = viaScanner(f, tt);
          const j = viaJson(f, tt);
          if (typeof s === "object") {
            accepted++;
            expect(j).toEqual(s);
            expect((s as Result).r).toBe(k);
          } else {
            expect(s).toBe(SCAN_FALLBACK); // the JSON path decides, and must refuse what the scanner cannot take exactly
          }
          if (typeof j === "object") expect(s === SCAN_FALLBACK || typeof s === "object").toBe(true);
        }
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  test("integer fields must be integer literals: the JSON path refuses 15.0 and 1e1 (JSON.parse would make them integers)", () => {
    for (const bad of ['"seqId":15.0', '"seqId":1e1', '"prevSeqId":10.000000000000000001', '"checksum":1.5']) {
      const f = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1",${bad}}]}`;
      expect(viaScanner(f, t)).toBe(SCAN_FALLBACK);
      expect(typeof viaJson(f, t)).toBe("number");
    }
  });

  test("seqId must be 0 … 2^53 − 1 (the wire's venueSeq): a negative one or one at 2^53 or more is a field error, never published", () => {
    const f = (seq: string, prev = "5") =>
      `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30238.8","2","0","1"]],"bids":[],"ts":"1652459225464","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
    const seqOf = (frame: string, sc: OkxScanner) => {
      const u = new BookUpdate();
      const r = sc.scan(frame, t, u);
      return r >= 0 ? u.venueSeq : r;
    };
    for (const sc of [new OkxScanner(true), new OkxScanner(false)]) {
      expect(seqOf(f("0"), sc)).toBe(0);
      expect(seqOf(f("123456789012345"), sc)).toBe(123456789012345);
      // Before: taken, and written to the wire as an i64 below 0, which every subscriber refuses (unsafe_integer)
      // with the other instruments' messages of its datagram.
      for (const seq of ["-1", "-5", "-123456789012345"]) expect(seqOf(f(seq), sc), `seqId ${seq}`).toBe(SCAN_FALLBACK);
      // 16 digits and more: the JSON path decides.
      for (const seq of ["9007199254740991", "9007199254740992", "9007199254740993", "123456789012345678"]) expect(seqOf(f(seq), sc), `seqId ${seq}`).toBe(SCAN_FALLBACK);
    }
    expect((viaJson(f("9007199254740991"), t) as Result).seq).toEqual([true, 9007199254740991, true, 5]);
    for (const seq of ["-1", "-5", "9007199254740992", "9007199254740993", "123456789012345678"]) expect(viaJson(f(seq), t), `seqId ${seq}`).toBe(SCAN_ERR_FIELD);
    // prevSeqId is not on the wire: -1 (a snapshot's) and below stay the adapter's to judge; past 2^53 it is inexact.
    expect((viaJson(f("7", "-1"), t) as Result).seq).toEqual([true, 7, true, -1]);
    expect(viaJson(f("7", "9007199254740993"), t)).toBe(SCAN_ERR_FIELD);
  });
});

describe("okx JSON path: only a decimal that does not fit is price / qty (parse-errors.ts re-checks the instrument)", () => {
  const t = table(); // books5:BTC-USDT: price exponent 1, size exponent 8
  const frame = (px: string, sz: string) =>
    `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[[${JSON.stringify(px)},${JSON.stringify(sz)},"0","1"]],"bids":[],"instId":"BTC-USDT","ts":"1652459225464"}]}`;
  /** Reference: a decimal string (digits, optional fraction) refused by parseFixed is a misfit, anything else shape. */
  const want = (v: string, exp: number, misfit: number): number | null => {
    if (!/^\d+(\.\d+)?$/.test(v)) return SCAN_ERR_SHAPE;
    const [i, f = ""] = v.split(".");
    return /[1-9]/.test(f.slice(exp)) || BigInt(i! + f.slice(0, exp).padEnd(exp, "0")) > BigInt(Number.MAX_SAFE_INTEGER) ? misfit : null;
  };

  test("no decimal ('abc', '-1', '1e3', '') is shape; finer than the tick / lot or past 2^53 is price / qty", () => {
    for (const v of ["abc", "-1", "1e3", "", " 1", "1.", ".5"]) {
      expect(viaJson(frame(v, "1"), t), `price ${v}`).toBe(SCAN_ERR_SHAPE);
      expect(viaJson(frame("1", v), t), `size ${v}`).toBe(SCAN_ERR_SHAPE);
    }
    expect(viaJson(frame("30238.85", "1"), t)).toBe(SCAN_ERR_PRICE);
    expect(viaJson(frame("900719925474099.3", "1"), t)).toBe(SCAN_ERR_PRICE);
    expect(viaJson(frame("1", "0.000000001"), t)).toBe(SCAN_ERR_QTY);
  });

  test("random price / size strings: the code follows the reference", () => {
    const rng = new Rng(4242);
    const alphabet = "0123456789.-eE x";
    for (let n = 0; n < 300; n++) {
      let v = "";
      for (let i = rng.int(0, 17); i > 0; i--) v += rng.next() < 0.8 ? String(rng.int(0, 9)) : alphabet[rng.int(0, alphabet.length - 1)]!;
      const onPrice = rng.next() < 0.5;
      const w = onPrice ? want(v, 1, SCAN_ERR_PRICE) : want(v, 8, SCAN_ERR_QTY);
      const r = viaJson(onPrice ? frame(v, "1") : frame("1", v), t);
      if (w === null) expect(typeof r, v).toBe("object");
      else expect(r, `${onPrice ? "price" : "size"} ${JSON.stringify(v)}`).toBe(w);
    }
  });
});
