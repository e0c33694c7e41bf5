/**
 * The Binance adapter's stats() record (cold, for the status JSON; metrics.ts turns it into samples): its own
 * counters, which stay fields of the adapter because the hot path increments them, laid out with the counters of
 * the parts it wires (resync, bridge, snapshot fetch, REST budgets, lifecycle, requests, connections).
 * @module
 */
import { BookState } from "../../core/types.ts";
import type { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { sumConnectionCounters } from "../common/metrics.ts";
import type { SubscriptionControl } from "../common/subscription-control.ts";
import type { TopicResync } from "../common/topic-resync.ts";
import type { BinanceConnection, BinanceTopic } from "./connection.ts";
import type { DepthBand } from "./depth-band.ts";
import type { MarketBridges } from "./market-bridges.ts";
import type { OverlapHold } from "./overlap-hold.ts";
import type { BinanceRest } from "./rest.ts";
import type { BinanceSnapshotFetch } from "./snapshot-fetch.ts";

/** The adapter's own counters. */
export interface BinanceCounters {
  readonly snapshots: number;
  readonly deltas: number;
  readonly gaps: number;
  readonly duplicates: number;
  readonly ignoredWhileUnsubscribed: number;
  readonly bridgesFailed: number;
  readonly unattributedParseErrors: number;
  readonly diffsNotBufferedWhileHeld: number;
  readonly buffersDroppedWhileHeld: number;
}

/** The adapter's parts whose counters stats() reads too. */
export interface BinanceStatsParts {
  readonly conns: readonly BinanceConnection[];
  readonly topics: readonly BinanceTopic[];
  readonly books: TopicResync;
  readonly bridge: MarketBridges;
  readonly snapshotFetch: BinanceSnapshotFetch;
  readonly rest: BinanceRest;
  readonly lifecycle: ConnectionLifecycle;
  readonly control: SubscriptionControl;
  readonly parseErrorsByCode: ReadonlyMap<string, number>;
  readonly overlap: OverlapHold;
  readonly band: DepthBand;
}

export function binanceStats(c: BinanceCounters, p: BinanceStatsParts): Record<string, number> {
  const conns = p.conns.filter((x) => x.used);
  const out: Record<string, number> = {
    connections: conns.length,
    connectionsOpen: conns.filter((x) => x.open).length,
    topics: p.topics.length,
    topicsLive: p.topics.filter((t) => t.book === BookState.LIVE).length,
    snapshots: c.snapshots,
    deltas: c.deltas,
    gaps: c.gaps,
    duplicates: c.duplicates,
    overlapHeld: p.overlap.heldTotal,
    overlapHeldApplied: p.overlap.heldApplied,
    overlapHeldBytes: p.overlap.heldBytes,
    overlapHoldOverBudget: p.overlap.overBudget,
    resyncs: p.books.resyncs,
    resyncsDelayed: p.books.resyncsDelayed,
    ignoredWhileUnsubscribed: c.ignoredWhileUnsubscribed,
    // The REST snapshots of the resync bridges and of the depth refreshes alike (refused and abandoned count both);
    // until s-rdbin10 a refresh's snapshot was counted when refused or abandoned, never when received.
    snapshotsFetched: p.bridge.snapshotsFetched + p.band.snapshotsFetched,
    snapshotsRefused: p.snapshotFetch.refused,
    snapshotsAbandoned: p.snapshotFetch.abandoned,
    snapshotsNotBridging: p.bridge.noBridge, // a refresh's: depthRefreshFailures
    bridgesFailed: c.bridgesFailed,
    bridgeBufferedBytes: p.bridge.bufferedBytes,
    bridgeBufferedBytesPeak: p.bridge.peakBufferedBytes,
    bridgeBudgetDrops: p.bridge.budgetDrops,
    diffsNotBufferedWhileHeld: c.diffsNotBufferedWhileHeld,
    buffersDroppedWhileHeld: c.buffersDroppedWhileHeld,
    levelsBeyondDepth: p.topics.reduce((n, t) => n + t.beyondDepth, 0),
    depthRefreshes: p.band.refreshes,
    depthRefreshFailures: p.band.refreshFailures,
    depthRefreshBufferedBytes: p.band.bufferedBytes,
    depthExhausted: p.band.exhausted,
    usedWeightBlocks: p.rest.usedWeightBlocks,
    restRateLimited: p.rest.rateLimited(),
    restBanned: p.rest.banned(),
    restRetryAfterOutOfRange: p.rest.retryAfterOutOfRange(),
    restWaiting: p.rest.waiting(),
    staleResyncs: p.lifecycle.staleResyncs,
    subscribeRejected: p.control.subscribeRejected,
    subscribeErrors: p.control.subscribeErrors,
    unattributedParseErrors: c.unattributedParseErrors,
    messagesPaced: p.control.paced,
  };
  sumConnectionCounters(conns, out); // the common list: until s-smallleft its own, without connectsRefused
  for (const [code, n] of p.parseErrorsByCode) out[`parseErrors.${code}`] = n;
  return out;
}
