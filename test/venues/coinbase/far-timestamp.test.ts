/**
 * A frame whose envelope timestamp is well formed but past 2^53 µs (the year 2255): bad input naming the time alone.
 * Before, its µs went to the book, whose builder refuses a time the wire's i64 of ns cannot carry (BookInputError):
 * the app marked the book parse_error and resynced it whole, on every such frame. Now it is read as unknown (0), the
 * frame handled as any other, counted as parse error `timestamp` and logged naming it. Offline replay (no socket),
 * each update applied to a real BookBuilder; the scanner's path and the JSON path.
 */
import { describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { BookBuilder } from "../../../src/book/book-builder.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { Sink } from "./helpers.ts";

/** Each update applied to a BookBuilder per book, as the app applies it; what it refused, by message. */
class BuildingSink extends Sink {
  readonly builders: BookBuilder[] = [];
  readonly refused: string[] = [];
  readonly tsExchangeUs: number[] = [];
  override onBookUpdate(index: number, u: BookUpdate): void {
    super.onBookUpdate(index, u);
    this.tsExchangeUs.push(u.tsExchangeUs);
    const b = (this.builders[index] ??= new BookBuilder(this.instruments[index]!));
    try {
      if (u.isSnapshot) b.applySnapshot(u);
      else b.applyDelta(u);
    } catch (err) {
      this.refused.push(String(err));
    }
  }
}

const FAR = "2300-01-01T00:00:00.000000Z";
const NEAR = "2026-12-07T00:00:00.000000Z";
const l2 = (seq: number, type: "snapshot" | "update", ts: string) =>
  `{"channel":"l2_data","client_id":"","timestamp":"${ts}","sequence_num":${seq},"events":[{"type":"${type}","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"${NEAR}","price_level":"100.0","new_quantity":"1.5"},{"side":"offer","event_time":"${NEAR}","price_level":"101.0","new_quantity":"2"}]}]}`;

describe("coinbase: a frame timestamp past the year 2255", () => {
  test("is read as unknown (0), counted and logged; the book stays LIVE, nothing resynced", async () => {
    const o = offlineVenue("coinbase", "spot", 0, ["BTC-USD"], "");
    const warned: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m: string, f?: Record<string, unknown>) => void warned.push(`${m} ${JSON.stringify(f ?? {})}`), child: () => log };
    const adapter = createCoinbaseAdapter(o.config, o.subscriptions, { ...o.options, log });
    const sink = new BuildingSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.startReplay(sink);
    const feed = (frame: string) => adapter.ingestFrame("spot", "conn0.spot", frame, 1);
    feed(l2(0, "snapshot", FAR)); // the scanner's path
    feed(l2(1, "update", FAR).replace('"channel":"l2_data",', '"channel": "l2_data",')); // the JSON path
    feed(l2(2, "update", NEAR));
    // Before: tsExchangeUs 1.04e16 (past 2^53), refused by the builder (BookInputError tsExchangeUs), no parse error.
    expect(sink.refused).toEqual([]);
    expect(sink.tsExchangeUs).toEqual([0, 0, Date.parse(NEAR) * 1000]);
    const s = adapter.stats();
    expect([s["parseErrors.timestamp"], s.resyncs, s.connectionResyncs, s.fallbacks]).toEqual([2, 0, 0, 1]);
    expect(adapter.topicState(0).state).toBe("live");
    expect(warned.some((w) => w.includes("past the year 2255") || w.includes("2300-01-01"))).toBe(true);
  });

  test("2 µs before 1970 is read as unknown (0), not counted or logged as past the year 2255 (counted as unreadable)", async () => {
    const o = offlineVenue("coinbase", "spot", 0, ["BTC-USD"], "");
    const warned: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m: string, f?: Record<string, unknown>) => void warned.push(`${m} ${JSON.stringify(f ?? {})}`), child: () => log };
    const adapter = createCoinbaseAdapter(o.config, o.subscriptions, { ...o.options, log });
    const sink = new BuildingSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.startReplay(sink);
    adapter.ingestFrame("spot", "conn0.spot", l2(0, "snapshot", "1969-12-31T23:59:59.999998Z"), 1);
    // Before (s-sr18): rfc3339Us -2, TS_PAST_RANGE: parseErrors.timestamp 1 and the "past the year 2255" line.
    expect(sink.tsExchangeUs).toEqual([0]);
    expect(adapter.stats()["parseErrors.timestamp"] ?? 0).toBe(1);
    expect(warned.filter((w) => w.includes("past the year 2255"))).toEqual([]);
    expect(adapter.topicState(0).state).toBe("live");
  });
});

describe("coinbase: a frame timestamp malformed or before 1970", () => {
  // The scanner's path (a day February does not have) and the JSON path (before 1970): each its own adapter, as
  // the log is rate-limited (a second line within its interval only counted).
  const cases = [
    { path: "scanner", ts: "2026-02-31T00:00:00Z", frame: (f: string) => f, fallbacks: 0 },
    { path: "JSON", ts: "1960-01-01T00:00:00Z", frame: (f: string) => f.replace('"channel":"l2_data",', '"channel": "l2_data",'), fallbacks: 1 },
  ];
  test.each(cases)("$path path: read as unknown (0), counted as parse error timestamp and logged naming the product and the text; the book stays LIVE", async ({ ts, frame, fallbacks }) => {
    const o = offlineVenue("coinbase", "spot", 0, ["BTC-USD"], "");
    const warned: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m: string, f?: Record<string, unknown>) => void warned.push(`${m} ${JSON.stringify(f ?? {})}`), child: () => log };
    const adapter = createCoinbaseAdapter(o.config, o.subscriptions, { ...o.options, log });
    const sink = new BuildingSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.startReplay(sink);
    adapter.ingestFrame("spot", "conn0.spot", frame(l2(0, "snapshot", ts)), 1);
    adapter.ingestFrame("spot", "conn0.spot", l2(1, "update", NEAR), 1);
    // Before: 0, neither counted nor logged.
    expect(sink.tsExchangeUs).toEqual([0, Date.parse(NEAR) * 1000]);
    const s = adapter.stats();
    expect([s["parseErrors.timestamp"], s.resyncs, s.connectionResyncs, s.fallbacks]).toEqual([1, 0, 0, fallbacks]);
    expect(adapter.topicState(0).state).toBe("live");
    expect(warned.filter((w) => w.includes("BTC-USD") && w.includes(ts)).length).toBe(1);
    expect(warned.filter((w) => w.includes("past the year 2255"))).toEqual([]);
  });
});
