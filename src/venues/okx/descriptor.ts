/**
 * OKX v5 as the registry sees it (../registry.ts): markets (SPOT → spot; SWAP/FUTURES → linear or inverse by
 * `ctType`; OPTION → option), depths 400 (`books`), 5 (`books5`), 1 (`bbo-tbt`), one public URL for all.
 * @module
 */
import type { MarketSpec, VenueSpec } from "../registry.ts";
import { OkxAdapter, type OkxAdapterOptions } from "./adapter.ts";
import { BOOKS_KEEPALIVE_MS, OKX_DEFAULT_DEPTH, OKX_DEPTHS } from "./protocol.ts";
import { defaultStaleAfterMs } from "./staleness.ts";

const STALE_MIN_MS = 1_000;
/** `books` is silent for up to ~60 s before its keepalive: a shorter stale time would resync healthy books. */
const STALE_MIN_BOOKS_MS = BOOKS_KEEPALIVE_MS + 5_000;

const market: MarketSpec = {
  depths: OKX_DEPTHS,
  defaultDepth: OKX_DEFAULT_DEPTH,
  staleAfterMs: (depth) => defaultStaleAfterMs(depth),
  staleFloor: (depth) => (depth === 400 ? { ms: STALE_MIN_BOOKS_MS, why: "for depth 400 (books sends its keepalive after ~60 s without change)" } : { ms: STALE_MIN_MS }),
  // instIds are BASE-QUOTE, then the contract's parts: BTC-USDT, BTC-USDT-SWAP, BTC-USD-261225-100000-C; USD-margined
  // contracts (instFamily BTC-USD_UM) carry an underscore: BTC-USD_UM-SWAP.
  symbolShape: { pattern: /^[A-Z0-9]+-[A-Z0-9]+(_[A-Z0-9]+)?(-[A-Z0-9.]+)*$/, expected: "an OKX instId BASE-QUOTE[-…], e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-261225-100000-C" },
};

/** A frame's `arg`: its channel and instId. */
const OKX_ARG_RE = /"arg"\s*:\s*\{\s*"channel"\s*:\s*"([^"\\]{1,100})"\s*,\s*"instId"\s*:\s*"([^"\\]{1,100})"/;

export const OKX_VENUE: VenueSpec = {
  venue: "okx",
  wsUrl: "wss://ws.okx.com:8443/ws/v5/public",
  restUrl: "https://www.okx.com",
  marketWsUrl: (base) => base,
  markets: { spot: market, linear: market, inverse: market, option: market },
  keepalive: "client_ping",
  resync: "resubscribe",
  sequenceScope: "topic",
  // Reloads its instruments while running; bridges a REST snapshot to buffered updates.
  venueKeys: ["instrument_reload_ms", "rest_bridge_buffer_bytes"],
  rawTopic: (head) => {
    const m = OKX_ARG_RE.exec(head); // a push or its ack: channel:instId
    return m === null ? null : m[1] + ":" + m[2];
  },
  create: (config, subs, opts) => new OkxAdapter(config, subs, opts as OkxAdapterOptions),
};
