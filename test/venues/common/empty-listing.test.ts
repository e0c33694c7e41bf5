/**
 * An instrument listing that holds nothing at all (a venue in maintenance, a broken answer) is no answer. Before, every
 * source returned an empty map for it, and the InstrumentWatch took each subscribed symbol as no longer listed: one
 * such answer closed every book of the market (HALTED / instrument_closed, unsubscribed, asked for again only every
 * 5 min). Now each source throws (common/instruments.ts emptyListing): a failed query, retried, closing nothing; at
 * start the disk cache answers. A delisting (others listed, the symbol not) still closes (the venues'
 * instrument-closed tests).
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger, silentLogger } from "../../../src/core/log.ts";
import { StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { parseExchangeInfo } from "../../../src/venues/binance/instruments.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { fetchInstrumentSpecs as fetchBybitSpecs } from "../../../src/venues/bybit/instruments.ts";
import { fetchProductSpecs } from "../../../src/venues/coinbase/instruments.ts";
import { fetchInstrumentSpecs as fetchDeribitSpecs } from "../../../src/venues/deribit/instruments.ts";
import { fetchOkxSpecs } from "../../../src/venues/okx/instruments.ts";
import { upbitInstrumentSource } from "../../../src/venues/upbit/instruments.ts";
import { allResolved, RecordingSink, subsOf, venueConfig, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A fetch answering every URL with `body` (JSON). */
const answering = (body: unknown): typeof fetch => (async () => Response.json(body)) as unknown as typeof fetch;

describe("an empty instrument listing is a failed query, not every symbol delisted", () => {
  test("each venue's source throws for it, naming the URL", async () => {
    expect(() => parseExchangeInfo({ symbols: [], rateLimits: [] })).toThrow(/exchangeInfo: the listing is empty/);
    await expect(fetchBybitSpecs(answering({ retCode: 0, result: { list: [], nextPageCursor: "" } }), "http://127.0.0.1:1", "linear", ["BTCUSDT"])).rejects.toThrow(/instruments-info.*listing is empty/);
    await expect(fetchOkxSpecs(answering({ code: "0", data: [] }), "http://127.0.0.1:1", "linear", ["BTC-USDT-SWAP"])).rejects.toThrow(/instType=FUTURES.*listing is empty/);
    await expect(fetchOkxSpecs(answering({ code: "0", data: [] }), "http://127.0.0.1:1", "option", ["BTC-USD-261225-100000-C"])).rejects.toThrow(/instFamily=BTC-USD.*listing is empty/);
    await expect(fetchProductSpecs(answering({ products: [], num_products: 0 }), "http://127.0.0.1:1", ["BTC-USD", "ETH-USD"], silentLogger)).rejects.toThrow(/product_ids=BTC-USD.*listing is empty/);
    // One product asked and not listed at all: not listed (a product Coinbase removed), not a failure.
    expect((await fetchProductSpecs(answering({ products: [], num_products: 0 }), "http://127.0.0.1:1", ["BTC-USD"], silentLogger)).size).toBe(0);
    await expect(fetchDeribitSpecs(answering({ jsonrpc: "2.0", result: [] }), "http://127.0.0.1:1", "option", ["BTC-27MAR26-70000-C"])).rejects.toThrow(/currency=BTC.*listing is empty/);
    const config = { venue: "upbit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", markets: [], overrides: new Map() } as unknown as VenueConfig;
    await expect(upbitInstrumentSource(config, answering([]), true).fetchSpecs("spot", ["KRW-BTC"])).rejects.toThrow(/market\/all.*listing is empty/);
  });

  test("bybit: an empty instruments-info while running closes no book", { timeout: 60_000 }, async () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const markets = [{ market: "linear" as const, depth: 50, symbols }];
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols }], seed: 33, messagesPerSecond: 0 });
    cleanups.push(() => sim.stop());
    let empty = false;
    let emptyAnswers = 0;
    const realFetch = fetch;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      if (empty && String(input).includes("/v5/market/instruments-info")) {
        emptyAnswers++;
        return Response.json({ retCode: 0, retMsg: "OK", result: { category: "linear", list: [], nextPageCursor: "" } });
      }
      return realFetch(input, init);
    }) as typeof fetch;
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
    // Stale after 300 ms (the simulator sends nothing unless stepped): a stale book asks for its market's listing.
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log, fetch: fetchFn, staleAfterMs: () => 300, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    cleanups.push(() => adapter.stop());
    const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
    adapter.start(sink);
    await waitFor(() => adapter.stats().topicsLive === 2, "both books live", 20_000);

    empty = true; // the venue's listing goes empty (maintenance); the books go quiet and stale, which asks for it
    await waitFor(() => emptyAnswers >= 2, "the empty listing answered twice (a query and its retry)", 20_000);
    expect(sink.invalid.filter((e) => e.reason === StatusReason.INSTRUMENT_CLOSED)).toEqual([]);
    expect(adapter.stats()).toMatchObject({ instrumentClosures: 0, instrumentsClosed: 0 });
    expect(adapter.stats().instrumentReloadFailures).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.includes("listing is empty"))).toBe(true);

    for (const i of [0, 1]) expect(adapter.topicInfo(i).state).not.toBe("halted"); // stale and resyncing, never closed
  });
});
