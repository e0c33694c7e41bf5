/** The venue part of the config, read from the registry: per-market endpoints, further depths, stale floors. */
import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { supportedVenues } from "../../src/venues/registry.ts";

function problemsOf(toml: string): string[] {
  try {
    parseConfigText(toml, "test.toml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("venue keys", () => {
  test("a market's own ws_url and rest_url are kept; absent ones stay absent (the venue's rule applies)", () => {
    const c = parseConfigText(
      '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nws_url = "ws://127.0.0.1:9/linear-feed"\nrest_url = "http://127.0.0.1:9"\n[venues.bybit.spot]\nsymbols = ["BTCUSDT"]\n',
    );
    const linear = c.venues[0]!.markets.find((m) => m.market === "linear")!;
    const spot = c.venues[0]!.markets.find((m) => m.market === "spot")!;
    expect(linear).toMatchObject({ market: "linear", wsUrl: "ws://127.0.0.1:9/linear-feed", restUrl: "http://127.0.0.1:9" });
    expect(spot!.wsUrl).toBeUndefined();
    expect(spot!.restUrl).toBeUndefined();
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nws_url = "http://x"\nrest_url = "ftp://x"\n')).toEqual([
      'venues.bybit.linear.ws_url: "http://x" is not a ws:// or wss:// URL',
      'venues.bybit.linear.rest_url: "ftp://x" is not an http:// or https:// URL',
    ]);
  });

  test("SYMBOL@depth adds a further depth the market accepts, other than the market's own", () => {
    const c = parseConfigText('[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\n');
    expect(c.venues[0]!.markets[0]!.symbols).toEqual(["BTCUSDT", "BTCUSDT@1"]);
    expect(problemsOf('[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT@500", "ETHUSDT@200", "XRPUSDT@"]\n')).toEqual([
      'venues.bybit.linear.symbols[0]: "BTCUSDT@500" is not a further depth that is one of 1, 50, 200, 1000',
      'venues.bybit.linear.symbols[1]: "ETHUSDT@200" is not a depth other than the market\'s (200): list the symbol without @',
      'venues.bybit.linear.symbols[2]: "XRPUSDT@" is not an upper-case venue symbol such as BTCUSDT or BTC-27MAR26-70000-P, optionally with @depth for a further depth (BTCUSDT@1)',
    ]);
  });

  test("the stale floor is the smallest configured depth's: a depth-1 further depth raises it to 6000", () => {
    expect(problemsOf('[venues.bybit.linear]\ndepth = 50\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\nstale_after_ms = 4000\n')).toEqual([
      "venues.bybit.linear.stale_after_ms: 4000 is not 0 (the default) or at least 6000 for depth 1 (it re-pushes every 3 s)",
    ]);
    expect(parseConfigText('[venues.bybit.linear]\ndepth = 50\nsymbols = ["BTCUSDT"]\nstale_after_ms = 4000\n').venues[0]!.markets[0]!.staleAfterMs).toBe(4000);
  });

  test("a venue without an adapter is named with the ones that have one (from the registry)", () => {
    expect(problemsOf('[venues.kraken.spot]\nsymbols = ["XBTUSD"]\n')).toEqual([`venues.kraken: (table) is not a supported venue: ${supportedVenues().join(", ")}`]);
    expect(supportedVenues()).toContain("bybit");
  });
});
