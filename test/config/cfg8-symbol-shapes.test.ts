/**
 * Bybit and Deribit symbols had no shape check (the other venues have one): another venue's spelling (BTC-USDT on
 * Bybit, BTCUSDT on Deribit) or another market's (BTC-PERPETUAL as linear) was called valid by check-config and left
 * out at start as not listed. And Deribit's real linear option names with a decimal strike (XRP_USDC-30JUN23-0d625-C:
 * "d" is the point) were refused by the loader's upper-case rule. Every Bybit and Deribit name the repository's
 * recordings and docs hold must load.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(resolve(ROOT, path), "utf8");
const MARKETS = ["spot", "linear", "inverse", "option"] as const;

/** The markets of `venue` that take `symbol` alone. */
function takenBy(venue: string, symbol: string): string[] {
  return MARKETS.filter((m) => configProblems(`[venues.${venue}.${m}]\nsymbols = [${JSON.stringify(symbol)}]\n`).length === 0);
}

/** Names the venues sent or that docs name: topics, channels, instrument_name, and expiry-bearing tokens in prose. */
function bybitNames(): string[] {
  const text = [read("docs/venues/bybit.md"), read("test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl").slice(0, 200_000), read("README.md")].join("\n");
  const topics = [...text.matchAll(/orderbook\.\d+\.([A-Za-z0-9_.\-]+?)(?=["`,\s)]|-\d{6,})/g)].map((m) => m[1]!);
  const prose = [...text.matchAll(/\b[A-Z0-9]+-\d{1,2}[A-Z]{3}\d{2}(?:-[0-9.]+-[CP](?:-[A-Z]+)?)?\b/g)].map((m) => m[0]);
  return [...new Set([...topics, ...prose])].filter((s) => s !== "SYM" && s !== "X"); // placeholders
}

function deribitNames(): string[] {
  const text = [read("docs/venues/deribit.md"), read("test/fixtures/cryptofeed/DERIBIT.ws.1.0").slice(0, 400_000), read("README.md")].join("\n");
  const channels = [...text.matchAll(/(?:book|trades|ticker)\.([A-Za-z0-9_\-]+)\.(?:raw|100ms|agg2|none)/g)].map((m) => m[1]!);
  const named = [...text.matchAll(/instrument_name\\?":\\?"([A-Za-z0-9_\-]+)/g)].map((m) => m[1]!);
  const prose = [...text.matchAll(/\b[A-Z0-9]+(?:_[A-Z0-9]+)?-(?:PERPETUAL|\d{1,2}[A-Z]{3}\d{2}(?:-\d+(?:d\d+)?-[CP])?)\b|\b[A-Z0-9]+_(?:USDC|USDT)\b/g)].map((m) => m[0]);
  return [...new Set([...channels, ...named, ...prose])].filter((s) => s !== "X"); // book.X.100ms: the docs' placeholder
}

describe("Bybit symbols", () => {
  test.each([
    ["spot", ["BTCUSDT", "1000PEPEUSDT", "BTCUSDT@1"]],
    ["linear", ["BTCUSDT", "BTCPERP", "BTC-27DEC24", "BTCUSDT-27DEC24", "1000PEPEUSDT"]],
    ["inverse", ["BTCUSD", "BTCUSDH25", "BTCUSDZ26"]],
    ["option", ["BTC-27DEC24-100000-C", "BTC-27DEC24-100000-C-USDT", "BTC-6JAN23-18000-C", "XRP-30OCT26-0.4-P-USDT", "BTC-13SEP24-58500-P"]],
  ])("%s takes %j", (market, symbols) => {
    expect(configProblems(`[venues.bybit.${market}]\nsymbols = ${JSON.stringify(symbols)}\n`)).toEqual([]);
  });

  test.each([
    ["spot", "BTC-USDT", "a Bybit spot symbol without separators, e.g. BTCUSDT"],
    ["linear", "BTC-USDT-SWAP", "a Bybit linear symbol, e.g. BTCUSDT, BTCPERP or a dated future BTC-27DEC24, BTCUSDT-27DEC24"],
    ["linear", "BTC-PERPETUAL", "a Bybit linear symbol, e.g. BTCUSDT, BTCPERP or a dated future BTC-27DEC24, BTCUSDT-27DEC24"],
    ["inverse", "BTC-USD", "a Bybit inverse symbol without separators, e.g. BTCUSD or a dated future BTCUSDH25"],
    ["option", "BTCUSDT", "a Bybit option symbol BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, BTC-27DEC24-100000-C-USDT"],
    ["option", "BTC-27DEC24-100000-X", "a Bybit option symbol BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, BTC-27DEC24-100000-C-USDT"],
    ["option", "BTC-27DEC24-0d5-C", "a Bybit option symbol BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, BTC-27DEC24-100000-C-USDT"],
  ])("%s refuses %s", (market, symbol, expected) => {
    expect(configProblems(`[venues.bybit.${market}]\nsymbols = ["${symbol}"]\n`)).toEqual([`venues.bybit.${market}.symbols[0]: "${symbol}" is not ${expected}`]);
  });

  test("every Bybit name in the docs and recordings is taken by a market", () => {
    const names = bybitNames();
    expect(names).toEqual(expect.arrayContaining(["XRPUSDT", "BTC-6JAN23-18000-C", "XRP-30OCT26-0.4-P-USDT", "BTC-13SEP24-58500-P"]));
    expect(names.filter((s) => takenBy("bybit", s).length === 0)).toEqual([]);
  });
});

describe("Deribit instrument names", () => {
  test.each([
    ["inverse", ["BTC-PERPETUAL", "ETH-27MAR26", "BTC-27DEC24", "BTC-PERPETUAL@10"]],
    ["linear", ["BTC_USDC-PERPETUAL", "XRP_USDC-PERPETUAL", "BTC_USDC-27DEC24"]],
    ["option", ["BTC-27DEC24-100000-C", "ETH-3JAN25-3000-P", "SOL_USDC-27DEC24-150-C", "XRP_USDC-30JUN23-0d625-C"]],
    ["spot", ["BTC_USDC", "ETH_USDC", "BTC_USDT"]],
  ])("%s takes %j", (market, symbols) => {
    expect(configProblems(`[venues.deribit.${market}]\nsymbols = ${JSON.stringify(symbols)}\n`)).toEqual([]);
  });

  test.each([
    ["inverse", "BTCUSD", "a Deribit inverse future, e.g. BTC-PERPETUAL, BTC-27DEC24 (USDC-settled ones are linear)"],
    ["inverse", "BTC_USDC-PERPETUAL", "a Deribit inverse future, e.g. BTC-PERPETUAL, BTC-27DEC24 (USDC-settled ones are linear)"],
    ["linear", "BTC-PERPETUAL", "a Deribit linear future, e.g. BTC_USDC-PERPETUAL, BTC_USDC-27DEC24 (BTC-PERPETUAL is inverse)"],
    ["option", "BTC-27DEC24", "a Deribit option BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, XRP_USDC-30JUN23-0d625-C"],
    // A combo (future spread): listed as kind future_combo, which feeder never asks for.
    ["inverse", "BTC-FS-27DEC24_PERP", "a Deribit inverse future, e.g. BTC-PERPETUAL, BTC-27DEC24 (USDC-settled ones are linear)"],
    ["spot", "BTC-USDC", "a Deribit spot pair BASE_QUOTE, e.g. BTC_USDC"],
  ])("%s refuses %s", (market, symbol, expected) => {
    expect(configProblems(`[venues.deribit.${market}]\nsymbols = ["${symbol}"]\n`)).toEqual([`venues.deribit.${market}.symbols[0]: "${symbol}" is not ${expected}`]);
  });

  test("a lower-case letter other than a strike's d is still refused, on every venue", () => {
    expect(configProblems('[venues.deribit.option]\nsymbols = ["xrp_usdc-30JUN23-0d625-C"]\n')).toHaveLength(1);
    expect(configProblems('[venues.deribit.option]\nsymbols = ["XRP_USDC-30JUN23-0d-C"]\n')).toHaveLength(1);
    expect(configProblems('[venues.okx.option]\nsymbols = ["BTC-USD-261225-0d5-C"]\n')).toHaveLength(1);
  });

  test("every Deribit name in the docs and recordings is taken by a market", () => {
    const names = deribitNames();
    expect(names).toEqual(expect.arrayContaining(["BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC_USDC", "ETH-27MAR26", "BTC-24SEP21-8000-P"]));
    expect(names.filter((s) => takenBy("deribit", s).length === 0)).toEqual([]);
  });
});
