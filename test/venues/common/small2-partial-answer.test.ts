/**
 * A market's instrument listing answered in part (common/instruments.ts PartialAnswer): Deribit's inverse futures
 * take one get_instruments per currency; BTC answers, ETH fails. What was answered is used, what was not is never
 * taken as not listed:
 * - at start, BTC-PERPETUAL resolves and ETH-PERPETUAL is left out as rest_unreachable (before: both, the whole market
 *   unreachable), and a symbol the answered BTC part does not list is `not_listed` only where the listing was whole;
 * - while running, a reload applies BTC's changed tick, closes nothing it did not answer for (ETH's part failed) and
 *   is retried; the retry, every part answered, closes what none lists;
 *   a late ETH symbol stays rest_unreachable (never not_listed) and is asked for again on the REST backoff.
 * The real Deribit source on a fetch the test answers; a clock the test moves.
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument, MarketName } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import { resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { bybitInstrumentSource } from "../../../src/venues/bybit/instruments.ts";
import { deribitInstrumentSource } from "../../../src/venues/deribit/instruments.ts";
import { okxInstrumentSource } from "../../../src/venues/okx/instruments.ts";
import { upbitInstrumentSource } from "../../../src/venues/upbit/instruments.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";

const SYMBOLS = ["BTC-PERPETUAL", "BTC-26JUN26", "ETH-PERPETUAL"];
const SUBS: Subscription[] = SYMBOLS.map((symbol) => ({ market: "inverse", symbol, depth: 10 }));

/** get_instruments per currency: `ticks` by instrument; a currency in `down` answers 503. */
function deribitRest() {
  const state = { ticks: new Map([["BTC-PERPETUAL", "0.5"], ["ETH-PERPETUAL", "0.05"]]), down: new Set<string>(["ETH"]), requests: [] as string[] };
  const fetchFn = (async (input: string | URL | Request) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const currency = url.searchParams.get("currency")!;
    state.requests.push(currency);
    if (state.down.has(currency)) return new Response("unavailable", { status: 503 });
    const items = [...state.ticks]
      .filter(([name]) => name.startsWith(`${currency}-`))
      .map(([name, tick]) => `{"instrument_name":"${name}","tick_size":${tick},"min_trade_amount":10,"kind":"future","instrument_type":"reversed","expiration_timestamp":32503680000000}`);
    return new Response(`{"result":[${items.join(",")}]}`, { status: 200 });
  }) as typeof fetch;
  return { state, fetchFn };
}

function configOf() {
  const validated = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { deribit: { inverse: { symbols: SYMBOLS } } },
  }).venues[0]!;
  return { ...validated, instrumentCachePath: "" }; // no disk cache: every answer is the test's
}

describe("an instrument listing answered in part", () => {
  test("at start: the answered currency's symbols resolve, the failed one's are rest_unreachable, never not_listed", async () => {
    const { fetchFn } = deribitRest();
    const config = configOf();
    const { instruments, unresolved } = await resolveInstruments(config, SUBS, deribitInstrumentSource(config, fetchFn), silentLogger);
    // The old code: the ETH failure made the whole market unreachable, BTC-PERPETUAL included.
    expect(instruments.map((i) => i?.tickSize)).toEqual(["0.5", undefined, undefined]);
    // BTC-26JUN26 is in no answered listing either: perhaps (for all the common code knows) in the failed part.
    expect(unresolved.map((u) => [SYMBOLS[u.index], u.kind])).toEqual([
      ["BTC-26JUN26", "rest_unreachable"],
      ["ETH-PERPETUAL", "rest_unreachable"],
    ]);
    expect(unresolved[1]!.detail).toMatch(/currency=ETH.*HTTP 503/);
  });

  test("while running: an answered part's change applied, nothing of the failed part closed, the reload retried", async () => {
    const rest = deribitRest();
    rest.state.down.clear(); // every currency answers at start
    rest.state.ticks.set("BTC-26JUN26", "0.5");
    const clock = { ms: 1_000_000 };
    const config = configOf();
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `book.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const applied: [string, string][] = [];
    const retired: string[] = [];
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };
    // The watch closes and reopens symbols in batches (retireAll / activateAll, one request per connection).
    const lifecycle = fakeLifecycle({ onRetire: (t) => void retired.push(t.symbol) });
    const watch = new InstrumentWatch({
      ...{ venue: "deribit", log: silentLogger, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS, topics },
      source: deribitInstrumentSource(config, rest.fetchFn),
      ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 1_000_000_000, lateCheckMs: 1_000_000_000 },
      ...{ lateRetryBaseMs: 5_000, lateRetryMaxMs: 40_000, listingRetryMs: 300_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: (t, inst) => void applied.push([t.symbol, inst.tickSize]),
    });
    onTestFinished(() => watch.stop());
    instruments = await watch.load();
    expect(instruments.every((i) => i !== undefined)).toBe(true);
    watch.bindTopics(false);
    watch.start(sink);

    // BTC's tick changes, BTC-26JUN26 leaves BTC's listing, ETH's request fails.
    rest.state.ticks.set("BTC-PERPETUAL", "0.25");
    rest.state.ticks.delete("BTC-26JUN26");
    rest.state.down.add("ETH");
    watch.requestNow("inverse");
    for (let i = 0; i < 2_000 && watch.reloader.failures === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(watch.reloader.failures).toBe(1); // retried: ETH's part is still to be read
    // The old code: nothing applied (the whole query failed).
    expect(applied).toEqual([["BTC-PERPETUAL", "0.25"]]);
    // Missing from an answer with a part failed: perhaps in that part (for all the common code knows), so not closed.
    expect(retired).toEqual([]);
    // The retry (2 s later) reads every part: BTC-26JUN26, listed in none, is closed now; ETH-PERPETUAL is listed.
    rest.state.down.clear();
    clock.ms += 2_000;
    watch.reloader.check();
    for (let i = 0; i < 2_000 && watch.reloader.reloads === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(watch.reloader.reloads).toBe(1);
    expect(retired).toEqual(["BTC-26JUN26"]);
    expect(applied).toEqual([["BTC-PERPETUAL", "0.25"]]);
  });

  test("a late symbol behind the failed part stays rest_unreachable and is asked again on the REST backoff", async () => {
    const rest = deribitRest();
    const clock = { ms: 1_000_000 };
    const config = configOf();
    const conn = { used: false } as VenueConnection;
    const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `book.${s.symbol}`, conn));
    let instruments: (Instrument | undefined)[] | null = null;
    const joined: number[] = [];
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved: (i) => void joined.push(i) };
    const lifecycle = fakeLifecycle();
    const watch = new InstrumentWatch({
      ...{ venue: "deribit", log: silentLogger, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS, topics },
      source: deribitInstrumentSource(config, rest.fetchFn),
      ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 1_000_000_000, lateCheckMs: 1_000_000_000 },
      ...{ lateRetryBaseMs: 5_000, lateRetryMaxMs: 40_000, listingRetryMs: 300_000 },
      ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
      addToTable: () => 0,
      apply: () => {},
    });
    onTestFinished(() => watch.stop());
    instruments = await watch.load();
    watch.bindTopics(false);
    watch.start(sink);
    const settle = async (cond: () => boolean) => {
      for (let i = 0; i < 2_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
      expect(cond()).toBe(true);
    };
    const t0 = clock.ms;
    const kinds = () => watch.unresolved().map((u) => [u.symbol, u.kind]);
    expect(kinds()).toEqual([
      ["BTC-26JUN26", "rest_unreachable"],
      ["ETH-PERPETUAL", "rest_unreachable"],
    ]);
    // First retry (5 s): BTC answers without BTC-26JUN26, ETH fails again.
    clock.ms = watch.unresolved()[0]!.nextAttemptMs;
    watch.reloader.check();
    await settle(() => watch.late.failures === 1);
    expect(kinds()).toEqual([
      ["BTC-26JUN26", "rest_unreachable"],
      ["ETH-PERPETUAL", "rest_unreachable"],
    ]);
    // The REST backoff's second step (10 s), not the 5 min listing cadence.
    expect(watch.unresolved()[0]!.nextAttemptMs - clock.ms).toBe(10_000);
    // ETH answers: ETH-PERPETUAL joins; BTC-26JUN26 is now known not listed (every part answered).
    rest.state.down.clear();
    clock.ms = watch.unresolved()[0]!.nextAttemptMs;
    watch.reloader.check();
    await settle(() => joined.length === 1);
    expect(joined).toEqual([2]);
    expect(kinds()).toEqual([["BTC-26JUN26", "not_listed"]]);
    expect(clock.ms - t0).toBe(15_000);
  });
});

/** The other venues whose market listing takes several requests: one part answers, the next fails. */
describe("every venue's partly answered listing", () => {
  const resolve = async (venue: string, market: MarketName, symbols: string[], source: (config: ReturnType<typeof venueConfigOf>) => InstrumentSource) => {
    const config = venueConfigOf(venue, market, symbols);
    const subs: Subscription[] = symbols.map((symbol) => ({ market, symbol, depth: 10 }));
    const { instruments, unresolved } = await resolveInstruments(config, subs, source(config), silentLogger);
    return { resolved: symbols.filter((_, i) => instruments[i] !== undefined), unresolved: unresolved.map((u) => [symbols[u.index], u.kind]) };
  };
  const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  const urlOf = (input: string | URL | Request) => new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);

  test("OKX: SWAP answered, FUTURES failed", async () => {
    const fetchFn = (async (input: string | URL | Request) => {
      if (urlOf(input).searchParams.get("instType") === "FUTURES") return new Response("unavailable", { status: 503 });
      return json({ code: "0", data: [{ instId: "BTC-USDT-SWAP", tickSz: "0.1", lotSz: "1", state: "live", ctType: "linear" }] });
    }) as typeof fetch;
    const r = await resolve("okx", "linear", ["BTC-USDT-SWAP", "BTC-USDT-270326"], (c) => okxInstrumentSource(c, fetchFn, []));
    expect(r).toEqual({ resolved: ["BTC-USDT-SWAP"], unresolved: [["BTC-USDT-270326", "rest_unreachable"]] });
  });

  test("Bybit: one option base coin answered, the next failed", async () => {
    const fetchFn = (async (input: string | URL | Request) => {
      if (urlOf(input).searchParams.get("baseCoin") === "ETH") return new Response("unavailable", { status: 503 });
      return json({ retCode: 0, result: { list: [{ symbol: "BTC-27MAR26-70000-C", status: "Trading", priceFilter: { tickSize: "5" }, lotSizeFilter: { qtyStep: "0.01" } }], nextPageCursor: "" } });
    }) as typeof fetch;
    const r = await resolve("bybit", "option", ["BTC-27MAR26-70000-C", "ETH-27MAR26-3000-C"], (c) => bybitInstrumentSource(c, fetchFn));
    expect(r).toEqual({ resolved: ["BTC-27MAR26-70000-C"], unresolved: [["ETH-27MAR26-3000-C", "rest_unreachable"]] });
  });

  test("Upbit: the first 100 codes' ticker answered, the next chunk's failed", async () => {
    const codes = Array.from({ length: 101 }, (_, i) => `KRW-C${i}`);
    const fetchFn = (async (input: string | URL | Request) => {
      const url = urlOf(input);
      const asked = (url.searchParams.get("markets") ?? "").split(",");
      if (url.pathname === "/v1/market/all") return json(codes.map((market) => ({ market })));
      if (url.pathname === "/v1/ticker") return asked.includes("KRW-C100") ? new Response("unavailable", { status: 503 }) : json(asked.map((market) => ({ market, trade_price: 100_000 })));
      return json(asked.map((market) => ({ market, tick_size: "1" })));
    }) as typeof fetch;
    const r = await resolve("upbit", "spot", codes, (c) => upbitInstrumentSource(c, fetchFn, true));
    expect(r).toEqual({ resolved: codes.slice(0, 100), unresolved: [["KRW-C100", "rest_unreachable"]] });
  });
});

function venueConfigOf(venue: string, market: string, symbols: string[]) {
  const validated = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { [venue]: { rest_url: "http://127.0.0.1:9", [market]: { symbols } } },
  }).venues[0]!;
  return { ...validated, instrumentCachePath: "" };
}
