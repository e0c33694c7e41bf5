/**
 * Deribit API v2 public WebSocket facts used by the adapter and the simulator (JSON-RPC 2.0 on `/ws/api/v2`).
 * Each constant names its source; docs/venues/deribit.md lists them with the upstream links.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { TopicState, VenueConnection } from "../common/connection.ts";
import type { AckError, ControlFrame, Keepalive, RequestProtocol } from "../common/hooks.ts";

/** Depths per market: 0 = `book.{instrument}.{interval}` (snapshot + changes), 1/10/20 = the grouped full books. */
export const DERIBIT_DEPTHS: readonly number[] = [0, 1, 10, 20];

/** Book intervals: `raw` needs an authorised connection (error 13778 otherwise), `100ms` is the public default. */
export type DeribitInterval = "100ms" | "raw" | "agg2";
export const DEFAULT_INTERVAL: DeribitInterval = "100ms";

/** The channel of a book: `book.X.100ms`, or the grouped full book `book.X.none.{depth}.100ms` for depth 1/10/20. */
export function bookChannel(symbol: string, depth: number, interval: DeribitInterval = DEFAULT_INTERVAL): string {
  return depth === 0 ? `book.${symbol}.${interval}` : `book.${symbol}.none.${depth}.${interval}`;
}

/** Heartbeat interval we ask for with public/set_heartbeat, in seconds (the documented minimum is 10). */
export const HEARTBEAT_INTERVAL_S = 10;
/** A refused set_heartbeat is asked again on its socket after this backoff, doubling per refusal up to the max. */
export const HEARTBEAT_RETRY_BASE_MS = 1_000;
export const HEARTBEAT_RETRY_MAX_MS = 30_000;

/** Error codes (docs.deribit.com "Errors"). */
export const ERR_TOO_MANY_REQUESTS = 10028;
export const ERR_RAW_NEEDS_AUTH = 13778;

/**
 * Subscribe costs credits: ~3000 of a 30000 pool per request, refilled so ~3.3 requests/s are sustained (nautilus,
 * citing Deribit's "Rate Limits" article). Channels go many to a request; requests are paced below the pool.
 */
export const SUBSCRIBE_BURST = 8;
export const SUBSCRIBE_PER_SECOND = 3;
/** Channels per public/subscribe request: large batches spend few credits. */
export const MAX_CHANNELS_PER_REQUEST = 100;
/** Channels per connection (our cap: keeps one connection's snapshot burst and resubscribe batches modest). */
export const MAX_CHANNELS_PER_CONNECTION = 500;

/**
 * REST get_instruments is a non-matching-engine request: 20 per second sustained, a burst of 100 (credits: 500 a
 * request of a 50,000 pool refilled at 10,000 per second) [D11]. A 429 or 10028 without Retry-After blocks every
 * instrument request for REST_LIMITED_MS (the whole pool refills in 5 s).
 */
export const REST_REQUESTS_PER_SECOND = 20;
export const REST_LIMITED_MS = 5_000;

/** Connects: no documented budget beyond credits; keep it modest. */
export const CONNECTS_PER_WINDOW = 20;
export const CONNECT_WINDOW_MS = 60_000;

/**
 * JSON-RPC ids, by kind, each in (base, base + span] and every one below 2^31 (Deribit may keep an id as a signed 32-bit integer: one above could be
 * refused or answered under another id; until 2026-12-07 set_heartbeat's were from 3 000 000 001). A kind's id tells
 * its answer apart: a request's is in the id map, set_heartbeat's range tells its refusal from a refused public/test.
 * - requests: subscription control's number ("s12" → 12), below TEST_ID_BASE. The number also counts the probes; each
 *   passes the per-IP message budget (3 a second), so 10^9 of them take over ten years.
 * - replies to test_request: TEST_ID_BASE + n, n counting round its span. The server sends one per heartbeat interval
 *   (10 s) per socket: at most 8 640 a day a socket, 864 000 for a hundred, so 5·10^8 before an id is reused (578
 *   days at that; a reused one is harmless: its answer is a pong whatever its id).
 * - set_heartbeat: HEARTBEAT_ID_BASE + n, round its span: once a socket, again only after a refusal (1 s backoff at
 *   least), so far fewer than test replies.
 * - probes: PROBE_ID_BASE + (the request number round PROBE_ID_SPAN), a pong whatever its id.
 */
export const TEST_ID_BASE = 1_000_000_000;
const TEST_ID_SPAN = 500_000_000;
export const HEARTBEAT_ID_BASE = 1_500_000_000;
const HEARTBEAT_ID_SPAN = 500_000_000;
export const PROBE_ID_BASE = 2_000_000_000;
/** 2·10^9 + 10^8 < 2^31 − 1 = 2 147 483 647. */
export const PROBE_ID_SPAN = 100_000_000;

/** The next of a counter that goes round `span` (1 … span): added to its kind's base, an id that never leaves that kind's range. */
function nextInSpan(seq: number, span: number): number {
  return (seq % span) + 1;
}

/** A request in flight: what it asked for, and the socket (of which connection) it went out on. */
interface PendingRpc {
  reqId: string;
  op: "subscribe" | "unsubscribe";
  channels: string[];
  conn: VenueConnection;
  /** The connection's socket when it was encoded (sent, or queued for it: a queue is dropped when the socket changes). */
  ws: WebSocket | null;
}

/**
 * Deribit's request side for ../common/subscription-control.ts. One per adapter: it remembers which channels each
 * request asked for, because an ack (`result`) lists only the channels taken and one missing is refused alone. A
 * socket that closes before answering takes its requests with it (dropSocket): they are never answered, and the
 * common layer has already forgotten them (its per-connection pending requests are cleared on a disconnect).
 */
export class DeribitRequests implements RequestProtocol {
  readonly venue = "deribit";
  /** set_heartbeat's outbox tag: once it is written, the server's heartbeat promise holds on the socket [D5]. */
  readonly heartbeatAskTag = "set_heartbeat";
  /** Replay: a recorded unsubscribe holds the channel until its recorded subscribe (TopicState.replayUnsubscribing). */
  readonly replayHoldsUnsubscribed = true;
  readonly pacing = { perIp: { capacity: SUBSCRIBE_BURST, perSecond: SUBSCRIBE_PER_SECOND } };
  /** JSON-RPC id → subscription control's request id, the channels asked for and the socket. */
  private readonly requests = new Map<number, PendingRpc>();
  /** The last test reply's and set_heartbeat's counters (their ids: TEST_ID_BASE + testSeq, HEARTBEAT_ID_BASE + heartbeatSeq). */
  private testSeq = 0;
  private heartbeatSeq = 0;
  /** Set when a request was refused with 13778 (raw needs auth): the adapter names it as a config error. */
  rawRefused = 0;
  /** Set by the adapter (RequestProtocol.requested): a subscribe written, live or replayed (adapter.ts onSubscribeWritten). */
  requested: RequestProtocol["requested"];
  /**
   * set_heartbeat answered with an error (no heartbeat promised): counted, its id and words kept for the adapter, which
   * logs it, counts it per connection and asks again (DeribitAdapter.onControl). Not exported itself (the per-connection
   * counter is: `heartbeat_refused_total`).
   */
  heartbeatRefused = 0;
  heartbeatRefusedId = -1;
  heartbeatRefusal = "";

  maxArgsPerRequest(_market: MarketName): number {
    return MAX_CHANNELS_PER_REQUEST;
  }

  encodeRequest(op: "subscribe" | "unsubscribe", topics: readonly TopicState[], reqId: string): string {
    const id = Number(reqId.slice(1));
    const channels = topics.map((t) => t.topic);
    // Sent (or queued) on the connection's current socket: subscription control sends only while it is open.
    const conn = topics[0]!.conn;
    this.requests.set(id, { reqId, op, channels, conn, ws: conn.ws });
    return JSON.stringify({ jsonrpc: "2.0", id, method: `public/${op}`, params: { channels } });
  }

  /**
   * Replay: a request the live run wrote (`ws:req`, id as recorded: "s12" → 12), remembered as encodeRequest did, so
   * its recorded answer is read against its channels (one left out is refused) and reaches subscription control.
   * Until 2026-12-07 replay encoded nothing and every answer classified as a pong: a refusal halted nothing.
   */
  replayRequest(conn: VenueConnection, reqId: string, op: "subscribe" | "unsubscribe", topics: readonly TopicState[]): void {
    const id = Number(reqId.slice(1));
    if (!Number.isSafeInteger(id) || id <= 0) return;
    this.requests.set(id, { reqId, op, channels: topics.map((t) => t.topic), conn, ws: conn.ws });
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.requests.size;
  }

  /**
   * Socket `ws` of `conn` closed: its unanswered requests never will be; forget them. By socket, not generation: an old
   * socket gone back to after a failed replacement gets a new generation. Replay (`ws` null): the recorded close's.
   * Returns how many. Cold.
   */
  dropSocket(conn: VenueConnection, ws: WebSocket | null): number {
    let n = 0;
    for (const [id, r] of this.requests) {
      if (r.conn === conn && r.ws === ws) {
        this.requests.delete(id);
        n++;
      }
    }
    return n;
  }

  /**
   * `public/set_heartbeat` (each socket's first message: DeribitAdapter.askHeartbeat, at its open or its swap; again
   * after a refusal), its id `lastHeartbeatId`.
   */
  setHeartbeat(): string {
    this.heartbeatSeq = nextInSpan(this.heartbeatSeq, HEARTBEAT_ID_SPAN);
    this.lastHeartbeatId = HEARTBEAT_ID_BASE + this.heartbeatSeq;
    return JSON.stringify({ jsonrpc: "2.0", id: this.lastHeartbeatId, method: "public/set_heartbeat", params: { interval: HEARTBEAT_INTERVAL_S } });
  }

  /** The id of the last set_heartbeat encoded (-1: none yet). */
  lastHeartbeatId = -1;

  /**
   * Heartbeats: `{"method":"heartbeat","params":{"type":"test_request"}}` is answered with public/test at once, any
   * other heartbeat proves the connection alive. Responses: `{"id":N,"result":[channels]}` is the ack of request N
   * (channels missing from it are refused), `{"id":N,"error":{"code","message"}}` refuses it.
   */
  classifyControl(msg: unknown): ControlFrame {
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return { kind: "other" };
    const m = msg as Record<string, unknown>;
    if (m.method === "heartbeat") {
      const type = (m.params as Record<string, unknown> | undefined)?.type;
      if (type === "test_request") {
        this.testSeq = nextInSpan(this.testSeq, TEST_ID_SPAN);
        return { kind: "test_request", reply: JSON.stringify({ jsonrpc: "2.0", id: TEST_ID_BASE + this.testSeq, method: "public/test", params: {} }) };
      }
      return { kind: "pong" };
    }
    if (typeof m.id !== "number") return { kind: "other" };
    const req = this.requests.get(m.id);
    if (!req) {
      // set_heartbeat's or public/test's answer: the connection is alive. set_heartbeat refused: no heartbeat comes
      // (until 2026-12-07 taken for a pong alone, the socket believed to have the promise: the adapter's onControl).
      if (m.error !== undefined && m.id > HEARTBEAT_ID_BASE && m.id <= HEARTBEAT_ID_BASE + HEARTBEAT_ID_SPAN) {
        const e = (m.error ?? {}) as Record<string, unknown>;
        this.heartbeatRefused++;
        this.heartbeatRefusedId = m.id;
        this.heartbeatRefusal = `${typeof e.code === "number" ? e.code : "?"} ${typeof e.message === "string" ? e.message : ""}`.trim();
      }
      return { kind: "pong" };
    }
    this.requests.delete(m.id);
    const base = { kind: "ack" as const, op: req.op, reqId: req.reqId, successTopics: undefined, failTopics: undefined };
    if (m.error !== undefined) {
      const e = (m.error ?? {}) as Record<string, unknown>;
      const code = typeof e.code === "number" ? e.code : 0;
      if (code === ERR_RAW_NEEDS_AUTH) this.rawRefused++;
      return { ...base, success: false, retMsg: `${code} ${typeof e.message === "string" ? e.message : ""}`.trim() };
    }
    // An unsubscribe's result is not a list of what it removed in every version of the docs: any answer will do.
    if (req.op === "unsubscribe") return { ...base, success: true, retMsg: "" };
    // A subscribe's result is the list of channels taken [D2]. Anything else says nothing of them: a failure sent
    // again (parseAckError: other). Until 2026-12-07 it was read as an empty list, every channel refused (HALTED).
    if (!Array.isArray(m.result)) return { ...base, success: false, retMsg: `answer with no list of channels (result: ${m.result === null ? "null" : typeof m.result})` };
    const taken = new Set(m.result.filter((x): x is string => typeof x === "string"));
    const missing = req.channels.filter((c) => !taken.has(c));
    if (missing.length === 0) return { ...base, success: true, retMsg: "" };
    // Some channels refused: per-channel lists, so the rest go ahead and each missing one is refused alone.
    return { ...base, success: false, retMsg: "channel not in the result", successTopics: req.channels.filter((c) => taken.has(c)), failTopics: missing };
  }

  parseAckError(retMsg: string): AckError {
    const code = Number(/^(\d+)/.exec(retMsg)?.[1] ?? NaN);
    if (code === ERR_TOO_MANY_REQUESTS) return { kind: "rate_limited" };
    // The one code that proves a channel cannot be served to us (an unknown instrument is left out of the result
    // instead: failTopics); any other (a server error, one we do not know) sends a single channel again after a backoff.
    if (code === ERR_RAW_NEEDS_AUTH) return { kind: "refused" };
    return { kind: "other" };
  }

  rejectHint(t: TopicState): string {
    if (t.topic.endsWith(".raw")) return `config error: raw book channels need an authorised connection (Deribit error ${ERR_RAW_NEEDS_AUTH}); use the 100ms interval`;
    return `check that ${t.symbol} is listed and active (public/get_instruments) and that depth ${t.depth} is one of ${DERIBIT_DEPTHS.join(", ")}`;
  }
}

/**
 * Server test requests are answered through classifyControl; liveness is the dead-connection rule (7 s, as every
 * venue). Heartbeats come only every 10 s (the documented minimum interval) and a quiet option book may be silent
 * for minutes, so a connection idle for half the dead time is probed with `public/test`, whose answer (an id that is
 * no request's) classifies as a pong.
 */
export const DERIBIT_KEEPALIVE: Keepalive = {
  kind: "server_test",
  encodeProbe: (seq) => `{"jsonrpc":"2.0","id":${PROBE_ID_BASE + nextInSpan(seq - 1, PROBE_ID_SPAN)},"method":"public/test","params":{}}`,
  // set_heartbeat's interval [D5]: a socket whose set_heartbeat is written hears something at least this often.
  heartbeatMs: HEARTBEAT_INTERVAL_S * 1000,
};

/**
 * The currency a symbol is listed under in public/get_instruments: the quote of a linear `X_USDC…` instrument,
 * else the base (`BTC-PERPETUAL`, `BTC-27DEC24-70000-C` → BTC; spot `BTC_USDC` → BTC).
 */
export function currencyOf(market: MarketName, symbol: string): string {
  const us = symbol.indexOf("_");
  const dash = symbol.indexOf("-");
  if (us > 0 && market !== "spot") return symbol.slice(us + 1, dash > us ? dash : symbol.length);
  const end = [us, dash].filter((i) => i > 0).reduce((a, b) => Math.min(a, b), symbol.length);
  return symbol.slice(0, end);
}

/** get_instruments `kind` per market. */
export function kindOf(market: MarketName): string {
  return market === "option" ? "option" : market === "spot" ? "spot" : "future";
}
