/**
 * `symbols_per_connection` on a venue that does not read it. Only Coinbase's adapter bounds the books on one
 * connection by it (its sequence_num counts per connection); on Bybit, OKX and the rest the key was accepted,
 * printed back by check-config as if in effect, and ignored: an operator who set it to spread a venue's books over
 * more connections got one silent no-op. It is now an unknown key there, as `instrument_reload_ms` is on venues
 * that do not reload their instruments.
 */
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

describe("symbols_per_connection", () => {
  test("is refused on a venue that does not read it, naming the keys that market takes", () => {
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nsymbols_per_connection = 10\n')).toEqual([
      "venues.bybit.linear.symbols_per_connection: unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)",
    ]);
    expect(problemsOf('[venues.okx.spot]\nsymbols = ["BTC-USDT"]\nsymbols_per_connection = 10\n')).toEqual([
      "venues.okx.spot.symbols_per_connection: unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)",
    ]);
  });

  test("is taken on Coinbase", () => {
    expect(problemsOf('[venues.coinbase.spot]\nsymbols = ["BTC-USD"]\nsymbols_per_connection = 10\n')).toEqual([]);
  });
});
