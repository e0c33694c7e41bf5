/**
 * `feeder export` on a capture of the genuine Bybit XRPUSDT recording: raw frames as captured (jsonl and csv,
 * compressed capture), and books rebuilt by the project's engine through the venue parser, checked row by row
 * against a naive reference book built with JSON.parse from the same frames (after every message, after a
 * lost delta, and on a grid of recorded time).
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { main } from "../../src/cli/main.ts";
import { exportCaptures } from "../../src/app/export.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { normDecimal } from "../book/reference-book.ts";
import { ACK, PONG, writeXrpCapture, writeXrpConfig, type CapturedFrame } from "../support/xrp-capture.ts";
import { uniqueDestination } from "./harness.ts";
import { readdirSync } from "node:fs";
import { validateConfig } from "../../src/config/load.ts";
import { formatFixed } from "../../src/core/fixed.ts";
import { loadRecording, ReferenceBook, stepOf } from "../venues/binance/recordings.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = makeTempDir("feeder-export-");
const config = writeXrpConfig(dir, uniqueDestination(51));
const { file: zstdFile, frames } = writeXrpCapture(dir, { compression: "zstd", spacingUs: 100_000 });

async function exportRows(args: string[]): Promise<string[]> {
  const out = join(makeTempDir("feeder-export-out-"), "out");
  const err: string[] = [];
  const code = await main(["export", "--out", out, ...args], { out: () => {}, err: (t) => err.push(t) });
  expect(err).toEqual([]);
  expect(code).toBe(0);
  const text = readFileSync(out, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n");
}

/** RFC 4180 reader for the test: quoted fields with doubled quotes, no line breaks inside (frames have none). */
function csvRow(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let j = i + 1;
      let s = "";
      for (;;) {
        const q = line.indexOf('"', j);
        s += line.slice(j, q);
        if (line[q + 1] === '"') {
          s += '"';
          j = q + 2;
        } else {
          i = q + 2;
          break;
        }
      }
      cells.push(s);
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? line.length : c;
      cells.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return cells;
}

/** Naive reference: each side a map price → qty of decimal strings, sorted by numeric price when read. */
class RefBook {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  u = 0;
  apply(msg: { type: string; data: { b: [string, string][]; a: [string, string][]; u: number } }): void {
    if (msg.type === "snapshot") {
      this.bids.clear();
      this.asks.clear();
    }
    for (const [side, levels] of [[this.bids, msg.data.b], [this.asks, msg.data.a]] as const) {
      for (const [p, q] of levels) {
        if (Number(q) === 0) side.delete(normDecimal(p));
        else side.set(normDecimal(p), normDecimal(q));
      }
    }
    this.u = msg.data.u;
  }
  top(n: number): { bids: string[][]; asks: string[][] } {
    const sorted = (m: Map<string, string>, dir: number) => [...m].sort((x, y) => dir * (Number(x[0]) - Number(y[0]))).slice(0, n);
    return { bids: sorted(this.bids, -1), asks: sorted(this.asks, 1) };
  }
}

const norm = (levels: string[][]) => levels.map(([p, q]) => [normDecimal(p!), normDecimal(q!)]);
const bookFrames = (fs: CapturedFrame[]) => fs.filter((f) => f.frame.startsWith('{"topic":"orderbook.'));

describe("feeder export", { timeout: 30_000 }, () => {
  test("raw jsonl: every frame in capture order, text byte for byte, with receive time, connection and topic", async () => {
    const rows = (await exportRows([zstdFile])).map((l) => JSON.parse(l));
    expect(rows.map((r) => r.frame)).toEqual(frames.map((f) => f.frame));
    expect(rows.map((r) => r.tsRecvUs)).toEqual(frames.map((f) => f.tsRecvUs));
    expect(rows.every((r) => r.venue === "bybit" && r.market === "linear" && r.connection === "linear-0")).toBe(true);
    expect(rows.map((r) => r.topic)).toEqual(frames.map((f) => (f.frame === ACK || f.frame === PONG ? null : "orderbook.1000.XRPUSDT")));
  });

  test("raw csv: documented header, RFC 4180 quoting that gives back every frame; binary frames as base64", async () => {
    const sub = join(dir, "bin");
    mkdirSync(sub);
    const w = new CaptureWriter({ dir: sub, prefix: "feeder" });
    w.write(5, "bybit", "spot", "spot-1", 'a "quoted", text\tframe');
    w.write(6, "bybit", "spot", "spot-1", new Uint8Array([0, 159, 146, 150, 255]));
    w.close();
    const [header, ...lines] = await exportRows(["--format", "csv", zstdFile, w.files[0]!]);
    expect(header).toBe("ts_recv_us,venue,market,connection,topic,encoding,frame");
    const rows = lines.map(csvRow);
    expect(rows.every((r) => r.length === 7)).toBe(true);
    expect(rows.slice(0, frames.length).map((r) => r[6])).toEqual(frames.map((f) => f.frame));
    expect(rows.slice(0, frames.length).map((r) => Number(r[0]))).toEqual(frames.map((f) => f.tsRecvUs));
    expect(rows[1]!.slice(0, 6)).toEqual([String(frames[1]!.tsRecvUs), "bybit", "linear", "linear-0", "orderbook.1000.XRPUSDT", "text"]);
    expect(rows.at(-2)).toEqual(["5", "bybit", "spot", "spot-1", "", "text", 'a "quoted", text\tframe']);
    expect(rows.at(-1)).toEqual(["6", "bybit", "spot", "spot-1", "", "base64", Buffer.from([0, 159, 146, 150, 255]).toString("base64")]);
    const jsonl = (await exportRows([w.files[0]!])).map((l) => JSON.parse(l));
    expect(jsonl[1]).toEqual({ tsRecvUs: 6, venue: "bybit", market: "spot", connection: "spot-1", topic: null, frameBase64: "AJ+Slv8=" });
  });

  test("raw: a REST answer a book depends on is marked as one (jsonl url, csv encoding rest with the URL), not a frame", async () => {
    const sub = join(dir, "rest");
    mkdirSync(sub);
    const w = new CaptureWriter({ dir: sub, prefix: "feeder" });
    w.write(5, "binance", "spot", "conn0.spot", '{"stream":"btcusdt@depth@100ms","data":{}}');
    w.writeRest(6, "binance", "spot", "conn0.spot", "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", '{"lastUpdateId":1,"bids":[],"asks":[]}');
    w.close();
    const jsonl = (await exportRows([w.files[0]!])).map((l) => JSON.parse(l));
    expect(jsonl.map((r) => r.url)).toEqual([undefined, "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"]);
    expect(jsonl[1]).toMatchObject({ tsRecvUs: 6, topic: null, frame: '{"lastUpdateId":1,"bids":[],"asks":[]}' });
    const [, ...lines] = await exportRows(["--format", "csv", w.files[0]!]);
    // The frame's topic is its stream (before 2026-12-07 empty: only a "topic" field was read); the REST row's column is its URL.
    expect(lines.map(csvRow).map((r) => [r[4], r[5]])).toEqual([["btcusdt@depth@100ms", "text"], ["https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", "rest"]]);
  });

  test("books after every message equal a reference book rebuilt from the same frames (csv, top 5)", async () => {
    const [header, ...lines] = await exportRows(["--books", "--config", config, "--depth", "5", "--format", "csv", zstdFile]);
    const cols = header!.split(",");
    expect(cols.slice(0, 11)).toEqual(["ts_us", "ts_exchange_us", "ts_event_us", "venue", "market", "symbol", "state", "reason", "venue_seq", "bid_px_1", "bid_qty_1"]);
    expect(cols).toHaveLength(9 + 20);
    expect(cols.slice(19, 21)).toEqual(["ask_px_1", "ask_qty_1"]);
    const book = bookFrames(frames);
    expect(lines).toHaveLength(book.length); // one row per book message, none for the ack and the pong
    const ref = new RefBook();
    book.forEach((f, i) => {
      const msg = JSON.parse(f.frame);
      ref.apply(msg);
      const c = lines[i]!.split(",");
      // ts_exchange_us is Bybit's `ts` (system time), ts_event_us its `cts` (matching engine), both in µs.
      expect(c.slice(0, 9)).toEqual([String(f.tsRecvUs), String(msg.ts * 1000), String(msg.cts * 1000), "bybit", "linear", "XRPUSDT", "live", "snapshot_applied", String(msg.data.u)]);
      const top = ref.top(5);
      const pairs = (from: number) => Array.from({ length: 5 }, (_, k) => [c[from + 2 * k]!, c[from + 2 * k + 1]!]);
      expect(norm(pairs(9))).toEqual(top.bids);
      expect(norm(pairs(19))).toEqual(top.asks);
    });
  });

  test("a lost delta: the row of the next frame says resyncing, and no live row follows without a snapshot (jsonl)", async () => {
    const sub = join(dir, "gap");
    mkdirSync(sub);
    const w = new CaptureWriter({ dir: sub, prefix: "feeder" });
    const kept = frames.filter((_, i) => i !== 11); // frame 11 is a delta
    expect(JSON.parse(frames[11]!.frame).type).toBe("delta");
    for (const f of kept) w.write(f.tsRecvUs, "bybit", "linear", f.connection, f.frame);
    w.close();
    const rows = (await exportRows(["--books", "--config", config, "--depth", "3", w.files[0]!])).map((l) => JSON.parse(l));
    const firstBad = rows.findIndex((r) => r.state !== "live");
    expect(rows[firstBad]).toMatchObject({ state: "resyncing", reason: "sequence_gap", tsUs: frames[12]!.tsRecvUs });
    expect(rows.slice(firstBad).every((r) => r.state !== "live")).toBe(true);
    const ref = new RefBook();
    for (const f of bookFrames(kept).slice(0, firstBad)) ref.apply(JSON.parse(f.frame));
    expect(norm(rows[firstBad - 1].bids)).toEqual(ref.top(3).bids);
  });

  test("--every-ms: one row per grid point of recorded time, each the book after every frame received by then", async () => {
    const rows = (await exportRows(["--books", "--config", config, "--depth", "600", "--every-ms", "250", zstdFile])).map((l) => JSON.parse(l));
    const book = bookFrames(frames);
    const firstGrid = Math.ceil(book[0]!.tsRecvUs / 250_000) * 250_000;
    const expected = [];
    for (let t = firstGrid; t <= book.at(-1)!.tsRecvUs; t += 250_000) expected.push(t);
    expect(rows.map((r) => r.tsUs)).toEqual(expected);
    for (const r of rows) {
      const ref = new RefBook();
      for (const f of book) if (f.tsRecvUs <= r.tsUs) ref.apply(JSON.parse(f.frame));
      expect(r.venueSeq).toBe(ref.u);
      expect(norm(r.bids)).toEqual(ref.top(600).bids); // depth 600 > 500 levels: the whole side
      expect(norm(r.asks)).toEqual(ref.top(600).asks);
    }
  });

  test("to stdout (a child process): the same bytes as --out", async () => {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "export", "--books", "--config", config, "--format", "csv", zstdFile], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    expect(await proc.exited).toBe(0);
    expect(out).toBe((await exportRows(["--books", "--config", config, "--format", "csv", zstdFile])).join("\n") + "\n");
    expect(JSON.parse(err.trim().split("\n").at(-1)!)).toMatchObject({ msg: "export finished", frames: frames.length, rows: bookFrames(frames).length, skipped: 0 });
  });

  test("books of a Binance capture (diffs and the REST snapshots they bridge to): each symbol's last row is the reference's book", async () => {
    const rec = loadRecording("BINANCE");
    const capDir = makeTempDir("feeder-export-binance-");
    const writer = new CaptureWriter({ dir: capDir, flushBytes: 1 << 20 });
    for (const r of rec.records) {
      if (r.url) writer.writeRest(r.tsRecvUs, "binance", "spot", "conn0.spot", r.url, r.text);
      else writer.write(r.tsRecvUs, "binance", "spot", "conn0.spot", r.text);
    }
    writer.close();
    // The reference: each symbol's book after the recording's last record.
    const last = new Map<string, { bids: Map<number, number>; asks: Map<number, number> }>();
    const refs = new Map(rec.symbols.map((s) => [s, new ReferenceBook("spot", 1000, rec.exps.get(s)!.price, rec.exps.get(s)!.qty)]));
    for (const [s, ref] of refs) ref.onState = (_id, bids, asks) => void last.set(s, { bids, asks });
    for (const r of rec.records) {
      if (r.url) refs.get(/symbol=([A-Z0-9]+)/.exec(r.url)![1]!)!.onSnapshot(JSON.parse(r.text));
      else {
        const m = JSON.parse(r.text) as { data: { e: string; s: string } & Parameters<ReferenceBook["onDiff"]>[0] };
        if (m.data.e === "depthUpdate") refs.get(m.data.s)!.onDiff(m.data);
      }
    }
    const overrides = Object.fromEntries(rec.symbols.map((s) => [`spot:${s}`, { tick_size: stepOf(rec.exps.get(s)!.price), lot_size: stepOf(rec.exps.get(s)!.qty) }]));
    const cfg = validateConfig({ venues: { binance: { instrument_cache: join(capDir, "i.json"), spot: { depth: 1000, symbols: rec.symbols }, overrides } } });
    const chunks: string[] = [];
    const result = await exportCaptures(readdirSync(capDir).filter((f) => f.endsWith(".fcap")).map((f) => join(capDir, f)), { write: (c: string) => chunks.push(c), flush: () => undefined }, {
      format: "jsonl",
      books: { config: cfg, depth: 5, everyMs: 0 },
      log: silentLogger,
    });
    expect(result.skipped).toBe(0);
    const rows = chunks.join("").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { symbol: string; state: string; bids: string[][]; asks: string[][] });
    for (const s of rec.symbols) {
      const row = rows.filter((r) => r.symbol === s).at(-1)!;
      const e = rec.exps.get(s)!;
      const top = (m: Map<number, number>, bid: boolean) => [...m].sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0])).slice(0, 5).map(([p, q]) => [formatFixed(p, e.price), formatFixed(q, e.qty)]);
      expect(row.state).toBe("live");
      expect({ bids: row.bids, asks: row.asks }).toEqual({ bids: top(last.get(s)!.bids, true), asks: top(last.get(s)!.asks, false) });
    }
  });

  test("books of an Upbit or Bithumb capture (whole books every frame): a live row per frame with that frame's levels", async () => {
    // The export applied every non-snapshot update as a delta: Upbit's and Bithumb's whole-book frames (replace
    // updates) went to a book still awaiting its snapshot and were ignored, so --books wrote no row for them.
    const capDir = makeTempDir("feeder-export-upbit-");
    const writer = new CaptureWriter({ dir: capDir, flushBytes: 1 << 20 });
    const books = [
      { bids: [["100000000", "1.5"], ["99998000", "2"]], asks: [["100002000", "0.25"], ["100004000", "3"]] },
      { bids: [["100000000", "1.25"], ["99996000", "4"]], asks: [["100004000", "3"], ["100006000", "0.5"]] },
      { bids: [["99998000", "2"]], asks: [["100000000", "0.75"], ["100002000", "1"]] },
    ];
    for (const venue of ["upbit", "bithumb"]) {
      books.forEach((b, i) => {
        const units = b.asks.map(([ap, as], j) => ({ ask_price: Number(ap), ask_size: Number(as), bid_price: Number(b.bids[j]?.[0] ?? 0), bid_size: Number(b.bids[j]?.[1] ?? 0) }));
        const frame = { type: "orderbook", code: "KRW-BTC", timestamp: 1786613100000 + i * 100, total_ask_size: 1, total_bid_size: 1, orderbook_units: units, stream_type: "REALTIME", level: 0 };
        writer.write(1_796_000_000_000_000 + i * 100_000, venue, "spot", "conn0.spot", JSON.stringify(frame));
      });
    }
    writer.close();
    const venue = { spot: { depth: 5, symbols: ["KRW-BTC"] }, overrides: { "spot:KRW-BTC": { tick_size: "1000", lot_size: "0.00000001" } } };
    const cfg = validateConfig({
      venues: { upbit: { ...venue, instrument_cache: join(capDir, "u.json") }, bithumb: { ...venue, instrument_cache: join(capDir, "b.json") } },
    });
    const chunks: string[] = [];
    const files = readdirSync(capDir).filter((f) => f.endsWith(".fcap")).map((f) => join(capDir, f));
    const result = await exportCaptures(files, { write: (c: string) => chunks.push(c), flush: () => undefined }, { format: "jsonl", books: { config: cfg, depth: 5, everyMs: 0 }, log: silentLogger });
    expect(result.skipped).toBe(0);
    const rows = chunks.join("").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { venue: string; state: string; bids: string[][]; asks: string[][] });
    const n = (levels: string[][]) => levels.map(([p, q]) => [normDecimal(p!), normDecimal(q!)]);
    for (const v of ["upbit", "bithumb"]) {
      const got = rows.filter((r) => r.venue === v).map((r) => ({ state: r.state, bids: n(r.bids), asks: n(r.asks) }));
      expect(got, v).toEqual(books.map((b) => ({ state: "live", bids: n(b.bids), asks: n(b.asks) })));
    }
  });

  test("a stop signal ends the export between blocks, with what was read so far written and stoppedEarly set", async () => {
    const chunks: string[] = [];
    const sink = { write: (c: string) => chunks.push(c), flush: () => undefined };
    const full = await exportCaptures([zstdFile], sink, { format: "jsonl", log: silentLogger });
    expect(full).toMatchObject({ frames: frames.length, rows: frames.length, stoppedEarly: false });
    chunks.length = 0;
    const stopped = await exportCaptures([zstdFile, zstdFile], sink, { format: "jsonl", log: silentLogger, stopSignal: Promise.resolve("SIGINT") });
    expect(stopped.stoppedEarly).toBe(true);
    expect(stopped.frames).toBeLessThan(2 * frames.length);
    const rows = chunks.join("").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l).frame);
    expect(rows).toEqual(frames.slice(0, stopped.frames).map((f) => f.frame));
  });

  test("--books with an instrument that resolves nowhere fails with a message naming it, not a stack trace", async () => {
    const sub = join(dir, "unresolved");
    mkdirSync(sub);
    const bad = join(sub, "bad.toml");
    // No override, no cache, and REST refused (port 9 on loopback).
    writeFileSync(bad, readFileSync(config, "utf8").replace(/\[venues\.bybit\.overrides[^\n]*\n[^\n]*\n[^\n]*\n?/, "").replace(/instrument_cache = "[^"]*"/, `instrument_cache = "${join(sub, "none.json")}"`));
    expect(readFileSync(bad, "utf8")).not.toContain("overrides");
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "export", "--books", "--config", bad, zstdFile], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
    const [out, err] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    expect(await proc.exited).toBe(1);
    expect(out).toBe("");
    const failed = err.trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.msg === "export failed");
    expect(failed.error).toContain("linear:XRPUSDT");
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("arguments are checked first: flags that need --books, --books without --config, bad values, missing files", async () => {
    const usage = async (args: string[]) => {
      const err: string[] = [];
      expect(await main(["export", ...args], { out: () => {}, err: (t) => err.push(t) })).toBe(2);
      return err.join("\n");
    };
    expect(await usage(["--depth", "5", zstdFile])).toContain("--depth only applies with --books");
    expect(await usage(["--books", zstdFile])).toContain("--books needs --config FILE");
    expect(await usage(["--format", "parquet", zstdFile])).toContain('--format must be jsonl or csv, got "parquet"');
    expect(await usage(["--books", "--config", config, "--depth", "2.5", zstdFile])).toContain('--depth must be a positive integer, got "2.5"');
    expect(await usage(["--books", "--config", config, "--every-ms", "soon", zstdFile])).toContain('--every-ms must be a number ≥ 0, got "soon"');
    expect(await usage([join(dir, "gone.fcap")])).toContain(`capture file ${join(dir, "gone.fcap")}: no such file`);
    expect(await usage([])).toContain("name at least one capture file");
  });
});
