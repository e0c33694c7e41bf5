/**
 * The Binance simulator's types (src/sim/binance-sim.ts): its options, faults and public interface, and the state it
 * keeps per symbol and per connection. A test tool: cold.
 * @module
 */
import type { ConnectLimit, ConnectWindow } from "./connect-limit.ts";
import type { ServerWebSocket } from "bun";
import type { MarketName } from "../core/types.ts";
import type { ReplaySymbol } from "./binance-sim-replay.ts";
import type { SimBook, SymbolSpec } from "./sim-book.ts";

export type BinanceSimFault = "gap" | "duplicate" | "malformed" | "disconnect" | "stall" | "serverShutdown";
export const BINANCE_SIM_FAULTS: readonly BinanceSimFault[] = ["gap", "duplicate", "malformed", "disconnect", "stall", "serverShutdown"];
export type BinanceRestFault = "refuse" | "ban" | "error" | "no_bridge";

export interface BinanceSimOptions {
  port?: number;
  markets: { market: "spot" | "linear"; symbols: string[] }[];
  /** Diff events per second across subscribed symbols (0 = only step()). */
  messagesPerSecond?: number;
  seed?: number;
  specs?: Record<string, Partial<SymbolSpec>>;
  /** Levels per side of the generated books (default 40: less than any snapshot limit the tests use). */
  levels?: number;
  /** Replay a cryptofeed recording (`…/BINANCE.ws.1.0`) on this market instead of generating those symbols. */
  replay?: { wsFile: string; market: "spot" | "linear" };
  /** Close every connection this long after it opened, with no notice first (default Binance's 24 h [limits], as `feeder sim`'s). */
  maxConnectionAgeMs?: number;
  /** Between the serverShutdown notice and the close (default 1000 ms). */
  shutdownGraceMs?: number;
  /** REST weight per minute (default spot 6000, USD-M 2400). */
  restWeightPerMinute?: number;
  /** The clock of the REST weight window and of serverTime and deliveries (default monoMs and Date.now; a test shares its own with the adapter). */
  restClock?: () => number;
  /** Keep every generated book state by update id, for bookAt() (tests that check every published book). */
  history?: boolean;
  /** Streams a SUBSCRIBE naming them is refused for, as Binance refuses one: `{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":…}`. */
  refuseStreams?: string[];
  /**
   * Spot connects allowed per IP (connect-limit.ts; default Binance's 300 per 5 minutes [limits]); past it the
   * upgrade is a 429. Counts spot's upgrades (`/stream`, `/ws`) only: USD-M is another host with a limit of its own.
   */
  connectLimit?: ConnectWindow[];
  /**
   * USD-M connects allowed per IP (`/public/stream`, `/public/ws`), counted apart from spot's. Default none: the USD-M
   * pages document no connect limit (docs/venues/binance.md [limits]; the adapter budgets spot's 250 for it all the
   * same). A test sets one to hold the adapter's USD-M connects to a figure of their own.
   */
  linearConnectLimit?: ConnectWindow[];
  /**
   * The server's ping frames and the pong deadline, both markets (default Binance's [keepalive]: spot a ping every
   * 20 s, closed without a pong within 60 s; USD-M every 3 min, within 10 min). Tests shorten them.
   */
  keepalive?: { pingIntervalMs: number; pongTimeoutMs: number };
}

/** Binance's server pings [keepalive] (docs/venues/binance.md): interval, and how long a ping may go unanswered. */
export const KEEPALIVE: Record<"spot" | "linear", { pingIntervalMs: number; pongTimeoutMs: number }> = {
  spot: { pingIntervalMs: 20_000, pongTimeoutMs: 60_000 },
  linear: { pingIntervalMs: 180_000, pongTimeoutMs: 600_000 },
};
/** The payload of the simulator's pings: on spot a pong counts only when it echoes one (unsolicited pongs do not keep a spot connection; on USD-M they do). */
export const PING_PAYLOAD = "binance-sim-ping";

export interface ConnData {
  market: "spot" | "linear";
  streams: Set<string>;
  inTimes: number[];
  openedMs: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** The last ping sent, and the last pong echoing one (or the open), monoMs. */
  lastPingMs: number;
  lastPongMs: number;
}
export type Ws = ServerWebSocket<ConnData>;

/** Per-connection incoming messages per second [limits]. */
export const IN_LIMIT: Record<"spot" | "linear", number> = { spot: 5, linear: 10 };

export class SymSim {
  id: number;
  lastFrame: string | null = null;
  gapNext = false;
  malformNext = false;
  restFaults: BinanceRestFault[] = [];
  staleSnapshot: string | null = null;
  /** setRestLag: REST answers the book as it was this many diff events back (0: now). */
  restLagDiffs = 0;
  /** With restLagDiffs: the depth bodies before each of the latest diff events, oldest first. */
  lagBodies: string[] = [];
  replayCursor = 0;
  /**
   * USD-M: a REST depth answer was stamped with this lastUpdateId, past `id`: the next diff event's [U, u] takes it
   * in (0: none pending). Binance's ids are shared by all of a symbol's streams, so a snapshot's id falls inside an
   * event's range as often as on its u (the recording: SUSHIUSDT's snapshot id is its bridging event's U).
   */
  reservedId = 0;
  /** A stall fault aimed at this symbol: no diff of it goes out (nor does its book move) until then (performance.now()). */
  stalledUntilMs = 0;
  /** Listed as TRADING (setTrading): otherwise exchangeInfo says BREAK, no diffs go out and depth answers -1121. */
  trading = true;
  /** USD-M: a dated contract's `deliveryDate` (setDelivery; ms), listed SETTLING from then; null: a perpetual. */
  deliveryMs: number | null = null;
  constructor(
    readonly market: "spot" | "linear",
    readonly symbol: string,
    readonly book: SimBook | null,
    readonly replay: ReplaySymbol | null,
    /** What exchangeInfo lists (setListing changes it; the generated prices keep their own decimals). */
    public spec: { tickSize: string; stepSize: string },
    startId: number,
  ) {
    this.id = startId;
  }
  get stream(): string {
    return this.symbol.toLowerCase() + "@depth@100ms";
  }
}

export interface BinanceSim {
  /** ws://127.0.0.1:PORT: spot at /stream, USD-M at /public/stream (the adapter's marketWsUrl rule). */
  readonly wsUrl: string;
  readonly restUrl: string;
  step(n?: number): void;
  /**
   * A fault on the target symbol, or on every symbol without one: `disconnect` closes the connections carrying the
   * target's stream (all of them without a target), `stall` quiets the target's stream (without one, the whole
   * server: nothing sent, requests answered when it ends). Returns how many symbols or connections it hit.
   */
  inject(fault: BinanceSimFault, target?: { market: MarketName; symbol: string }, opts?: { stallMs?: number }): number;
  restFault(kind: BinanceRestFault, target: { market: MarketName; symbol: string }): void;
  /** REST faults set with restFault and not yet served (a depth request of that symbol serves one). */
  restFaultsPending(): number;
  /** Makes the instruments REST endpoint answer 503 (false) or normally (true): the venue's instrument REST down. */
  setInstrumentsAvailable(ok: boolean): void;
  /** Changes the tick and/or step exchangeInfo lists for a symbol (a venue-side tick/lot change; prices unchanged). */
  setListing(market: MarketName, symbol: string, change: { tickSize?: string; stepSize?: string }): void;
  /**
   * A tick and/or step change the book follows: the listing changes and the book is re-expressed in the new units
   * (re-priced around its fair price where a level does not fit), and that move goes out at once as one diff event
   * (levels gone with size 0, new and changed ones), its numbers printed at the finer of the old and new decimals so
   * they read in either. The update ids go on. Throws SimSpecError (nothing changed) for a step the book cannot take.
   */
  changeInstrument(market: MarketName, symbol: string, change: { tickSize?: string; stepSize?: string }): void;
  /**
   * The whole book moves by `ticks` ticks (negative: down), shape and sizes kept, sent at once as one diff event
   * (levels gone with size 0, the moved ones with theirs): a price move larger than a small snapshot limit covers.
   */
  moveBook(market: MarketName, symbol: string, ticks: number): void;
  /**
   * Halted or delisted (false): exchangeInfo lists the symbol with status BREAK, its stream goes silent and REST
   * depth answers -1121 Invalid symbol; listed again (true), its diffs go on from the same update ids.
   */
  setTrading(market: MarketName, symbol: string, trading: boolean): void;
  /**
   * USD-M: lists the contract as dated (`contractType` CURRENT_QUARTER, `deliveryDate` `atMs`) instead of a perpetual
   * (PERPETUAL, the far-future placeholder 4133404800000); from `atMs` (the REST clock) exchangeInfo lists it SETTLING.
   */
  setDelivery(market: MarketName, symbol: string, atMs: number): void;
  /**
   * REST depth lags the stream (a cached or replica book, which Binance's step 4 allows for: a snapshot older than
   * the first buffered event): from now each answer is the book as it was before the `diffs`-th latest diff event
   * (the oldest kept when fewer were sent since); 0 answers the current book again.
   */
  setRestLag(market: MarketName, symbol: string, diffs: number): void;
  /** The true book (decimal strings) and the last update id sent. */
  book(market: MarketName, symbol: string): { bids: Map<string, string>; asks: Map<string, string>; u: number };
  /** With `history`: the book as it was at update id `u` (undefined when the symbol never had that id). */
  bookAt(market: MarketName, symbol: string, u: number): { bids: Map<string, string>; asks: Map<string, string> } | undefined;
  /** The per-IP connect limit enforced on spot's upgrades (connect-limit.ts; `refused` counts the 429s). */
  readonly connectLimit: ConnectLimit;
  /** USD-M's, counted apart (no window by default: none documented). */
  readonly linearConnectLimit: ConnectLimit;
  readonly stats: { connections: number; connectionsTotal: number; messagesSent: number; subscribes: number; depthRequests: number; closedForRate: number; closedForNoPong: number; closedForShutdown: number };
  /**
   * Diffs that follow a subscription or a depth snapshot (a few ms later, on a timer) not yet sent: a test that
   * counts what arrives waits for 0 first, else such a diff lands in the middle of its steps.
   */
  readonly diffsDue: number;
  stop(): Promise<void>;
}
