/**
 * A symbol in another venue's spelling (BTCUSDT on OKX, BTC-KRW on Upbit, BTC-USDT on Binance). check-config called
 * it valid; at start REST did not list it, so its book was left out (one error, asked for again every 5 min for
 * ever) while the rest ran, or, if every symbol was so spelled, the start failed with exit 1. Venues whose symbols
 * have one shape (registry MarketSpec.symbolShape) now refuse another at load, naming the symbol and the shape.
 */
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

describe("a symbol in another venue's spelling", () => {
  test.each([
    ["okx", "spot", "BTCUSDT", "an OKX instId BASE-QUOTE[-…], e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-261225-100000-C"],
    ["coinbase", "spot", "BTCUSD", "a product id BASE-QUOTE, e.g. BTC-USD"],
    ["upbit", "spot", "BTC-KRW", "a code QUOTE-BASE with quote KRW, BTC or USDT, e.g. KRW-BTC, BTC-ETH"],
    ["bithumb", "spot", "BTC_KRW", "a code QUOTE-BASE with quote KRW, BTC or USDT, e.g. KRW-BTC, BTC-ETH"],
    ["binance", "spot", "BTC-USDT", "a Binance symbol without separators, e.g. BTCUSDT or 币安人生USDT"],
    ["binance", "linear", "BTC_USDT", "a Binance USD-M symbol without separators, e.g. BTCUSDT or 币安人生USDT (a delivery contract: BTCUSDT_251226)"],
  ])("%s %s %s is refused", (venue, market, symbol, expected) => {
    expect(problemsOf(`[venues.${venue}.${market}]\nsymbols = ["${symbol}"]\n`)).toEqual([`venues.${venue}.${market}.symbols[0]: "${symbol}" is not ${expected}`]);
  });

  test.each([
    ["okx", "spot", ["BTC-USDT", "BTC-USDT@5"]],
    ["okx", "linear", ["BTC-USDT-SWAP", "BTC-USD-261225"]],
    // USD-margined contracts (instFamily BTC-USD_UM, settled in USD stablecoins): the quote part has an underscore.
    ["okx", "linear", ["BTC-USD_UM-SWAP", "BTC-USD_UM-261225"]],
    ["okx", "option", ["BTC-USD-261225-100000-C"]],
    ["coinbase", "spot", ["BTC-USD", "USDT-USDC"]],
    ["upbit", "spot", ["KRW-BTC", "BTC-ETH", "USDT-XRP", "KRW-XRP@5"]],
    ["bithumb", "spot", ["KRW-BTC"]],
    ["binance", "spot", ["BTCUSDT", "1000SATSUSDT"]],
    ["binance", "linear", ["BTCUSDT", "BTCUSDT_251226"]],
  ])("%s %s %j are taken", (venue, market, symbols) => {
    expect(problemsOf(`[venues.${venue}.${market}]\nsymbols = ${JSON.stringify(symbols)}\n`)).toEqual([]);
  });
});
