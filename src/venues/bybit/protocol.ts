/**
 * Bybit v5 public WebSocket protocol facts used by the adapter and the simulator. Every number cites a section
 * (in brackets) of the protocol brief summarised, with its upstream sources, in docs/venues/bybit.md.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { TopicState } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";

/** Valid `orderbook.{depth}` depths per category [§4.1, OB as of 2026-07-24]; 500 was removed 2025-09-11. */
export const BYBIT_DEPTHS: Readonly<Record<MarketName, readonly number[]>> = {
  spot: [1, 50, 200, 1000],
  linear: [1, 50, 200, 1000],
  inverse: [1, 50, 200, 1000],
  option: [25, 100],
};

/** Push interval in ms per depth [§4.1]: spot's 200 is 200 ms, linear and inverse's 100 ms. */
export function pushIntervalMs(market: MarketName, depth: number): number {
  if (market === "option") return depth === 25 ? 20 : 100;
  if (depth === 1) return 10;
  if (depth === 50) return 20;
  if (depth === 200 && market !== "spot") return 100;
  return 200;
}

/** Level 1 re-pushes an unchanged snapshot (same `u`) every 3 s [§4.2]. */
export const L1_REPUSH_MS = 3_000;

/** Recommended ping interval [§3, CONNECT caution box]. */
export const PING_INTERVAL_MS = 20_000;
/** How long to wait for a pong before treating the connection as dead (pybit uses 10 s [§3]). */
export const PONG_TIMEOUT_MS = 10_000;

/** Args of one public connection may not exceed 21,000 characters [§2.3]. */
export const MAX_ARGS_CHARS_PER_CONNECTION = 21_000;
/** Spot: at most 10 args per subscribe request [§2.3, §6.2]. */
export const SPOT_MAX_ARGS_PER_REQUEST = 10;
/**
 * Other categories have no documented per-request cap [§2.3]; small batches limit the damage of a batch-wide
 * rejection ("already subscribed" poisons the whole batch [§6.3]).
 */
export const DEFAULT_MAX_ARGS_PER_REQUEST = 50;
/** Options: at most 2000 args per connection [§2.3]. */
export const OPTION_MAX_ARGS_PER_CONNECTION = 2_000;

/** REST: 600 requests in any 5 s window per IP; over it Bybit answers 403 "access too frequent": wait ≥ 10 min [§1.2, RATE]. */
export const REST_REQUESTS_PER_WINDOW = 600;
export const REST_WINDOW_MS = 5_000;
export const REST_BLOCKED_MS = 600_000;

/** At most 500 connections per 5 minutes per domain [§2.3]; we keep a margin below it. */
export const CONNECTS_PER_WINDOW = 400;
export const CONNECT_WINDOW_MS = 300_000;

/**
 * Per-topic resync backoff: the first resync goes out at once, each further one waits base · 2^(n-1), capped, with
 * equal jitter, until the book has stayed live for RESYNC_BACKOFF_RESET_MS. A topic that keeps failing (a tick that
 * no longer fits, a book that is always crossed) would otherwise unsubscribe and subscribe in a tight loop.
 */
export const RESYNC_BACKOFF_BASE_MS = 250;
export const RESYNC_BACKOFF_MAX_MS = 30_000;
export const RESYNC_BACKOFF_RESET_MS = 10_000;

export function bookTopic(depth: number, symbol: string): string {
  return "orderbook." + depth + "." + symbol;
}

export function maxArgsPerRequest(market: MarketName): number {
  return market === "spot" ? SPOT_MAX_ARGS_PER_REQUEST : DEFAULT_MAX_ARGS_PER_REQUEST;
}

/**
 * Pongs: spot/linear `{"success":true,"ret_msg":"pong",…,"op":"ping"}`, option `{"args":[…],"op":"pong"}` [§3].
 * Acks: spot/linear `{"success":…,"ret_msg":…,"req_id":…,"op":"subscribe"}`, option
 * `{"success":true,"data":{"failTopics":[],"successTopics":[…]},"type":"COMMAND_RESP"}` [§2.2].
 */
export function classifyControl(msg: unknown): ControlFrame {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
  const m = msg as Record<string, unknown>;
  if (m.op === "pong" || m.ret_msg === "pong" || "pong" in m) return { kind: "pong" };
  if (m.type === "COMMAND_RESP") {
    const data = (m.data ?? {}) as Record<string, unknown>;
    return {
      kind: "ack",
      op: typeof m.op === "string" ? m.op : "",
      success: m.success === true,
      retMsg: typeof m.ret_msg === "string" ? m.ret_msg : "",
      reqId: typeof m.req_id === "string" && m.req_id !== "" ? m.req_id : undefined,
      successTopics: stringList(data.successTopics),
      failTopics: stringList(data.failTopics),
    };
  }
  if (typeof m.success === "boolean") {
    return {
      kind: "ack",
      op: typeof m.op === "string" ? m.op : "",
      success: m.success,
      retMsg: typeof m.ret_msg === "string" ? m.ret_msg : "",
      reqId: typeof m.req_id === "string" && m.req_id !== "" ? m.req_id : undefined,
      successTopics: undefined,
      failTopics: undefined,
    };
  }
  return { kind: "other" };
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * What a failed ack says [§2.4]. Each pattern is a string seen in the wild. Only "handler not found" (the topic does
 * not exist; with or without its name) rejects a topic; anything else refused alone is sent again after a backoff,
 * never given up.
 */
export function parseAckError(retMsg: string): AckError {
  let m = /handler not found,\s*topic:(\S+)/.exec(retMsg);
  if (m) return { kind: "handler_not_found", topic: m[1]! };
  if (/handler not found/.test(retMsg)) return { kind: "refused" }; // its topic unnamed: refused alone, rejected
  m = /already subscribed,\s*topic:(\S+)/.exec(retMsg);
  if (m) return { kind: "already_subscribed", topic: m[1]! };
  if (/args size\s*>/.test(retMsg)) return { kind: "args_size" };
  return { kind: "other" };
}

/** Option symbols look like BTC-27MAR26-70000-P-USDT; the REST query per base coin needs "BTC" [§1.3]. */
export function optionBaseCoin(symbol: string): string {
  const dash = symbol.indexOf("-");
  return dash > 0 ? symbol.slice(0, dash) : symbol;
}

/** Client JSON ping every 20 s [§3]; the pong deadline is 10 s (pybit). Dead connections are caught sooner (common). */
export const BYBIT_KEEPALIVE: Keepalive = {
  kind: "client_ping",
  intervalMs: PING_INTERVAL_MS,
  pongTimeoutMs: PONG_TIMEOUT_MS,
  encodePing: (seq) => `{"req_id":"p${seq}","op":"ping"}`,
};

/** Bybit requests and acks for ../common/subscription-control.ts [§2]. */
export const BYBIT_REQUESTS: RequestProtocol = {
  venue: "bybit",
  maxArgsPerRequest,
  encodeRequest: (op, topics: readonly TopicState[], reqId) => JSON.stringify({ req_id: reqId, op, args: topics.map((t) => t.topic) }),
  classifyControl,
  parseAckError,
  rejectHint: (t) => `valid ${t.market} depths: ${BYBIT_DEPTHS[t.market].join(", ")}; check that the symbol is listed and trading`,
  failTopicsUnexplained: true, // option COMMAND_RESP names no reason (docs/venues/bybit.md)
};
