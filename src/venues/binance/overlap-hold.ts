/**
 * Diffs ahead of the book during a planned reconnect's overlap (docs/venues/binance.md, "Planned reconnects"). Two
 * sockets deliver the same streams over paths of different speed: when the replacement's path is faster, its first
 * diffs arrive before the old socket's diffs that come before them (spot `U` > last `u` + 1, USD-M `pu` > last `u`).
 * That is not a break while the other socket can still fill the gap (it serves the stream and has not skipped the
 * gap itself): such a diff is held (a copy, per stream, at most HOLD_MAX) until the gap is filled, then the held
 * diffs are applied in order while they chain. A stream being bridged (REST snapshot) that the old socket serves gets
 * the old socket's diffs alone in its bridge; the replacement's wait here until the book is live. The old socket is
 * kept until each stream it served has had a diff of the replacement applied or repeated (its stream joined the book),
 * within the ack deadline: closing it earlier would lose the diffs still on its path. When the overlap ends what is
 * still held and does not chain is a break (see overlapOver). Never applied out of order.
 * Memory: the copies held, all streams of a market together, are bounded by that market's part of the hold's budget
 * (`maxBytes`: the adapter's quarter of rest_bridge_buffer_bytes split by market-bridges.ts splitByMarket, as the
 * bridges' and the refreshes' are; bytesOfCopy each, as a bridge counts them). A diff that does not fit is not held:
 * ahead of a live book it is a break (the book resyncs, `holdOverBudget`), one for a bridge is buffered by the bridge
 * as usual (under the bridges' budget). Before, only HOLD_MAX per stream bounded it: 100 copies of each stream,
 * uncounted; until s-binmisc both markets shared one budget, so one market's overlaps could take the other's room.
 * Cold: only during an overlap; nothing is allocated otherwise.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { BookState, type MarketName } from "../../core/types.ts";
import { bytesOfCopy, copyUpdate, DEFAULT_MAX_BUFFERED_BYTES } from "../common/rest-bridge.ts";
import type { VenueConnection } from "../common/connection.ts";
import type { OverlapCarrier } from "../common/planned-reconnect.ts";
import { type BinanceTopic, SUB_ACTIVE, SUB_PENDING } from "./connection.ts";

/** Diffs held per stream (10 s of `@depth@100ms`); one more is a break. */
export const HOLD_MAX = 100;

interface Held {
  readonly update: BookUpdate;
  readonly first: number;
  readonly prev: number;
  /** From the replacement (not the old socket): applying it joins the replacement's stream to the book. */
  readonly fromReplacement: boolean;
  /** What its copy takes (bytesOfCopy), counted in heldBytes. */
  readonly bytes: number;
}

export interface OverlapHost {
  /** Applies a diff that chains on the book (the adapter's apply), with its U and pu. */
  apply(t: BinanceTopic, u: BookUpdate, first: number, prev: number): void;
  /** A break: count it and resync the stream. */
  breakStream(t: BinanceTopic, first: number, prev: number, u: number): void;
  /** A held diff the book had by then (counted as a duplicate). */
  repeat(): void;
  /**
   * A diff held for a stream being bridged, handed over as if it had just arrived (the overlap is over, the replacement
   * carries on): to the bridge, or, once one of them has completed it, to the live book's chain rule.
   */
  rebuffer(t: BinanceTopic, u: BookUpdate, first: number, prev: number): void;
}

export class OverlapHold {
  private readonly held = new Map<BinanceTopic, Held[]>();
  /** Per stream, the connection generation (the replacement's) whose stream joined the book. */
  private readonly joined = new Map<BinanceTopic, number>();
  /**
   * Diffs taken into the hold (cold read), each once: one held before and handed back (to the bridge at the overlap's
   * end, then by the bridge to the chain rule during the next overlap) is not counted again if held again.
   */
  heldTotal = 0;
  /**
   * Those held diffs the book applied, each once, whichever way: in order from the hold once the gap was filled, or
   * handed to the bridge and applied from it (the adapter counts those: `handing`). A held diff the book had by
   * then (a repeat, in the snapshot), or dropped when the stream resyncs or the overlap ends, is not applied.
   */
  heldApplied = 0;
  /**
   * Set while the adapter hands over a diff its bridge buffered: whether that diff came from the old socket (null: the
   * frame being handled now, `conn.fromRetiring`). The two sockets must be told apart for the hold and the join.
   */
  origin: boolean | null = null;
  /** Set while the adapter hands over a diff that was held (and counted in heldTotal) before. */
  handing = false;
  /** Bytes the held copies of all streams take now (bytesOfCopy): the markets' heldBytesOf together. */
  heldBytes = 0;
  /** Per market, the bytes its streams' held copies take now, each at most its maxBytesOf. */
  private readonly heldByMarket = new Map<MarketName, number>();
  /** Diffs not held because they did not fit in maxBytes (cold read): a break, or buffered by the bridge. */
  overBudget = 0;

  constructor(
    private readonly host: OverlapHost,
    /**
     * The byte budget of the held copies of each market's streams together (a market not in the map: none); a number
     * is every market's (tests).
     */
    private readonly maxBytes: number | ReadonlyMap<MarketName, number> = DEFAULT_MAX_BUFFERED_BYTES,
  ) {}

  /** The byte budget of `market`'s held copies. */
  maxBytesOf(market: MarketName): number {
    return typeof this.maxBytes === "number" ? this.maxBytes : (this.maxBytes.get(market) ?? 0);
  }

  /** The bytes `market`'s held copies take now. */
  heldBytesOf(market: MarketName): number {
    return this.heldByMarket.get(market) ?? 0;
  }

  /** Counts `bytes` more (or, negative, fewer) held for `t`'s market. */
  private addBytes(t: BinanceTopic, bytes: number): void {
    this.heldBytes += bytes;
    this.heldByMarket.set(t.market, this.heldBytesOf(t.market) + bytes);
  }

  /** Whether a diff not chaining on the live book is ahead of it (a gap another socket may fill). */
  static ahead(t: BinanceTopic, first: number, prev: number): boolean {
    return t.market === "spot" ? first > t.lastSeq + 1 : prev > t.lastSeq;
  }

  /**
   * Holds a diff ahead of the book while the other socket may still fill the gap before it; false (nothing held) when
   * none can: a break. Each socket delivers a stream's diffs in order, so a socket that delivered a diff ahead of the
   * book never delivers the ones before it: the other socket must serve the stream (the old one serves what it had
   * at the swap, `onRetiring`; the replacement, what is subscribed on it) and must not have skipped the gap too.
   */
  hold(t: BinanceTopic, u: BookUpdate, first: number, prev: number): boolean {
    const fromReplacement = !this.fromOld(t);
    if (fromReplacement ? !t.onRetiring : t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) return this.noHold(t);
    let list = this.held.get(t);
    if (!list) this.held.set(t, (list = []));
    const seq = u.venueSeq;
    let i = list.length;
    while (i > 0 && list[i - 1]!.update.venueSeq > seq) i--;
    for (const h of list) if (h.fromReplacement !== fromReplacement) return this.noHold(t); // both sockets past the gap
    if (i > 0 && list[i - 1]!.update.venueSeq === seq) return true; // a repeat from the same socket (not one more held)
    if (list.length >= HOLD_MAX || !this.fits(t, u)) return this.noHold(t);
    this.insert(t, list, i, u, first, prev, fromReplacement);
    return true;
  }

  private noHold(t: BinanceTopic): false {
    this.release(t);
    return false;
  }

  /** Whether a copy of `u` fits in its market's part of the budget; counted in overBudget when not. */
  private fits(t: BinanceTopic, u: BookUpdate): boolean {
    if (this.heldBytesOf(t.market) + bytesOfCopy(u) <= this.maxBytesOf(t.market)) return true;
    this.overBudget++;
    return false;
  }

  private insert(t: BinanceTopic, list: Held[], i: number, u: BookUpdate, first: number, prev: number, fromReplacement: boolean): void {
    const bytes = bytesOfCopy(u);
    list.splice(i, 0, { update: copyUpdate(u), first, prev, fromReplacement, bytes });
    this.addBytes(t, bytes);
    if (!this.handing) this.heldTotal++;
  }

  /** Ends what `t` holds, its bytes freed; returns it (empty when nothing was held). */
  private release(t: BinanceTopic): Held[] {
    const list = this.held.get(t);
    if (!list) return [];
    this.held.delete(t);
    for (const h of list) this.addBytes(t, -h.bytes);
    return list;
  }

  /**
   * A diff of the replacement for a stream being bridged (not LIVE) that the old socket serves: it waits here, so the
   * bridge gets the old socket's diffs alone (continuous; the replacement's first diff may come before diffs between
   * it and the snapshot that are still on the old socket's path: a no_bridge and one more snapshot) and the old socket
   * is kept (awaitingJoin). Once the book is live they are applied, repeated or held by the chain rule (settle); if the
   * overlap ends first they go to the bridge (overlapOver). False (buffered as usual) at HOLD_MAX, over maxBytes or
   * from the old socket.
   */
  holdForBridge(t: BinanceTopic, u: BookUpdate, first: number, prev: number): boolean {
    if (this.fromOld(t) || !t.onRetiring) return false;
    let list = this.held.get(t);
    if (!list) this.held.set(t, (list = []));
    const seq = u.venueSeq;
    let i = list.length;
    while (i > 0 && list[i - 1]!.update.venueSeq > seq) i--;
    if (i > 0 && list[i - 1]!.update.venueSeq === seq) return true; // a repeat
    if (list.length >= HOLD_MAX || !this.fits(t, u)) {
      if (list.length === 0) this.held.delete(t);
      return false;
    }
    this.insert(t, list, i, u, first, prev, true);
    return true;
  }

  /**
   * Runs `deliver` for a diff a bridge buffered or the hold hands back, as coming from its own socket (`fromOld`; null:
   * the frame at hand) and, with `held`, as one held before (not counted as held again).
   */
  asFrom(fromOld: boolean | null, held: boolean, deliver: () => void): void {
    const origin = this.origin;
    const handing = this.handing;
    this.origin = fromOld;
    this.handing = held;
    try {
      deliver();
    } finally {
      this.origin = origin;
      this.handing = handing;
    }
  }

  /** Whether the diff at hand came from the old socket. */
  fromOld(t: BinanceTopic): boolean {
    return this.origin ?? t.conn.fromRetiring;
  }

  /** The bridge made the book live (its first diff applied): what was held for it now applies, repeats or waits. */
  settle(t: BinanceTopic): void {
    if (t.book === BookState.LIVE) this.drain(t);
  }

  /** A diff of the overlap was applied or was a repeat: note the replacement's join, apply what now chains. */
  afterDiff(t: BinanceTopic): void {
    if (!this.fromOld(t)) this.joined.set(t, t.conn.generation);
    this.drain(t);
  }

  /** Applies held diffs in order while they chain on the book; drops those the book has. */
  private drain(t: BinanceTopic): void {
    const list = this.held.get(t);
    if (!list) return;
    while (list.length > 0 && t.book === BookState.LIVE) {
      const h = list[0]!;
      if (h.update.venueSeq <= t.lastSeq) {
        list.shift();
        this.addBytes(t, -h.bytes);
        if (h.fromReplacement) this.joined.set(t, t.conn.generation); // its stream has reached the book
        this.host.repeat();
        continue;
      }
      if (t.market === "spot" ? h.first !== t.lastSeq + 1 : h.prev !== t.lastSeq) break;
      list.shift();
      this.addBytes(t, -h.bytes);
      this.heldApplied++;
      if (h.fromReplacement) this.joined.set(t, t.conn.generation);
      this.host.apply(t, h.update, h.first, h.prev);
    }
    if (list.length === 0 || t.book !== BookState.LIVE) this.release(t);
  }

  /**
   * Whether the old socket is still needed: a stream holding diffs it may fill, or one it served that the replacement
   * also carries whose replacement stream has not joined the book. Live or being bridged alike: a bridge needs the old
   * socket's diffs as much as a live book does (closed with diffs on its path, the bridge has a hole: a no_bridge and
   * one more snapshot). Not a stream waiting out a resync backoff: not subscribed on the replacement, it takes no diffs.
   */
  awaitingJoin(conn: VenueConnection): boolean {
    for (const t of conn.topics as BinanceTopic[]) {
      if (this.held.has(t)) return true;
      if (!t.onRetiring || t.resyncDelayed || (t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING)) continue;
      if (this.joined.get(t) !== conn.generation) return true;
    }
    return false;
  }

  /**
   * The overlap is over. The replacement carries on: what is held applies if it chains, else its stream resyncs.
   * Gone back to the old socket: it delivered every diff continuously, so the replacement's held diffs come again
   * from it (dropped, not a break) for each stream it served; only a gap in the old socket's own diffs is one. No
   * socket (recycled, stopped): nothing held counts (the books are invalidated by the caller, or the adapter stops).
   */
  overlapOver(conn: VenueConnection, carrier: OverlapCarrier): void {
    for (const t of conn.topics as BinanceTopic[]) {
      this.joined.delete(t);
      if (!this.held.has(t)) continue;
      if (carrier === "none") {
        this.release(t);
        continue;
      }
      if (t.book !== BookState.LIVE) {
        // Held for a bridge: the replacement, alone now, hands them to it; gone back to, the old socket delivers them.
        const list = this.release(t);
        if (carrier === "replacement") for (const h of list) this.host.rebuffer(t, h.update, h.first, h.prev);
        continue;
      }
      // Gone back to: a stream the old socket served (ACTIVE again) gets every diff from it; others were not on it.
      if (carrier === "old" && t.sub === SUB_ACTIVE) {
        const kept = this.release(t).filter((h) => !h.fromReplacement);
        for (const h of kept) this.addBytes(t, h.bytes);
        if (kept.length > 0) this.held.set(t, kept);
      }
      this.drain(t);
      const list = this.release(t);
      if (list.length === 0) continue;
      const h = list[0]!;
      if (t.book === BookState.LIVE) this.host.breakStream(t, h.first, h.prev, h.update.venueSeq);
    }
  }

  /** The stream starts afresh (resync, instrument change): nothing held counts any more. */
  drop(t: BinanceTopic): void {
    this.release(t);
  }

  get holding(): number {
    let n = 0;
    for (const l of this.held.values()) n += l.length;
    return n;
  }
}
