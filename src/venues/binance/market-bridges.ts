/**
 * The REST bridges of one Binance adapter kept per market (warm: isBridging, buffer and the peak run per diff while a
 * book bridges, a Map lookup each, no allocation): spot's and USD-M's each under a byte budget and a
 * rank order of their own (common/rest-bridge.ts RankOrder). One adapter serves both markets, but their snapshots wait
 * in different REST queues (api.binance.com and fapi.binance.com, each with its own weight budget: rest.ts), and the
 * rank order says which buffer the REST queue serves last. Until 2026-12-07 both markets shared one budget and one
 * order: a spot diff over the budget dropped the buffers of USD-M bridges asked for after its stream's, whose
 * requests fapi was about to answer, and the busier market could take the whole budget
 * (`test/venues/binance/rest-held-buffer.test.ts`, "keep their REST bridges apart").
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import type { MarketName } from "../../core/types.ts";
import type { TopicState } from "../common/connection.ts";
import { type DiffRange, RestBridge, type RestBridgeHooks } from "../common/rest-bridge.ts";

/** A diff as the bridging rule reads it: U (first) to u (last), and pu (prev: the previous event's u; -1 on spot). */
export interface ChainedRange extends DiffRange {
  readonly prev: number;
}

/**
 * Does the first diff left after a snapshot at `seq` (lastUpdateId) continue it? Spot: U ≤ lastUpdateId + 1 ≤ u.
 * USD-M: U ≤ lastUpdateId ≤ u, or pu = lastUpdateId: the diff right after the one ending at lastUpdateId, which the
 * buffer lacks when it began just after that one (docs/venues/binance.md, "Bridging"). pu chains events with nothing
 * between them, so that diff continues the snapshot exactly; a pu below lastUpdateId never bridges.
 */
export function bridgesSnapshot(seq: number, d: ChainedRange, market: MarketName): boolean {
  return market === "spot" ? d.first <= seq + 1 && seq + 1 <= d.last : (d.first <= seq && seq <= d.last) || d.prev === seq;
}

/** Is a buffered diff in the snapshot at `seq` already (dropped)? Spot u ≤ lastUpdateId; USD-M u < lastUpdateId. */
export function coveredBySnapshot(seq: number, d: DiffRange, market: MarketName): boolean {
  return market === "spot" ? d.last <= seq : d.last < seq;
}

/**
 * `totalBytes` split between the markets served: half in equal parts, half in proportion to each market's streams
 * (floors: together at most the total). One market has all of it; a market with few streams still gets at least
 * 1 / (2 × markets) of it, so its bridges never find a part smaller than a diff.
 */
export function splitByMarket(totalBytes: number, streams: ReadonlyMap<MarketName, number>): Map<MarketName, number> {
  const markets = [...streams].filter(([, n]) => n > 0);
  const all = markets.reduce((n, [, k]) => n + k, 0);
  const out = new Map<MarketName, number>();
  if (markets.length === 1) out.set(markets[0]![0], totalBytes);
  else for (const [m, n] of markets) out.set(m, Math.floor(totalBytes / (2 * markets.length) + (totalBytes / 2) * (n / all)));
  return out;
}

/** The streams of each market among `topics`. */
export function streamsByMarket(topics: readonly { readonly market: MarketName }[]): Map<MarketName, number> {
  const out = new Map<MarketName, number>();
  for (const t of topics) out.set(t.market, (out.get(t.market) ?? 0) + 1);
  return out;
}

/** One RestBridge per market, each with its part of the bytes (splitByMarket); the counters summed over them. */
export class MarketBridges<R extends DiffRange = DiffRange> {
  private readonly byMarket = new Map<MarketName, RestBridge<R>>();
  /**
   * The most the markets' buffers have held together, taken as each diff is buffered (before it may bridge, as each
   * RestBridge's own peak). Until s-rd4a it was taken after buffer() returned: a diff that bridged at once (its
   * snapshot in hand) was handed over by then and left out.
   */
  peakBufferedBytes = 0;

  constructor(hooks: RestBridgeHooks<R>, bytesByMarket: ReadonlyMap<MarketName, number>) {
    const all: RestBridge<R>[] = [];
    const notePeak = () => {
      let total = 0;
      for (let i = 0; i < all.length; i++) total += all[i]!.bufferedBytes; // per buffered diff: no iterator
      if (total > this.peakBufferedBytes) this.peakBufferedBytes = total;
    };
    for (const [m, bytes] of bytesByMarket) {
      const b = new RestBridge<R>(hooks, bytes, notePeak);
      this.byMarket.set(m, b);
      all.push(b);
    }
  }

  /** The market's bridge (every topic's market has one: the parts are made from the adapter's topics). */
  private of(t: TopicState): RestBridge<R> {
    const b = this.byMarket.get(t.market);
    if (b === undefined) throw new Error(`binance: no REST bridge for market ${t.market}`);
    return b;
  }

  /** The byte budget of `market`'s bridges (0: the adapter serves no stream of it). */
  maxBytesOf(market: MarketName): number {
    return this.byMarket.get(market)?.maxBytes ?? 0;
  }

  isBridging(t: TopicState): boolean {
    return this.of(t).isBridging(t);
  }

  begin(t: TopicState, fetch = true): void {
    this.of(t).begin(t, fetch);
  }

  buffer(t: TopicState, update: BookUpdate, range: R): void {
    this.of(t).buffer(t, update, range); // the peak: notePeak
  }

  supply(t: TopicState, snapshot: BookUpdate, seq: number): boolean {
    return this.of(t).supply(t, snapshot, seq);
  }

  requested(t: TopicState): void {
    this.of(t).requested(t);
  }

  waits(t: TopicState): void {
    this.of(t).waits(t);
  }

  hasSnapshot(t: TopicState): boolean {
    return this.of(t).hasSnapshot(t);
  }

  buffered(t: TopicState): number {
    return this.of(t).buffered(t);
  }

  dropReceivedBefore(t: TopicState, tsRecvUs: number): void {
    this.of(t).dropReceivedBefore(t, tsRecvUs);
  }

  cancel(t: TopicState): void {
    this.of(t).cancel(t);
  }

  private sum(f: (b: RestBridge<R>) => number): number {
    let n = 0;
    for (const b of this.byMarket.values()) n += f(b);
    return n;
  }

  get bufferedBytes(): number {
    return this.sum((b) => b.bufferedBytes);
  }

  get snapshotsFetched(): number {
    return this.sum((b) => b.snapshotsFetched);
  }

  get noBridge(): number {
    return this.sum((b) => b.noBridge);
  }

  get budgetDrops(): number {
    return this.sum((b) => b.budgetDrops);
  }
}
