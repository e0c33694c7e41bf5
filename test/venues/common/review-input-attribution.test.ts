/**
 * A frame no reader can read down to its topic is attributed by the topic names quoted in its text
 * (Bybit, Binance, Deribit, Upbit). When it names more than one of the connection's topics (a string value that
 * looks like another topic, before the real one), the lost message may be either's: before, the first topic in
 * subscription order was resynced and the frame's own book stayed LIVE having lost a message (and a book that had
 * nothing to do with it was resynced). Now several names count as unattributed: every book of the connection
 * resyncs. Real adapters in replay mode, real recorded or venue-shaped frames.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument, type MarketName } from "../../../src/core/types.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { BookSink, VenueAdapter } from "../../../src/venues/venue.ts";
import { loadRecording, stepOf } from "../binance/recordings.ts";
import { recordedFrames, recordedInstruments } from "../deribit/recording.ts";
import { UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "../upbit/recording.ts";

class StateSink implements BookSink {
  readonly live: boolean[] = [];
  readonly invalid: { index: number; reason: StatusReason }[] = [];
  onBookUpdate(i: number, u: BookUpdate): void {
    if (u.isSnapshot || u.replace) this.live[i] = true;
  }
  onBookInvalid(index: number, _state: BookState, reason: StatusReason): void {
    this.live[index] = false;
    this.invalid.push({ index, reason });
  }
  onInstrumentChanged(): void {}
}

async function replay(adapter: VenueAdapter): Promise<StateSink> {
  const instruments = (await adapter.loadInstruments()) as (Instrument | undefined)[];
  expect(instruments.every((i) => i !== undefined)).toBe(true);
  const sink = new StateSink();
  adapter.startReplay(sink);
  return sink;
}

/** The frame's own book (index `own`) must not stay LIVE; `other` is the book whose name the frame carries too. */
function expectOwnBookResynced(sink: StateSink, own: number, other: number): void {
  expect(sink.live[own], "the book whose message was lost").toBe(false);
  expect(sink.invalid.find((e) => e.index === own)?.reason).toBe(StatusReason.PARSE_ERROR);
  expect(sink.live[other]).toBe(false); // unattributed: every book of the connection resyncs
}

describe("an unreadable frame naming two topics resyncs the connection's books, not the first one named", () => {
  test("Bybit", async () => {
    const markets = [{ market: "linear" as MarketName, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const adapter = createBybitAdapter(
      { venue: "bybit", wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets, overrides: new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }], ["linear:ETHUSDT", { tickSize: "0.01", lotSize: "0.01" }]]) },
      [{ market: "linear", symbol: "BTCUSDT", depth: 50 }, { market: "linear", symbol: "ETHUSDT", depth: 50 }],
      { log: silentLogger, recheckInstruments: false },
    );
    const sink = await replay(adapter);
    const snap = (sym: string, bid: string, ask: string) => `{"topic":"orderbook.50.${sym}","type":"snapshot","ts":1,"data":{"s":"${sym}","b":[["${bid}","1.00"]],"a":[["${ask}","1.00"]],"u":10,"seq":1},"cts":1}`;
    adapter.ingestFrame("linear", "conn0.linear", snap("BTCUSDT", "100.0", "100.1"), 1);
    adapter.ingestFrame("linear", "conn0.linear", snap("ETHUSDT", "10.00", "10.01"), 1);
    expect(sink.live).toEqual([true, true]);
    // ETHUSDT's delta, unreadable (cut short), with a string value that names BTCUSDT's topic before its own.
    const bad = `{"note":"orderbook.50.BTCUSDT","topic":"orderbook.50.ETHUSDT","type":"delta","ts":2,"data":{"s":"ETHUSDT","b":[["9.99","2.00"]],"a":[],"u":11,"seq":2},"cts":`;
    adapter.ingestFrame("linear", "conn0.linear", bad, 2);
    expectOwnBookResynced(sink, 1, 0);
    expect(adapter.stats().unattributedParseErrors).toBe(1);
    await adapter.stop();
  });

  test("Binance (the genuine spot recording)", async () => {
    const rec = loadRecording("BINANCE");
    const adapter = new BinanceAdapter(
      { venue: "binance", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: rec.market, depth: 1000, symbols: rec.symbols }], overrides: new Map(rec.symbols.map((s) => [`${rec.market}:${s}`, { tickSize: stepOf(rec.exps.get(s)!.price), lotSize: stepOf(rec.exps.get(s)!.qty) }])) },
      rec.symbols.map((symbol) => ({ market: rec.market, symbol, depth: 1000 })),
      { log: silentLogger },
    );
    const sink = await replay(adapter);
    let k = 0;
    for (; k < rec.records.length && !rec.symbols.every((_s, i) => sink.live[i]); k++) {
      const r = rec.records[k]!;
      if (r.url) adapter.ingestRest!(rec.market, "conn0.spot", r.url, r.text, r.tsRecvUs);
      else adapter.ingestFrame(rec.market, "conn0.spot", r.text, r.tsRecvUs);
    }
    expect(rec.symbols.every((_s, i) => sink.live[i])).toBe(true);
    // A diff of another symbol than the first (its content does not matter: it is cut short), with a field naming
    // the first symbol's stream before its own.
    const next = rec.records.find((r) => !r.url && r.text.includes('"depthUpdate"') && !r.text.includes(`"s":"${rec.symbols[0]}"`))!;
    const own = rec.symbols.indexOf(/"s":"([A-Z0-9]+)"/.exec(next.text)![1]!);
    expect(own).toBeGreaterThan(0);
    const first = `${rec.symbols[0]!.toLowerCase()}@depth@100ms`;
    const bad = `{"note":"${first}",` + next.text.slice(1, -20);
    adapter.ingestFrame(rec.market, "conn0.spot", bad, next.tsRecvUs);
    expectOwnBookResynced(sink, own, 0);
    await adapter.stop();
  });

  test("Deribit (the genuine recording)", async () => {
    const names = recordedInstruments();
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 0, symbols: names }], overrides: new Map(names.map((n) => [`option:${n}`, { tickSize: "0.0005", lotSize: "0.1" }])) },
      names.map((symbol) => ({ market: "option" as MarketName, symbol, depth: 0 })),
      { log: silentLogger },
    );
    const sink = await replay(adapter);
    const frames = recordedFrames();
    let k = 0;
    for (; k < frames.length && !names.every((_n, i) => sink.live[i]); k++) adapter.ingestFrame("option", "conn0.option", frames[k]!.frame, frames[k]!.tsRecvUs);
    expect(names.every((_n, i) => sink.live[i])).toBe(true);
    const next = frames.slice(k).find((f) => f.frame.includes('"channel":"book.') && !f.frame.includes(`"channel":"book.${names[0]}.`))!;
    const own = names.indexOf(/"channel":"book\.([^"]*)\.[a-z0-9]+"/.exec(next.frame)![1]!);
    expect(own).toBeGreaterThan(0);
    // The adapter's name for the first book's channel (the recording's .raw channels are read as the configured 100ms).
    const channel0 = `book.${names[0]}.100ms`;
    // As a live connection receives it: on the configured channel.
    const bad = next.frame.replace('{"jsonrpc"', `{"note":"${channel0}","jsonrpc"`).replace('.raw"', '.100ms"').slice(0, -10);
    adapter.ingestFrame("option", "conn0.option", bad, next.tsRecvUs);
    expectOwnBookResynced(sink, own, 0);
    await adapter.stop();
  });

  test("Upbit (the genuine recording)", async () => {
    const adapter = UPBIT_VENUE.create(
      { venue: "upbit", wsUrl: "ws://127.0.0.1:9/none", restUrl: "http://127.0.0.1:9", instrumentCachePath: "", markets: [{ market: "spot", depth: 15, symbols: UPBIT_RECORDING_CODES }], overrides: new Map(UPBIT_RECORDING_CODES.map((c) => [`spot:${c}`, UPBIT_RECORDING_SPECS[c]!])) },
      UPBIT_RECORDING_CODES.map((symbol) => ({ market: "spot" as MarketName, symbol, depth: 15 })),
      { log: silentLogger, fetch: (() => Promise.reject(new Error("no REST in replay"))) as unknown as typeof fetch },
    );
    const sink = await replay(adapter);
    const frames = upbitFrames();
    for (const f of frames) adapter.ingestFrame("spot", "conn0.spot", f.text, f.tsRecvUs);
    const own = UPBIT_RECORDING_CODES.indexOf("KRW-LAMB");
    const other = UPBIT_RECORDING_CODES.indexOf("BTC-ITAM"); // earlier in subscription order
    expect(own).toBeGreaterThan(other);
    expect([sink.live[own], sink.live[other]]).toEqual([true, true]);
    // KRW-LAMB's book message, broken before its code (the reader cannot tell whose it is), naming BTC-ITAM first.
    const lamb = frames.filter((f) => f.text.includes('"cd":"KRW-LAMB"') && f.text.includes('"orderbook"')).at(-1)!;
    const bad = lamb.text.replace('{"ty":"orderbook"', '{"zz":"BTC-ITAM" x,"ty":"orderbook"');
    adapter.ingestFrame("spot", "conn0.spot", bad, lamb.tsRecvUs);
    expectOwnBookResynced(sink, own, other);
    await adapter.stop();
  });
});

describe("replay: an exception while a recorded frame is handled", () => {
  test("Bybit: the frame's book resyncs (parse_error) and the replay goes on; before, ingestFrame threw (the replay or export ended)", async () => {
    const markets = [{ market: "linear" as MarketName, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
    const adapter = createBybitAdapter(
      { venue: "bybit", wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets, overrides: new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }], ["linear:ETHUSDT", { tickSize: "0.01", lotSize: "0.01" }]]) },
      [{ market: "linear", symbol: "BTCUSDT", depth: 50 }, { market: "linear", symbol: "ETHUSDT", depth: 50 }],
      { log: silentLogger, recheckInstruments: false },
    );
    const sink = await replay(adapter);
    const frame = (sym: string, type: string, u: number, bid: string) => `{"topic":"orderbook.50.${sym}","type":"${type}","ts":${u},"data":{"s":"${sym}","b":[["${bid}","1.00"]],"a":[],"u":${u},"seq":${u}},"cts":${u}}`;
    adapter.ingestFrame("linear", "conn0.linear", frame("BTCUSDT", "snapshot", 10, "100.0"), 1);
    adapter.ingestFrame("linear", "conn0.linear", frame("ETHUSDT", "snapshot", 10, "10.00"), 1);
    expect(sink.live).toEqual([true, true]);
    // A bug past every input check stands in: the sink throws on ETHUSDT's next update.
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (i, u) => {
      if (i === 1 && u.venueSeq === 11) throw new Error("bug (test)");
      onBookUpdate(i, u);
    };
    expect(() => adapter.ingestFrame("linear", "conn0.linear", frame("ETHUSDT", "delta", 11, "9.99"), 2)).not.toThrow();
    expect(sink.invalid).toEqual([{ index: 1, reason: StatusReason.PARSE_ERROR }]);
    expect(sink.live).toEqual([true, false]);
    adapter.ingestFrame("linear", "conn0.linear", frame("BTCUSDT", "delta", 11, "99.9"), 2);
    adapter.ingestFrame("linear", "conn0.linear", frame("ETHUSDT", "snapshot", 20, "10.00"), 3);
    expect(sink.live).toEqual([true, true]);
    expect(adapter.stats().frameErrors).toBe(1);
    await adapter.stop();
  });
});

describe("an exception while a frame is handled resyncs the book the frame names, on every venue", () => {
  test("OKX: its frames name a book by channel and instId, never by the topic's own name (books5:ETH-USDT)", async () => {
    const symbols = ["BTC-USDT", "ETH-USDT"];
    const adapter = new OkxAdapter(
      { venue: "okx", wsUrl: "ws://127.0.0.1:9/ws/v5/public", restUrl: "http://127.0.0.1:9", instrumentCachePath: "", markets: [{ market: "spot", depth: 5, symbols }], overrides: new Map(symbols.map((s) => [`spot:${s}`, { tickSize: "0.1", lotSize: "0.0001" }])) },
      symbols.map((symbol) => ({ market: "spot" as MarketName, symbol, depth: 5 })),
      { log: silentLogger },
    );
    const sink = await replay(adapter);
    const frame = (instId: string, seq: number, bid: string) =>
      `{"arg":{"channel":"books5","instId":"${instId}"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"${instId}","ts":"1700000000000","seqId":${seq}}]}`;
    adapter.ingestFrame("spot", "conn0.spot", frame("BTC-USDT", 10, "100.0"), 1);
    adapter.ingestFrame("spot", "conn0.spot", frame("ETH-USDT", 10, "10.0"), 1);
    expect(sink.live).toEqual([true, true]);
    // A bug past every input check stands in: the sink throws on ETH-USDT's next book.
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (i, u) => {
      if (i === 1 && u.venueSeq === 11) throw new Error("bug (test)");
      onBookUpdate(i, u);
    };
    expect(() => adapter.ingestFrame("spot", "conn0.spot", frame("ETH-USDT", 11, "9.9"), 2)).not.toThrow();
    // Before: the topic's name ("books5:ETH-USDT") is in no frame, so every book of the connection was resynced.
    expect(sink.invalid).toEqual([{ index: 1, reason: StatusReason.PARSE_ERROR }]);
    expect(sink.live).toEqual([true, false]);
    expect(adapter.stats().frameErrors).toBe(1);
    await adapter.stop();
  });
});
