/**
 * A side bounded by its snapshot's depth (docs/venues/binance.md, "Depth: levels beyond the snapshot"), kept honest
 * while the price moves. A full snapshot side knows the venue's book down to its worst price only; as the price moves
 * away, levels inside that band go and the new ones beyond it are dropped, so the side thins. Not empty, its best
 * level is still the venue's (the band is exact); empty, the venue's best price is beyond what the book knows.
 * - check() (the adapter's verify(), after every applied update of a bounded book): a bounded side left with no level
 *   is DEPTH_EXHAUSTED: the app does not publish that update and resyncs the book (RESYNCING / depth_exhausted).
 * - One that falls to the refresh floor (⌈limit × refreshFraction⌉ levels, default a quarter) is refreshed while the
 *   book stays LIVE (make-before-break): a new REST snapshot, asked for only when the market's weight budget has half
 *   of it spare and nothing waits (a resync's snapshot always goes first), bridged to the diffs applied meanwhile by
 *   the market's rule (../common/rest-bridge.ts). The snapshot and the diffs after it are composed into one book at the
 *   live book's update id, published as a snapshot: the book never goes back in time and never leaves LIVE. One
 *   refused or not bridging leaves the book as it was, tried again a second on (so is one whose refreshed side is
 *   low already).
 * Cold, but for the adapter's `t.refreshing` test on each applied diff and check()'s two reads of the book.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import type { BookView } from "../../core/book-view.ts";
import { RateLimitedLog, type Logger } from "../../core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../core/types.ts";
import type { DiffRange } from "../common/rest-bridge.ts";
import type { BinanceTopic } from "./connection.ts";
import { type ChainedRange, MarketBridges } from "./market-bridges.ts";
import { REST_TIMEOUT_MS } from "./protocol.ts";
import { abandonFetch } from "./snapshot-fetch.ts";

/** A bounded side is refreshed once it holds at most this fraction of the snapshot's limit (rounded up). */
export const DEPTH_REFRESH_FRACTION = 0.25;
/** After a refresh that failed (or left the side low already), the next one waits this long. */
export const DEPTH_REFRESH_SPACING_MS = 1_000;

/**
 * Replay keeps a refresh's diffs received this long before the newest (capture time): twice the REST timeout, so a
 * recorded answer finds every diff since its request (sent at once: a refresh never waits for weight), event-loop lag
 * included. Before, a refresh with no recorded answer buffered up to 10,000 diffs per book.
 */
export const REPLAY_REFRESH_WINDOW_US = 2 * REST_TIMEOUT_MS * 1000;

export interface DepthBandHost {
  readonly log: Logger;
  now(): number;
  replaying(): boolean;
  stopping(): boolean;
  /** The market's rule: does a diff bridge a snapshot at `seq`, is it covered by it (the adapter's bridge's own). */
  bridges(seq: number, d: ChainedRange, t: BinanceTopic): boolean;
  covered(seq: number, d: DiffRange, t: BinanceTopic): boolean;
  /** Asks for the refresh's snapshot if the REST budget has room to spare; false when nothing was asked. */
  fetch(t: BinanceTopic): boolean;
  /** The refreshed book (a snapshot at the live book's update id) to the sink. */
  publish(t: BinanceTopic, book: BookUpdate): void;
}

/** The book a refresh composes: the snapshot's levels, then each diff after it, within the new snapshot's band. */
interface Composing {
  readonly t: BinanceTopic;
  readonly snapshot: BookUpdate;
  readonly bids: Map<number, number>;
  readonly asks: Map<number, number>;
  readonly bidFloor: number;
  readonly askCeiling: number;
  last: BookUpdate | null;
  /** The last diff's levels beyond the new band: counted only when that diff completes the refresh (finish). */
  lastBeyond: number;
}

export class DepthBand {
  private readonly bridge: MarketBridges<ChainedRange>;
  private composing: Composing | null = null;
  private readonly exhaustedLog: RateLimitedLog;
  /** A refresh's snapshot listing a price twice: a book whose side stays low asks again a second later, so limited. */
  private readonly repeatLog: RateLimitedLog;
  // Counters (cold reads).
  /** Refreshes that completed: the book replaced by a new snapshot while LIVE. */
  refreshes = 0;
  /** Refreshes that ended without one: refused, not bridging, too many diffs (the book stayed LIVE as it was). */
  refreshFailures = 0;
  /** Books whose bounded side had no level left (RESYNCING / depth_exhausted). */
  exhausted = 0;

  constructor(
    private readonly host: DepthBandHost,
    /** Refresh floor as a fraction of the limit; 0: no refresh, only the resync when a side is empty. */
    private readonly refreshFraction = DEPTH_REFRESH_FRACTION,
    /**
     * The byte budget of each market's refreshes' buffered diffs together (a quarter of the adapter's maxBufferedBytes,
     * options.ts splitBufferBudget, split by market-bridges.ts splitByMarket): over it the market's newest refreshes
     * give way, their books staying LIVE as they are.
     */
    bytesByMarket: ReadonlyMap<MarketName, number>,
  ) {
    this.exhaustedLog = new RateLimitedLog(host.log, "warn", "binance: a side bounded by the snapshot's depth has no level left (the price moved beyond it); books resynced");
    this.repeatLog = new RateLimitedLog(host.log, "warn", "binance: depth refresh refused: malformed snapshot; the book stays as it is");
    this.bridge = new MarketBridges<ChainedRange>({
      fetchSnapshot: () => Promise.reject(new Error("binance: refresh snapshots are supplied")),
      // USD-M's rule takes the diff right after the snapshot (pu = lastUpdateId) too: the one containing lastUpdateId
      // is often one the live book applied before the refresh began, and the next one continues it exactly.
      bridges: (seq, d, t) => host.bridges(seq, d, t as BinanceTopic),
      covered: (seq, d, t) => host.covered(seq, d, t as BinanceTopic),
      deliver: (t, u, d) => this.collect(t as BinanceTopic, u, d),
      fail: (t, why, detail) => this.fail(t as BinanceTopic, `${why}: ${detail}`),
    }, bytesByMarket);
  }

  /** Bytes the refreshes' buffered diffs take now (cold: stats). */
  get bufferedBytes(): number {
    return this.bridge.bufferedBytes;
  }

  /** The refreshes' REST snapshots received (cold: stats, with the resync bridges' in rest_snapshots_fetched_total). */
  get snapshotsFetched(): number {
    return this.bridge.snapshotsFetched;
  }

  /**
   * The adapter's verify() for a book with a bounded side, after an applied update: DEPTH_EXHAUSTED when such a side
   * is empty (the app then publishes nothing of it and resyncs), else NONE, starting a refresh at the floor.
   */
  check(t: BinanceTopic, book: BookView): StatusReason {
    const bids = t.bidFloor >= 0 ? book.bidCount : Infinity;
    const asks = t.askCeiling !== Infinity ? book.askCount : Infinity;
    if (bids === 0 || asks === 0) {
      this.exhausted++;
      this.exhaustedLog.hit(`${t.market} ${t.symbol} (limit ${t.depth}): no ${bids === 0 ? "bid" : "ask"} left at or ${bids === 0 ? "above" : "below"} the snapshot's worst price`);
      return StatusReason.DEPTH_EXHAUSTED;
    }
    if (!t.refreshing && Math.min(bids, asks) <= this.floorOf(t)) this.start(t);
    return StatusReason.NONE;
  }

  /** The levels a bounded side of `t` may fall to before it is refreshed. */
  private floorOf(t: BinanceTopic): number {
    return Math.ceil(t.depth * this.refreshFraction);
  }

  /** Diffs the refresh of `t` holds for its snapshot (cold: tests, diagnostics). */
  buffered(t: BinanceTopic): number {
    return this.bridge.buffered(t);
  }

  /** Whether a refresh of `t` waits for its snapshot or for a diff to bridge it. */
  isRefreshing(t: BinanceTopic): boolean {
    return t.refreshing && this.bridge.isBridging(t);
  }

  private start(t: BinanceTopic): void {
    if (this.host.stopping() || t.book !== BookState.LIVE) return;
    // Replay asks nothing: the capture's snapshot comes through supplyRecorded, wherever the live run's budget put it.
    if (!this.host.replaying() && this.host.now() < t.refreshNotBeforeMs) return;
    t.refreshing = true;
    this.bridge.begin(t, false);
    if (this.host.replaying()) return;
    if (!this.host.fetch(t)) this.end(t); // no spare REST weight now: a later diff tries again
  }

  /**
   * A diff the LIVE book applies while refreshing (before the depth rule clips it): buffered for the bridge. True when
   * it completed the refresh: the refreshed book, this diff included, is published and the diff must not be applied.
   */
  buffer(t: BinanceTopic, u: BookUpdate, first: number, prev: number): boolean {
    // Replay buffers from the first low diff on (it cannot know whether the live run's budget let the request go): the
    // live run's answer came within REST_TIMEOUT_MS of its request, so older diffs can bridge no recorded answer.
    if (this.host.replaying()) this.bridge.dropReceivedBefore(t, u.tsRecvUs - REPLAY_REFRESH_WINDOW_US);
    this.bridge.buffer(t, u, { first, last: u.venueSeq, prev });
    return this.finish(t, true);
  }

  /** The refresh's snapshot (REST): bridged to the diffs buffered since it was asked for, or waiting for one. */
  supply(t: BinanceTopic, snapshot: BookUpdate, seq: number): void {
    if (t.book !== BookState.LIVE) return this.cancel(t); // left LIVE meanwhile (halted, stale): its own resync rules
    this.bridge.supply(t, snapshot, seq);
    this.finish(t, false);
  }

  /** Replay: a recorded depth snapshot for a LIVE book, which the live run asked for to refresh it. */
  supplyRecorded(t: BinanceTopic, snapshot: BookUpdate, seq: number): void {
    if (!this.bridge.isBridging(t)) {
      t.refreshing = true;
      this.bridge.begin(t, false);
    }
    this.supply(t, snapshot, seq);
  }

  /** A refused or unreadable refresh snapshot: the book stays LIVE as it is. */
  refused(t: BinanceTopic, detail: string): void {
    if (this.bridge.isBridging(t)) this.fail(t, `refused: ${detail}`);
  }

  /** Ends a refresh without a snapshot (the book resyncs, its connection dropped, stop, over its budget). */
  cancel(t: BinanceTopic): void {
    this.bridge.cancel(t);
    if (this.composing?.t === t) this.composing = null;
    if (t.refreshing) {
      // The request under way was the refresh's: given up (abandoned). Before, one still out when its refresh gave way
      // (over the budget) answered the book's next refresh, a second on, as that one's own snapshot.
      t.fetching = false;
      abandonFetch(t);
    }
    t.refreshing = false;
  }

  private fail(t: BinanceTopic, why: string): void {
    this.refreshFailures++;
    this.host.log.debug("binance: depth refresh did not complete; the book stays as it is", { market: t.market, symbol: t.symbol, why });
    this.end(t);
  }

  private end(t: BinanceTopic): void {
    this.cancel(t);
    t.refreshNotBeforeMs = this.host.now() + DEPTH_REFRESH_SPACING_MS;
  }

  /** The bridge hands over the snapshot (d null), then each diff after it: composed into one book. */
  private collect(t: BinanceTopic, u: BookUpdate, d: ChainedRange | null): void {
    if (d === null) {
      // A full side (as many levels as asked for) bounds the new band, as a resync's snapshot does (adapter.ts).
      const bidFloor = u.bidCount >= t.depth && u.bidCount > 0 ? extreme(u.bidPx, u.bidCount, Math.min) : -1;
      const askCeiling = u.askCount >= t.depth && u.askCount > 0 ? extreme(u.askPx, u.askCount, Math.max) : Infinity;
      const c: Composing = { t, snapshot: u, bids: new Map(), asks: new Map(), bidFloor, askCeiling, last: null, lastBeyond: 0 };
      for (let i = 0; i < u.bidCount; i++) c.bids.set(u.bidPx[i]!, u.bidQty[i]!);
      for (let i = 0; i < u.askCount; i++) c.asks.set(u.askPx[i]!, u.askQty[i]!);
      if (c.bids.size !== u.bidCount || c.asks.size !== u.askCount) {
        // A price listed twice: which size the venue holds is unknown (the builder refuses such a snapshot; composed
        // here, the last would have been kept and published LIVE). The refresh is given up; the book stays as it is.
        const bid = c.bids.size !== u.bidCount;
        const px = bid ? u.bidPx : u.askPx;
        const n = bid ? u.bidCount : u.askCount;
        const seen = new Set<number>(); // cold: the first entry whose price an earlier one lists
        let at = 0;
        while (at < n && !seen.has(px[at]!)) seen.add(px[at++]!);
        const why = `the snapshot lists ${bid ? "bid" : "ask"} price mantissa ${px[at]} twice`;
        this.repeatLog.hit(`${t.market} ${t.symbol}: ${why}`);
        this.fail(t, why);
        return;
      }
      this.composing = c;
      return;
    }
    const c = this.composing;
    if (c === null || c.t !== t) return;
    let beyond = 0;
    for (let i = 0; i < u.bidCount; i++) beyond += setLevel(c.bids, u.bidPx[i]!, u.bidQty[i]!, u.bidPx[i]! < c.bidFloor);
    for (let i = 0; i < u.askCount; i++) beyond += setLevel(c.asks, u.askPx[i]!, u.askQty[i]!, u.askPx[i]! > c.askCeiling);
    c.last = u;
    c.lastBeyond = beyond;
  }

  /**
   * Publishes a composed book, if the bridge just completed one. True when it did. `byDiffAtHand`: completed by the diff
   * buffer() was given, which the live book will not apply: its levels beyond the new band count here
   * (levels_beyond_depth_total). The diffs before it were counted when the live book applied them (the adapter's
   * clipBeyondDepth); until s-rdbin10 the composition counted each of them again.
   */
  private finish(t: BinanceTopic, byDiffAtHand: boolean): boolean {
    const c = this.composing;
    if (c === null || c.t !== t) return false;
    this.composing = null;
    const seq = c.last?.venueSeq ?? c.snapshot.venueSeq;
    // The buffered diffs are the ones the live book applied, so the composed book ends at its update id. Anything else
    // (a snapshot newer than the book, bridged by no diff yet, cannot complete here) is not published.
    if (seq !== t.lastSeq || t.book !== BookState.LIVE) {
      this.fail(t, `composed at ${seq}, the book at ${t.lastSeq}`);
      return false;
    }
    const from = c.last ?? c.snapshot;
    const out = new BookUpdate(Math.max(c.bids.size, c.asks.size, 1));
    out.isSnapshot = true;
    out.venueSeq = seq;
    out.tsExchangeUs = from.tsExchangeUs;
    out.tsEventUs = from.tsEventUs;
    out.tsRecvUs = from.tsRecvUs;
    for (const [px, qty] of [...c.bids].sort((a, b) => b[0] - a[0])) out.pushBid(px, qty);
    for (const [px, qty] of [...c.asks].sort((a, b) => a[0] - b[0])) out.pushAsk(px, qty);
    t.bidFloor = c.bidFloor;
    t.askCeiling = c.askCeiling;
    if (byDiffAtHand) t.beyondDepth += c.lastBeyond;
    this.refreshes++;
    this.cancel(t);
    // The next refresh may follow as soon as the side runs low again, unless it is low already (a market moving
    // faster than REST answers): then a second on, not in a loop.
    const low = Math.min(c.bidFloor >= 0 ? c.bids.size : Infinity, c.askCeiling !== Infinity ? c.asks.size : Infinity) <= this.floorOf(t);
    t.refreshNotBeforeMs = low ? this.host.now() + DEPTH_REFRESH_SPACING_MS : 0;
    this.host.publish(t, out);
    return true;
  }
}

/** One diff level into a composed side; 1 when it lies beyond the band (dropped), else 0. */
function setLevel(side: Map<number, number>, px: number, qty: number, beyond: boolean): number {
  if (beyond) return 1;
  if (qty === 0) side.delete(px);
  else side.set(px, qty);
  return 0;
}

function extreme(a: Float64Array, n: number, pick: (x: number, y: number) => number): number {
  let m = a[0]!;
  for (let i = 1; i < n; i++) m = pick(m, a[i]!);
  return m;
}
