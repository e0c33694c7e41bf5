/**
 * An exception while one frame is handled (a bug, or input no check foresaw) must end neither the socket's message
 * handler nor the process: under Bun an exception out of a WebSocket `message` listener ends the process. Every
 * venue's handler (bindMessages) catches it and hands the frame to VenueConnection.frameFailed, which counts it and
 * tells the lifecycle (frameFault: the frame's books resync, test/venues/bybit/edge-cases.test.ts). Here each venue's
 * real connection class, its adapter a stub whose first read throws, its socket a stand-in whose handler is called
 * as Bun calls it. Before, the handler threw (each case's `not.toThrow`); a binary frame that could not be decoded
 * threw out of it too (the decoder ran before the try).
 */
import { describe, expect, test } from "vitest";
import { BookState, StatusReason, type MarketName } from "../../../src/core/types.ts";
import { BinanceConnection } from "../../../src/venues/binance/connection.ts";
import { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import { CoinbaseConnection } from "../../../src/venues/coinbase/connection.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import { TopicResync } from "../../../src/venues/common/topic-resync.ts";
import { DeribitConnection } from "../../../src/venues/deribit/connection.ts";
import { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { UpbitConnection } from "../../../src/venues/upbit/connection.ts";
import { captureLog } from "../../support/capture-log.ts";
import { SendRecordingConnection } from "./fake-connection.ts";

/** An adapter whose every frame throws at the handler's first step (the raw-frame tap read). */
const throwingAdapter = {
  get rawFrameTap(): never {
    throw new Error("adapter broken (test)");
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
} as any;

/** A socket stand-in: what bindMessages installs is kept, listeners ignored. */
function fakeSocket(): WebSocket & { fire(data: unknown): void } {
  const ws = {
    binaryType: "arraybuffer",
    onmessage: null as ((ev: MessageEvent) => void) | null,
    addEventListener: () => undefined,
    fire(data: unknown) {
      ws.onmessage!({ data } as MessageEvent);
    },
  };
  return ws as unknown as WebSocket & { fire(data: unknown): void };
}

const url = "ws://127.0.0.1:1/";
/* eslint-disable @typescript-eslint/no-explicit-any */
const venues: [string, (adapter?: any) => VenueConnection][] = [
  ["bybit", (a = throwingAdapter) => new BybitConnection(a, 0, "linear" as MarketName, url)],
  ["okx", (a = throwingAdapter) => new OkxConnection(a, 0, "spot" as MarketName, url)],
  ["binance", (a = throwingAdapter) => new BinanceConnection(a, 0, "spot" as MarketName, url)],
  ["deribit", (a = throwingAdapter) => new DeribitConnection(a, 0, "option" as MarketName, url)],
  ["coinbase", (a = throwingAdapter) => new CoinbaseConnection(a, 0, "spot" as MarketName, url)],
  ["upbit", (a = throwingAdapter) => new UpbitConnection(a, 0, "spot" as MarketName, url, 1000)],
];
/* eslint-enable @typescript-eslint/no-explicit-any */

describe("a frame whose handling throws is contained to the frame", () => {
  for (const [venue, make] of venues) {
    test(venue, () => {
      const conn = make();
      const told: [string, string][] = [];
      conn.frameFault = (_c, frame, err) => void told.push([frame, (err as Error).message]);
      const ws = fakeSocket();
      conn.bindMessages(ws, conn.generation);
      expect(() => ws.fire('{"topic":"a"}')).not.toThrow();
      expect(() => ws.fire('{"topic":"b"}')).not.toThrow(); // the handler still runs after one threw
      const expected: [string, string][] = [
        ['{"topic":"a"}', "adapter broken (test)"],
        ['{"topic":"b"}', "adapter broken (test)"],
      ];
      if (venue === "upbit") {
        // Binary frames (Upbit's usual): handed on as text.
        expect(() => ws.fire(Buffer.from('{"code":"KRW-BTC"}'))).not.toThrow();
        expected.push(['{"code":"KRW-BTC"}', "adapter broken (test)"]);
      }
      expect(told).toEqual(expected);
      expect(conn.frameErrors).toBe(expected.length);
      if (venue !== "upbit") {
        // A binary frame is decoded inside the try (common/connection.ts frameText): something that is no bytes is a
        // frame fault too. Until 2026-12-07 each handler decoded it before its try, and the decoder threw out of it.
        expect(() => ws.fire({ not: "bytes" })).not.toThrow();
        expect(told.length).toBe(expected.length + 1);
        expect(told[told.length - 1]![0]).toBe("");
        expected.push(told[told.length - 1]!);
        // Bytes that are no UTF-8: recorded through the adapter's tap before the fault (handlerThrew), that tap read
        // inside its own try: the adapter's throw stays there, and the fault gets the U+FFFD text.
        expect(() => ws.fire(Buffer.from([0x7b, 0xff, 0x7d]))).not.toThrow();
        expect(told.length).toBe(expected.length + 1);
        expect(told[told.length - 1]![0]).toBe("{\uFFFD}");
        expected.push(told[told.length - 1]!);
      }
      // The lifecycle's own handler throwing too is swallowed (counted): nothing leaves the socket's handler.
      conn.frameFault = () => {
        throw new Error("resync failed (test)");
      };
      expect(() => ws.fire("x")).not.toThrow();
      expect(conn.frameErrors).toBe(expected.length + 1);
    });
  }
});

// The test above shows the fault only (its adapter's tap throws): here each venue's handler records such a frame, after
// its mark, through the adapter's tap (common/connection.ts handlerThrew), so replay faults it as live did. Until
// s-binframe it was never recorded (the tap runs after the decode): replay neither saw it nor resynced.
describe("a binary frame that is no UTF-8 is recorded, after ws:undecodable, then faulted", () => {
  for (const [venue, make] of venues) {
    if (venue === "upbit") continue; // reads bytes: never refuses a frame for its UTF-8
    test(venue, () => {
      const records: string[] = [];
      const conn = make({ rawFrameTap: (_m: string, connection: string, frame: string) => void records.push(`${connection} ${frame}`) });
      conn.undecodableMark = (c, why) => void records.push(`${c.name} ws:undecodable ${why !== "" ? "(why)" : ""}`);
      const told: string[] = [];
      conn.frameFault = (_c, frame) => void told.push(frame);
      const ws = fakeSocket();
      conn.bindMessages(ws, conn.generation);
      ws.fire(Buffer.from([0x7b, 0xff, 0x7d]));
      expect(records).toEqual([`${conn.name} ws:undecodable (why)`, `${conn.name} {\uFFFD}`]);
      expect([told, conn.frameErrors]).toEqual([["{\uFFFD}"], 1]);
      // A binary frame that is UTF-8 and throws while handled (this stub adapter): recorded once, by the venue's own
      // tap as every frame, and not marked (replay reads it as live read it).
      records.length = 0;
      ws.fire(Buffer.from('{"topic":"a"}'));
      expect(records).toEqual([`${conn.name} {"topic":"a"}`]);
      expect(conn.frameErrors).toBe(2);
    });
  }
});

describe("a sink that throws while a book is marked invalid", () => {
  test("the resync goes on: the topic is restarted, the exception logged, nothing thrown into the caller", () => {
    const conn = new SendRecordingConnection();
    const [t, u] = conn.addTopics(["book.AAA", "book.BBB"], 50);
    const restarted: string[] = [];
    const { log, lines } = captureLog();
    const resync = new TopicResync({ venue: "test", log, now: () => 1000, random: () => 0.5, restart: (x) => void restarted.push(x.topic) });
    const invalid: number[] = [];
    resync.sink = {
      onBookUpdate: () => undefined,
      onBookInvalid: (index) => {
        if (index === 0) throw new Error("sink broken (test)");
        invalid.push(index);
      },
      onInstrumentChanged: () => undefined,
    };
    t!.book = BookState.LIVE;
    u!.book = BookState.LIVE;
    // Before: the exception left resync() before its restart, so the topic stayed marked and was never subscribed
    // again (and, from housekeeping's timer, the other topics of the tick were skipped and the process ended).
    expect(() => resync.resync(t!, BookState.STALE, StatusReason.STALE_FEED)).not.toThrow();
    resync.resync(u!, BookState.STALE, StatusReason.STALE_FEED);
    expect(restarted).toEqual(["book.AAA", "book.BBB"]);
    expect(invalid).toEqual([1]);
    expect(t!.book).toBe(BookState.STALE);
    expect(lines.map((l) => [l.level, l.msg, l.fields.detail])).toEqual([["error", "test: exception while a book was marked invalid; its resync goes on", "spot book.AAA: sink broken (test)"]]);
  });
});
