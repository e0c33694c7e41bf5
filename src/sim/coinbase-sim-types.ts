/**
 * The Coinbase simulator's public shapes: options, the handle startCoinbaseSimulator returns, counters, faults.
 * @module
 */
import type { SymbolSpec } from "./sim-book.ts";
import type { ConnectLimit, ConnectWindow } from "./connect-limit.ts";

/**
 * The common faults, on the connection(s) carrying a product: `gap` (a frame of that connection is produced but
 * not sent: a sequence_num gap across all its products; another connection carrying one of them gets the change),
 * `malformed` (the next frame garbled, likewise on that connection alone), `duplicate` (the
 * last frame again), `reset` (the product's book rebuilt and sent as a new snapshot event), `disconnect`, `stall`
 * (the whole server, whatever the product: nothing sent or answered, heartbeats included; a product's own stream
 * going quiet while heartbeats flow is a quiet market on Coinbase, nothing a client could tell from a stall), `error`
 * (an error frame) and `sequence_reset` (the connection's
 * sequence_num starts again at 0 while everything else goes on: heartbeat_counter, books, frames).
 */
export type CoinbaseSimFault = "gap" | "reset" | "disconnect" | "stall" | "malformed" | "duplicate" | "error" | "sequence_reset";
export const COINBASE_SIM_FAULTS: readonly CoinbaseSimFault[] = ["gap", "reset", "disconnect", "stall", "malformed", "duplicate", "error", "sequence_reset"];

export interface CoinbaseSimOptions {
  /** 0 = ephemeral. */
  port?: number;
  /** Product ids served (e.g. BTC-USD); anything else is left out of the subscriptions event. */
  products: string[];
  seed?: number;
  /** l2_data frames per second across connections; 0 = only step(). */
  messagesPerSecond?: number;
  /** Levels per side of each generated book (the full depth a snapshot carries). Default 200. */
  levels?: number;
  /** Heartbeat interval (default 1000 ms). */
  heartbeatMs?: number;
  /** A connection that sends no valid subscribe within this is closed (default 5000 ms). */
  subscribeDeadlineMs?: number;
  /** A connection without heartbeats that was sent nothing for this long is closed (default 60000 ms). */
  idleCloseMs?: number;
  /**
   * A subscribe naming a product not served: `omit` (default) leaves it out of the subscriptions event and
   * subscribes the rest; `error_named` refuses the whole subscribe (level2 or heartbeats) with one error frame
   * naming it (`{"type":"error","message":"Failed to subscribe","reason":"X is not a valid product"}`, the Exchange
   * feed's words) and sends nothing else for it; `error` likewise without the reason.
   */
  unknownProductReply?: "omit" | "error_named" | "error";
  /**
   * The first N heartbeats subscribes (over all connections) are refused with a passing refusal's error frame
   * (`{"type":"error","message":"Failed to subscribe","reason":"rate limit exceeded"}`). Default 0.
   */
  refuseHeartbeats?: number;
  /** Send the subscriptions event before the snapshots (default false: snapshots first, as recorded). */
  ackFirst?: boolean;
  /** Per-product tick/lot/price overrides. */
  specs?: Record<string, Partial<SymbolSpec>>;
  /** Products the REST endpoint lists with a status other than online (e.g. { "OLD-USD": "delisted" }). */
  productStatus?: Record<string, string>;
  /** Keep every book a product had by the sequence_num that carried it, for booksAt() (tests that check every book). */
  history?: boolean;
  /**
   * A connection with more than this many bytes sent and not yet taken by the client is closed, as Coinbase's
   * Exchange and International feeds document for a slow consumer (stats.slowConsumerCloses); its frames are never
   * dropped silently. Default SLOW_CONSUMER_BYTES (256 MiB: room for many full-depth snapshots of 100k levels a
   * side, ~22 MB each).
   */
  slowConsumerBytes?: number;
  /** Connects allowed per IP (connect-limit.ts; default Coinbase's 8 per second [F3]); past it the upgrade is a 429. */
  connectLimit?: ConnectWindow[];
  /**
   * Products requests allowed per IP (rest-limit.ts RestRate; default 15 in any second: Coinbase's burst [F11], so
   * lenient on its sustained 10 a second); past it a 429, RATE_LIMIT_EXCEEDED.
   */
  restRate?: ConnectWindow[];
  /** The clock of restRate (default monoMs; a test drives its own rather than rely on real time). */
  restClock?: () => number;
}

/** What a connection may have unsent before it is closed as a slow consumer (CoinbaseSimOptions.slowConsumerBytes). */
export const SLOW_CONSUMER_BYTES = 256 * 1024 * 1024;

export interface CoinbaseSimStats {
  connections: number;
  connectionsTotal: number;
  messagesSent: number;
  bytesSent: number;
  subscribes: number;
  unsubscribes: number;
  heartbeatsSent: number;
  errorsSent: number;
  restRequests: number;
  /** Connections closed for not subscribing in time, and for idling without heartbeats. */
  idleClosedNoSubscribe: number;
  idleClosedNoHeartbeats: number;
  /** Client messages beyond 8 in a second on one connection (fixed one-second windows from its first message). */
  overRate: number;
  /**
   * Client messages, over all connections (one IP: loopback), beyond 8 in any sliding second, the documented per-IP
   * limit [F3]; counted, not enforced. The window is counted a quarter shorter (750 ms) as it sees arrivals, not sends
   * (connect-limit.ts arrivalAllowanceMs).
   */
  overRateIp: number;
  /** Frames the socket dropped (its send buffer over backpressureLimit, 1 GiB): a gap the client will see. */
  framesDropped: number;
  /** Connections closed because the client took too little of what was sent (slowConsumerBytes unsent). */
  slowConsumerCloses: number;
}

export interface CoinbaseSimFaultSummary {
  fault: CoinbaseSimFault;
  product: string | null;
  connections: number;
}

export interface CoinbaseSim {
  /** ws://127.0.0.1:PORT (any path). */
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly restUrl: string;
  /** The product's true book as decimal strings, and the sequence_num of the last frame that carried it on the newest connection subscribed to it (`conn`, its id; -1 = none). */
  book(product: string): { bids: Map<string, string>; asks: Map<string, string>; seq: number; conn: number };
  /**
   * With `history`: every book of the product a frame with this sequence_num carried, on any connection. The same
   * Maps every call, for the caller to read only (a caller may key work by them).
   */
  booksAt(product: string, seq: number): { bids: Map<string, string>; asks: Map<string, string> }[];
  /** Steps every subscribed product n times; each step sends one l2_data frame per connection (its products' events). */
  step(n?: number): void;
  inject(fault: CoinbaseSimFault, product?: string, opts?: { stallMs?: number }): CoinbaseSimFaultSummary;
  setRestAvailable(ok: boolean): void;
  /**
   * A product's status while running (`online`, or `delisted`, `offline`: then `trading_disabled` too): not online, it
   * is silent (no updates; a subscribe gets no snapshot) until online again.
   */
  setProductStatus(productId: string, status: string): void;
  /** The next `count` products requests answer 429 (with Retry-After: `retryAfterS` when given). */
  rateLimitInstruments(count: number, retryAfterS?: number): void;
  readonly stats: CoinbaseSimStats;
  /** The per-IP connect limit enforced on upgrades (connect-limit.ts; `refused` counts the 429s). */
  readonly connectLimit: ConnectLimit;
  stop(): Promise<void>;
}
