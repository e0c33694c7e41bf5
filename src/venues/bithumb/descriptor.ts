/**
 * Bithumb's public v1 WebSocket (`wss://ws-api.bithumb.com/websocket/v1`, not the legacy delta feed) as the registry
 * sees it: Upbit-compatible requests and fields, so it runs on the Upbit adapter with Bithumb's dialect
 * (timestamps ms or µs, read from each value; 10 connects/s per IP; no tick endpoint). docs/venues/bithumb.md.
 * @module
 */
import type { VenueSpec } from "../registry.ts";
import { UpbitAdapter, type UpbitAdapterOptions } from "../upbit/adapter.ts";
import { UPBIT_CODE_FIELD, UPBIT_SPOT } from "../upbit/descriptor.ts";
import { BITHUMB_DIALECT } from "../upbit/protocol.ts";

export const BITHUMB_VENUE: VenueSpec = {
  venue: "bithumb",
  wsUrl: "wss://ws-api.bithumb.com/websocket/v1",
  restUrl: "https://api.bithumb.com",
  marketWsUrl: (base) => base,
  markets: { spot: UPBIT_SPOT },
  keepalive: "client_ping",
  resync: "next_full_book",
  sequenceScope: "topic",
  rawTopic: UPBIT_CODE_FIELD,
  create: (config, subs, opts) => new UpbitAdapter(config, subs, BITHUMB_DIALECT, opts as UpbitAdapterOptions),
};
