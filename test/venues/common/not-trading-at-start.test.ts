/**
 * A symbol the venue's listing names but not as trading now (Binance BREAK, as its maintenance sets every symbol;
 * OKX suspend; Coinbase offline or trading_disabled; Upbit answering without its price or
 * tick) is not "no such symbol". Before, each was `not_listed`, and a venue all of whose symbols were so threw
 * SymbolsUnusableError: `feeder run` exited 2, which the systemd unit does not restart, so the feeder (every venue of
 * it) stayed down after the venue's maintenance ended. Now it is `not_trading`: the venue starts with no books, as for
 * a REST outage, and the symbols join once listed as trading. A symbol the listing does not name stays `not_listed`
 * (the venue refusing every such one still exits 2: test/cli/ops3-symbols-unusable-exit.test.ts).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { venueStartFailure } from "../../../src/app/venue-start.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { binanceInstrumentSource } from "../../../src/venues/binance/instruments.ts";
import { bybitInstrumentSource } from "../../../src/venues/bybit/instruments.ts";
import { coinbaseInstrumentSource } from "../../../src/venues/coinbase/instruments.ts";
import { resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { okxInstrumentSource } from "../../../src/venues/okx/instruments.ts";
import { upbitInstrumentSource } from "../../../src/venues/upbit/instruments.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { spotDepth100 } from "../binance/spot-config.ts";
import { RecordingSink, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A fetch answering each URL with the first body whose key the URL contains (JSON). */
const answering = (bodies: Record<string, unknown>): typeof fetch =>
  (async (input: string | URL | Request) => {
    const url = String(input);
    const key = Object.keys(bodies).find((k) => url.includes(k));
    return key === undefined ? new Response("not found", { status: 404 }) : Response.json(bodies[key]);
  }) as unknown as typeof fetch;

function config(venue: string, market: MarketName): VenueConfig {
  return { venue, wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market, depth: 0, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
}

async function kinds(source: InstrumentSource, market: MarketName, symbols: string[]): Promise<string[]> {
  const cfg = config("x", market);
  const { unresolved } = await resolveInstruments(cfg, symbols.map((symbol) => ({ market, symbol, depth: 0 })), source, silentLogger);
  return unresolved.map((u) => `${symbols[u.index]}:${u.kind}`);
}

const binanceItem = (symbol: string, status: string) => ({ symbol, status, filters: [{ filterType: "PRICE_FILTER", tickSize: "0.01" }, { filterType: "LOT_SIZE", stepSize: "0.001" }] });

describe("listed but not trading at start: not_trading, not not_listed", () => {
  test("each venue's source says so; a symbol not named at all stays not_listed", async () => {
    const binance = binanceInstrumentSource(config("binance", "spot"), () => answering({ exchangeInfo: { symbols: [binanceItem("BTCUSDT", "BREAK"), binanceItem("ETHUSDT", "TRADING")] } }), () => {});
    expect(await kinds(binance, "spot", ["BTCUSDT", "NOPEUSDT"])).toEqual(["BTCUSDT:not_trading", "NOPEUSDT:not_listed"]);

    // A delivered future (USD-M DELIVERING) is gone for good: not listed.
    const usdm = binanceInstrumentSource(config("binance", "linear"), () => answering({ exchangeInfo: { symbols: [binanceItem("BTCUSDT_251226", "DELIVERING"), binanceItem("BTCUSDT", "TRADING")] } }), () => {});
    expect(await kinds(usdm, "linear", ["BTCUSDT_251226"])).toEqual(["BTCUSDT_251226:not_listed"]);

    // Bybit's default query lists Trading only (options: PreLaunch, Trading, Delivering); what else it lists is a
    // delivery or a delisting (Delivering, Closed): for good, so not listed.
    const bybitBody = { retCode: 0, result: { list: [{ symbol: "BTCUSDT", status: "Closed", priceFilter: { tickSize: "0.1" }, lotSizeFilter: { qtyStep: "0.001" } }, { symbol: "ETHUSDT", status: "Trading", priceFilter: { tickSize: "0.01" }, lotSizeFilter: { qtyStep: "0.01" } }], nextPageCursor: "" } };
    expect(await kinds(bybitInstrumentSource(config("bybit", "linear"), answering({ "instruments-info": bybitBody })), "linear", ["BTCUSDT", "NOPEUSDT"])).toEqual(["BTCUSDT:not_listed", "NOPEUSDT:not_listed"]);

    const okxItem = (instId: string, state: string) => ({ instId, state, tickSz: "0.1", lotSz: "1", ctType: "linear", expTime: "" });
    const okx = okxInstrumentSource(config("okx", "spot"), answering({ instruments: { code: "0", data: [okxItem("BTC-USDT", "suspend"), okxItem("ETH-USDT", "live")] } }), []);
    expect(await kinds(okx, "spot", ["BTC-USDT", "NOPE-USDT"])).toEqual(["BTC-USDT:not_trading", "NOPE-USDT:not_listed"]);

    const product = (id: string, extra: Record<string, unknown>) => ({ product_id: id, status: "online", price_increment: "0.01", base_increment: "0.0001", ...extra });
    const coinbase = coinbaseInstrumentSource(config("coinbase", "spot"), answering({ products: { products: [product("BTC-USD", { status: "offline" }), product("ETH-USD", { trading_disabled: true }), product("OLD-USD", { status: "delisted" }), product("SOL-USD", {})] } }), silentLogger);
    expect(await kinds(coinbase, "spot", ["BTC-USD", "ETH-USD", "OLD-USD", "NOPE-USD"])).toEqual(["BTC-USD:not_trading", "ETH-USD:not_trading", "OLD-USD:not_listed", "NOPE-USD:not_listed"]);

    // One product asked and the answer empty (a bad minute or an unknown id): not a definite "no such product".
    const coinbaseEmpty = coinbaseInstrumentSource(config("coinbase", "spot"), answering({ products: { products: [], num_products: 0 } }), silentLogger);
    expect(await kinds(coinbaseEmpty, "spot", ["BTC-USD"])).toEqual(["BTC-USD:not_trading"]);

    // Upbit lists both codes, but its ticker and tick list answer empty (a bad minute): no price, no tick.
    const upbitCfg = config("upbit", "spot");
    const upbitFetch = answering({ "market/all": [{ market: "KRW-BTC" }, { market: "KRW-ETH" }], ticker: [], "orderbook/instruments": [] });
    expect(await kinds(upbitInstrumentSource(upbitCfg, upbitFetch, true), "spot", ["KRW-BTC", "KRW-NOPE"])).toEqual(["KRW-BTC:not_trading", "KRW-NOPE:not_listed"]);
    const bithumbFetch = answering({ "market/all": [{ market: "KRW-BTC" }, { market: "KRW-ETH" }], ticker: [] });
    expect(await kinds(upbitInstrumentSource(upbitCfg, bithumbFetch, false), "spot", ["KRW-BTC"])).toEqual(["KRW-BTC:not_trading"]);
    // A level Upbit says the code does not support is the configuration's: still bad_spec.
    const levelFetch = answering({ "market/all": [{ market: "KRW-BTC" }], ticker: [{ market: "KRW-BTC", trade_price: 100_000_000 }], "orderbook/instruments": [{ market: "KRW-BTC", tick_size: "1000", supported_levels: ["0", "10000"] }] });
    expect(await kinds(upbitInstrumentSource(upbitCfg, levelFetch, true, 5), "spot", ["KRW-BTC"])).toEqual(["KRW-BTC:bad_spec"]);
  });

  test("the supervisor's check over workers' shares: a venue whose symbols are listed but not trading does not fail the start", () => {
    const share = (kind: "not_listed" | "not_trading") => ({ venue: "binance", books: 0, unresolved: [{ market: "spot", symbol: "BTCUSDT", kind, detail: "" }] });
    expect(venueStartFailure([share("not_trading"), share("not_listed")])).toBeUndefined();
    expect(venueStartFailure([share("not_listed"), share("not_listed")])).toMatch(/binance: cannot resolve/);
  });

  test("binance: every symbol BREAK at start (its maintenance): the venue starts empty (no throw) and they join once TRADING", { timeout: 30_000 }, async () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 81 });
    cleanups.push(() => sim.stop());
    for (const s of symbols) sim.setTrading("spot", s, false);
    const { subs, config } = spotDepth100(sim, symbols, "binance-not-trading");
    const adapter = new BinanceAdapter(config, subs, { log: silentLogger, listingRetryMs: 200, lateCheckMs: 20 });
    cleanups.push(() => adapter.stop());
    const instruments = await adapter.loadInstruments(); // before: rejected with SymbolsUnusableError (run: exit 2)
    expect(instruments.filter((i) => i !== undefined)).toEqual([]);
    expect(adapter.unresolvedInstruments().map((u) => u.kind)).toEqual(["not_trading", "not_trading"]);
    const joined: string[] = [];
    const sink = new (class extends RecordingSink {
      onInstrumentResolved(_index: number, instrument: Instrument): void {
        joined.push(instrument.symbol);
      }
    })([]);
    adapter.start(sink);
    for (const s of symbols) sim.setTrading("spot", s, true); // the maintenance ends
    await waitFor(() => joined.length === 2, "both symbols joined once listed as TRADING", 20_000);
    expect(joined.sort()).toEqual([...symbols].sort());
  });
});
