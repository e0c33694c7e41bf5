/**
 * A listed expiry that is no time in ms (a venue, or a proxy, giving seconds: 1.79e9 for 2026-09; or garbage). Before,
 * the watch took it as ms (January 1970): every such book was closed (HALTED / instrument_closed) at the first check
 * after start and never listed back (its "expiry" always past). Now an expiry before MIN_EXPIRY_MS is ignored and
 * logged once; a plausible past one still closes its book (the witness here: it proves the check ran).
 * The watch on a clock the test sets, REST answered by the test, a fake lifecycle counting retireAll().
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/core/log.ts";
import type { Instrument, StatusReason } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import type { InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";

const SYMBOLS = ["BTCUSDU26", "ETHUSDU26"];
const SUBS: Subscription[] = SYMBOLS.map((symbol) => ({ market: "inverse", symbol, depth: 50 }));
const NOW_MS = 1_780_000_000_000; // 2026-05-28

describe("a listed expiry that is not a time in ms", () => {
  test("is ignored (logged once), not taken as 1970: the book stays open; a plausible past one closes", async () => {
    const validated = validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      venues: { bybit: { inverse: { depth: 50, symbols: SYMBOLS } } },
    }).venues[0]!;
    const config = { ...validated, instrumentCachePath: "" };
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const retired: [number, StatusReason][] = [];
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} };
    const lifecycle = fakeLifecycle({ onRetire: (t, r) => void retired.push([t.index, r]) });
    const answer: Record<string, InstrumentSpec> = {
      "BTCUSDU26": { tickSize: "0.5", lotSize: "1", expiresMs: 1_790_380_800 }, // 2026-09-26 08:00 UTC in seconds
      "ETHUSDU26": { tickSize: "0.05", lotSize: "1", expiresMs: NOW_MS - 1 }, // the witness: expired, in ms
    };
    const watch = new InstrumentWatch({
      ...{ venue: "bybit", log, now: () => NOW_MS, random: () => 1, config, subscriptions: SUBS, topics },
      source: { notListed: () => "not listed", fetchSpecs: async () => new Map(Object.entries(answer)) },
      ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 5, lateCheckMs: 1_000_000_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: () => {},
    });
    onTestFinished(() => watch.stop());
    instruments = await watch.load();
    watch.bindTopics(false);
    watch.start(sink);
    for (let i = 0; i < 5_000 && retired.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(retired.map(([i]) => i)).toEqual([1]); // the witness closed; the book with an expiry in seconds did not
    expect(watch.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1 });
    expect(lines.filter((l) => l.includes("listed expiry is not a time in ms"))).toHaveLength(1);
    expect(lines.find((l) => l.includes("listed expiry is not a time in ms"))).toContain('"symbol":"BTCUSDU26"');
  });
});

describe("a listed expiry and the two clocks", () => {
  test("is a time of day: compared with the wall clock (wallNow), not the monotonic deadline clock (now)", async () => {
    // The deadline clock is monotonic (epoch-like only until the wall clock steps): here far from any epoch time, as
    // it is after a step. The wall clock is an hour past ETH's expiry and before BTC's: ETH closes, BTC stays open.
    // Before, the expiry was compared with `now`: with `now` monotonic, a step of the wall clock moved no expiry.
    const validated = validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      venues: { bybit: { inverse: { depth: 50, symbols: SYMBOLS } } },
    }).venues[0]!;
    const config = { ...validated, instrumentCachePath: "" };
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const retired: [number, StatusReason][] = [];
    const log = createLogger({ level: "error", format: "json", write: () => {} });
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} };
    const lifecycle = fakeLifecycle({ onRetire: (t, r) => void retired.push([t.index, r]) });
    const answer: Record<string, InstrumentSpec> = {
      "BTCUSDU26": { tickSize: "0.5", lotSize: "1", expiresMs: NOW_MS + 7_200_000 },
      "ETHUSDU26": { tickSize: "0.05", lotSize: "1", expiresMs: NOW_MS - 1_800_000 },
    };
    const watch = new InstrumentWatch({
      ...{ venue: "bybit", log, now: () => 5_000, wallNow: () => NOW_MS, random: () => 1, config, subscriptions: SUBS, topics },
      source: { notListed: () => "not listed", fetchSpecs: async () => new Map(Object.entries(answer)) },
      ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 5, lateCheckMs: 1_000_000_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: () => {},
    });
    onTestFinished(() => watch.stop());
    instruments = await watch.load();
    watch.bindTopics(false);
    watch.start(sink);
    for (let i = 0; i < 5_000 && retired.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(retired.map(([i]) => i)).toEqual([1]);
    expect([...watch.expiredClosed()]).toEqual([[1, NOW_MS - 1_800_000]]);
  });
});
