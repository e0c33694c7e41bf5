/**
 * Resync kind `rest_snapshot` (Binance, OKX without a WebSocket snapshot), for every venue that needs it (cold:
 * only a resyncing topic goes through here). While a topic bridges, its diffs are buffered (copied); a REST depth
 * snapshot is fetched; diffs the snapshot already covers are dropped; the first remaining diff must bridge it by
 * the venue's rule (Binance spot: U ≤ lastUpdateId + 1 ≤ u); then the snapshot and the remaining diffs are
 * delivered in order to the adapter's own sequencing. A refused snapshot (HTTP error) or one that cannot bridge (the
 * diffs already start after it: older than them) fails the attempt, and the adapter's resync backoff decides when to
 * try again; a snapshot too old keeps the topic bridging, its diffs buffered for the next one (supplied: one begun
 * with a fetch, which nothing would fetch again, ends as a refused one does).
 *
 * Memory is bounded across every topic of one bridge (one adapter; Binance: one a market): the buffered copies count against `maxBytes`
 * (DEFAULT_MAX_BUFFERED_BYTES). A diff that would take the total past it drops the buffers of the bridges whose snapshot
 * was asked for after its topic's, last asked first, or (when those do not free enough) its own topic's ("overflow",
 * counted in budgetDrops): a dropped topic is no longer bridging, its book stays RESYNCING and the adapter starts a new
 * bridge later. The bridge asked for first (the next one the REST queue serves) thus keeps its buffer; one with no
 * request out (its snapshot refused or not bridging, waiting out a backoff: waits(), no_bridge) goes behind every one
 * with a request out, and when it asks again (requested()) behind those asked since. Nothing is ever delivered from a
 * buffer with a hole in it.
 * @module
 */
import { BookUpdate } from "../../core/book-update.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import type { TopicState } from "./connection.ts";
import type { InvalidateTopic } from "./subscription-control.ts";

/**
 * The invalidate hook of an adapter that bridges REST snapshots (Binance, OKX): a refused book (HALTED, or its
 * subscribe refused for now, SUBSCRIBE_REJECTED, to be sent again) waits for no REST snapshot, so its bridge is
 * dropped (`dropBridge`: its buffer goes, a request still out is given up unrecorded, so replay does not bridge it
 * either) before the book is invalidated. Before s-binhalt / s-rdrepd2 / s-rd3a a snapshot still to come bridged the
 * updates buffered before the refusal to LIVE. Refused for now, it ignores its updates until a subscribe of it is
 * accepted again (TopicState.refusedUntilAck): before s-refold the next one opened a new bridge, its snapshot asked
 * for (REST weight) and the book LIVE from it, the subscribe still waiting to be sent again. A halt leaves the mark as
 * it was (SUB_REJECTED ignores the updates meanwhile): a book refused for now, closed and listed again while its retry
 * waits takes that retry's answer as its subscribe's (ConnectionLifecycle.activateAll), and until s-rd4a, the mark
 * cleared by the halt, its next update opened a bridge and made it LIVE before the retry went. Before s-refold each
 * adapter carried this rule itself.
 */
export function refusalDropsBridge(dropBridge: (t: TopicState) => void, invalidate: InvalidateTopic): InvalidateTopic {
  return (t, state, reason) => {
    if (state === BookState.HALTED || reason === StatusReason.SUBSCRIBE_REJECTED) {
      dropBridge(t);
      if (state !== BookState.HALTED) t.refusedUntilAck = true;
    }
    invalidate(t, state, reason);
  };
}

/**
 * The sequence range a diff covers (Binance `U`..`u`). The object buffered with a diff is handed back with it by
 * deliver(), so a venue may keep more of that diff in it (Binance: `pu`, the socket, whether it was held).
 */
export interface DiffRange {
  readonly first: number;
  readonly last: number;
}

export interface RestBridgeHooks<R extends DiffRange = DiffRange> {
  /** Fetches the topic's REST snapshot into `into` (isSnapshot) and returns its sequence (lastUpdateId). Throws when refused. */
  fetchSnapshot(t: TopicState, into: BookUpdate): Promise<number>;
  /** Does the first diff after a snapshot at `snapSeq` bridge it? (Binance spot: first ≤ snapSeq + 1 ≤ last.) */
  bridges(snapSeq: number, diff: R, t: TopicState): boolean;
  /**
   * Is a buffered diff already in the snapshot (dropped)? Default `last ≤ snapSeq` (Binance spot); Binance USD-M
   * keeps the diff ending at lastUpdateId (`last < snapSeq`), since that one bridges. Both rules get the topic, so
   * one adapter can serve markets with different rules.
   */
  covered?(snapSeq: number, diff: R, t: TopicState): boolean;
  /**
   * Hands the snapshot (range null), then each remaining diff with the range it was buffered with, to the adapter's
   * sequencing (as if they had just arrived).
   */
  deliver(t: TopicState, update: BookUpdate, range: R | null): void;
  /**
   * The attempt failed: "refused" (REST error), "no_bridge" (the diffs start after the snapshot: still bridging, the
   * diffs stay buffered for the next snapshot, which the adapter supplies; a bridge begun with a fetch, which nothing
   * would fetch again, ends as a refused one does) or "overflow" (too many diffs buffered: no longer bridging).
   */
  fail(t: TopicState, why: "refused" | "no_bridge" | "overflow", detail: string): void;
}

interface Bridging<R extends DiffRange> extends RankNode<Bridging<R>> {
  readonly t: TopicState;
  askedSeq: number;
  readonly diffs: { update: BookUpdate; range: R; bytes: number }[];
  /** What the diffs' copies take (bytesOfCopy), counted in RestBridge.bufferedBytes. */
  bytes: number;
  snapshot: BookUpdate | null;
  snapSeq: number;
  /** Begun with a fetch (begin's `fetch`): its snapshot comes from fetchSnapshot, once; else through supply(). */
  readonly fetches: boolean;
}

/** Diffs buffered per topic before the attempt is given up (a snapshot that never comes). */
export const MAX_BUFFERED_DIFFS = 10_000;

/**
 * Bytes of buffered diff copies, across every topic of one bridge, before a diff that does not fit drops buffers
 * (makeRoom): 256 MiB (e.g. ~2,500 diffs of 100 levels a side). Without it 200 books of a REST ban each kept 10k copies.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

/**
 * A bridge's buffer as makeRoom sees it: the bytes it holds now, and when its snapshot was last asked for (a larger
 * askedSeq: later, so further back in the REST queue). One with no request out (waiting out a backoff, or not asked
 * yet) ranks at WAITING_RANK and up: behind every bridge with a request out, whatever it held before.
 */
export interface BudgetedBuffer {
  readonly bytes: number;
  readonly askedSeq: number;
}

/**
 * The askedSeq base of a bridge with no request out (waiting ones among themselves in the order they began to wait):
 * above any count of snapshots asked for, within 2^53. Before, a refused bridge's rank was renewed when refused and
 * kept through its backoff: a bridge asked for during that backoff ranked after it though REST served it first, and
 * the waiting one's diffs pushed its buffer out, its answer lost.
 */
export const WAITING_RANK = 2 ** 52;

/** A bridge's buffer in a RankOrder: its rank (askedSeq) and its neighbours in that order (null at the ends, or out). */
export interface RankNode<B> extends BudgetedBuffer {
  askedSeq: number;
  rankPrev: B | null;
  rankNext: B | null;
}

/**
 * One bridge's buffers in makeRoom's order (askedSeq ascending): those with a request out, then the waiting ones
 * (WAITING_RANK and up), each group in the order its ranks were given, so a new rank goes at its group's end: O(1).
 * This bridge's and OKX's (okx/rest-bridge.ts).
 */
export class RankOrder<B extends RankNode<B>> {
  private first: B | null = null;
  private last: B | null = null;
  /** The last one with a request out (askedSeq < WAITING_RANK), or null: the waiting ones follow it. */
  private lastRequested: B | null = null;
  /** Buffers read by makeRoom, all calls together (cold: tests; bounded by the drops, not the buffers). */
  visits = 0;

  /** Gives `b` rank `askedSeq` (increasing within its group: a count of snapshots asked for, or WAITING_RANK + it). */
  rank(b: B, askedSeq: number): void {
    this.remove(b);
    b.askedSeq = askedSeq;
    const after = askedSeq < WAITING_RANK ? this.lastRequested : this.last;
    b.rankPrev = after;
    b.rankNext = after ? after.rankNext : this.first;
    if (b.rankPrev) b.rankPrev.rankNext = b;
    else this.first = b;
    if (b.rankNext) b.rankNext.rankPrev = b;
    else this.last = b;
    if (askedSeq < WAITING_RANK) this.lastRequested = b;
  }

  /** Takes `b` out (its bridge ended); a no-op for one not in. */
  remove(b: B): void {
    if (this.lastRequested === b) this.lastRequested = b.rankPrev; // the ones before it have a request out too
    if (b.rankPrev) b.rankPrev.rankNext = b.rankNext;
    else if (this.first === b) this.first = b.rankNext;
    if (b.rankNext) b.rankNext.rankPrev = b.rankPrev;
    else if (this.last === b) this.last = b.rankPrev;
    b.rankPrev = b.rankNext = null;
  }

  /**
   * Frees `bytes` within `budget.maxBytes` for a buffer of `own` by dropping (`drop`, which must release what the
   * dropped one held and remove it) the buffers of the bridges asked for after it, last asked first; false (nothing
   * dropped) when even all of them would not free enough. Before, the topic whose item did not fit always gave way:
   * the oldest bridge, whose snapshot is due first, held the most and was dropped first, and once a snapshot took
   * longer than the budget took to fill no book ever bridged. And until a failed snapshot's bridge went behind those
   * asked since (askedSeq renewed), one failing every time kept its place while asking at the queue's end: its buffer
   * pushed out those of the bridges REST served meanwhile, their answers lost.
   * Cold: only over the budget. Walks back from the last only as far as the bytes needed, then drops those: a diff of
   * the last bridge (the usual one over a full budget) reads none; otherwise those read are the ones dropped, any
   * holding nothing among them, or (when they cannot free enough) ones holding less than this item in all. Before,
   * every item over the budget read all the buffers (20,000 streams at a full budget: 20,000 reads an item).
   */
  makeRoom(budget: { readonly bufferedBytes: number; readonly maxBytes: number }, own: B, bytes: number, drop: (b: B) => void): boolean {
    const needed = budget.bufferedBytes + bytes - budget.maxBytes;
    let freeable = 0;
    for (let o = this.last; o && o !== own && freeable < needed; o = o.rankPrev) {
      this.visits++;
      freeable += o.bytes;
    }
    if (freeable < needed) return false;
    let o = this.last;
    while (o && o !== own && this.has(own) && budget.bufferedBytes + bytes > budget.maxBytes) {
      this.visits++;
      const before = o.rankPrev;
      if (o.bytes > 0) drop(o);
      // The drop's hooks may have begun or ended bridges meanwhile: carry on from the last one then.
      o = before && this.has(before) ? before : this.last;
    }
    return budget.bufferedBytes + bytes <= budget.maxBytes;
  }

  private has(b: B): boolean {
    return b.rankNext !== null || this.last === b;
  }
}

/** Per copy beyond its level arrays: the BookUpdate and its array headers, the buffer entry and its range (estimate). */
const COPY_OVERHEAD_BYTES = 400;

/** What copyUpdate(u) takes: four Float64Arrays of max(1, bids, asks) levels, and the objects around them. */
export function bytesOfCopy(u: BookUpdate): number {
  return Math.max(1, u.bidCount, u.askCount) * 32 + COPY_OVERHEAD_BYTES;
}

export class RestBridge<R extends DiffRange = DiffRange> {
  private readonly topics = new Map<TopicState, Bridging<R>>();
  /** The bridges in makeRoom's order: a diff over the budget reads only the ones it drops. */
  private readonly order = new RankOrder<Bridging<R>>();
  /** Snapshots asked for or waited for so far (each bridge's askedSeq: at begin(), requested(), waits(), a no_bridge). */
  private asked = 0;
  /** Bytes the buffered copies of every topic take now (bytesOfCopy), at most maxBytes. */
  bufferedBytes = 0;
  // Counters (cold reads).
  snapshotsFetched = 0;
  refused = 0;
  noBridge = 0;
  /** Topics whose buffer was dropped because a diff did not fit in maxBytes. */
  budgetDrops = 0;
  /** The most bufferedBytes has been. */
  peakBufferedBytes = 0;
  /** Bridges read by makeRoom over the budget, all calls together (cold: tests; bounded by the drops, not the bridges). */
  get budgetVisits(): number {
    return this.order.visits;
  }

  constructor(
    private readonly hooks: RestBridgeHooks<R>,
    /** The byte budget of all buffered copies together (DEFAULT_MAX_BUFFERED_BYTES). */
    readonly maxBytes = DEFAULT_MAX_BUFFERED_BYTES,
    /** Told after each diff buffered, its bytes counted, before it may bridge (Binance: the markets' peak, market-bridges.ts). */
    private readonly onBuffered: (() => void) | null = null,
  ) {}

  /** True while `t` is bridging: the adapter buffers its diffs here instead of applying them. */
  isBridging(t: TopicState): boolean {
    return this.topics.has(t);
  }

  /**
   * Starts (or restarts) bridging `t`: buffer its diffs, fetch a snapshot. With `fetch` false nothing is fetched:
   * the snapshot comes through supply() (replay feeds the one the capture holds, synchronously, in file order), and
   * the bridge ranks as waiting until requested() says its request is out.
   */
  begin(t: TopicState, fetch = true): void {
    this.cancel(t); // a restart: the old buffer's bytes go back to the budget
    const b: Bridging<R> = { t, diffs: [], bytes: 0, snapshot: null, snapSeq: 0, askedSeq: 0, fetches: fetch, rankPrev: null, rankNext: null };
    this.topics.set(t, b);
    this.order.rank(b, fetch ? ++this.asked : WAITING_RANK + ++this.asked);
    if (!fetch) return;
    const into = new BookUpdate();
    this.hooks.fetchSnapshot(t, into).then(
      (seq) => {
        if (this.topics.get(t) !== b) return; // cancelled or restarted meanwhile
        this.snapshotsFetched++;
        b.snapshot = into;
        b.snapSeq = seq;
        this.tryBridge(t, b);
      },
      (err: unknown) => {
        if (this.topics.get(t) !== b) return;
        this.cancel(t);
        this.refused++;
        this.hooks.fail(t, "refused", err instanceof Error ? err.message : String(err));
      },
    );
  }

  /**
   * Buffers a diff of a bridging topic (copied: the caller's update is reused), in order of its last sequence: one
   * socket's diffs come in order (appended), but a diff handed over late (Binance: the replacement's, held during a
   * planned reconnect's overlap while the diffs after them were buffered) takes its place before later ones.
   */
  buffer(t: TopicState, update: BookUpdate, range: R): void {
    const b = this.topics.get(t);
    if (!b) return;
    if (b.diffs.length >= MAX_BUFFERED_DIFFS) {
      this.cancel(t);
      this.hooks.fail(t, "overflow", `${MAX_BUFFERED_DIFFS} diffs buffered without a usable snapshot`);
      return;
    }
    const bytes = bytesOfCopy(update);
    if (this.bufferedBytes + bytes > this.maxBytes) {
      const fits = this.order.makeRoom(this, b, bytes, (o) => this.dropOverBudget(o.t));
      if (this.topics.get(t) !== b) return; // an adapter's fail hook ended or restarted this bridge meanwhile
      if (!fits) {
        // Keeping it would pass the budget, dropping it alone would leave a hole: the whole buffer goes.
        this.dropOverBudget(t);
        return;
      }
    }
    let i = b.diffs.length;
    while (i > 0 && b.diffs[i - 1]!.range.last > range.last) i--;
    b.diffs.splice(i, 0, { update: copyUpdate(update), range, bytes });
    b.bytes += bytes;
    this.bufferedBytes += bytes;
    if (this.bufferedBytes > this.peakBufferedBytes) this.peakBufferedBytes = this.bufferedBytes;
    this.onBuffered?.();
    if (b.snapshot) this.tryBridge(t, b);
  }

  /** Hands a bridging topic its snapshot (at sequence `seq`) directly; false when `t` is not bridging. Copied. */
  supply(t: TopicState, snapshot: BookUpdate, seq: number): boolean {
    const b = this.topics.get(t);
    if (!b) return false;
    this.snapshotsFetched++;
    b.snapshot = copyUpdate(snapshot);
    b.snapSeq = seq;
    this.tryBridge(t, b);
    return true;
  }

  /**
   * `t`'s snapshot request is out now (Binance: sent to the market's REST queue): over the budget it gives way before
   * the bridges asked for since, whose requests REST serves first (makeRoom).
   */
  requested(t: TopicState): void {
    const b = this.topics.get(t);
    if (b) this.order.rank(b, ++this.asked);
  }

  /**
   * `t` has no request out, its buffer kept (Binance: its snapshot refused, the next asked for after the resync
   * backoff): until requested() it gives way before every bridge with a request out (WAITING_RANK).
   */
  waits(t: TopicState): void {
    const b = this.topics.get(t);
    if (b) this.order.rank(b, WAITING_RANK + ++this.asked);
  }

  /** True while `t`'s snapshot is in hand, waiting for a diff that reaches past it. */
  hasSnapshot(t: TopicState): boolean {
    return this.topics.get(t)?.snapshot != null;
  }

  /** How many diffs `t` has buffered (cold: tests, diagnostics). */
  buffered(t: TopicState): number {
    return this.topics.get(t)?.diffs.length ?? 0;
  }

  /**
   * Drops the buffered diffs of `t` received before `tsRecvUs`, oldest first, while no snapshot waits (one that waits
   * needs them all). Cold: a bridge whose snapshot can only have been asked for recently (Binance replay's refresh).
   */
  dropReceivedBefore(t: TopicState, tsRecvUs: number): void {
    const b = this.topics.get(t);
    if (!b || b.snapshot) return;
    let n = 0;
    while (n < b.diffs.length && b.diffs[n]!.update.tsRecvUs < tsRecvUs) n++;
    if (n > 0) for (const d of b.diffs.splice(0, n)) this.release(b, d.bytes);
  }

  /** Stops bridging `t` (disconnect, unsubscribe, stop); a late snapshot is dropped, the buffer's bytes freed. */
  cancel(t: TopicState): void {
    const b = this.topics.get(t);
    if (!b) return;
    this.topics.delete(t);
    this.order.remove(b);
    this.bufferedBytes -= b.bytes;
    b.bytes = 0;
  }

  private dropOverBudget(t: TopicState): void {
    const held = this.topics.get(t)?.bytes ?? 0;
    this.cancel(t);
    this.budgetDrops++;
    this.hooks.fail(t, "overflow", `buffered diffs over the byte budget (${this.maxBytes} bytes across all streams; this stream held ${held})`);
  }

  private release(b: Bridging<R>, bytes: number): void {
    b.bytes -= bytes;
    this.bufferedBytes -= bytes;
  }

  private tryBridge(t: TopicState, b: Bridging<R>): void {
    const snapSeq = b.snapSeq;
    const covered = this.hooks.covered ?? ((seq: number, d: DiffRange) => d.last <= seq);
    while (b.diffs.length > 0 && covered(snapSeq, b.diffs[0]!.range, t)) this.release(b, b.diffs.shift()!.bytes); // in the snapshot already
    if (b.diffs.length === 0) return; // wait for a diff that reaches past the snapshot
    const first = b.diffs[0]!;
    if (!this.hooks.bridges(snapSeq, first.range, t)) {
      // Older than the buffered diffs (the ones it covers are dropped, so the first left starts after it): Binance's
      // step 4, "go back to step 3". The diffs stay buffered for the next snapshot, which the adapter asks for.
      this.noBridge++;
      b.snapshot = null;
      // Begun with a fetch, nothing would ask for the next snapshot: before, it stayed bridging (waiting) with its
      // buffer until 10,000 diffs or the budget dropped it. Now it ends, and the adapter begins again.
      if (b.fetches) this.cancel(t);
      else this.order.rank(b, WAITING_RANK + ++this.asked); // no request out until the adapter asks again (requested)
      this.hooks.fail(t, "no_bridge", `snapshot at ${snapSeq}, first diff covers ${first.range.first}..${first.range.last}`);
      return;
    }
    this.cancel(t);
    this.hooks.deliver(t, b.snapshot!, null);
    for (const d of b.diffs) this.hooks.deliver(t, d.update, d.range);
  }
}

/**
 * A copy of an update (its own arrays, sized to its levels: a buffered or held diff of 5 levels takes ~0.45 KB, not the
 * 32 KB of a fresh update's 1024 levels per side): cold, for what must outlive the connection's reused one.
 */
export function copyUpdate(u: BookUpdate): BookUpdate {
  const c = new BookUpdate(Math.max(u.bidCount, u.askCount));
  c.isSnapshot = u.isSnapshot;
  c.replace = u.replace;
  c.venueSeq = u.venueSeq;
  c.tsExchangeUs = u.tsExchangeUs;
  c.tsEventUs = u.tsEventUs;
  c.tsRecvUs = u.tsRecvUs;
  for (let i = 0; i < u.bidCount; i++) c.pushBid(u.bidPx[i]!, u.bidQty[i]!);
  for (let i = 0; i < u.askCount; i++) c.pushAsk(u.askPx[i]!, u.askQty[i]!);
  return c;
}
