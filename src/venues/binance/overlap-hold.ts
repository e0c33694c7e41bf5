/**
 * Diffs ahead of the book during a planned reconnect's overlap (docs/venues/binance.md, "Planned reconnects"). Two
 * sockets deliver the same streams over paths of different speed: when the replacement's path is faster, its first
 * diffs arrive before the old socket's diffs that come before them (spot `U` > last `u` + 1, USD-M `pu` > last `u`).
 * That is not a break: such a diff is held (a copy, per stream, at most HOLD_MAX) until the other socket's diffs
 * fill the gap, as long as the other socket can (it serves the stream and has not skipped the gap itself); then the held diffs are applied in order while they chain. And the old socket is kept until each live
 * stream has had a diff of the replacement applied or repeated (its stream joined the book), within the ack deadline:
 * closing it earlier would lose the diffs still on its path. When the overlap ends (old socket closed, or gone back
 * to) what is still held and does not chain is a break (see overlapOver). Never applied out of order.
 * Cold: only during an overlap; nothing is allocated otherwise.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { BookState } from "../../core/types.ts";
import { copyUpdate } from "../common/rest-bridge.ts";
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
}

export interface OverlapHost {
  /** Applies a diff that chains on the book (the adapter's apply). */
  apply(t: BinanceTopic, u: BookUpdate): void;
  /** A break: count it and resync the stream. */
  breakStream(t: BinanceTopic, first: number, prev: number, u: number): void;
  /** A held diff the book had by then (counted as a duplicate). */
  repeat(): void;
}

export class OverlapHold {
  private readonly held = new Map<BinanceTopic, Held[]>();
  /** Per stream, the connection generation (the replacement's) whose stream joined the book. */
  private readonly joined = new Map<BinanceTopic, number>();
  /** Diffs held so far (cold read). */
  heldTotal = 0;
  /** Held diffs applied once the gap was filled. */
  heldApplied = 0;

  constructor(private readonly host: OverlapHost) {}

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
    const fromReplacement = !t.conn.fromRetiring;
    if (fromReplacement ? !t.onRetiring : t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING) return this.noHold(t);
    let list = this.held.get(t);
    if (!list) this.held.set(t, (list = []));
    const seq = u.venueSeq;
    let i = list.length;
    while (i > 0 && list[i - 1]!.update.venueSeq > seq) i--;
    for (const h of list) if (h.fromReplacement !== fromReplacement) return this.noHold(t); // both sockets past the gap
    if (i > 0 && list[i - 1]!.update.venueSeq === seq) return true; // a repeat from the same socket (not one more held)
    if (list.length >= HOLD_MAX) return this.noHold(t);
    list.splice(i, 0, { update: copyUpdate(u), first, prev, fromReplacement });
    this.heldTotal++;
    return true;
  }

  private noHold(t: BinanceTopic): false {
    this.held.delete(t);
    return false;
  }

  /** A diff of the overlap was applied or was a repeat: note the replacement's join, apply what now chains. */
  afterDiff(t: BinanceTopic): void {
    if (!t.conn.fromRetiring) this.joined.set(t, t.conn.generation);
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
        this.host.repeat();
        continue;
      }
      if (t.market === "spot" ? h.first !== t.lastSeq + 1 : h.prev !== t.lastSeq) break;
      list.shift();
      this.heldApplied++;
      if (h.fromReplacement) this.joined.set(t, t.conn.generation);
      this.host.apply(t, h.update);
    }
    if (list.length === 0 || t.book !== BookState.LIVE) this.held.delete(t);
  }

  /**
   * Whether the old socket is still needed: a live stream it served whose replacement stream has not joined the book,
   * or one holding diffs it may fill.
   */
  awaitingJoin(conn: VenueConnection): boolean {
    for (const t of conn.topics as BinanceTopic[]) {
      if (this.held.has(t)) return true;
      if (!t.onRetiring || t.book !== BookState.LIVE || (t.sub !== SUB_ACTIVE && t.sub !== SUB_PENDING)) continue;
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
        this.held.delete(t);
        continue;
      }
      // Gone back to: a stream the old socket served (ACTIVE again) gets every diff from it; others were not on it.
      if (carrier === "old" && t.sub === SUB_ACTIVE) this.held.set(t, this.held.get(t)!.filter((h) => !h.fromReplacement));
      this.drain(t);
      const list = this.held.get(t);
      if (!list) continue;
      this.held.delete(t);
      const h = list[0]!;
      if (t.book === BookState.LIVE) this.host.breakStream(t, h.first, h.prev, h.update.venueSeq);
    }
  }

  /** The stream starts afresh (resync, instrument change): nothing held counts any more. */
  drop(t: BinanceTopic): void {
    this.held.delete(t);
  }

  get holding(): number {
    let n = 0;
    for (const l of this.held.values()) n += l.length;
    return n;
  }
}
