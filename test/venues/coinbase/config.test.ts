/** The registry entry as the config loader sees it: spot only, depth 0 (the full book) the default and only depth. */
import { describe, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";

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
});
