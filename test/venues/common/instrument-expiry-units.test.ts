/**
 * A listed expiry that is no time in ms (a venue, or a proxy, giving seconds: 1.79e9 for 2026-09; or garbage). Before,
 * the watch took it as ms (January 1970): every such book was closed (HALTED / instrument_closed) at the first check
 * after start and never listed back (its "expiry" always past). Now an expiry before MIN_EXPIRY_MS is ignored and
 * logged once; a plausible past one still closes its book (the witness here: it proves the check ran).
 * The watch on a clock the test sets, REST answered by the test, a fake lifecycle counting retireAll().
 */
import { readFileSync } from "node:fs";
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/core/log.ts";
import type { Instrument, StatusReason } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { emptyListing, instrumentCacheWritesSettled, PartialAnswer, writeInstrumentCache, type InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

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

describe("a config override's symbol where the venue reads no expiry from names (every venue but Deribit)", () => {
  test("a listing that names it past its expiry does not close it: an override's expiry is never the listing's", async () => {
    // A whole-market answer may list the override's symbol too. Before 2026-12-07 its expiry was recorded and expiredAt
    // skipped overrides; since, noteExpiries skips them (expiredAt no longer does, for Deribit's name expiry).
    const validated = validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      venues: { bybit: { inverse: { depth: 50, symbols: SYMBOLS }, overrides: { "inverse:BTCUSDU26": { tick_size: "0.5", lot_size: "1" } } } },
    }).venues[0]!;
    const config = { ...validated, instrumentCachePath: "" };
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const retired: number[] = [];
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} };
    const lifecycle = fakeLifecycle({ onRetire: (t) => void retired.push(t.index) });
    const answer: Record<string, InstrumentSpec> = {
      "BTCUSDU26": { tickSize: "0.5", lotSize: "1", expiresMs: NOW_MS - 1_800_000 }, // the override's, past
      "ETHUSDU26": { tickSize: "0.05", lotSize: "1", expiresMs: NOW_MS - 1_800_000 }, // the witness: the check ran
    };
    const watch = new InstrumentWatch({
      ...{ venue: "bybit", log: createLogger({ level: "error", format: "json", write: () => {} }), now: () => 5_000, wallNow: () => NOW_MS, random: () => 1, config, subscriptions: SUBS, topics },
      source: { notListed: () => "not listed", fetchSpecs: async () => new Map(Object.entries(answer)) },
      ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 5, lateCheckMs: 1_000_000_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: () => {},
    });
    onTestFinished(() => watch.stop());
    instruments = await watch.load();
    watch.bindTopics(false);
    watch.start(sink); // checks the expiries at once
    expect(retired).toEqual([1]);
    expect(watch.stats()).toMatchObject({ instrumentsClosed: 1 });
  });
});

/**
 * REST unreachable at start, the books resolved from the disk cache. Before, the cache kept tick and lot only and
 * nothing asked the listing before the hourly reload: an option or dated future resolved from it had no expiry, and at
 * its expiry its book stayed LIVE and frozen until it went stale (600 s for a Deribit option). Now the cache keeps the
 * expiry, and the market is reloaded once running (retried while REST fails): an entry without one (a cache written
 * before) learns it once REST answers, and the cache is written with it.
 */
describe("books resolved from the disk cache and their expiry", () => {
  const EXPIRES_MS = NOW_MS + 60_000;

  function rig(cachePath: string, answer: () => Map<string, InstrumentSpec>, applyAskedOnly = false) {
    const validated = validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      venues: { bybit: { inverse: { depth: 50, symbols: SYMBOLS } } },
    }).venues[0]!;
    const config = { ...validated, instrumentCachePath: cachePath };
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const clock = { nowMs: 5_000, wallMs: NOW_MS, queries: 0 };
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} };
    const lifecycle = fakeLifecycle();
    const watch = new InstrumentWatch({
      ...{ venue: "bybit", log: createLogger({ level: "error", format: "json", write: () => {} }), now: () => clock.nowMs, wallNow: () => clock.wallMs, random: () => 1, config, subscriptions: SUBS, topics },
      source: {
        notListed: () => "not listed",
        fetchSpecs: async () => {
          clock.queries++;
          return answer();
        },
      },
      ...{ intervalMs: 3_600_000, recheck: true, applyAskedOnly, allowNoInstruments: false, instrumentCheckMs: 5, lateCheckMs: 1_000_000_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: () => {},
    });
    onTestFinished(() => watch.stop());
    const start = async () => {
      instruments = await watch.load();
      watch.bindTopics(false);
      watch.start(sink);
      return instruments;
    };
    return { watch, lifecycle, clock, start };
  }
  const unreachable = () => {
    throw new Error("https://api.bybit.com/v5/market/instruments-info: HTTP 503");
  };
  const listing = () => new Map<string, InstrumentSpec>([["BTCUSDU26", { tickSize: "0.5", lotSize: "1", expiresMs: EXPIRES_MS }], ["ETHUSDU26", { tickSize: "0.05", lotSize: "1" }]]);
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 5_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  };
  const cachedEntries = (path: string) => (JSON.parse(readFileSync(path, "utf8")) as { version: number; instruments: Record<string, InstrumentSpec> });
  /** Nothing closed before BTC's expiry; at it, BTC (index 0) alone is closed, as expired at EXPIRES_MS. */
  const closedAtExpiry = async ({ watch, lifecycle, clock }: Pick<ReturnType<typeof rig>, "watch" | "lifecycle" | "clock">) => {
    expect(lifecycle.retired).toEqual([]);
    clock.wallMs = EXPIRES_MS;
    await until(() => lifecycle.retired.length > 0);
    expect(lifecycle.retired.map(([i]) => i)).toEqual([0]);
    expect([...watch.expiredClosed()]).toEqual([[0, EXPIRES_MS]]);
  };

  test("the cache keeps the listed expiry: a book resolved from it while REST is down is closed at that expiry", async () => {
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    // A first run, REST up, writes the cache.
    await rig(cachePath, listing).watch.load();
    await instrumentCacheWritesSettled();
    expect(cachedEntries(cachePath)).toMatchObject({ version: 1, instruments: { "inverse:BTCUSDU26": { expiresMs: EXPIRES_MS } } });
    expect(cachedEntries(cachePath).instruments["inverse:ETHUSDU26"]).toEqual({ tickSize: "0.05", lotSize: "1" });

    // Restarted with REST down for good: both from the cache, open until BTC's expiry, then BTC closed (ETH has none).
    const { watch, lifecycle, clock, start } = rig(cachePath, unreachable);
    expect((await start()).map((i) => i?.tickSize)).toEqual(["0.5", "0.05"]);
    await closedAtExpiry({ watch, lifecycle, clock });
  });

  test("an entry without an expiry (an older cache): the listing asked again once REST answers, the expiry learned and cached", async () => {
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    await writeInstrumentCache(cachePath, "bybit", new Map([["inverse:BTCUSDU26", { tickSize: "0.5", lotSize: "1" }], ["inverse:ETHUSDU26", { tickSize: "0.05", lotSize: "1" }]]));
    let up = false;
    const { watch, lifecycle, clock, start } = rig(cachePath, () => (up ? listing() : unreachable()));
    await start();
    // Reloaded 2 s after start (the deadline clock), as a failed reload is retried, not an hour later: REST still down.
    clock.nowMs += 2_000;
    await until(() => watch.stats().instrumentReloadFailures >= 1);
    expect(clock.queries).toBe(2);
    // REST back: the reload, retried after its back-off (now 4 s), answers.
    up = true;
    clock.nowMs += 4_000;
    await until(() => clock.queries >= 3);
    await instrumentCacheWritesSettled();
    expect(cachedEntries(cachePath).instruments["inverse:BTCUSDU26"]).toEqual({ tickSize: "0.5", lotSize: "1", expiresMs: EXPIRES_MS });
    await closedAtExpiry({ watch, lifecycle, clock });
  });

  test("an expiry in the cache the listing no longer gives (a delisting called off): the reopened book's entry rewritten", async () => {
    // The cache holds BTC's expiry, already past (OKX expTime of an announced delisting); REST is down at start, so
    // the book is closed at once. The listing, once it answers, lists BTC trading with no expiry: reopened. Before,
    // the reopening wrote the cache only for a new tick/lot, so the old expiry stayed in it and every later start
    // with REST down closed the trading book again at once.
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    const gone = NOW_MS - 60_000;
    await writeInstrumentCache(cachePath, "bybit", new Map([["inverse:BTCUSDU26", { tickSize: "0.5", lotSize: "1", expiresMs: gone }], ["inverse:ETHUSDU26", { tickSize: "0.05", lotSize: "1" }]]), { nowMs: () => NOW_MS });
    let up = false;
    const trading = () => new Map<string, InstrumentSpec>([["BTCUSDU26", { tickSize: "0.5", lotSize: "1" }], ["ETHUSDU26", { tickSize: "0.05", lotSize: "1" }]]);
    const { lifecycle, clock, start } = rig(cachePath, () => (up ? trading() : unreachable()));
    await start();
    expect(lifecycle.retired.map(([i]) => i)).toEqual([0]);
    up = true;
    clock.nowMs += 2_000;
    await until(() => lifecycle.activated.includes(0));
    expect(lifecycle.activated).toEqual([0]);
    await instrumentCacheWritesSettled();
    expect(cachedEntries(cachePath).instruments["inverse:BTCUSDU26"]).toEqual({ tickSize: "0.5", lotSize: "1" });
  });

  test.each(["failed", "answered in part"] as const)("a market whose only books are closed: its reload %s", async (how) => {
    // Both books' cached expiry is past (an announced delisting since called off) and REST is down at start: both
    // closed at once, so the market's reload 2 s later carries closed symbols only. Failed: a failed reload, retried
    // after 2 s doubling (before s-rd6a its failure returned quietly: counted as an answered reload, the next one an
    // hour later). Answered in part: what it lists is used and the reload is answered (no open book went unanswered);
    // the closed symbol left unanswered is asked again on its own schedule (s-rd7b: a part failing for good made it a
    // failed reload every minute for ever).
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    const gone = NOW_MS - 60_000;
    await writeInstrumentCache(cachePath, "bybit", new Map(SYMBOLS.map((s) => [`inverse:${s}`, { tickSize: "0.5", lotSize: "1", expiresMs: gone }])), { nowMs: () => NOW_MS });
    let rest: "down" | "part" | "up" = "down";
    const trading = () => new Map<string, InstrumentSpec>(SYMBOLS.map((s) => [s, { tickSize: "0.5", lotSize: "1" }]));
    const answer = () => {
      if (rest === "up") return trading();
      if (rest === "part") throw new PartialAnswer(new Map([[SYMBOLS[1]!, { tickSize: "0.5", lotSize: "1" }]]), new Error("HTTP 503"));
      return unreachable();
    };
    const { watch, lifecycle, clock, start } = rig(cachePath, answer);
    await start();
    expect(lifecycle.retired.map(([i]) => i)).toEqual([0, 1]);
    if (how === "answered in part") rest = "part";
    clock.nowMs += 2_000;
    await until(() => clock.queries >= 2 && watch.stats().instrumentReloads + watch.stats().instrumentReloadFailures >= 1);
    expect(watch.stats()).toMatchObject(how === "failed" ? { instrumentReloads: 0, instrumentReloadFailures: 1 } : { instrumentReloads: 1, instrumentReloadFailures: 0, instrumentClosedQueryFailures: 1 });
    expect(lifecycle.activated).toEqual(how === "failed" ? [] : [1]); // what the answer listed is used
    // REST back: the reload's retry (4 s on), or the closed symbol's own query (a minute on), asks again and both
    // books are listed back.
    rest = "up";
    clock.nowMs += how === "failed" ? 4_000 : 60_000;
    await until(() => lifecycle.activated.includes(0) && watch.stats().instrumentReloads === 1);
    expect(clock.queries).toBe(3);
    expect([...lifecycle.activated].sort()).toEqual([0, 1]);
    expect(watch.stats()).toMatchObject({ instrumentReloads: 1, instrumentReloadFailures: how === "failed" ? 1 : 0 });
  });

  test("a closed book whose part of the listing fails for good (an option family delisted whole): the reload that answered every open book is answered, not retried", async () => {
    // ETH closed (no longer listed); then the part of the listing ETH is asked in fails for good while BTC's answers.
    // Before, each such reload was a failed one (instrument_reload_failures_total, "instrument reload failed;
    // retrying"), retried 2 s doubling to every minute for ever. The closed symbol's own schedule asks for it and counts
    // its failures (instrument_closed_query_failures_total); the reload is the open books'.
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    let rest: "both" | "btc" | "part" = "both";
    const spec = { tickSize: "0.5", lotSize: "1" };
    const answer = () => {
      if (rest === "both") return new Map<string, InstrumentSpec>(SYMBOLS.map((s) => [s, spec]));
      if (rest === "btc") return new Map<string, InstrumentSpec>([[SYMBOLS[0]!, spec]]);
      throw new PartialAnswer(new Map([[SYMBOLS[0]!, spec]]), emptyListing("https://api.example/instruments?family=ETH-USD"));
    };
    const { watch, lifecycle, clock, start } = rig(cachePath, answer);
    await start();
    rest = "btc";
    clock.nowMs += 3_600_000; // the hourly reload: ETH no longer listed, closed
    await until(() => lifecycle.retired.length > 0 && watch.stats().instrumentReloads === 1);
    expect(lifecycle.retired.map(([i]) => i)).toEqual([1]);
    rest = "part";
    clock.nowMs += 3_600_000; // the next hourly reload carries ETH too; its part fails
    await until(() => watch.stats().instrumentReloads + watch.stats().instrumentReloadFailures >= 2 && watch.stats().instrumentClosedQueryFailures >= 1);
    expect(watch.stats()).toMatchObject({ instrumentReloads: 2, instrumentReloadFailures: 0 });
    expect(watch.stats().instrumentClosedQueryFailures).toBeGreaterThanOrEqual(1);
    expect(lifecycle.activated).toEqual([]); // ETH stays closed: nothing answered for it
  });

  test("a venue that asks only for the books that asked (Upbit, Bithumb): no reload after a start from the cache", async () => {
    // Such a reload asks for nothing (no book asked yet): before, it ran 2 s after start, sent no request, and was
    // counted as an answered reload (instrument_reloads_total) while REST may well still be down. Upbit and Bithumb list
    // no expiry; their books ask when a number does not fit or they go stale, as before.
    const cachePath = `${makeTempDir("expiry-cache-")}/i.json`;
    await writeInstrumentCache(cachePath, "bybit", new Map([["inverse:BTCUSDU26", { tickSize: "0.5", lotSize: "1" }], ["inverse:ETHUSDU26", { tickSize: "0.05", lotSize: "1" }]]));
    let up = false;
    const { watch, clock, start } = rig(cachePath, () => (up ? listing() : unreachable()), true);
    await start();
    expect(clock.queries).toBe(1);
    up = true;
    clock.nowMs += 2_000;
    watch.reloader.check();
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
    expect(watch.stats()).toMatchObject({ instrumentReloads: 0, instrumentReloadFailures: 0 });
    expect(clock.queries).toBe(1);
    // A book that asks (a misfit) is still asked for, and that reload counts.
    watch.requestNow("inverse", 0);
    await until(() => watch.stats().instrumentReloads === 1);
    expect(clock.queries).toBe(2);
  });
});
