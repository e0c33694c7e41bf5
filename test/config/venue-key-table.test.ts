/**
 * Which venue takes which of the keys only some venues read (venue-level `instrument_reload_ms` and
 * `rest_bridge_buffer_bytes`, a market's `symbols_per_connection`), and what it makes of each value: every venue ×
 * each key, against venue-key-table.json, written from config/load.ts while it still checked them by venue name
 * (s-loadfold moved the checks to descriptor fields: the table pins that nothing a config says changed). Regenerate
 * only for a deliberate change: WRITE_VENUE_KEY_TABLE=1 with this file, locally (under CI, CI set, it throws instead of
 * writing).
 */
import { writeFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { VENUES, type VenueSpec } from "../../src/venues/registry.ts";
import EXPECTED from "./venue-key-table.json";

/** A symbol each market of each venue takes. */
const SYMBOLS: Record<string, Record<string, string>> = {
  bybit: { spot: "BTCUSDT", linear: "BTCUSDT", inverse: "BTCUSD", option: "BTC-27DEC24-100000-C" },
  binance: { spot: "BTCUSDT", linear: "BTCUSDT" },
  okx: { spot: "BTC-USDT", linear: "BTC-USDT-SWAP", inverse: "BTC-USD-SWAP", option: "BTC-USD-261225-100000-C" },
  deribit: { spot: "BTC_USDC", linear: "BTC_USDC-PERPETUAL", inverse: "BTC-PERPETUAL", option: "BTC-27MAR26-70000-C" },
  coinbase: { spot: "BTC-USD" },
  upbit: { spot: "KRW-BTC" },
  bithumb: { spot: "KRW-BTC" },
};

/** Absent (null), in bounds, at and past each bound, and of the wrong type. */
const VENUE_VALUES: Record<string, readonly (number | string | null)[]> = {
  instrument_reload_ms: [null, 0, 60_000, 604_800_000, 59_999, 604_800_001, "1h"],
  rest_bridge_buffer_bytes: [null, 1_048_576, 17_179_869_184, 1_048_575, 17_179_869_185, 2.5],
  // Names the keys the table takes, in their order.
  not_a_key: [1],
};
const MARKET_VALUES: readonly (number | string | null)[] = [null, 1, 1000, 0, 1001, "10"];

interface Row {
  venue: string;
  market: string;
  key: string;
  value: number | string | null;
  /** The problems named, or the value the loaded config holds for the key (null: none). */
  problems: string[];
  loaded: number | null;
}

function toml(venue: string, market: string, key: string, value: number | string | null, marketKey: boolean): string {
  const line = value === null ? "" : `${key} = ${JSON.stringify(value)}\n`;
  return `${marketKey ? "" : `[venues.${venue}]\n${line}`}[venues.${venue}.${market}]\nsymbols = ["${SYMBOLS[venue]![market]}"]\n${marketKey ? line : ""}`;
}

function rowOf(venue: string, market: string, key: string, value: number | string | null, marketKey: boolean): Row {
  try {
    const vc = parseConfigText(toml(venue, market, key, value, marketKey), "test.toml").venues[0]!;
    const held = key === "instrument_reload_ms" ? vc.instrumentReloadMs : key === "rest_bridge_buffer_bytes" ? vc.restBridgeBufferBytes : key === "symbols_per_connection" ? vc.markets[0]!.symbolsPerConnection : undefined;
    return { venue, market, key, value, problems: [], loaded: held ?? null };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { venue, market, key, value, problems: [...err.problems], loaded: null };
  }
}

function table(): Row[] {
  const rows: Row[] = [];
  for (const [venue, markets] of Object.entries(SYMBOLS)) {
    const first = Object.keys(markets)[0]!;
    for (const [key, values] of Object.entries(VENUE_VALUES)) for (const value of values) rows.push(rowOf(venue, first, key, value, false));
    for (const market of Object.keys(markets)) {
      for (const value of MARKET_VALUES) rows.push(rowOf(venue, market, "symbols_per_connection", value, true));
      rows.push(rowOf(venue, market, "not_a_key", 1, true));
    }
  }
  return rows;
}

describe("keys only some venues take", () => {
  // The table is SYMBOLS' venues and markets: a venue added to the registry without a row here was never checked.
  test("SYMBOLS names every venue of the registry and each of its markets", () => {
    const registry = VENUES as Record<string, VenueSpec>;
    expect(Object.keys(SYMBOLS).sort()).toEqual(Object.keys(registry).sort());
    for (const [venue, spec] of Object.entries(registry)) expect(Object.keys(SYMBOLS[venue] ?? {}).sort(), venue).toEqual(Object.keys(spec.markets).sort());
  });

  test("every venue × each key reads as before: taken with the same value, or refused with the same words", () => {
    const rows = table();
    // Never under CI: a run there must compare with the committed table, not write what the code now says.
    if (process.env.WRITE_VENUE_KEY_TABLE === "1") {
      if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") throw new Error("WRITE_VENUE_KEY_TABLE=1 under CI: regenerate the table locally, for a deliberate change, and commit it");
      writeFileSync(new URL("./venue-key-table.json", import.meta.url), JSON.stringify(rows, null, 1) + "\n");
    }
    expect(rows).toEqual(EXPECTED);
  });
});

/** `venue`'s descriptor replaced by `edit(descriptor)` while `run` runs: what load.ts takes is the descriptor's say. */
function withDescriptor<T>(venue: "bybit" | "okx", edit: (spec: VenueSpec) => VenueSpec, run: () => T): T {
  const venues = VENUES as Record<string, VenueSpec>;
  const spec = venues[venue]!;
  venues[venue] = edit(spec);
  try {
    return run();
  } finally {
    venues[venue] = spec;
  }
}

// Until s-loadfold config/load.ts took these keys by venue name ("okx" or "binance", "coinbase"): a new venue whose
// adapter read one had to edit config/, and its descriptor could not say so.
describe("the descriptor says which of them a venue takes", () => {
  test("VenueSpec.venueKeys: a key listed is taken with its bounds, one not listed is unknown", () => {
    const bybitReloading = (spec: VenueSpec): VenueSpec => ({ ...spec, venueKeys: ["instrument_reload_ms"] });
    const base = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
    withDescriptor("bybit", bybitReloading, () => {
      expect(parseConfigText(`[venues.bybit]\ninstrument_reload_ms = 60000\n${base}`).venues[0]!.instrumentReloadMs).toBe(60_000);
      expect(parseConfigText(base).venues[0]!.instrumentReloadMs).toBe(3_600_000);
      expect(configProblemsOf(`[venues.bybit]\ninstrument_reload_ms = 59999\nrest_bridge_buffer_bytes = 1048576\n${base}`)).toEqual([
        "venues.bybit.rest_bridge_buffer_bytes: unknown key (expected one of ws_url, rest_url, instrument_cache, overrides, dead_connection_ms, instrument_reload_ms, spot, linear, inverse, option)",
        "venues.bybit.instrument_reload_ms: 59999 is not 0 (never) or 60000 to 604800000",
      ]);
    });
    withDescriptor("okx", (spec) => ({ ...spec, venueKeys: undefined }), () => {
      expect(configProblemsOf('[venues.okx]\ninstrument_reload_ms = 60000\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n')).toEqual([
        "venues.okx.instrument_reload_ms: unknown key (expected one of ws_url, rest_url, instrument_cache, overrides, dead_connection_ms, spot, linear, inverse, option)",
      ]);
    });
  });

  test("MarketSpec.defaultSymbolsPerConnection: the markets that have it take symbols_per_connection, the others do not", () => {
    const linearPerConnection = (spec: VenueSpec): VenueSpec => ({ ...spec, markets: { ...spec.markets, linear: { ...spec.markets.linear!, defaultSymbolsPerConnection: 5 } } });
    withDescriptor("bybit", linearPerConnection, () => {
      expect(parseConfigText('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nsymbols_per_connection = 7\n').venues[0]!.markets[0]!.symbolsPerConnection).toBe(7);
      expect(configProblemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nsymbols_per_connection = 0\n[venues.bybit.spot]\nsymbols = ["BTCUSDT"]\nsymbols_per_connection = 7\n')).toEqual([
        "venues.bybit.spot.symbols_per_connection: unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)",
        "venues.bybit.linear.symbols_per_connection: 0 is not an integer 1–1000",
      ]);
    });
  });
});

function configProblemsOf(toml: string): string[] {
  try {
    parseConfigText(toml, "test.toml");
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}
