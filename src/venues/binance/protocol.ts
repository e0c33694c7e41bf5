/**
 * Binance spot and USD-M futures public WebSocket and REST facts used by the adapter and the simulator. Every
 * number cites its upstream source in docs/venues/binance.md (section names in brackets).
 * Markets: `spot` is Binance spot (`/api/v3`), `linear` is USD-M futures (`/fapi/v1`).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { TopicState } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";

/** The markets Binance has here. */
export const BINANCE_MARKETS = ["spot", "linear"] as const;

/**
 * The subscription depth is the REST snapshot's `limit` (the diff stream itself is the whole book's changes).
 * Spot: any 1…5000, listed here at the weight steps [REST depth]; USD-M: 5, 10, 20, 50, 100, 500, 1000 [USD-M REST].
 */
export const BINANCE_DEPTHS: Readonly<Record<"spot" | "linear", readonly number[]>> = {
  spot: [5, 10, 20, 50, 100, 500, 1000, 5000],
  linear: [5, 10, 20, 50, 100, 500, 1000],
};
export const DEFAULT_DEPTH = 1000;

/** Spot `GET /api/v3/depth` weight by limit: ≤100 → 5, ≤500 → 25, ≤1000 → 50, ≤5000 → 250 [REST depth]. */
export function spotDepthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

/**
 * USD-M `GET /fapi/v1/depth` weight by limit (5–50 → 2, 100 → 5, 500 → 10, 1000 → 20); 1000 → 20 is what
 * tardis-node budgets [USD-M REST]. The response header X-MBX-USED-WEIGHT-1M is read as well.
 */
export function futuresDepthWeight(limit: number): number {
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

/** Request weight per minute per IP, until exchangeInfo's `rateLimits` says otherwise: spot 6000, USD-M 2400 [REST limits]. */
export const SPOT_REST_WEIGHT_PER_MINUTE = 6000;
export const FUTURES_REST_WEIGHT_PER_MINUTE = 2400;
/**
 * An exchangeInfo limit above this many times the documented one is refused (warned, the limit kept): 1e15 or
 * 2^53 − 1 is a whole number yet as unbounded a budget as Infinity was, every queued snapshot at once into a 429 / 418.
 */
export const MAX_REST_WEIGHT_LIMIT_FACTOR = 10;
export const REST_WINDOW_MS = 60_000;
/** Our margin below the per-IP weight: other processes on the host use REST too. */
export const REST_WEIGHT_MARGIN = 0.8;

/** exchangeInfo weight: spot 20, USD-M 1 [REST limits]. */
export const EXCHANGE_INFO_WEIGHT = 20;

/** 1024 streams per connection [limits]; we plan 200 (as nautilus does), so a reconnect's snapshots stay small. */
export const MAX_STREAMS_PER_CONNECTION = 1024;
export const PLANNED_STREAMS_PER_CONNECTION = 200;
/** Streams per SUBSCRIBE message (no documented cap; a small request limits the damage of one bad stream). */
export const STREAMS_PER_REQUEST = 50;

/**
 * Incoming messages per second per connection, pongs included: spot 5, USD-M 10 [limits]. We pace our own
 * requests with a token bucket of 2 refilled at 2 per second: at most 4 in any sliding second, which leaves room
 * for the pong Bun sends on its own to the server's ping.
 */
export const MESSAGES_PER_SECOND = 2;
export const MESSAGE_BURST = 2;

/**
 * 300 connection attempts per 5 minutes per IP (spot) [limits]; we keep a margin. Per market: spot and USD-M are
 * different hosts (stream.binance.com, fstream.binance.com), each with its own budget and hold after a refused
 * handshake (ConnectionLifecycle connectsPerMarket); USD-M documents no connect limit, so it gets spot's.
 */
export const CONNECTS_PER_WINDOW = 250;
export const CONNECT_WINDOW_MS = 300_000;

/** A connection lives at most 24 h [limits]; we replace it make-before-break a little earlier. */
export const CONNECTION_LIFETIME_MS = 24 * 3600_000;
export const MAX_CONNECTION_AGE_MS = CONNECTION_LIFETIME_MS - 10 * 60_000;

/** Server WebSocket pings: spot every 20 s (pong within 60 s), USD-M every 3 min (pong within 10 min) [keepalive]. */
export const SPOT_SERVER_PING_MS = 20_000;
export const FUTURES_SERVER_PING_MS = 180_000;

/** A REST snapshot that takes longer (once the weight budget let it go) is abandoned: the attempt fails, the backoff retries. */
export const REST_TIMEOUT_MS = 10_000;

/** The stream of a symbol's diffs: lower case [streams]; 100 ms pushes. */
export function depthStream(symbol: string): string {
  return symbol.toLowerCase() + "@depth@100ms";
}

/** The default URLs: the spot base serves `/stream`, USD-M is another host with the `/public` route [endpoints]. */
export const SPOT_WS_BASE = "wss://stream.binance.com:9443";
export const FUTURES_WS_URL = "wss://fstream.binance.com/public/stream";
export const SPOT_REST_BASE = "https://api.binance.com";
export const FUTURES_REST_BASE = "https://fapi.binance.com";

/**
 * A market's combined-stream URL from the venue-level `ws_url`: spot `<base>/stream`; USD-M `<base>/public/stream`,
 * except that the default spot base maps to the USD-M host (a simulator serves both on one base).
 */
export function marketWsUrl(base: string, market: MarketName): string {
  const b = base.replace(/\/+$/, "");
  if (market === "spot") return `${b}/stream`;
  return b === SPOT_WS_BASE ? FUTURES_WS_URL : `${b}/public/stream`;
}

/** A market's REST base from the venue-level `rest_url`: USD-M's default is fapi.binance.com. */
export function marketRestBase(base: string, market: MarketName): string {
  const b = base.replace(/\/+$/, "");
  if (market === "spot") return b;
  return b === SPOT_REST_BASE ? FUTURES_REST_BASE : b;
}

/** `/api/v3` (spot) or `/fapi/v1` (USD-M). */
export function apiPrefix(market: MarketName): string {
  return market === "spot" ? "/api/v3" : "/fapi/v1";
}

/**
 * Request ids on the wire are unsigned integers: USD-M (and the other derivatives stream servers) take nothing else
 * ("The `id` used in the JSON payloads is an unsigned INT") and refuse a string id ("request ID must be an unsigned
 * integer"); spot takes an int64 too [subscribe]. Our ids "s12" (subscribe), "u3" (unsubscribe) and "p7" (keepalive
 * probe) go out as the kind's digit then the number: 112, 23, 37 (unique: the number has no leading zero).
 */
const KIND_DIGIT: Readonly<Record<string, string>> = { s: "1", u: "2", p: "3" };
const DIGIT_KIND: Readonly<Record<string, string>> = { "1": "s", "2": "u", "3": "p" };

/** Our request id ("s12") as sent: 112. */
export function wireId(reqId: string): number {
  const digit = KIND_DIGIT[reqId.charAt(0)];
  const n = reqId.slice(1);
  if (digit === undefined || !/^(0|[1-9]\d{0,13})$/.test(n)) throw new Error(`binance: request id ${reqId} has no wire form`);
  return Number(digit + n);
}

/**
 * The request id an answer echoes: 112 → "s12"; a string id (a capture recorded before ids were numbers) as it is.
 * Undefined only for none (null or absent: the request's id could not be read), which answers the oldest pending
 * request; an id we never send (under 10, negative, not an exact integer, "") is kept, so it answers none.
 */
export function reqIdOf(id: unknown): string | undefined {
  if (id === null || id === undefined) return undefined;
  if (typeof id === "string") return id;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 10) return `?${String(id)}`;
  const text = String(id);
  const kind = DIGIT_KIND[text.charAt(0)];
  return kind === undefined ? text : kind + text.slice(1);
}

/**
 * Acks `{"result":null,"id":…}`. Errors as Binance sends them, `{"error":{"code":2,"msg":"Invalid request: …"},"id":…}`
 * (id null or absent when the request could not be read), and as its doc table prints them, bare
 * `{"code":2,"msg":…,"id":…}` [subscribe]; `serverShutdown`, bare or in a combined envelope, announces a close [limits].
 */
export function classifyControl(msg: unknown): ControlFrame {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
  const m = msg as Record<string, unknown>;
  const data = m.data;
  const ev = typeof data === "object" && data !== null ? (data as Record<string, unknown>).e : m.e;
  if (ev === "serverShutdown") return { kind: "planned_close" };
  const reqId = reqIdOf(m.id);
  if (reqId !== undefined && reqId.startsWith("p") && "result" in m) return { kind: "pong" }; // our keepalive probe
  if ("result" in m && "id" in m) {
    return { kind: "ack", op: "", success: true, retMsg: "", reqId, successTopics: undefined, failTopics: undefined };
  }
  const err = typeof m.error === "object" && m.error !== null ? (m.error as Record<string, unknown>) : m;
  if (typeof err.code === "number" && typeof err.msg === "string") {
    return { kind: "ack", op: "", success: false, retMsg: `code ${err.code}: ${err.msg}`, reqId, successTopics: undefined, failTopics: undefined };
  }
  return { kind: "other" };
}

/**
 * Binance names no stream in its errors: a failed batch is split to single streams. Only "invalid stream" (code 2,
 * [subscribe]) says the stream cannot be served: refused alone, it is rejected. Any other error (codes 0–3 about
 * the request, one we do not know) sends the single stream again after a backoff, never given up for it.
 */
export function parseAckError(retMsg: string): AckError {
  return /invalid stream/i.test(retMsg) ? { kind: "refused" } : { kind: "other" };
}

/**
 * Bun answers the server's WebSocket pings itself (test/venues/common/ws-ping.test.ts), which keeps Binance
 * content. Those pings come every 20 s (spot) or 3 min (USD-M), far apart for our dead-connection rule, and a
 * connection of quiet symbols may carry no diff for seconds: so we probe an idle connection with a cheap request
 * whose answer proves the path alive, `GET_PROPERTY combined` → `{"result":true,"id":3…}` [subscribe]. It counts
 * as an incoming message and goes through the same pacing as requests.
 */
export const KEEPALIVE_INTERVAL_MS = 60_000;
export const KEEPALIVE_PONG_TIMEOUT_MS = 10_000;
export const BINANCE_KEEPALIVE: Keepalive = {
  kind: "client_ping",
  intervalMs: KEEPALIVE_INTERVAL_MS,
  pongTimeoutMs: KEEPALIVE_PONG_TIMEOUT_MS,
  encodePing: (seq) => `{"method":"GET_PROPERTY","params":["combined"],"id":${wireId(`p${seq}`)}}`,
};

export const BINANCE_REQUESTS: RequestProtocol = {
  venue: "binance",
  pacing: { perConnection: { capacity: MESSAGE_BURST, perSecond: MESSAGES_PER_SECOND } },
  maxArgsPerRequest: () => STREAMS_PER_REQUEST,
  // Our id ("s12") as an unsigned integer (112): USD-M refuses a string id [subscribe].
  encodeRequest: (op, topics: readonly TopicState[], reqId) =>
    JSON.stringify({ method: op === "subscribe" ? "SUBSCRIBE" : "UNSUBSCRIBE", params: topics.map((t) => t.topic), id: wireId(reqId) }),
  classifyControl,
  parseAckError,
  rejectHint: () => "check that the symbol is listed (exchangeInfo) and TRADING",
};
