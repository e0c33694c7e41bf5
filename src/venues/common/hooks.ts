/**
 * What a venue tells the common machinery about its protocol (cold paths only: requests, acks, keepalive,
 * resync and sequencing policy). The per-frame path never goes through these hooks: each venue's scanner and
 * sequence check stay in the venue's own monomorphic code.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { TopicState, VenueConnection } from "./connection.ts";

/** A control frame (anything that is not a book push), classified by the venue. */
export type ControlFrame =
  | { kind: "pong" }
  | {
      kind: "ack";
      op: string; // "subscribe" | "unsubscribe" | "" (when the ack does not say)
      success: boolean;
      retMsg: string;
      reqId: string | undefined;
      /** Per-topic ack lists (Bybit option COMMAND_RESP); undefined when the ack covers its whole request. */
      successTopics: string[] | undefined;
      failTopics: string[] | undefined;
    }
  /** A server test request to answer now (Deribit `test_request`): send `reply`. */
  | { kind: "test_request"; reply: string }
  /** The venue announces it will close this connection soon (Binance `serverShutdown`, OKX notice 64008). */
  | { kind: "planned_close" }
  | { kind: "other" };

/** What a failed ack says, in the venue-neutral terms subscription-control.ts acts on. */
export type AckError =
  /**
   * The topic named does not exist on the venue (or cannot be served): reject it (HALTED / SUBSCRIBE_REJECTED), retry
   * the rest. Naming no topic of the request (another spelling): a batch is split, a single topic rejected.
   */
  | { kind: "handler_not_found"; topic: string }
  /** Already subscribed venue-side: treat it as active, resync it the safe way, retry the rest. */
  | { kind: "already_subscribed"; topic: string }
  /** The request was too large: bisect the batch. */
  | { kind: "args_size" }
  /** Over the venue's request rate (Deribit 10028 too_many_requests): send the same request again after a backoff. */
  | { kind: "rate_limited" }
  /**
   * The venue says the request's topic cannot be served (it does not exist, needs a tier or a login we lack) without
   * naming it: a batch is split to single topics, a single one is rejected (HALTED / SUBSCRIBE_REJECTED). Each venue
   * lists these codes explicitly (its `parseAckError`); nothing unknown is one.
   */
  | { kind: "refused" }
  /**
   * Anything else (a server error, a code we do not know): a batch is split to single topics, a single one is sent
   * again after a backoff (SubscriptionControl.retryAfterError), its book RESYNCING / SUBSCRIBE_REJECTED meanwhile;
   * never given up for it. Until 2026-12-06 a single topic was rejected for any such error, its book halted for good.
   */
  | { kind: "other" };

/**
 * How the venue keeps a connection alive and proves it is (docs/add-venue.md, "Keepalive"):
 * - `client_ping`: we send `encodePing(seq)` every `intervalMs` (and when the connection has been idle for half
 *   the dead-connection time); a pong must come within `pongTimeoutMs`. One ping in flight a socket (none is sent
 *   while one is unanswered), so a pong answers the ping its deadline is for without an id: OKX's, Upbit's and
 *   Bithumb's carry none. JSON (Bybit), text `ping` (OKX), text `PING` (Upbit, Bithumb).
 * - `server_test`: the server sends test requests (Deribit `test_request`) the venue's classifier answers
 *   (ControlFrame `test_request`); missing them is caught as a dead connection. With `encodeProbe`, a connection
 *   idle for half the dead-connection time is sent a request whose answer proves it alive (Deribit `public/test`),
 *   so a server whose own heartbeats are further apart than that still meets the dead-connection rule. With
 *   `heartbeatMs` (the interval the server promised to send something at, Deribit's set_heartbeat), a socket whose
 *   heartbeat ask is written (RequestProtocol.heartbeatAskTag) or whose server has sent a test request is dead when
 *   silent for heartbeatMs + the dead-connection time, even while
 *   messages wait for the pacing budget (which otherwise holds the dead-connection rule until they go).
 * - `ws_ping`: the server sends WebSocket ping frames, which Bun's client answers itself (test/venues/common
 *   proves it); liveness is the dead-connection rule.
 * - `heartbeat_channel`: the venue pushes a heartbeat channel we subscribe to (Coinbase `heartbeats`); liveness is
 *   the dead-connection rule.
 */
export type Keepalive =
  | { readonly kind: "client_ping"; readonly intervalMs: number; readonly pongTimeoutMs: number; encodePing(seq: number): string }
  | { readonly kind: "server_test"; encodeProbe?(seq: number): string; readonly heartbeatMs?: number }
  | { readonly kind: "ws_ping" }
  | { readonly kind: "heartbeat_channel" };

/**
 * How a book gets a fresh start after a gap (the venue's documented procedure):
 * - `resubscribe`: unsubscribe, wait for the ack, subscribe: the venue sends a new snapshot (Bybit, OKX, Deribit).
 * - `rest_snapshot`: fetch a REST snapshot and bridge the buffered diffs to it (Binance, OKX without snapshot).
 * - `next_full_book`: wait for the next full book, which every message is (Upbit, Bithumb, OKX books5/bbo-tbt).
 * - `reconnect`: reconnect and resubscribe every book of the connection (Coinbase: its sequence is per connection).
 */
export type ResyncKind = "resubscribe" | "rest_snapshot" | "next_full_book" | "reconnect";

/** Where the venue's sequence numbers live: per topic (Bybit `u`), or one per connection (Coinbase `sequence_num`). */
export type SequenceScope = "topic" | "connection";

/** A token bucket's size: a burst of `capacity` messages, refilled at `perSecond`. */
export interface BucketSpec {
  readonly capacity: number;
  readonly perSecond: number;
}

/**
 * At most `count` messages in any `windowMs` (budgets.ts SlidingWindowBudget): for a venue whose limit is a count per
 * window ("8 per second"), which a bucket of N refilled at N/s would exceed (2N in one second from a full bucket).
 */
export interface WindowSpec {
  readonly count: number;
  readonly windowMs: number;
}

/**
 * Limits on the messages we send (requests, pings, replies): per connection (e.g. Binance 5 messages/s per
 * connection) and per IP across all connections of the venue (split between workers by budgetShare). A message
 * over the limit waits in the connection's outbox, in order. A bucket where the venue's limit is one (Deribit's
 * credits), a window where it is a count per window (Coinbase's 8 per second per IP).
 */
export interface MessagePacing {
  readonly perConnection?: BucketSpec | WindowSpec;
  readonly perIp?: BucketSpec | WindowSpec;
}

/** The request side of a venue: how subscriptions are asked for and acks read (subscription-control.ts). */
export interface RequestProtocol {
  /** Outgoing message limits; absent = none documented. */
  readonly pacing?: MessagePacing;
  /** Lower-case venue name, for logs. */
  readonly venue: string;
  /** Topics per subscribe/unsubscribe request on a connection of `market`. */
  maxArgsPerRequest(market: MarketName): number;
  /** The request text for `topics`, tagged with `reqId` where the venue echoes one. */
  encodeRequest(op: "subscribe" | "unsubscribe", topics: readonly TopicState[], reqId: string): string;
  /** A parsed non-book frame → what it is. */
  classifyControl(msg: unknown): ControlFrame;
  /** The venue's error text of a failed ack → what to do. */
  parseAckError(retMsg: string): AckError;
  /** Extra words for the log line when the venue refuses a topic (valid depths, …). */
  rejectHint(t: TopicState): string;
  /**
   * A subscribe's topic in an ack's `failTopics` without words that prove it cannot be served (parseAckError's
   * handler_not_found or refused) was refused for no given reason, which may pass (Bybit option COMMAND_RESP: venue
   * busy, a duplicate after a reconnect race): its listing decides (SubscriptionControl.reject, `unexplained`), not
   * the refusal. Absent: such a topic is rejected (Deribit, Coinbase, OKX: their lists say why).
   */
  readonly failTopicsUnexplained?: boolean;
  /**
   * How long the venue's own count of `conn`'s requests says one more must wait (0 = now; OKX: 480 per hour per
   * socket). A refused request (over the rate limit, a passing error) goes again no sooner, not every backoff step
   * meanwhile: asked when it is refused and again as it comes due (retries due together take turns). Every message
   * sendRequest writes asks it too: one without room waits as such a retry (SubscriptionControl.holdForBudget).
   * Absent: the venue keeps no such count.
   */
  requestWaitMs?(conn: VenueConnection): number;
  /**
   * Replay: request `reqId` (its id as recorded in `ws:req`) was written to `conn`'s socket, asking `op` for `topics`.
   * A venue that reads an answer against what it encoded (Deribit: JSON-RPC id → channels) remembers it as
   * encodeRequest did live; replay encodes nothing, so without this the recorded answer matched no request. Absent:
   * the connection's pending request (SubscriptionControl.replayRecorded) is all an answer needs.
   */
  replayRequest?(conn: VenueConnection, reqId: string, op: "subscribe" | "unsubscribe", topics: readonly TopicState[]): void;
  /**
   * Told of each request asking `op` for `topics` (never none) on their connection's socket, live and replay alike: the
   * venue's one place to learn that a subscribe starts the socket's stream of its topics over (Bybit, Deribit, OKX: a
   * behind-reset mark ends; Deribit live: the next snapshot is one asked for) or that a resync's wait for the request
   * budget is over (OKX). Live (`replay` false): as SubscriptionControl.sendRequest makes it, once encoded (written now,
   * or queued for the pacing budget; not while held for the venue's count: when it goes). Replay (`replay` true): at its
   * recorded `ws:req` (SubscriptionControl.replayRecorded, after replayRequest above), written as live wrote it. Until
   * s-subhook each venue caught it its own way (wrapping encodeRequest, replayRequest, a callback of its protocol's).
   */
  requested?(op: "subscribe" | "unsubscribe", topics: readonly TopicState[], replay: boolean): void;
  /**
   * Tags of messages sent through SubscriptionControl.send that are subscribes naming no topic and answered in turn
   * with the requests (Coinbase's heartbeats subscribe: its answer carries no id and answers the oldest message).
   * Recorded when written, as `ws:req [tag, "subscribe", []]`, and given to replayRequest in replay, so the order of
   * answers is live's. Absent: no such message.
   */
  readonly recordedTags?: readonly string[];
  /**
   * Tag of the message sent through SubscriptionControl.send that asks the server for its heartbeat (Deribit's
   * `public/set_heartbeat`): once it is written on the connection's socket, the server's promise holds there
   * (VenueConnection.serverTested), as after a test request. Absent: only a test request starts it.
   */
  readonly heartbeatAskTag?: string;
  /**
   * Replay: a recorded unsubscribe holds the topic (TopicState.replayUnsubscribing) until its recorded subscribe (or
   * the socket's end, a capture gap; not a go-back: live records its redo's request after it), and the venue's frame path ignores the book's frames meanwhile, as
   * live's while unsubscribing. Absent: nothing held (a venue whose replay shows no divergence there).
   */
  readonly replayHoldsUnsubscribed?: boolean;
}
