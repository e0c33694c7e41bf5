/**
 * Venue-specific market keys (registry MarketSpec.options): Deribit's `interval` and Upbit's `level` per market,
 * validated with the key named, defaults filled in, printed by check-config and read back the same, and unknown
 * to every other venue.
 */
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { refusedProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return refusedProblems(toml);
}

const options = (toml: string) => parseConfigText(toml).venues.flatMap((v) => v.markets.map((m) => [`${v.venue}.${m.market}`, m.options]));

describe("venues.deribit.<market>.interval", () => {
  test("default 100ms per market; agg2 taken; the value is kept per market", () => {
    expect(options('[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL"]\n[venues.deribit.option]\nsymbols = ["BTC-27MAR26-70000-C"]\ninterval = "agg2"\n')).toEqual([
      ["deribit.inverse", { interval: "100ms" }],
      ["deribit.option", { interval: "agg2" }],
    ]);
  });

  test("raw is refused with the reason; anything else names the values (problems in market order)", () => {
    expect(problemsOf('[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL"]\ninterval = "raw"\n[venues.deribit.spot]\nsymbols = ["BTC_USDC"]\ninterval = 100\n[venues.deribit.linear]\nsymbols = ["BTC_USDC-PERPETUAL"]\ninterval = "1s"\n')).toEqual([
      "venues.deribit.spot.interval: 100 is not one of 100ms, agg2",
      'venues.deribit.linear.interval: "1s" is not one of 100ms, agg2',
      'venues.deribit.inverse.interval: "raw" is not one of 100ms, agg2 (raw: needs an authorised connection (Deribit error 13778), which feeder does not make)',
    ]);
  });
});

describe("venues.upbit.spot.level", () => {
  test("default 0; a grouping unit is taken for KRW codes, decimals too", () => {
    expect(options('[venues.upbit.spot]\nsymbols = ["KRW-BTC", "BTC-ETH"]\n')).toEqual([["upbit.spot", { level: 0 }]]);
    expect(options('[venues.upbit.spot]\nsymbols = ["KRW-BTC", "KRW-XRP@5"]\nlevel = 10000\n')).toEqual([["upbit.spot", { level: 10000 }]]);
    expect(options('[venues.upbit.spot]\nsymbols = ["KRW-XRP"]\nlevel = 0.1\n')).toEqual([["upbit.spot", { level: 0.1 }]]);
  });

  test("a negative, too fine or non-number level, or a level with codes outside KRW, names the key", () => {
    expect(problemsOf('[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\nlevel = -1\n')).toEqual(["venues.upbit.spot.level: -1 is not a number 0–1000000000000 with at most 8 decimals"]);
    expect(problemsOf('[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\nlevel = 0.000000001\n')).toEqual(["venues.upbit.spot.level: 1e-9 is not a number 0–1000000000000 with at most 8 decimals"]);
    expect(problemsOf('[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\nlevel = "10000"\n')).toEqual(['venues.upbit.spot.level: "10000" is not a number 0–1000000000000 with at most 8 decimals']);
    expect(problemsOf('[venues.upbit.spot]\nsymbols = ["KRW-BTC", "BTC-ETH", "USDT-BTC@5"]\nlevel = 10000\n')).toEqual([
      "venues.upbit.spot.level: 10000 is not 0 while the market has codes outside KRW (BTC-ETH, USDT-BTC): Upbit groups KRW books only and sends no data for others asked with a level",
    ]);
  });
});

describe("venue-specific keys elsewhere", () => {
  test("other venues know neither key (Bithumb shares Upbit's adapter but not level)", () => {
    expect(problemsOf('[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\nlevel = 10000\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\ninterval = "100ms"\n')).toEqual([
      "venues.bithumb.spot.level: unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)",
      "venues.bybit.linear.interval: unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)",
    ]);
    expect(options('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n')).toEqual([["bybit.linear", undefined]]);
  });

  test("check-config prints them (defaults included) and reading its output gives the same configuration", () => {
    const c = parseConfigText('[venues.deribit.option]\nsymbols = ["BTC-27MAR26-70000-C"]\ninterval = "agg2"\n[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL"]\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\nlevel = 100000\n');
    const text = formatConfigToml(c);
    expect(text).toContain('interval = "agg2"');
    expect(text).toContain('interval = "100ms"');
    expect(text).toContain("level = 100000");
    expect(parseConfigText(text, "again.toml").venues).toEqual(c.venues);
  });
});
