/**
 * Coinbase Advanced Trade as the registry sees it (../registry.ts): spot only, level2 is the full book (depth 0),
 * one URL for every product, liveness from the heartbeats channel, the sequence per connection.
 * @module
 */
import type { VenueSpec } from "../registry.ts";
import { fieldOf } from "../common/raw-topic.ts";
import { CoinbaseAdapter, type CoinbaseAdapterOptions, defaultStaleAfterMs } from "./adapter.ts";
import { COINBASE_REST_URL, COINBASE_WS_URL, DEFAULT_PRODUCTS_PER_CONNECTION, refusedProduct } from "./protocol.ts";

/** Below 1 s a quiet but healthy book would flap. */
const STALE_MIN_MS = 1_000;
/** Product ids are BASE-QUOTE (BTC-USD). */
const PRODUCT_ID = { pattern: /^[A-Z0-9]+-[A-Z0-9]+$/, expected: "a product id BASE-QUOTE, e.g. BTC-USD" };

export const COINBASE_VENUE: VenueSpec = {
  venue: "coinbase",
  wsUrl: COINBASE_WS_URL,
  restUrl: COINBASE_REST_URL,
  marketWsUrl: (base) => base,
  markets: {
    spot: {
      depths: [0],
      defaultDepth: 0,
      // 60 s; a LIVE book whose socket took a heartbeat in each of these periods of its silence is quiet, not stale,
      // up to QUIET_MAX_STALE_TIMES of them (adapter.ts quiet; docs/venues/coinbase.md, Staleness).
      staleAfterMs: () => defaultStaleAfterMs(),
      staleFloor: () => ({ ms: STALE_MIN_MS }),
      symbolShape: PRODUCT_ID,
      refusedSymbol: refusedProduct,
      defaultSymbolsPerConnection: DEFAULT_PRODUCTS_PER_CONNECTION,
    },
  },
  keepalive: "heartbeat_channel",
  resync: "reconnect",
  sequenceScope: "connection",
  rawTopic: fieldOf(/"product_id"\s*:\s*"([^"\\]{1,200})"/), // its channel (l2_data) is every book's
  create: (config, subs, opts) => new CoinbaseAdapter(config, subs, opts as CoinbaseAdapterOptions),
};
