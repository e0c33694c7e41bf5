/**
 * A listing that names a symbol as trading but whose tick or step cannot be read (a field renamed or missing: a
 * format change, a broken item). Before, every source skipped such an item as if the symbol were not listed, and the
 * InstrumentWatch closed its book (HALTED / instrument_closed, unsubscribed): a format change of the venue's listing
 * closed every book at the next reload. Now each source names it (whyRefused): a bad_spec at start, and while running
 * the book keeps its instrument, as Upbit's refused codes already did. A symbol not listed as trading still closes.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason, type MarketName } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { binanceInstrumentSource } from "../../../src/venues/binance/instruments.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { bybitInstrumentSource } from "../../../src/venues/bybit/instruments.ts";
import { coinbaseInstrumentSource } from "../../../src/venues/coinbase/instruments.ts";
import { deribitInstrumentSource } from "../../../src/venues/deribit/instruments.ts";
import { okxInstrumentSource } from "../../../src/venues/okx/instruments.ts";
import type { InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const answering = (body: unknown): typeof fetch => (async () => Response.json(body)) as unknown as typeof fetch;
const config = (venue: string) => ({ venue, wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", markets: [], overrides: new Map() }) as unknown as VenueConfig;

/** Asks the source for two symbols: GOOD readable, BAD listed as trading without a readable tick. */
async function check(source: InstrumentSource, market: MarketName, good: string, bad: string): Promise<void> {
  const specs = await source.fetchSpecs(market, [good, bad]);
  expect([...specs.keys()]).toEqual([good]);
  expect(source.whyRefused?.(market, bad)).toMatch(/listed.*without/);
  expect(source.whyRefused?.(market, good)).toBeUndefined();
}

describe("a symbol listed as trading with a tick or step that cannot be read is refused, not delisted", () => {
  test("each source names it (whyRefused)", async () => {
    const f = { filterType: "PRICE_FILTER", tickSize: "0.01" };
    const l = { filterType: "LOT_SIZE", stepSize: "0.001" };
    await check(binanceInstrumentSource(config("binance"), () => answering({ symbols: [{ symbol: "BTCUSDT", status: "TRADING", filters: [f, l] }, { symbol: "ETHUSDT", status: "TRADING", filters: [l] }] }), () => {}), "spot", "BTCUSDT", "ETHUSDT");
    const list = [
      { symbol: "BTCUSDT", status: "Trading", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { qtyStep: "0.001" } },
      { symbol: "ETHUSDT", status: "Trading", priceFilter: { tick: "0.01" }, lotSizeFilter: { qtyStep: "0.01" } },
    ];
    await check(bybitInstrumentSource(config("bybit"), answering({ retCode: 0, result: { list, nextPageCursor: "" } })), "linear", "BTCUSDT", "ETHUSDT");
    const data = [
      { instId: "BTC-USDT", tickSz: "0.1", lotSz: "0.0001", state: "live" },
      { instId: "ETH-USDT", tickSize: "0.01", lotSz: "0.0001", state: "live" },
    ];
    await check(okxInstrumentSource(config("okx"), answering({ code: "0", data }), []), "spot", "BTC-USDT", "ETH-USDT");
    const products = [
      { product_id: "BTC-USD", price_increment: "0.01", base_increment: "0.00000001", status: "online" },
      { product_id: "ETH-USD", base_increment: "0.00000001", status: "online" },
    ];
    await check(coinbaseInstrumentSource(config("coinbase"), answering({ products }), silentLogger), "spot", "BTC-USD", "ETH-USD");
    const result = [
      { instrument_name: "BTC-PERPETUAL", tick_size: 0.5, min_trade_amount: 10, instrument_type: "reversed" },
      { instrument_name: "BTC-27MAR26", tick_size: "0.5", min_trade_amount: 10, instrument_type: "reversed" },
    ];
    await check(deribitInstrumentSource(config("deribit"), answering({ jsonrpc: "2.0", result })), "inverse", "BTC-PERPETUAL", "BTC-27MAR26");
  });

  test("bybit: a listing whose item for a subscribed symbol lost its tickSize closes no book", { timeout: 60_000 }, async () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const markets = [{ market: "linear" as const, depth: 50, symbols }];
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols }], seed: 34, messagesPerSecond: 0 });
    cleanups.push(() => sim.stop());
    let broken = false;
    let brokenAnswers = 0;
    const realFetch = fetch;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await realFetch(input, init);
      if (!broken || !String(input).includes("/v5/market/instruments-info")) return res;
      const body = (await res.json()) as { result: { list: { symbol: string; priceFilter?: unknown }[] } };
      for (const item of body.result.list) if (item.symbol === "BTCUSDT") delete item.priceFilter; // a format change
      brokenAnswers++;
      return Response.json(body);
    }) as typeof fetch;
    // Stale after 300 ms (the simulator sends nothing unless stepped): a stale book asks for its market's listing.
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, fetch: fetchFn, staleAfterMs: () => 300, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    cleanups.push(() => adapter.stop());
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.start(sink);
    await waitFor(() => adapter.stats().topicsLive === 2, "both books live", 20_000);

    broken = true; // the books go quiet and stale, which asks for the listing
    await waitFor(() => brokenAnswers >= 1 && adapter.stats().instrumentReloads >= 1, "the broken listing answered and applied", 20_000);
    expect(sink.invalid.filter((e) => e.reason === StatusReason.INSTRUMENT_CLOSED)).toEqual([]);
    expect(adapter.stats()).toMatchObject({ instrumentClosures: 0, instrumentsClosed: 0 });
    for (const i of [0, 1]) expect(adapter.topicInfo(i).state).not.toBe("halted");
  });
});
