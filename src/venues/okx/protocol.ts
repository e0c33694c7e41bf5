/**
 * OKX v5 public WebSocket: channels per depth, limits, keepalive, and the request side (subscribe requests, acks,
 * errors, the 64008 notice) for ../common/subscription-control.ts. Every constant cites docs/venues/okx.md, which
 * gives its upstream source. Cold code.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { TopicState } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";

/** Config depth → public channel ("Order book channel"): 400 `books` (snapshot, then 100 ms increments), 5 `books5`, 1 `bbo-tbt`. */
export const OKX_DEPTHS: readonly number[] = [400, 5, 1];
export const OKX_DEFAULT_DEPTH = 400;

export function channelOf(depth: number): string {
  return depth === 5 ? "books5" : depth === 1 ? "bbo-tbt" : "books";
}

/** books5 and bbo-tbt push a full book every time (no prevSeqId, no action): applied as a replace. */
export function isSnapshotOnly(depth: number): boolean {
  return depth === 5 || depth === 1;
}

/** The topic name acks and pushes carry: `channel:instId` (one connection carries many channels). */
export function topicName(channel: string, instId: string): string {
  return channel + ":" + instId;
}

/** "Connect": N < 30 s of silence → text `ping`; `pong` within N or reconnect. 20 s keeps a margin. */
export const PING_INTERVAL_MS = 20_000;
export const PONG_TIMEOUT_MS = 20_000;
/** "Connect": connection requests, 3 per second per IP. */
export const CONNECTS_PER_WINDOW = 3;
export const CONNECT_WINDOW_MS = 1_000;
/** "Connect": fewer than 30 channels per connection for many 400/50-depth subscriptions. */
export const MAX_TOPICS_PER_CONNECTION = 29;
/** "Connect": subscribe + unsubscribe + login requests, 480 per hour per connection (resyncs included). */
export const REQUESTS_PER_HOUR = 480;
/** Args per subscribe request: the doc sets no limit; keep request frames small. */
export const MAX_ARGS_PER_REQUEST = 20;
/** Incremental channels send a keepalive (prevSeqId == seqId, empty sides) after ~60 s without change ("Sequence ID"). */
export const BOOKS_KEEPALIVE_MS = 60_000;
/** "Get instruments" and "Get order book" rate limits: 20 requests / 2 s per IP (we spend at most this). */
export const REST_REQUESTS_PER_WINDOW = 20;
export const REST_WINDOW_MS = 2_000;

/** Errors that halt one book ("Error codes"): 60018 names channel and instId; 64003 = VIP-only channel. */
export const ERR_NOT_EXIST = "60018";
export const ERR_VIP_ONLY = "64003";
/**
 * Every code that proves the channel cannot be served to us ([F3] "Error codes", WebSocket public): 60008 the URL
 * serves no such channel, 60011 "Please log in" (a login-only channel; we never log in), 60018 it does not exist,
 * 60028 not supported by this URL, 60029 whitelisted users only, 64003 a fee tier we lack. A topic refused alone with
 * one of them is rejected (HALTED / SUBSCRIBE_REJECTED); any other code (60012 invalid request on a glitch, a 5xxxx
 * "system busy", one we do not know) is sent again after a backoff, never given up.
 */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set(["60008", "60011", ERR_NOT_EXIST, "60028", "60029", ERR_VIP_ONLY]);
/** "Requests too frequent": over the connection's request budget, not a refusal of the channel. */
export const ERR_TOO_FREQUENT = "60014";
/** Notice before a service-upgrade close ("Connect", notice 64008): reconnect make-before-break. */
export const NOTICE_UPGRADE = "64008";

export const OKX_KEEPALIVE: Keepalive = {
  kind: "client_ping",
  intervalMs: PING_INTERVAL_MS,
  pongTimeoutMs: PONG_TIMEOUT_MS,
  encodePing: () => "ping",
};

/** `{"id":"s12","op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}` (id: ≤ 32 alphanumerics, echoed). */
function encodeRequest(op: "subscribe" | "unsubscribe", topics: readonly TopicState[], reqId: string): string {
  const args = topics.map((t) => ({ channel: channelOf(t.depth), instId: t.symbol }));
  return JSON.stringify({ id: reqId, op, args });
}

/**
 * `{"event":"subscribe","arg":{…}}` is one ack per arg (so a per-topic ack); `{"event":"error","code","msg","id"}`
 * fails its request; `{"event":"notice","code":"64008"}` announces a close.
 */
export function classifyControl(msg: unknown): ControlFrame {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
  const m = msg as Record<string, unknown>;
  const reqId = typeof m.id === "string" && m.id !== "" ? m.id : undefined;
  if (m.event === "subscribe" || m.event === "unsubscribe") {
    const arg = m.arg as Record<string, unknown> | undefined;
    const name = arg && typeof arg.channel === "string" && typeof arg.instId === "string" ? topicName(arg.channel, arg.instId) : undefined;
    return { kind: "ack", op: m.event, success: true, retMsg: "", reqId, successTopics: name === undefined ? undefined : [name], failTopics: undefined };
  }
  if (m.event === "error") {
    const code = typeof m.code === "string" || typeof m.code === "number" ? String(m.code) : "";
    return { kind: "ack", op: "", success: false, retMsg: `${code} ${typeof m.msg === "string" ? m.msg : ""}`.trim(), reqId, successTopics: undefined, failTopics: undefined };
  }
  if (m.event === "notice" && String(m.code) === NOTICE_UPGRADE) return { kind: "planned_close" };
  return { kind: "other" };
}

/**
 * "60018 Wrong URL or channel:books,instId:FOO-BAR doesn't exist…" → that topic is rejected alone; another code of
 * PERMANENT_ERRORS → `refused` (a single topic rejected); 60014 → `rate_limited`; anything else → `other` (sent
 * again after a backoff: ../common/subscription-control.ts retryAfterError).
 */
export function parseAckError(retMsg: string): AckError {
  const code = /^\d+/.exec(retMsg)?.[0] ?? "";
  if (code === ERR_NOT_EXIST) {
    const m = /channel:([^,\s]+),\s*instId:([^\s,]+)/.exec(retMsg);
    if (m) return { kind: "handler_not_found", topic: topicName(m[1]!, m[2]!) };
  }
  if (PERMANENT_ERRORS.has(code)) return { kind: "refused" };
  // Over the request budget: sent again after a backoff, nothing rejected.
  if (code === ERR_TOO_FREQUENT) return { kind: "rate_limited" };
  return { kind: "other" };
}

export const OKX_REQUESTS: RequestProtocol = {
  venue: "okx",
  maxArgsPerRequest: (_market: MarketName) => MAX_ARGS_PER_REQUEST,
  encodeRequest,
  classifyControl,
  parseAckError,
  rejectHint: (t) => `OKX public depths: ${OKX_DEPTHS.join(", ")} (books, books5, bbo-tbt); instId ${t.symbol} must be listed and live`,
};
