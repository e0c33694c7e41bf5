/**
 * Deribit as the registry sees it (../registry.ts): markets, depths, endpoints, stale defaults, protocol kinds.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { DeribitAdapter, defaultStaleAfterMs, type DeribitAdapterOptions } from "./adapter.ts";
import { DERIBIT_DEPTHS } from "./protocol.ts";

/** Below 1 s any book flaps. */
const STALE_MIN_MS = 1_000;

function market(m: MarketName): MarketSpec {
  return { depths: DERIBIT_DEPTHS, defaultDepth: 0, staleAfterMs: (depth) => defaultStaleAfterMs(depth, m), staleFloor: () => ({ ms: STALE_MIN_MS }) };
}

export const DERIBIT_VENUE: VenueSpec = {
  venue: "deribit",
  wsUrl: "wss://www.deribit.com/ws/api/v2",
  restUrl: "https://www.deribit.com",
  // One endpoint for every market.
  marketWsUrl: (base) => base,
  markets: { spot: market("spot"), linear: market("linear"), inverse: market("inverse"), option: market("option") },
  keepalive: "server_test",
  resync: "resubscribe",
  sequenceScope: "topic",
  create: (config, subs, opts) => new DeribitAdapter(config, subs, opts as DeribitAdapterOptions),
};
