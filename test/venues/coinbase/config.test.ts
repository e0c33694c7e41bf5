/** The registry entry as the config loader sees it: spot only, depth 0 (the full book) the default and only depth. */
import { describe, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { ConfigError } from "../../../src/core/errors.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, subsOf } from "./helpers.ts";

function raw(spot: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    publish: { destinations: [{ name: "d", group: "239.255.1.1", port: 30001, interface: "127.0.0.1", ttl: 1, channel: 1 }] },
    venues: { coinbase: { spot, ...extra } },
  };
}

describe("coinbase config", () => {
  test("defaults: the documented URLs, depth 0, a per-venue instrument cache", () => {
    const c = validateConfig(raw({ symbols: ["BTC-USD"] }));
    const v = c.venues.find((x) => x.venue === "coinbase")!;
    expect(v.wsUrl).toBe("wss://advanced-trade-ws.coinbase.com");
    expect(v.restUrl).toBe("https://api.coinbase.com");
    expect(v.markets).toEqual([expect.objectContaining({ market: "spot", depth: 0, symbols: ["BTC-USD"] })]);
    expect(v.instrumentCachePath).toBe("var/instruments-coinbase.json");
  });

  test("a depth other than 0 and a market other than spot are refused, naming the key", () => {
    expect(() => validateConfig(raw({ symbols: ["BTC-USD"], depth: 50 }))).toThrow(/venues\.coinbase\.spot\.depth/);
    expect(() => validateConfig(raw({ symbols: ["BTC-USD"] }, { linear: { symbols: ["BTC-USD"] } }))).toThrow(/venues\.coinbase/);
  });

  // Coinbase's public channels serve a -USDC product as the -USD one, events named BTC-USD (websocket-channels): a
  // configured BTC-USDC was an unknown product in every frame, its connection resynced for ever.
  test("a -USDC product other than USDT-USDC and EURC-USDC is refused, naming it and the -USD product to use", () => {
    let problems: readonly string[] = [];
    try {
      validateConfig(raw({ symbols: ["BTC-USD", "BTC-USDC", "USDT-USDC", "EURC-USDC", "SOL-USDC"] }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^venues\.coinbase\.spot\.symbols\[1\]: "BTC-USDC" is not .*-USDC.*: use BTC-USD$/);
    expect(problems[1]).toMatch(/^venues\.coinbase\.spot\.symbols\[4\]: "SOL-USDC" is not .*: use SOL-USD$/);
    expect(() => validateConfig(raw({ symbols: ["USDT-USDC", "EURC-USDC", "ETH-USD"] }))).not.toThrow();
  });

  test("the adapter refuses one at start too (a config not loaded from a file)", () => {
    const sim = { wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9" };
    expect(() => createCoinbaseAdapter(coinbaseConfig(sim, ["ETH-USD", "ETH-USDC"]), subsOf(["ETH-USD", "ETH-USDC"]), { log: silentLogger })).toThrow(/ETH-USDC.*use ETH-USD/);
    expect(() => createCoinbaseAdapter(coinbaseConfig(sim, ["USDT-USDC"]), subsOf(["USDT-USDC"]), { log: silentLogger })).not.toThrow();
  });
});
