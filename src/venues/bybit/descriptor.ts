/**
 * Bybit v5 as the registry sees it (../registry.ts): markets, depths, endpoints, stale defaults, protocol kinds.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { BybitAdapter, type BybitAdapterOptions } from "./adapter.ts";
import { BYBIT_DEPTHS, L1_REPUSH_MS } from "./protocol.ts";
import { defaultStaleAfterMs } from "./staleness.ts";

/** Below 1 s any book flaps; level 1 re-pushes every 3 s (§4.2), so allow two re-pushes there. */
const STALE_MIN_MS = 1_000;
const STALE_MIN_L1_MS = 2 * L1_REPUSH_MS;

function market(m: MarketName, defaultDepth: number): MarketSpec {
  return {
    depths: BYBIT_DEPTHS[m],
    defaultDepth,
    staleAfterMs: (depth) => defaultStaleAfterMs(depth, m),
    staleFloor: (depth) => (depth === 1 ? { ms: STALE_MIN_L1_MS, why: "for depth 1 (it re-pushes every 3 s)" } : { ms: STALE_MIN_MS }),
  };
}

export const BYBIT_VENUE: VenueSpec = {
  venue: "bybit",
  wsUrl: "wss://stream.bybit.com/v5/public",
  restUrl: "https://api.bybit.com",
  marketWsUrl: (base, m) => `${base.replace(/\/+$/, "")}/${m}`,
  markets: { spot: market("spot", 50), linear: market("linear", 50), inverse: market("inverse", 50), option: market("option", 25) },
  keepalive: "client_ping",
  resync: "resubscribe",
  sequenceScope: "topic",
  create: (config, subs, opts) => new BybitAdapter(config, subs, opts as BybitAdapterOptions),
};
