/**
 * Deribit as the registry sees it (../registry.ts): markets, depths, endpoints, stale defaults, protocol kinds.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { MarketOptionSpec, MarketSpec, VenueSpec } from "../registry.ts";
import { DeribitAdapter, defaultStaleAfterMs, type DeribitAdapterOptions } from "./adapter.ts";
import { DEFAULT_INTERVAL, DERIBIT_DEPTHS, ERR_RAW_NEEDS_AUTH } from "./protocol.ts";

/** Below 1 s any book flaps. */
const STALE_MIN_MS = 1_000;

/**
 * `interval`: how often Deribit sends the market's books [D6]: `100ms` (the default) or `agg2` (aggregated, about
 * once a second: fewer messages for wide option chains). `raw` is refused: it needs an authorised connection [D4].
 */
export const DERIBIT_INTERVAL_OPTION: MarketOptionSpec = {
  kind: "string",
  values: [DEFAULT_INTERVAL, "agg2"],
  default: DEFAULT_INTERVAL,
  refused: { raw: `needs an authorised connection (Deribit error ${ERR_RAW_NEEDS_AUTH}), which feeder does not make` },
};

function market(m: MarketName): MarketSpec {
  return {
    depths: DERIBIT_DEPTHS,
    defaultDepth: 0,
    staleAfterMs: (depth) => defaultStaleAfterMs(depth, m),
    staleFloor: () => ({ ms: STALE_MIN_MS }),
    options: { interval: DERIBIT_INTERVAL_OPTION },
  };
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
