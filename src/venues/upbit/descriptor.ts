/**
 * Upbit as the registry sees it (../registry.ts): KRW, BTC and USDT markets are one `spot` market of codes
 * QUOTE-BASE; depths 1/5/15/30; snapshot-only (`next_full_book`); text `PING` keepalive.
 * @module
 */
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { UpbitAdapter, type UpbitAdapterOptions } from "./adapter.ts";
import { STALE_AFTER_MS, STALE_MIN_MS, UPBIT_DEFAULT_DEPTH, UPBIT_DEPTHS, UPBIT_DIALECT } from "./protocol.ts";

export const UPBIT_SPOT: MarketSpec = {
  depths: UPBIT_DEPTHS,
  defaultDepth: UPBIT_DEFAULT_DEPTH,
  staleAfterMs: () => STALE_AFTER_MS,
  staleFloor: () => ({ ms: STALE_MIN_MS }),
};

export const UPBIT_VENUE: VenueSpec = {
  venue: "upbit",
  wsUrl: "wss://api.upbit.com/websocket/v1",
  restUrl: "https://api.upbit.com",
  marketWsUrl: (base) => base,
  markets: { spot: UPBIT_SPOT },
  keepalive: "client_ping",
  resync: "next_full_book",
  sequenceScope: "topic",
  create: (config, subs, opts) => new UpbitAdapter(config, subs, UPBIT_DIALECT, opts as UpbitAdapterOptions),
};
