/**
 * Deribit as the registry sees it (../registry.ts): markets, depths, endpoints, stale defaults, protocol kinds.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { MarketOptionSpec, MarketSpec, VenueSpec } from "../registry.ts";
import { fieldOf } from "../common/raw-topic.ts";
import { DeribitAdapter, defaultStaleAfterMs, type DeribitAdapterOptions } from "./adapter.ts";
import { EXPIRY_CODE } from "../common/expiry-code.ts";
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

/**
 * Deribit's instrument names per market: inverse BTC-PERPETUAL, BTC-27DEC24; linear (USDC/USDT-settled)
 * BTC_USDC-PERPETUAL, BTC_USDC-27DEC24; option BTC-27DEC24-100000-C and linear XRP_USDC-30JUN23-0d625-C (a decimal
 * strike with "d" for the point); spot BTC_USDC. Combos (BTC-FS-27DEC24_PERP) are listed under kinds feeder does not
 * ask for, so they are refused here rather than left out as not listed at start.
 */
const SHAPES: Record<MarketName, { pattern: RegExp; expected: string }> = {
  spot: { pattern: /^[A-Z0-9]+_[A-Z0-9]+$/, expected: "a Deribit spot pair BASE_QUOTE, e.g. BTC_USDC" },
  inverse: { pattern: new RegExp(`^[A-Z0-9]+-(PERPETUAL|${EXPIRY_CODE})$`), expected: "a Deribit inverse future, e.g. BTC-PERPETUAL, BTC-27DEC24 (USDC-settled ones are linear)" },
  linear: { pattern: new RegExp(`^[A-Z0-9]+_[A-Z0-9]+-(PERPETUAL|${EXPIRY_CODE})$`), expected: "a Deribit linear future, e.g. BTC_USDC-PERPETUAL, BTC_USDC-27DEC24 (BTC-PERPETUAL is inverse)" },
  option: { pattern: new RegExp(`^[A-Z0-9]+(_[A-Z0-9]+)?-${EXPIRY_CODE}-\\d+(d\\d+)?-[CP]$`), expected: "a Deribit option BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, XRP_USDC-30JUN23-0d625-C" },
};

function market(m: MarketName): MarketSpec {
  return {
    symbolShape: SHAPES[m],
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
  rawTopic: fieldOf(/"params"\s*:\s*\{\s*"channel"\s*:\s*"([^"\\]{1,200})"/),
  create: (config, subs, opts) => new DeribitAdapter(config, subs, opts as DeribitAdapterOptions),
};
