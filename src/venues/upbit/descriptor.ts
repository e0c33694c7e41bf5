/**
 * Upbit as the registry sees it (../registry.ts): KRW, BTC and USDT markets are one `spot` market of codes
 * QUOTE-BASE; depths 1/5/15/30; snapshot-only (`next_full_book`); text `PING` keepalive.
 * @module
 */
import type { MarketOptionSpec, MarketSpec, VenueSpec } from "../registry.ts";
import { fieldOf } from "../common/raw-topic.ts";
import { UpbitAdapter, type UpbitAdapterOptions } from "./adapter.ts";
import { LEVEL_DECIMALS, LEVEL_MAX, levelProblem, STALE_AFTER_MS, STALE_MIN_MS, UPBIT_DEFAULT_DEPTH, UPBIT_DEPTHS, UPBIT_DIALECT } from "./protocol.ts";

/** A frame's `code` (`cd` in the short format): Upbit's and Bithumb's raw topic. */
export const UPBIT_CODE_FIELD = fieldOf(/"(?:code|cd)"\s*:\s*"([^"\\]{1,200})"/);

export const UPBIT_SPOT: MarketSpec = {
  depths: UPBIT_DEPTHS,
  defaultDepth: UPBIT_DEFAULT_DEPTH,
  staleAfterMs: () => STALE_AFTER_MS,
  staleFloor: () => ({ ms: STALE_MIN_MS }),
  // Codes are QUOTE-BASE [U§2]; BASE-QUOTE (BTC-KRW) is the usual slip.
  symbolShape: { pattern: /^(KRW|BTC|USDT)-(?!KRW$)[A-Z0-9]+$/, expected: "a code QUOTE-BASE with quote KRW, BTC or USDT, e.g. KRW-BTC, BTC-ETH" },
};

/** `venues.upbit.spot.level`: grouped books (KRW price units); 0, the default, is Upbit's ungrouped book [U§2]. */
export const UPBIT_LEVEL_OPTION: MarketOptionSpec = { kind: "number", min: 0, max: LEVEL_MAX, decimals: LEVEL_DECIMALS, default: 0, check: levelProblem };

export const UPBIT_VENUE: VenueSpec = {
  venue: "upbit",
  wsUrl: "wss://api.upbit.com/websocket/v1",
  restUrl: "https://api.upbit.com",
  marketWsUrl: (base) => base,
  // Bithumb reuses UPBIT_SPOT without `level` (its v1 feed's grouping is not documented).
  markets: { spot: { ...UPBIT_SPOT, options: { level: UPBIT_LEVEL_OPTION } } },
  keepalive: "client_ping",
  resync: "next_full_book",
  sequenceScope: "topic",
  rawTopic: UPBIT_CODE_FIELD,
  create: (config, subs, opts) => new UpbitAdapter(config, subs, UPBIT_DIALECT, opts as UpbitAdapterOptions),
};
