/**
 * The Bybit simulator's public shapes: its options, the handle startBybitSimulator returns, its counters and the
 * faults it can inject. Re-exported by bybit-sim.ts.
 * @module
 */
import type { ConnectLimit, ConnectWindow } from "./connect-limit.ts";
import type { MarketName } from "../core/types.ts";
import type { SymbolSpec } from "./sim-book.ts";

export type SimFault = "gap" | "reset" | "disconnect" | "stall" | "malformed" | "duplicate" | "crossed";
export const SIM_FAULTS: readonly SimFault[] = ["gap", "reset", "disconnect", "stall", "malformed", "duplicate", "crossed"];

/** What an injected fault touched. */
export interface SimFaultSummary {
  fault: SimFault;
  /** The symbol hit, or null for every symbol. */
  target: { market: MarketName; symbol: string } | null;
  /** Subscribed topics the fault acted on (gap/malformed/duplicate/reset/stall/crossed); 0 means it had no visible effect. */
  topics: number;
  /** Connections closed (disconnect). */
  connections: number;
  /** Stall length (stall only). */
  stallMs?: number;
}

/** One topic the simulator serves, for GET /sim/stats and topics(). */
export interface SimTopicInfo {
  market: MarketName;
  topic: string;
  symbol: string;
  kind: "generated" | "replay";
  subscribers: number;
  /** The topic's last u (0 before anything was sent). */
  u: number;
  /** Replay only: lines sent so far and lines in the recording. */
  cursor?: number;
  lines?: number;
}

export interface BybitSimOptions {
  /** 0 = ephemeral. */
  port?: number;
  hostname?: "127.0.0.1";
  markets: { market: MarketName; symbols: string[] }[];
  /** Total book messages (deltas; level-1 snapshots) per second across subscribed topics. 0 = only step(). */
  messagesPerSecond?: number;
  seed?: number;
  /** JSONL of recorded payloads (one WebSocket message per line), served to whoever subscribes their topic. */
  replayFile?: string;
  /**
   * Serve every recorded order-book topic under this depth instead of the recorded one: `orderbook.500.X` becomes
   * `orderbook.{replayDepth}.X`, in the topic name and in every frame's `topic` field. Must be a depth Bybit serves
   * for the market and at least the recorded depth (so the recorded book fits the window). For recordings of depths
   * that no longer exist (500 → 1000), so a feeder config, which only accepts current depths, can subscribe them.
   */
  replayDepth?: number;
  /** Probability that a step is a burst of many level changes (default 0.05). */
  burstiness?: number;
  /**
   * Levels per side of each generated book (default 1200, options 150: more than the deepest topic, so windows have
   * levels to pull in). Fewer make a simulator of many symbols cheap to start when its topics are shallow.
   */
  levels?: number;
  /** Level-1 re-push interval (default 3000 ms, §4.2). */
  l1RepushMs?: number;
  /** Per-symbol tick/lot/price overrides, keyed "market:SYMBOL". */
  specs?: Record<string, Partial<SymbolSpec>>;
  /** Largest page the REST endpoint returns (tests use a small one to exercise the cursor). Default 1000. */
  restPageLimit?: number;
  /** "market:SYMBOL" simulated (its topics served) but not listed by instruments-info until setListed(…, true). */
  unlisted?: string[];
  /**
   * Keep every window a generated topic had, by u, for booksAt() (tests that check every published book, including
   * the windows a resubscribe or a reset produce by themselves).
   */
  history?: boolean;
  /**
   * A connection the server has pushed nothing to for this long (no data, ack or pong) is closed: Bybit cuts one
   * after 10 minutes without ping-pong or stream data (default 600 000).
   */
  idleCloseMs?: number;
  /**
   * Bybit's per-IP REST limit on instruments-info (§1.2): more than `perWindow` requests in `windowMs` and every
   * request is answered 403 "access too frequent" for `blockedMs` (default 600 per 5 s, 10 minutes).
   */
  restLimit?: { perWindow: number; windowMs: number; blockedMs: number };
  /** Connects allowed per IP (connect-limit.ts; default Bybit's 500 per 5 minutes per domain, §2.3); past it the upgrade is a 429. */
  connectLimit?: ConnectWindow[];
}

export interface BybitSim {
  /** ws://127.0.0.1:PORT/v5/public (market appended by clients). */
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly restUrl: string;
  /**
   * The simulator's true book for a topic, as decimal-string maps, for tests. `depth` picks the topic (default: the
   * deepest subscribed one for the symbol); u is that topic's last u (0 when nobody subscribed).
   */
  book(market: MarketName, symbol: string, depth?: number): { bids: Map<string, string>; asks: Map<string, string>; u: number };
  /**
   * With `history`: every window the generated topic `orderbook.{depth}.{symbol}` had at update id u (several after
   * a reset or a tick change, which restart u at 1); empty when it never had u. The same Maps every call, for the
   * caller to read only (a caller may key work by them).
   */
  booksAt(market: MarketName, symbol: string, depth: number, u: number): { bids: Map<string, string>; asks: Map<string, string> }[];
  inject(fault: SimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): SimFaultSummary;
  /** Emits n steps per subscribed symbol now (n deltas per subscribed topic; replay: n recorded lines per topic). */
  step(n?: number): void;
  /**
   * Changes a symbol's tick/lot like Bybit does: REST shows the new values and every topic restarts at u = 1 with a
   * snapshot. Throws SimSpecError (sim-book.ts) naming the field for a step the book cannot use, changing nothing.
   */
  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; lotSize?: string }): void;
  /** Makes the REST endpoint answer 503 (false) or normally (true): for every category, or only `market`'s. */
  /** The next `count` instruments-info requests are answered 403 "access too frequent" (§1.2); 0 disarms. */
  rateLimitInstruments(count: number): void;
  setRestAvailable(ok: boolean, market?: MarketName): void;
  /** Hides a simulated symbol from instruments-info (a listing not live yet: false) or lists it (true). */
  setListed(market: MarketName, symbol: string, listed: boolean): void;
  /**
   * A generated symbol's trading status, as instruments-info reports it: `Trading` (the default), or one that stops
   * trading (`Delivering`, `Settling`, `Closed`, `PreLaunch`). Leaving Trading, each subscribed topic gets the
   * delisting push (a delta with u = 1 and empty sides, docs/venues/bybit.md) and its stream goes silent (a subscribe
   * gets no snapshot); instruments-info lists it only where Bybit's default query does (spot, linear, inverse:
   * Trading only; option: PreLaunch, Trading, Delivering). Back to Trading, u restarts at 1 and a subscribe gets a snapshot.
   */
  setStatus(market: MarketName, symbol: string, status: string): void;
  /**
   * The next `times` subscribes of `topic` (`orderbook.25.SYMBOL`) are refused though the topic is valid, as a venue
   * busy or racing a reconnect refuses one: option in `failTopics` (no reason given), the others with
   * `error:system busy (simulator)`. 0 ends it.
   */
  refuseSubscribes(market: MarketName, topic: string, times: number): void;
  /**
   * `deliveryTime` as instruments-info lists it (ms): an option's or a dated future's delivery, a perpetual's delisting
   * time (INSTR). Default: options 2100-01-01, linear and inverse "0" (a perpetual). Only the listing changes.
   */
  setDeliveryTime(market: MarketName, symbol: string, atMs: number): void;
  readonly stats: SimStats;
  /** The per-IP connect limit enforced on upgrades (connect-limit.ts; `refused` counts the 429s). */
  readonly connectLimit: ConnectLimit;
  /** Every topic served: generated ones once subscribed, replayed ones from the start. */
  topics(): SimTopicInfo[];
  stop(): Promise<void>;
}

export interface SimStats {
  connections: number;
  connectionsTotal: number;
  messagesSent: number;
  bytesSent: number;
  subscribes: number;
  unsubscribes: number;
  pings: number;
  /** Connections closed because nothing was pushed to them for idleCloseMs. */
  idleCloses: number;
  errorsSent: number;
  restRequests: number;
}
