/**
 * The Bybit simulator's state per connection, symbol and topic, and the order-book frame text it sends: generated
 * topics diff their top-N window against the symbol's book; replayed topics hold a recording and a cursor.
 * @module
 */
import type { ServerWebSocket } from "bun";
import type { MarketName } from "../core/types.ts";
import type { Rng } from "./rng.ts";
import { garbleFrame } from "./garble-frame.ts";
import { SimBook, diffLevels, type Levels, type SymbolSpec } from "./sim-book.ts";

/** What the simulator keeps per WebSocket connection. */
export interface ConnData {
  market: MarketName;
  connId: string;
  topics: Set<string>;
  /** When the server last pushed this connection anything (data, an ack, a pong; at first: when it opened), monoMs. */
  lastPushMs: number;
}
export type Ws = ServerWebSocket<ConnData>;

/** A generated symbol: its book and the cross-sequence every topic of it publishes. */
export class SymbolSim {
  book: SimBook;
  seq: number;
  stalledUntilMs = 0; // monoMs
  /** Its topics (one per subscribed depth), in creation order: a step touches only these. */
  readonly topics: TopicSim[] = [];
  constructor(
    readonly market: MarketName,
    readonly symbol: string,
    spec: SymbolSpec,
    rng: Rng,
    levels = market === "option" ? 150 : 1200,
  ) {
    this.book = new SimBook(spec, rng, levels);
    this.seq = rng.int(1e9, 2e9);
  }
}

/** One depth of a generated symbol (`orderbook.{depth}.{symbol}`): its subscribers, u and published window. */
export class TopicSim {
  u: number;
  readonly subs = new Set<Ws>();
  /** The window as last published, best first. */
  bids: Levels = { px: [], qty: [] };
  asks: Levels = { px: [], qty: [] };
  lastMessage = "";
  lastSentMs = 0; // monoMs: the L1 re-push's clock
  constructor(
    readonly market: MarketName,
    readonly topic: string,
    readonly depth: number,
    readonly sym: SymbolSim,
    startU: number,
  ) {
    this.u = startU;
  }
}

/** A recorded topic: lines as received, a cursor, and the book they build (decimal strings). */
export class ReplayTopic {
  readonly subs = new Set<Ws>();
  cursor = 0;
  u = 0;
  /** Added to recorded u after an injected reset (re-serialised lines). */
  uShift = 0;
  /** The last applied line's recorded u (before uShift); −1 before the first. */
  recordedU = -1;
  /**
   * The recording itself has a gap (a delta whose u does not follow) since its last snapshot: the replay book missed
   * changes and is not the venue's book, so it is not served as a snapshot (see skipToSnapshot).
   */
  gapped = false;
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  lastMessage = "";
  stalledUntilMs = 0; // monoMs
  constructor(
    readonly market: MarketName,
    readonly topic: string,
    readonly symbol: string,
    readonly lines: string[],
    /** Per line: true for a book message of the expected shape (applied to the book), false for one served verbatim. */
    readonly isBook: readonly boolean[],
    readonly tickSize: string,
    readonly lotSize: string,
  ) {}
}

/** Diffs the topic's window against the book, bumps u and returns the message (null when nothing changed). */
export function advanceTopic(t: TopicSim, rng: Rng): string | null {
  const book = t.sym.book;
  const nb = book.windowLevels(true, t.depth);
  const na = book.windowLevels(false, t.depth);
  const db = diffLevels(t.bids, nb, true);
  const da = diffLevels(t.asks, na, false);
  if (db.length === 0 && da.length === 0) return null;
  t.bids = nb;
  t.asks = na;
  t.u++;
  // Level 1 is snapshot-only (§4.1 history, 2025-03-20).
  if (t.depth === 1) return snapshotFrame(t, rng);
  return bookFrame(t, "delta", db, da, rng); // diffLevels lists bids descending, asks ascending
}

/**
 * A delta that crosses the book, as a venue glitch would: a bid at the best ask (the worst bid leaves the top-N
 * window with qty 0). The window keeps it, so the next delta takes it out again. Null for level 1 or an empty ask side.
 */
export function crossedFrame(t: TopicSim, rng: Rng): string | null {
  if (t.depth === 1 || t.asks.px.length === 0) return null;
  const px = t.asks.px[0]!;
  const qty = t.asks.qty[0]!;
  const bids: [number, number][] = [[px, qty]];
  const next: Levels = { px: [px, ...t.bids.px], qty: [qty, ...t.bids.qty] };
  if (next.px.length > t.depth) {
    bids.push([next.px.pop()!, 0]);
    next.qty.pop();
  }
  t.bids = next;
  t.u++;
  return bookFrame(t, "delta", bids, [], rng);
}

/** The topic's whole published window at its current u. */
export function snapshotFrame(t: TopicSim, rng: Rng): string {
  const pairs = (l: Levels) => l.px.map((p, i) => [p, l.qty[i]!] as [number, number]);
  return bookFrame(t, "snapshot", pairs(t.bids), pairs(t.asks), rng);
}

/** The delisting push: a delta at the topic's u (1) with both sides empty. */
export function emptyDeltaFrame(t: TopicSim, rng: Rng): string {
  return bookFrame(t, "delta", [], [], rng);
}

/** Key order as Bybit sends it: spot and futures level 1 put ts before type; option adds id (§4.2, §4.3). */
function bookFrame(t: TopicSim, type: "snapshot" | "delta", bids: [number, number][], asks: [number, number][], rng: Rng): string {
  const book = t.sym.book;
  const ts = Date.now();
  const cts = ts - rng.int(2, 15);
  const levels = (side: [number, number][]) => side.map(([p, q]) => `["${book.formatPrice(p, t.market)}","${book.formatQty(q, t.market)}"]`).join(",");
  const data = `"data":{"s":"${t.sym.symbol}","b":[${levels(bids)}],"a":[${levels(asks)}],"u":${t.u},"seq":${t.sym.seq}}`;
  const topic = `"topic":"${t.topic}"`;
  if (t.market === "option") return `{${topic},"ts":${ts},"type":"${type}","id":"${t.topic}-${t.sym.seq}-${ts}",${data},"cts":${cts}}`;
  if (t.market === "spot" || t.depth === 1) return `{${topic},"ts":${ts},"type":"${type}",${data},"cts":${cts}}`;
  return `{${topic},"type":"${type}","ts":${ts},${data},"cts":${cts}}`;
}

/**
 * Garbles a frame after its topic (so a reader can tell which topic was hit): truncation or a broken number (a level's
 * price, `["1x.5",…`; truncated when it has no level). Until 2026-12-07 a frame without a level (a recorded delta with
 * both sides empty, the delisting push) went out intact on the broken-number branch, half the time.
 */
export function corruptFrame(frame: string, rng: Rng): string {
  return garbleFrame(frame, rng, /\["(\d+)(\.?)/, '["$1x$2');
}
