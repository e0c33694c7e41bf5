/**
 * OKX's, Deribit's and Coinbase's instrument REST queries honour the venue's over-limit answer, as Binance's and
 * Bybit's do: once an instrument request was answered 429 with Retry-After, no instrument request of that adapter goes
 * out before it has passed by the adapter's clock, however soon the schedule asks again (here the late retrier, 2 s
 * later); the query waits for the budget and is sent once the time has come. Before, the next query went out at once
 * (OKX paced 20 per 2 s but read no answer; Deribit and Coinbase had no budget). Real adapters against their
 * simulators on 127.0.0.1 (`rateLimitInstruments`: the next request answered 429 with the venue's error body); the
 * requests that really left are counted under the adapter's budget, at the adapter's clock.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { CoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { fetchProductSpecs } from "../../../src/venues/coinbase/instruments.ts";
import type { InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/index.ts";
import { fetchInstrumentSpecs } from "../../../src/venues/deribit/instruments.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import { fetchOkxSpecs } from "../../../src/venues/okx/instruments.ts";
import type { BookSink, CommonAdapterOptions, Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const RETRY_AFTER_S = 30;
const SINK: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };

/** One venue: its simulator with an instrument REST that can be down or over the limit, and its adapter. */
interface Case {
  venue: string;
  market: MarketName;
  depth: number;
  /** The first is in the disk cache, the second is left out at start (REST down) and retried. */
  symbols: [string, string];
  /** The instruments path, to count the requests that left. */
  path: string;
  start(): Promise<{
    wsUrl: string;
    restUrl: string;
    setRestAvailable(ok: boolean): void;
    rateLimitInstruments(count: number, retryAfterS?: number): void;
    /** The venue's spec of the cached symbol, read through its own REST parsing. */
    specOf(symbol: string): Promise<InstrumentSpec>;
    stop(): Promise<void>;
  }>;
  adapter(config: VenueConfig, subs: Subscription[], opts: CommonAdapterOptions): VenueAdapter;
}

const CASES: Case[] = [
  {
    venue: "okx",
    market: "spot",
    depth: 400,
    symbols: ["BTC-USDT", "ETH-USDT"],
    path: "/api/v5/public/instruments",
    async start() {
      const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 61 });
      return {
        ...{ wsUrl: sim.wsUrl, restUrl: sim.restUrl, stop: () => sim.stop() },
        setRestAvailable: (ok) => sim.setInstrumentsAvailable(ok),
        rateLimitInstruments: (n, s) => sim.rateLimitInstruments(n, s),
        specOf: async (symbol) => (await fetchOkxSpecs(fetch, sim.restUrl, "spot", [symbol])).get(symbol)!,
      };
    },
    adapter: (c, s, o) => new OkxAdapter(c, s, o),
  },
  {
    venue: "deribit",
    market: "inverse",
    depth: 0,
    symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"],
    path: "/api/v2/public/get_instruments",
    async start() {
      const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }], seed: 61 });
      return {
        ...{ wsUrl: sim.wsUrl, restUrl: sim.restUrl, stop: () => sim.stop() },
        setRestAvailable: (ok) => sim.setInstrumentsAvailable(ok),
        rateLimitInstruments: (n, s) => sim.rateLimitInstruments(n, s),
        specOf: async (symbol) => (await fetchInstrumentSpecs(fetch, sim.restUrl, "inverse", [symbol])).get(symbol)!,
      };
    },
    adapter: (c, s, o) => new DeribitAdapter(c, s, o),
  },
  {
    venue: "coinbase",
    market: "spot",
    depth: 0,
    symbols: ["BTC-USD", "ETH-USD"],
    path: "/api/v3/brokerage/market/products",
    async start() {
      const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 61, levels: 50 });
      return {
        ...{ wsUrl: sim.wsUrl, restUrl: sim.restUrl, stop: () => sim.stop() },
        setRestAvailable: (ok) => sim.setRestAvailable(ok),
        rateLimitInstruments: (n, s) => sim.rateLimitInstruments(n, s),
        specOf: async (symbol) => (await fetchProductSpecs(fetch, sim.restUrl, [symbol])).get(symbol)!,
      };
    },
    adapter: (c, s, o) => new CoinbaseAdapter(c, s, o),
  },
];

describe("instrument queries wait out the venue's 429 / Retry-After", { timeout: 30_000 }, () => {
  for (const c of CASES) {
    test(`${c.venue}: after a 429 with Retry-After ${RETRY_AFTER_S} s, the next instrument request waits until then by the adapter's clock`, async () => {
      const sim = await c.start();
      stops.push(() => sim.stop());
      const [cached, late] = c.symbols;
      const cachePath = join(makeTempDir(`reload-loose-budget-${c.venue}-`), "instruments.json");
      writeFileSync(cachePath, JSON.stringify({ version: 1, venue: c.venue, instruments: { [`${c.market}:${cached}`]: await sim.specOf(cached) } }));
      const config: VenueConfig = {
        ...{ venue: c.venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: cachePath, overrides: new Map() },
        markets: [{ market: c.market, depth: c.depth, symbols: [cached, late] }],
      } as VenueConfig;
      const subs: Subscription[] = [cached, late].map((symbol) => ({ market: c.market, symbol, depth: c.depth }));
      const clock = { ms: 1_000_000 };
      /** The adapter's clock when each instrument request really left (under the adapter's budget). */
      const sent: number[] = [];
      const counting: typeof fetch = Object.assign((input: string | URL | Request, init?: RequestInit) => {
        if (String(input instanceof Request ? input.url : input).includes(c.path)) sent.push(clock.ms);
        return fetch(input, init);
      }, { preconnect: fetch.preconnect });
      const adapter = c.adapter(config, subs, {
        ...{ log: silentLogger, fetch: counting, now: () => clock.ms, random: () => 1 },
        ...{ lateRetryBaseMs: 1_000, lateRetryMaxMs: 60_000, listingRetryMs: 300_000, lateCheckMs: 5, instrumentCheckMs: 5 },
      } as CommonAdapterOptions);
      stops.push(() => adapter.stop());
      sim.setRestAvailable(false);
      expect((await adapter.loadInstruments()).map((i) => i?.symbol)).toEqual([cached, undefined]);
      sent.length = 0; // the start's query (REST down)
      sim.setRestAvailable(true);
      sim.rateLimitInstruments(1, RETRY_AFTER_S);
      adapter.start(SINK);
      const stats = () => adapter.stats();
      const pending = () => adapter.unresolvedInstruments!();
      // The late retrier's first query (due 1 s after start) is answered 429: the venue's limit was reached.
      clock.ms += 1_000;
      // "HTTP 429", not "429": the detail names the URL, whose port (e.g. 127.0.0.1:34299) can hold "429" from the start.
      await waitFor(() => pending()[0]?.detail.includes(": HTTP 429") === true, "the first retry answered 429");
      expect(sent, JSON.stringify(pending())).toEqual([1_001_000]);
      const limitedAtMs = clock.ms;
      // The retrier asks again after its backoff (2 s): well inside the 30 s the venue asked for.
      clock.ms += 5_000;
      await waitFor(() => stats().instrumentRestWaiting === 1 || sent.length > 1, "the next query waiting for the REST budget (or sent)");
      expect(sent).toEqual([1_001_000]);
      expect(stats().instrumentRestRateLimited).toBe(1);
      // Once Retry-After has passed the query goes out, and the symbol joins.
      clock.ms = limitedAtMs + RETRY_AFTER_S * 1_000;
      await waitFor(() => pending().length === 0, `${late} resolved`, 10_000);
      // Every request after the 429 waited: the late symbol's, with the reload of the one the cache resolved riding the
      // same query (reloaded after a start from the cache; Deribit asks one request per currency, so two there).
      expect(sent.length).toBeGreaterThanOrEqual(2);
      for (const ms of sent.slice(1)) expect(ms - limitedAtMs).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1_000);
      expect(stats().instrumentRestWaiting).toBe(0);
    });
  }
});

describe("Deribit's 10028 without HTTP 429", () => {
  test("an answer whose error is 10028 tells the REST budget (as a 429 would), and the query fails naming it", async () => {
    let told = 0;
    const body = JSON.stringify({ jsonrpc: "2.0", error: { code: 10028, message: "too_many_requests" } });
    const fake = (async () => new Response(body, { status: 400 })) as unknown as typeof fetch;
    await expect(fetchInstrumentSpecs(fake, "http://127.0.0.1:9", "inverse", ["BTC-PERPETUAL"], () => void told++)).rejects.toThrow("error 10028 too_many_requests");
    expect(told).toBe(1);
    // Another error is not a rate limit.
    const other = (async () => new Response(JSON.stringify({ error: { code: 10001, message: "error" } }), { status: 400 })) as unknown as typeof fetch;
    await expect(fetchInstrumentSpecs(other, "http://127.0.0.1:9", "inverse", ["BTC-PERPETUAL"], () => void told++)).rejects.toThrow("10001");
    expect(told).toBe(1);
  });
});

describe("the simulators' /sim/instruments-limit", () => {
  test("a bad count or retry_after is a 400 naming it; armed, the next instrument request is a 429 with Retry-After, then normal again", async () => {
    for (const c of CASES) {
      const sim = await c.start();
      stops.push(() => sim.stop());
      const post = (q: string) => fetch(`${sim.restUrl}/sim/instruments-limit?${q}`, { method: "POST" });
      const bad = await post("count=x");
      expect([bad.status, ((await bad.json()) as { field: string }).field]).toEqual([400, "count"]);
      const bad2 = await post("count=1&retry_after=-1");
      expect([bad2.status, ((await bad2.json()) as { field: string }).field]).toEqual([400, "retry_after"]);
      expect((await post("count=1&retry_after=7")).status).toBe(200);
      const q = c.venue === "okx" ? "?instType=SPOT" : c.venue === "deribit" ? "?currency=BTC&kind=future&expired=false" : "";
      const limited = await fetch(`${sim.restUrl}${c.path}${q}`);
      expect([c.venue, limited.status, limited.headers.get("retry-after")]).toEqual([c.venue, 429, "7"]);
      expect((await fetch(`${sim.restUrl}${c.path}${q}`)).status).toBe(200);
    }
  });
});
