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

/**
 * Real names, as the venues list them (instruments-info, get_instruments), seen in public code and data. Bybit's
 * dated futures write a day below 10 with its leading zero (BTCUSDT-04APR25), its options without (BTC-4JAN26-…):
 * until s-rdcfg8 the leading zero was refused, so a file naming such a future stopped loading after the upgrade.
 */
const REAL_NAMES: Record<"bybit" | "deribit", Record<string, string[]>> = {
  bybit: {
    spot: ["1INCHUSDT", "BTC3LUSDT", "BTC3SUSDT", "ETH3LUSDT", "MNTUSDT", "1SOLUSDT", "3PUSDT", "0GUSDT", "DOP1USDT", "L3USDT", "CMETHUSDT", "USDCUSDT", "USDEUSDT", "BTCUSDC", "BTCEUR", "TUSDT"],
    linear: ["1000PEPEUSDT", "10000SATSUSDT", "SHIB1000USDT", "BTCPERP", "ETHPERP", "ETH-27DEC24", "BTC-04APR25", "BTC-02AUG24", "BTC-09AUG24", "BTC-26JUL24", "BTCUSDT-27DEC24", "BTCUSDT-04APR25", "ETHUSDT-02MAY25", "ETHUSDT-09MAY25", "SOLUSDT-02MAY25", "DOGEUSDT-09JAN26", "BTCUSDT-07AUG26", "ETHUSDT-06JUN25", "BTCUSDT-03OCT25", "BTCUSDT-26SEP25"],
    inverse: ["BTCUSD", "ETHUSD", "BTCUSDH25", "BTCUSDZ24", "BTCUSDM25", "ETHUSDU25"],
    option: ["BTC-27DEC24-100000-C", "ETH-3JAN23-1250-P", "ETH-3JAN25-3500-P-USDT", "SOL-27DEC24-200-C", "XRP-27DEC24-0.5-C", "BTC-4JAN26-89000-C-USDT", "BTC-2SEP26-78750-P-USDT", "ETH-4SEP26-2250-P-USDT", "BTC-12JUN25-104019-C-USDT", "BTC-23APR25-93000-C-USDT"],
  },
  deribit: {
    inverse: ["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-27DEC24", "BTC-3JAN25"],
    linear: ["BTC_USDC-PERPETUAL", "SOL_USDC-PERPETUAL", "XRP_USDC-PERPETUAL", "PAXG_USDC-PERPETUAL", "BNB_USDC-PERPETUAL", "AVAX_USDC-PERPETUAL"],
    option: ["ETH-3JAN25-3500-P", "BTC-26SEP25-150000-C", "BTC-28MAR25-100000-C", "XRP_USDC-30JUN23-0d625-C", "XRP_USDC-26JUN26-3-C", "SOL_USDC-26MAR27-80-C"],
    spot: ["BTC_USDC", "STETH_ETH", "ETH_BTC", "USDC_USDT", "BTC_EURR"],
  },
};

test.each(Object.entries(REAL_NAMES).flatMap(([venue, markets]) => Object.entries(markets).map(([market, symbols]) => [venue, market, symbols] as const)))("real %s %s names load: %j", (venue, market, symbols) => {
  expect(configProblems(`[venues.${venue}.${market}]\nsymbols = ${JSON.stringify(symbols)}\n`)).toEqual([]);
});

test("Bybit expiry days: 1 to 31, with or without a leading zero; 0, 00 and 32 refused", () => {
  for (let day = 0; day <= 32; day++) {
    for (const written of new Set([String(day), String(day).padStart(2, "0")])) {
      const ok = day >= 1 && day <= 31;
      expect(configProblems(`[venues.bybit.linear]\nsymbols = ["BTCUSDT-${written}APR25"]\n`).length === 0, `BTCUSDT-${written}APR25`).toBe(ok);
      expect(configProblems(`[venues.bybit.option]\nsymbols = ["BTC-${written}APR25-90000-C"]\n`).length === 0, `BTC-${written}APR25-90000-C`).toBe(ok);
    }
  }
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
