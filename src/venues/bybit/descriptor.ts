/**
 * Bybit v5 as the registry sees it (../registry.ts): markets, depths, endpoints, stale defaults, protocol kinds.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { TOPIC_FIELD } from "../common/raw-topic.ts";
import { BybitAdapter, type BybitAdapterOptions } from "./adapter.ts";
import { BYBIT_DEPTHS, L1_REPUSH_MS } from "./protocol.ts";
import { defaultStaleAfterMs } from "./staleness.ts";
import { EXPIRY_CODE_BYBIT } from "../common/expiry-code.ts";

/** Below 1 s any book flaps; level 1 re-pushes every 3 s (§4.2), so allow two re-pushes there. */
const STALE_MIN_MS = 1_000;
const STALE_MIN_L1_MS = 2 * L1_REPUSH_MS;

/**
 * Bybit's symbols per category: spot and inverse letters and digits only (BTCUSDT, 1000PEPEUSDT, BTCUSD, the inverse
 * future BTCUSDH25); linear also its dated futures (BTC-27DEC24 USDC-settled, BTCUSDT-27DEC24, BTCUSDT-04APR25: a
 * day below 10 with its leading zero); option BASE-EXPIRY-STRIKE-C|P (BTC-4JAN26-…: no leading zero), USDT-settled
 * ones with -USDT, a decimal strike with a dot (XRP-30OCT26-0.4-P-USDT).
 */
const SHAPES: Record<MarketName, { pattern: RegExp; expected: string }> = {
  spot: { pattern: /^[A-Z0-9]+$/, expected: "a Bybit spot symbol without separators, e.g. BTCUSDT" },
  linear: { pattern: new RegExp(`^[A-Z0-9]+(-${EXPIRY_CODE_BYBIT})?$`), expected: "a Bybit linear symbol, e.g. BTCUSDT, BTCPERP or a dated future BTC-27DEC24, BTCUSDT-27DEC24" },
  inverse: { pattern: /^[A-Z0-9]+$/, expected: "a Bybit inverse symbol without separators, e.g. BTCUSD or a dated future BTCUSDH25" },
  option: { pattern: new RegExp(`^[A-Z0-9]+-${EXPIRY_CODE_BYBIT}-\\d+(\\.\\d+)?-[CP](-[A-Z0-9]+)?$`), expected: "a Bybit option symbol BASE-EXPIRY-STRIKE-C|P, e.g. BTC-27DEC24-100000-C, BTC-27DEC24-100000-C-USDT" },
};

function market(m: MarketName, defaultDepth: number): MarketSpec {
  return {
    symbolShape: SHAPES[m],
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
  rawTopic: TOPIC_FIELD,
  create: (config, subs, opts) => new BybitAdapter(config, subs, opts as BybitAdapterOptions),
};
