/**
 * Coinbase Advanced Trade public WebSocket protocol facts used by the adapter and the simulator. Each constant cites
 * its upstream source, listed with the code that uses it in docs/venues/coinbase.md.
 * @module
 */
import type { TopicState } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";

/** Market data endpoint (websocket-overview); `level2` and `heartbeats` need no JWT (websocket-channels). */
export const COINBASE_WS_URL = "wss://advanced-trade-ws.coinbase.com";
/** Public REST base; products at /api/v3/brokerage/market/products (nautilus coinbase http client). */
export const COINBASE_REST_URL = "https://api.coinbase.com";
export const PRODUCTS_PATH = "/api/v3/brokerage/market/products";
/**
 * Product ids per products request: each adds `product_ids=<id>&` (~20-30 chars) to the URL, and servers refuse
 * request lines past ~8 KB (414); 50 keeps a URL near 1.5 KB. Hundreds of products take a few requests, paced by
 * the REST budget (10 per second).
 */
export const PRODUCTS_PER_REQUEST = 50;

/** The book channel as subscribed, and the channel its messages arrive on (websocket-channels, level2). */
export const LEVEL2_CHANNEL = "level2";
export const L2_DATA_CHANNEL = "l2_data";
export const HEARTBEATS_CHANNEL = "heartbeats";
export const SUBSCRIPTIONS_CHANNEL = "subscriptions";

/** "rate-limited at 8 per second per IP" for connections and for unauthenticated messages (websocket-rate-limits). */
export const CONNECTS_PER_SECOND = 8;
export const MESSAGES_PER_SECOND = 8;
/**
 * Public REST (the products endpoint): 10 requests per second per IP, bursts up to 15 [F11]. A 429 without
 * Retry-After blocks every instrument request for REST_LIMITED_MS (the burst refills in 1.5 s).
 */
export const REST_REQUESTS_PER_SECOND = 10;
export const REST_LIMITED_MS = 2_000;
/** Idle clients are closed unless they subscribe within 5 s (nautilus coinbase adapter notes). */
export const SUBSCRIBE_DEADLINE_MS = 5_000;
/** "Most channels close within 60–90 seconds if no updates are sent" without heartbeats (websocket-channels). */
export const IDLE_CLOSE_MS = 60_000;
/** Heartbeats arrive once a second (heartbeats channel). */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * Products per connection by default. The sequence is per connection, so a gap resyncs every book on it
 * (cryptofeed#291); a modest number bounds that. Configurable (CoinbaseAdapterOptions.maxProductsPerConnection).
 */
export const DEFAULT_PRODUCTS_PER_CONNECTION = 20;
/** Products per subscribe message: no documented cap; one message per batch keeps within 8 messages/s. */
export const MAX_PRODUCTS_PER_REQUEST = 100;

/** A subscriptions event turned into a per-topic ack by the adapter (adapter.ts onSubscriptions). */
export interface CoinbaseAck {
  readonly coinbaseAck: true;
  readonly op: "subscribe" | "unsubscribe";
  readonly reqId: string;
  readonly ok: string[];
  readonly failed: string[];
}

function isCoinbaseAck(m: Record<string, unknown>): m is Record<string, unknown> & CoinbaseAck {
  return m.coinbaseAck === true;
}

/**
 * Control frames: the adapter hands over a subscriptions event already matched to its request (CoinbaseAck); a
 * product missing from the event after a subscribe failed. Everything else (errors, unknown channels) is "other".
 */
export function classifyControl(msg: unknown): ControlFrame {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
  const m = msg as Record<string, unknown>;
  if (isCoinbaseAck(m)) {
    return {
      kind: "ack",
      op: m.op,
      success: true,
      retMsg: "product missing from the subscriptions event",
      reqId: m.reqId,
      successTopics: m.ok,
      failTopics: m.failed,
    };
  }
  return { kind: "other" };
}

/**
 * Never consulted for a refused batch: every ack is a per-product list (classifyControl), so a product missing from a
 * subscriptions event is rejected alone; an error frame names no product and answers no request (adapter.ts onControl).
 */
export function parseAckError(_retMsg: string): AckError {
  return { kind: "other" };
}

/** `{"type":"subscribe","product_ids":[…],"channel":"level2"}`: one channel per message (websocket-overview). */
export function encodeChannelRequest(op: "subscribe" | "unsubscribe", channel: string, productIds: readonly string[]): string {
  return JSON.stringify(productIds.length > 0 ? { type: op, product_ids: productIds, channel } : { type: op, channel });
}

/** An error frame: `{"type":"error","message":…}`, or `channel:"error"` (the shape is unverified: accept both). */
export function isErrorFrame(m: Record<string, unknown>): boolean {
  return m.type === "error" || m.channel === "error";
}

/** Liveness is the heartbeats channel plus the common dead-connection rule (nothing received for 7 s). */
export const COINBASE_KEEPALIVE: Keepalive = { kind: "heartbeat_channel" };

/**
 * The level2 requests for ../common/subscription-control.ts. encodeRequest also queues the request id on its
 * connection, so the adapter can match the next subscriptions event (which carries no request id) to it.
 */
export function coinbaseRequests(onEncode: (topics: readonly TopicState[], reqId: string) => void): RequestProtocol {
  return {
    venue: "coinbase",
    pacing: { perIp: { capacity: MESSAGES_PER_SECOND, perSecond: MESSAGES_PER_SECOND } },
    maxArgsPerRequest: () => MAX_PRODUCTS_PER_REQUEST,
    encodeRequest: (op, topics, reqId) => {
      onEncode(topics, reqId);
      return encodeChannelRequest(op, LEVEL2_CHANNEL, topics.map((t) => t.symbol));
    },
    classifyControl,
    parseAckError,
    rejectHint: () => "check the product id (e.g. BTC-USD) and that the product is online",
  };
}
