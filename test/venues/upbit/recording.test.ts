/**
 * The genuine Upbit recording (145 SIMPLE orderbook messages, 15 units, binary frames) through the scanner and
 * through the adapter's replay path: after every message the book equals the independent reference (regex +
 * BigInt), numbers exact from their text (9.9E-7 included).
 */
import { describe, expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../../bench/alloc-meter.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { exponentOf } from "../../../src/core/fixed.ts";
import { createLogger, silentLogger, type Logger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { CodeTable, UpbitScanner } from "../../../src/venues/upbit/scanner.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { applyToMaps } from "../contract.ts";
import { referenceBook, UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "./recording.ts";

const enc = new TextEncoder();
const pe = (code: string) => exponentOf(UPBIT_RECORDING_SPECS[code]!.tickSize);

describe("Upbit recording", () => {
  const frames = upbitFrames();
  const books = frames.filter((f) => f.text.startsWith('{"ty":"orderbook"'));

  it("holds 145 orderbook messages of 15 units, one with an exponent-form price", () => {
    expect(books.length).toBe(145);
    for (const f of books) expect(f.text.match(/\{"ap"/g)!.length).toBe(15);
    expect(books.some((f) => /E-\d/.test(f.text))).toBe(true);
  });

  it("the scanner reads every message exactly as the reference does", () => {
    const table = new CodeTable();
    UPBIT_RECORDING_CODES.forEach((c, i) => table.add(c, i, pe(c), 8, 15));
    const scanner = new UpbitScanner(1000);
    const u = new BookUpdate();
    for (const f of books) {
      const bytes = enc.encode(f.text);
      const r = scanner.scan(bytes, bytes.length, table, u);
      const ref = referenceBook(f.text, pe, 8)!;
      expect(r).toBe(UPBIT_RECORDING_CODES.indexOf(ref.code));
      const bids = new Map<number, number>();
      const asks = new Map<number, number>();
      applyToMaps(u, bids, asks);
      expect(bids).toEqual(ref.bids);
      expect(asks).toEqual(ref.asks);
      expect(u.replace).toBe(true);
      expect(u.venueSeq).toBe(ref.timestamp);
      expect(u.tsExchangeUs).toBe(ref.timestamp * 1000);
    }
    // Trades are not books.
    const trade = frames.find((f) => f.text.startsWith('{"ty":"trade"'))!;
    const tb = enc.encode(trade.text);
    expect(scanner.scan(tb, tb.length, table, u)).toBe(-1);
  });

  async function replayAdapter(log: Logger = silentLogger) {
    const subs: Subscription[] = UPBIT_RECORDING_CODES.map((symbol) => ({ market: "spot", symbol, depth: 15 }));
    const config = {
      venue: "upbit" as const,
      wsUrl: "ws://127.0.0.1:9/none",
      restUrl: "http://127.0.0.1:9",
      instrumentCachePath: "",
      markets: [{ market: "spot" as const, depth: 15, symbols: UPBIT_RECORDING_CODES }],
      overrides: new Map(UPBIT_RECORDING_CODES.map((c) => [`spot:${c}`, UPBIT_RECORDING_SPECS[c]!])),
    };
    const adapter = UPBIT_VENUE.create(config, subs, { log, fetch: (() => Promise.reject(new Error("no REST in replay"))) as unknown as typeof fetch });
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    return { adapter, instruments };
  }

  it("replayed through the adapter, every book equals the reference after every message", async () => {
    const { adapter, instruments } = await replayAdapter();
    const bids: Map<number, number>[] = [];
    const asks: Map<number, number>[] = [];
    const invalid: [number, BookState, StatusReason][] = [];
    const sink: BookSink = {
      onBookUpdate(i, u) {
        expect(u.replace).toBe(true);
        bids[i] = new Map();
        asks[i] = new Map();
        applyToMaps(u, bids[i]!, asks[i]!);
      },
      onBookInvalid: (i, s, r) => invalid.push([i, s, r]),
      onInstrumentChanged: () => undefined,
    };
    adapter.startReplay(sink);
    let applied = 0;
    for (const f of frames) {
      expect(adapter.ingestFrame("spot", "conn0.spot", f.text, f.tsRecvUs)).toBe(true);
      const ref = referenceBook(f.text, (c) => instruments[UPBIT_RECORDING_CODES.indexOf(c)]!.priceExp, 8);
      if (!ref) continue;
      const i = UPBIT_RECORDING_CODES.indexOf(ref.code);
      expect(bids[i]).toEqual(ref.bids);
      expect(asks[i]).toEqual(ref.asks);
      applied++;
    }
    expect(applied).toBe(145);
    expect(invalid).toEqual([]);
    const st = adapter.stats();
    expect(st.replaces).toBe(145);
    expect(st.parseErrors).toBe(0);
    await adapter.stop();
  });

  /** One recorded book, as `n` frames with newer and newer timestamps (an older one is ignored, not applied). */
  function newerFrames(n: number): string[] {
    const text = books[0]!.text;
    const tms = Number(/"tms":(\d+)/.exec(text)![1]);
    return Array.from({ length: n }, (_, k) => text.replace(/"tms":\d+/, `"tms":${tms + 1 + k}`));
  }

  it("a frame of a subscribed code with order-book units but a type not \"orderbook\" is a malformed book: that book resyncs", async () => {
    const { adapter } = await replayAdapter();
    const invalid: [number, BookState, StatusReason][] = [];
    let applied = 0;
    adapter.startReplay({ onBookUpdate: () => void applied++, onBookInvalid: (i, s, r) => void invalid.push([i, s, r]), onInstrumentChanged: () => undefined });
    const frames = newerFrames(11);
    const index = UPBIT_RECORDING_CODES.indexOf(/"cd":"([^"]+)"/.exec(frames[0]!)![1]!);
    const garbled = [
      (f: string) => f.replace('"ty":"orderbook"', '"ty":null'),
      (f: string) => f.replace('"ty":"orderbook"', '"ty":"orderbok"'),
      (f: string) => f.replace('"ty":"orderbook",', ""),
      (f: string) => f.replace('"ty":"orderbook"', '"ty":7'),
      // A string with an escape: the JSON path reads it.
      (f: string) => f.replace('"ty":"orderbook"', '"ty":"orderbo\\u006b "'),
    ];
    adapter.ingestFrame("spot", "conn0.spot", frames[0]!, 0);
    for (let k = 0; k < garbled.length; k++) {
      const text = garbled[k]!(frames[1 + 2 * k]!);
      expect(text).not.toBe(frames[1 + 2 * k]);
      adapter.ingestFrame("spot", "conn0.spot", text, 1 + 2 * k);
      // Before: taken for another kind of frame and dropped (a debug log), the book LIVE without its update.
      expect(invalid, text.slice(0, 60)).toEqual([[index, BookState.RESYNCING, StatusReason.PARSE_ERROR]]);
      invalid.length = 0;
      adapter.ingestFrame("spot", "conn0.spot", frames[2 + 2 * k]!, 2 + 2 * k); // the next good book restores it
      expect((adapter as UpbitAdapter).topicInfo(index).state).toBe("live");
    }
    expect(adapter.stats().parseErrors).toBe(garbled.length);
    expect(applied).toBe(1 + garbled.length);
    await adapter.stop();
  });

  it("a text PING from the venue (a keepalive, like its PONG) is no unreadable frame: no LIVE book resyncs", async () => {
    const { adapter } = await replayAdapter();
    const invalid: [number, BookState, StatusReason][] = [];
    adapter.startReplay({ onBookUpdate: () => undefined, onBookInvalid: (i, s, r) => void invalid.push([i, s, r]), onInstrumentChanged: () => undefined });
    const frames = newerFrames(2);
    const index = UPBIT_RECORDING_CODES.indexOf(/"cd":"([^"]+)"/.exec(frames[0]!)![1]!);
    adapter.ingestFrame("spot", "conn0.spot", frames[0]!, 0);
    expect((adapter as UpbitAdapter).topicInfo(index).state).toBe("live");
    // Before: "PING" was a parse error whose code could not be read, so every LIVE book of the connection resynced.
    for (const text of ["PING", "PONG", "ping"]) adapter.ingestFrame("spot", "conn0.spot", text, 1);
    expect(invalid).toEqual([]);
    expect(adapter.stats().parseErrors).toBe(0);
    expect((adapter as UpbitAdapter).topicInfo(index).state).toBe("live");
    // Anything else that is not JSON still is one.
    adapter.ingestFrame("spot", "conn0.spot", "PINGX", 2);
    expect(invalid).toEqual([[index, BookState.RESYNCING, StatusReason.PARSE_ERROR]]);
    await adapter.stop();
  });

  it("a refused frame's log names the field at fault and its value (past the frame's first 160 characters too); that book alone resyncs", async () => {
    const [frame] = newerFrames(1);
    const index = UPBIT_RECORDING_CODES.indexOf(/"cd":"([^"]+)"/.exec(frame!)![1]!);
    const unit12 = frame!.split('{"ap"')[12]!; // the 12th unit, far past the first 160 characters
    const cases: [string, string][] = [
      [frame!.replace(unit12, unit12.replace(/"bs":[0-9.eE+-]+/, '"bs":"7.5"')), '("bs": "7.5")'], // a wrong type
      [frame!.replace(unit12, unit12.replace(/"bp":[0-9.eE+-]+/, '"bp":1.23456789E2')), '("bp": 1.23456789E2)'], // finer than the tick (1)
      [frame!.replace(unit12, unit12.replace(/"as":[0-9.eE+-]+/, '"as":1E9')), '("as": 1E9)'], // past 2^53 at 8 decimals
      [frame!.replace(/"tms":\d+,/, ""), "(no timestamp)"],
      // A string with an escape: the JSON path reads it.
      [frame!.replace('"ty":"orderbook"', '"ty":"orderbook","x":"\\u0041"').replace(/"tms":(\d+)/, '"tms":"$1"'), '("timestamp": "1618678262'],
      // Huge values are shown cut short, on either path (before, the JSON path's echoed whole: a 5 000-digit number,
      // a 5 000-character duplicate key in its syntax error).
      [frame!.replace(unit12, unit12.replace(/"bs":[0-9.eE+-]+/, `"bs":1${"0".repeat(5_000)}`)), '("bs": 10000'],
      [frame!.replace('"ty":"orderbook"', '"ty":"orderbook","x":"\\u0041"').replace(/"tms":(\d+)/, `"tms":1${"0".repeat(5_000)}`), '("timestamp": 10000'],
      [frame!.replace('"ty":"orderbook"', `"ty":"orderbook","x":"\\u0041","${"k".repeat(5_000)}":1,"${"k".repeat(5_000)}":2`), "duplicate key"],
    ];
    for (const [text, named] of cases) {
      expect(text).not.toBe(frame);
      const lines: string[] = [];
      const { adapter } = await replayAdapter(createLogger({ format: "json", write: (l) => void lines.push(l) }));
      const invalid: [number, BookState, StatusReason][] = [];
      adapter.startReplay({ onBookUpdate: () => undefined, onBookInvalid: (i, s, r) => void invalid.push([i, s, r]), onInstrumentChanged: () => undefined });
      adapter.ingestFrame("spot", "conn0.spot", frame!, 0);
      adapter.ingestFrame("spot", "conn0.spot", text, 1);
      expect(invalid, named).toEqual([[index, BookState.RESYNCING, StatusReason.PARSE_ERROR]]);
      const detail = lines.map((l) => JSON.parse(l) as { msg: string; detail?: string }).find((l) => l.msg === "upbit: order-book frames rejected")?.detail;
      // Before: "field at 1234 (spot KRW-LAMB): " and the frame's first 160 characters, the bad value not among them.
      expect(detail, named).toContain(named);
      expect(detail!.length, named).toBeLessThan(400); // the frame's first 160 characters, the value cut short
      await adapter.stop();
    }
  });

  it("a text frame, replayed or live (Bithumb sends text), is read without allocating (the meter sees a 32 B object a step)", async () => {
    const { adapter } = await replayAdapter();
    let applied = 0;
    adapter.startReplay({ onBookUpdate: () => void applied++, onBookInvalid: () => undefined, onInstrumentChanged: () => undefined });
    const frames = newerFrames(8_000);
    for (let i = 0; i < 2_000; i++) adapter.ingestFrame("spot", "conn0.spot", frames[i]!, i);
    const perFrame = measureAllocation(2_000, frames.length, (i) => adapter.ingestFrame("spot", "conn0.spot", frames[i]!, i));
    expect(applied).toBe(frames.length);
    expect(allocationControl(10_000).cellsPerStep).toBeGreaterThan(0.9);
    // Before: ~5 cells a frame: encodeInto's result object, find()'s closure and its scope, the name getter's string.
    expect(perFrame.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
    await adapter.stop();
  });

  it("books of one stamp from both sockets of a planned reconnect (copied and compared) are read without allocating", async () => {
    const { adapter } = await replayAdapter();
    let applied = 0;
    adapter.startReplay({ onBookUpdate: () => void applied++, onBookInvalid: () => undefined, onInstrumentChanged: () => undefined });
    const conn = (adapter as unknown as { conns: { generation: number; retiringGeneration: number; fromRetiring: boolean }[] }).conns[0]!;
    conn.retiringGeneration = 1; // an overlap: every book's levels are copied (equal-stamps.ts), every second compared
    conn.generation = 2;
    const stamps = newerFrames(2_500);
    // Each stamp from the replacement, then the same book from the old socket: the sockets agree, both applied.
    const step = (i: number) => {
      conn.fromRetiring = i % 2 === 1;
      adapter.ingestFrame("spot", "conn0.spot", stamps[i >> 1]!, i);
      conn.fromRetiring = false;
    };
    for (let i = 0; i < 2_000; i++) step(i);
    const perFrame = measureAllocation(2_000, 2 * stamps.length, step);
    expect(applied).toBe(2 * stamps.length);
    expect(adapter.stats().equalTimestampHolds).toBe(0);
    expect(perFrame.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
    await adapter.stop();
  });

  it("a binary frame is read in place: Bun hands a Buffer (binaryType nodebuffer), no view or copy is made of it", async () => {
    const { adapter } = await replayAdapter();
    let applied = 0;
    adapter.startReplay({ onBookUpdate: () => void applied++, onBookInvalid: () => undefined, onInstrumentChanged: () => undefined });
    const conn = (adapter as unknown as { conns: { generation: number; bindMessages(ws: WebSocket, gen: number): void }[] }).conns[0]!;
    const ws = { binaryType: "arraybuffer", onmessage: null } as unknown as WebSocket & { onmessage: (ev: { data: unknown }) => void };
    conn.bindMessages(ws, conn.generation);
    expect(ws.binaryType).toBe("nodebuffer"); // before: "arraybuffer", and a Uint8Array view made of each frame
    const events = newerFrames(8_000).map((f) => ({ data: Buffer.from(f) }));
    for (let i = 0; i < 2_000; i++) ws.onmessage(events[i]!);
    const perFrame = measureAllocation(2_000, events.length, (i) => ws.onmessage(events[i]!));
    expect(applied).toBe(events.length);
    expect(perFrame.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05); // before: 1 (a copy: new Uint8Array(a Buffer))
    ws.onmessage({ data: Buffer.from(newerFrames(8_001)[8_000]!).buffer }); // an ArrayBuffer still works
    expect(applied).toBe(events.length + 1);
    await adapter.stop();
  });
});
