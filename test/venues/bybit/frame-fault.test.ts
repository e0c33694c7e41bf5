/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Bybit's own rule for a frame it refused
 * (BybitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a frame of a topic not on the
 * connection is counted once (unknown-topic-rule.ts); a binary frame that is no UTF-8 is such a frame. Offline: no
 * socket, no network.
 */
import { describe, expect, test } from "vitest";
import type { MarketName } from "../../../src/core/types.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/bybit/scan-codes.ts";
import { frameFaultRuleTests } from "../common/frame-fault-rule.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";

function offlineAdapter(symbols = ["AUSDT"]): BybitAdapter {
  const o = offlineVenue("bybit", "spot", 50, symbols, "/v5/public/spot");
  return new BybitAdapter(o.config, o.subscriptions, o.options);
}

frameFaultRuleTests("Bybit", () => offlineAdapter(), (t: TopicState) => `{"topic":"${t.topic}","type":"delta","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"seq":3}}`, SCAN_ERR_SYNTAX);

// AUSDT's delta, its topic garbled (AUSDX).
const garbled = `{"topic":"orderbook.50.AUSDX","type":"delta","ts":1,"data":{"s":"AUSDX","b":[],"a":[],"u":2,"seq":3}}`;
unknownTopicRuleTests("Bybit", () => offlineAdapter(["AUSDT", "BUSDT"]), garbled, (adapter, conn, frame) => adapter.onUnknownTopic(conn as never, frame), {
  topic: "orderbook.50.CUSDT",
  frame: `{"topic":"orderbook.50.CUSDT","type":"delta","ts":1,"data":{"s":"CUSDT","b":[],"a":[],"u":2,"seq":3}}`,
});

describe("Bybit bindMessages: a binary frame that cannot be decoded is a frame fault", () => {
  test("bytes that are no UTF-8, or no bytes at all, reach no book and leave nothing out of the handler", () => {
    const books: number[] = [];
    const adapter = { rawFrameTap: undefined, onBook: (index: number) => void books.push(index), onParseError: () => undefined, onUnknownTopic: () => undefined, onText: () => false, onControl: () => undefined };
    const conn = new BybitConnection(adapter as unknown as BybitAdapter, 0, "linear" as MarketName, "ws://127.0.0.1:1/");
    conn.table.add("orderbook.50.AUSDT", 0, 1, 3);
    const faults: string[] = [];
    conn.frameFault = (_c, frame) => void faults.push(frame);
    const ws = { onmessage: null as ((ev: MessageEvent) => void) | null, addEventListener: () => undefined };
    conn.bindMessages(ws as unknown as WebSocket, conn.generation);
    const fire = (data: unknown) => ws.onmessage!({ data } as MessageEvent);
    const book = (x: string) => `{"topic":"orderbook.50.AUSDT","type":"snapshot","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"x":"${x}"},"cts":1}`;
    fire(Buffer.from(book("ok"))); // a binary frame that is UTF-8: read as text
    expect(books).toEqual([0]);
    // An invalid byte inside a value the scanner skips: until 2026-12-07 decoded to U+FFFD and taken as a book.
    const [head, tail] = book("@").split("@");
    const bad = Buffer.concat([Buffer.from(head!), Buffer.from([0xff]), Buffer.from(tail!)]);
    expect(() => fire(bad)).not.toThrow();
    expect(books).toEqual([0]);
    expect(conn.frameErrors).toBe(1);
    expect(faults[0]).toContain('"topic":"orderbook.50.AUSDT"'); // the fault's frame names its book (resynced by the lifecycle)
    expect(() => fire({ not: "bytes" })).not.toThrow(); // until 2026-12-07 the decoder threw out of the handler
    expect(conn.frameErrors).toBe(2);
    expect(faults[1]).toBe("");
  });
});
