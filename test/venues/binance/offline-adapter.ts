/**
 * A Binance adapter not started (no socket, no REST), one BTCUSDT stream of `market`; its warnings' details go into
 * `warnings`. For tests that feed frames to a connection by hand.
 */
import { join } from "node:path";
import type { Logger } from "../../../src/core/log.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

export function offlineAdapter(market: "spot" | "linear", warnings: string[], tempName: string): BinanceAdapter {
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:9/ws",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir(tempName), "i.json"),
    markets: [{ market, depth: 100, symbols: ["BTCUSDT"] }],
    overrides: new Map(),
  };
  const log: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => void warnings.push(`${msg}: ${String(fields?.detail)}`),
    error() {},
    child: () => log,
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new BinanceAdapter(config, [{ market, symbol: "BTCUSDT", depth: 100 }], { log, fetch: refuse });
}
