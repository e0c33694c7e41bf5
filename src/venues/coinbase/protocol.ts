/**
 * Coinbase Advanced Trade public WebSocket protocol facts used by the adapter and the simulator. Each constant cites
 * its upstream source, listed with the code that uses it in docs/venues/coinbase.md.
 * @module
 */
import type { TopicState, VenueConnection } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";
import { splitBudget, type BudgetSplit } from "../common/budgets.ts";

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

/** The -USDC products the public channels serve as themselves [F13]. */
const OWN_USDC_PRODUCTS: ReadonlySet<string> = new Set(["USDT-USDC", "EURC-USDC"]);

/**
 * Why a product id cannot be subscribed on level2, in a config error's words ("… is not <this>"), or undefined. A
 * -USDC product other than USDT-USDC and EURC-USDC is available as itself only on the user channel; the public
 * channels send the corresponding -USD product's data [F13], its events named that -USD product: every frame would
 * name a product the connection does not carry and resync it for ever.
 */
export function refusedProduct(productId: string): string | undefined {
  if (!productId.endsWith("-USDC") || OWN_USDC_PRODUCTS.has(productId)) return undefined;
  const usd = productId.slice(0, -1);
  return `a product level2 serves as itself (Coinbase's public channels send a -USDC product's data as the -USD product's, named so; only USDT-USDC and EURC-USDC are their own): use ${usd}`;
}

/** The book channel as subscribed, and the channel its messages arrive on (websocket-channels, level2). */
export const LEVEL2_CHANNEL = "level2";
export const L2_DATA_CHANNEL = "l2_data";
export const HEARTBEATS_CHANNEL = "heartbeats";
export const SUBSCRIPTIONS_CHANNEL = "subscriptions";

/** "rate-limited at 8 per second per IP" for connections and for unauthenticated messages (websocket-rate-limits). */
export const CONNECTS_PER_SECOND = 8;
export const MESSAGES_PER_SECOND = 8;
/** What a connection sends as it opens: its level2 subscribe and its heartbeats subscribe (adapter.ts onOpen). */
export const MESSAGES_PER_CONNECT = 2;

/**
 * This process's connect budget: its share of the 8 connects/s, but no faster than each new socket's subscribes fit
 * its share of the 8 messages/s (the same IP's). Connects at 8/s would queue 16 subscribes a second behind 8: from
 * ~40 connections at start a socket idles past the 5 s subscribe deadline and is closed, and no book is live any
 * sooner (the subscribes, not the connects, are the bottleneck). Split as common/budgets.ts splitBudget: below one
 * a second (more than 4 workers), one connect per two of the worker's message slots (the two subscribes it needs),
 * placed SUBSCRIBE_LEAD_MS-ish before one of them: past 32 workers a worker's message slot comes once in more than
 * 5 s, and a connect slot on a grid of its own left a socket waiting up to ~10 s (64 workers) for its first
 * subscribe, closed by Coinbase every time and reconnected in the same slot. The workers' connects then go every
 * 156 ms at most (within the venue's 8 a second; 3.2 a second on average, so their subscribes keep up).
 */
export function connectBudget(
  budgetShare: number | undefined,
  budgetIndex = 0,
  now?: () => number,
): { maxConnectsPerWindow: number; connectWindowMs: number; connectSlot: BudgetSplit } {
  const split = splitBudget(Math.min(CONNECTS_PER_SECOND, MESSAGES_PER_SECOND / MESSAGES_PER_CONNECT), 1_000, budgetShare, budgetIndex, now);
  const messages = splitBudget(MESSAGES_PER_SECOND, 1_000, budgetShare, budgetIndex, now); // SubscriptionControl's
  if (!(split.periodMs > 0) || !(messages.periodMs > 0) || split.periodMs % messages.periodMs !== 0) {
    return { maxConnectsPerWindow: split.count, connectWindowMs: split.windowMs, connectSlot: split };
  }
  // Half a message period before one of its message slots (at most SUBSCRIBE_LEAD_MS): a socket open within that
  // finds the slot at most the lead later; one open later still, at most a message period (< 5 s up to 32 workers) later.
  const leadMs = Math.floor(Math.min(messages.periodMs, 2 * SUBSCRIBE_LEAD_MS) / 2);
  const phaseMs = (((messages.phaseMs - leadMs) % split.periodMs) + split.periodMs) % split.periodMs;
  const slot = { ...split, phaseMs };
  return { maxConnectsPerWindow: slot.count, connectWindowMs: slot.windowMs, connectSlot: slot };
}
/**
 * How long before a worker's message slot its connect slot comes, at most (connectBudget, past 32 workers): room for
 * the handshake, with the first subscribe still within SUBSCRIBE_DEADLINE_MS of the open.
 */
export const SUBSCRIBE_LEAD_MS = 2_500;
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

/**
 * A subscriptions event turned into a per-topic ack by the adapter (adapter.ts onSubscriptions), or an error frame
 * that answers a request (`refused`: its text; adapter.ts onErrorFrame).
 */
export interface CoinbaseAck {
  readonly coinbaseAck: true;
  readonly op: "subscribe" | "unsubscribe";
  readonly reqId: string;
  readonly ok: string[];
  readonly failed: string[];
  readonly refused?: string;
}

function isCoinbaseAck(m: Record<string, unknown>): m is Record<string, unknown> & CoinbaseAck {
  return m.coinbaseAck === true;
}

/**
 * Control frames: the adapter hands over a subscriptions event already matched to its request (CoinbaseAck); a
 * product missing from the event after a subscribe failed. An error frame matched to its request (`refused`) fails
 * the whole request, for parseAckError to read. Everything else (unknown channels) is "other".
 */
export function classifyControl(msg: unknown): ControlFrame {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
  const m = msg as Record<string, unknown>;
  if (isCoinbaseAck(m)) {
    if (m.refused !== undefined) return { kind: "ack", op: m.op, success: false, retMsg: m.refused, reqId: m.reqId, successTopics: undefined, failTopics: undefined };
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

/** `<product> is not a valid product`: how Coinbase's error frame names the product a subscribe failed on [F7]. */
const NOT_VALID_PRODUCT = /([^\s"',:]+) is not a valid product/;

/**
 * Words of a refusal that passes (Coinbase's are unrecorded: a rate limit, a server hiccup): the request is sent
 * again after a backoff, nothing rejected for it.
 */
const PASSING_REFUSAL = /rate.?limit|too many (requests|messages)|try again|temporar|time(d)? ?out|service unavailable|internal (server )?error|busy/i;

/**
 * An error frame that answered a request (classifyControl, `refused`): a product it names as not valid is rejected
 * alone and the rest of the batch sent again; words of a passing refusal (PASSING_REFUSAL) send the same request
 * again after a backoff (rate_limited: a book is never given up for them); anything else splits the batch to single
 * products, and one refused alone is sent again after a backoff of its own, never given up (only "not a valid
 * product" rejects: ../common/subscription-control.ts onSubscribeFailed, retryAfterError).
 */
export function parseAckError(retMsg: string): AckError {
  const named = NOT_VALID_PRODUCT.exec(retMsg);
  if (named) return { kind: "handler_not_found", topic: named[1]! };
  if (/not a valid product/i.test(retMsg)) return { kind: "refused" }; // the product unnamed: refused alone, rejected
  return PASSING_REFUSAL.test(retMsg) ? { kind: "rate_limited" } : { kind: "other" };
}

/**
 * Whether an error frame answers a request: its words are about subscribing (`Failed to subscribe`, the Exchange
 * feed's [F7]). Anything else (a notice, a simulated fault) answers none, so it cannot take a request's place.
 */
export function answersRequest(text: string): boolean {
  return /subscri/i.test(text);
}

/**
 * Which unanswered message (`queue`: request ids in the order sent, oldest first; `request`: each one's op and
 * products) an error frame about subscribing answers, or -1 for none. Coinbase answers in order, yet an error may
 * come besides a subscriptions event (the same refusal twice, or a notice) or ahead of an earlier request's event, and
 * a wrong match costs good books (an answer taken by the wrong request rejects products for good), a missed one only
 * an ack timeout (a reconnect). So: a product named as not valid picks the oldest message of the text's op naming it,
 * wherever it is (none: no answer, e.g. a product refused already); an error naming none answers the oldest message
 * only if it is of the op the text names ("unsubscribe", else "subscribe"; the heartbeats subscribe is one).
 */
export function errorAnswers(text: string, queue: readonly string[], request: (id: string) => { op: "subscribe" | "unsubscribe"; products: readonly string[] } | undefined): number {
  const op = /unsubscri/i.test(text) ? "unsubscribe" : "subscribe";
  const named = NOT_VALID_PRODUCT.exec(text)?.[1];
  if (named === undefined) return queue.length > 0 && request(queue[0]!)?.op === op ? 0 : -1;
  return queue.findIndex((id) => {
    const r = request(id);
    return r !== undefined && r.op === op && r.products.includes(named);
  });
}

/** An error frame's text: `message`, and `reason` (where Coinbase names what failed) after it. */
export function errorText(m: Record<string, unknown>): string {
  const message = typeof m.message === "string" ? m.message : "";
  const reason = typeof m.reason === "string" ? m.reason : "";
  if (message === "" && reason === "") return JSON.stringify(m).slice(0, 200);
  return reason === "" ? message : message === "" ? reason : `${message}: ${reason}`;
}

/** `{"type":"subscribe","product_ids":[…],"channel":"level2"}`: one channel per message (websocket-overview). */
export function encodeChannelRequest(op: "subscribe" | "unsubscribe", channel: string, productIds: readonly string[]): string {
  return JSON.stringify(productIds.length > 0 ? { type: op, product_ids: productIds, channel } : { type: op, channel });
}

/**
 * An error frame: `{"type":"error","message":…}` (seen on Advanced Trade: a forum thread, "subscribe or unsubscribe
 * required"; the Exchange feed adds `reason`), or `channel:"error"` (unseen; taken too) [F7].
 */
export function isErrorFrame(m: Record<string, unknown>): boolean {
  return m.type === "error" || m.channel === "error";
}

/** Liveness is the heartbeats channel plus the common dead-connection rule (nothing received for 7 s). */
export const COINBASE_KEEPALIVE: Keepalive = { kind: "heartbeat_channel" };

/** The heartbeats subscribe's tag, in the queue of expected subscriptions events (not a level2 request). */
export const HEARTBEATS_ACK = "heartbeats";

/**
 * The level2 requests for ../common/subscription-control.ts. encodeRequest also queues the request id on its
 * connection (`onEncode`), so the adapter can match the next subscriptions event (which carries no request id) to it;
 * replay queues each recorded request there, the heartbeats subscribe (recordedTags) among them, in live's order.
 */
export function coinbaseRequests(onEncode: (conn: VenueConnection, reqId: string) => void): RequestProtocol {
  return {
    venue: "coinbase",
    // "8 per second per IP": at most 8 in any second (a bucket of 8 refilled at 8/s let 16 out in one).
    pacing: { perIp: { count: MESSAGES_PER_SECOND, windowMs: 1_000 } },
    maxArgsPerRequest: () => MAX_PRODUCTS_PER_REQUEST,
    encodeRequest: (op, topics, reqId) => {
      if (topics.length > 0) onEncode(topics[0]!.conn, reqId);
      return encodeChannelRequest(op, LEVEL2_CHANNEL, topics.map((t) => t.symbol));
    },
    classifyControl,
    parseAckError,
    rejectHint: () => "check the product id (e.g. BTC-USD) and that the product is online",
    recordedTags: [HEARTBEATS_ACK],
    replayRequest: (conn, reqId) => onEncode(conn, reqId),
  };
}
