/**
 * The rig shared by the Binance skewed planned-reconnect tests (planned-skew.test.ts, overlap-review.test.ts): the
 * simulator behind a WebSocket proxy (../ws-proxy.ts), an adapter on one symbol, and a sink that checks every book
 * update against the simulator's book at that update id. `setup` pushes its clean-up onto the caller's `stops`, which
 * first replays what the live run recorded through a second adapter and expects what the live run published.
 */
import { join } from "node:path";
import { expect } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter, type BinanceAdapterOptions } from "../../../src/venues/binance/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { housekeepingRounds } from "../../support/housekeeping-rounds.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";

/** A sink that checks every update against the simulator's book at that update id. */
export class CheckingSink extends BookMaps {
  readonly mismatches: string[] = [];
  updates = 0;
  constructor(
    instruments: (Instrument | undefined)[],
    private readonly sim: BinanceSim,
    private readonly sub: Subscription,
  ) {
    super(instruments);
  }
  override onBookUpdate(index: number, u: BookUpdate): void {
    super.onBookUpdate(index, u);
    this.updates++;
    if (!this.equalAt(index, u.venueSeq)) this.mismatches.push(`book ${index} differs from the simulator's at u ${u.venueSeq}`);
  }
  equalAt(index: number, seq: number): boolean {
    const at = this.sim.bookAt(this.sub.market, this.sub.symbol, seq);
    const inst = this.instruments[index]!;
    if (!at) return false;
    const same = (a: Map<number, number> | undefined, b: Map<string, string>) =>
      a !== undefined && a.size === b.size && [...b].every(([p, q]) => a.get(parseFixed(p, inst.priceExp)) === parseFixed(q, inst.qtyExp));
    return same(this.bids[index], at.bids) && same(this.asks[index], at.asks);
  }
  equalNow(): boolean {
    return this.seq[0] === this.sim.book(this.sub.market, this.sub.symbol).u && this.equalAt(0, this.seq[0]!);
  }
}

export async function setup(stops: (() => Promise<void>)[], market: "spot" | "linear", seed: number, fetchFn: typeof fetch = fetch, opts: Partial<BinanceAdapterOptions> = {}) {
  const sim = await startBinanceSimulator({ markets: [{ market, symbols: ["BTCUSDT"] }], seed, shutdownGraceMs: 30_000, history: true });
  const proxy: WsProxy = startWsProxy(sim.wsUrl);
  const sub: Subscription = { market, symbol: "BTCUSDT", depth: 100 };
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: proxy.origin,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-skew"), "i.json"),
    markets: [{ market, depth: 100, symbols: ["BTCUSDT"] }],
    overrides: new Map(),
  };
  let diffFrames = 0;
  let maxU = -1;
  // What `feeder record` would write, in the order the adapter met it (frames, REST answers, connection events).
  const recorded: Recorded[] = [];
  const adapter = new BinanceAdapter(config, [sub], {
    log: silentLogger,
    fetch: fetchFn,
    ackTimeoutMs: 5_000,
    reconnectBaseMs: 300,
    reconnectMaxMs: 600,
    onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs }),
    onRawFrame: (_m, connection, f, tsRecvUs) => {
      recorded.push({ frame: f, connection, tsRecvUs });
      if (!f.includes("depthUpdate")) return;
      diffFrames++;
      const u = Number(/"u":(\d+)/.exec(f)?.[1] ?? -1);
      if (u > maxU) maxU = u;
    },
    ...opts,
  });
  stops.push(async () => {
    // Every scenario of this rig, replayed from its recording, publishes what the live run did: the same
    // invalidations (state, reason) and the same book at the end, every update the venue's.
    try {
      const r = await replay();
      expect({ invalid: r.sink.invalid, seq: r.sink.seq[0], mismatches: r.sink.mismatches }).toEqual({ invalid: sink.invalid, seq: sink.seq[0], mismatches: [] });
    } finally {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    }
  });
  const sink = new CheckingSink(await adapter.loadInstruments(), sim, sub);
  adapter.start(sink);
  sim.step(1);
  await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal");
  sim.step(3);
  // And the diff the simulator sends after the snapshot: on USD-M the book can be live without it (the buffered diff
  // bridges it), and arriving later it would be one diff more in the middle of the caller's steps.
  await until(() => sim.diffsDue === 0 && sink.equalNow(), "the book equal after 3 diffs, no diff of the simulator's due");
  /** Diff frames the adapter received so far (both sockets). */
  const frames = () => diffFrames;
  /** The highest update id (`u`) of the diff frames the adapter received so far. */
  const receivedU = () => maxU;
  /** Resolves once n more housekeeping rounds ran (where the overlap's completion is looked at): for "nothing happens" checks. */
  const afterHousekeeping = housekeepingRounds(adapter);
  /** The adapter still has the planned reconnect's old socket (its overlap is not over): its own view, not the proxy's. */
  const overlapOpen = () => (adapter as unknown as { conns: { retiringWs: unknown }[] }).conns[0]!.retiringWs !== null;
  /**
   * The live run so far replayed through a second adapter (startReplay), its books checked by the same rule: replay
   * must publish what the live run did (for the same frames, the same books and no invalidation live had not).
   */
  const replay = async () => {
    const again = new BinanceAdapter(config, [sub], { log: silentLogger });
    const replaySink = new CheckingSink(await again.loadInstruments(), sim, sub);
    again.startReplay(replaySink);
    try {
      for (const r of recorded) {
        if (r.frame !== undefined) again.ingestFrame(market, r.connection, r.frame, r.tsRecvUs);
        else if (r.url!.startsWith("ws:")) again.ingestConnectionEvent(market, r.connection, r.url!, r.tsRecvUs);
        else again.ingestRest(market, r.connection, r.url!, r.body!, r.tsRecvUs);
      }
    } finally {
      await again.stop();
    }
    return { sink: replaySink, stats: again.stats(), events: recorded.filter((r) => r.url?.startsWith("ws:")).map((r) => r.url!) };
  };
  return { sim, proxy, adapter, sink, frames, receivedU, afterHousekeeping, overlapOpen, replay };
}

type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number };

/** The downstream frames of the replacement (link 1), recorded as the proxy forwards them. */
export function replacementDown(proxy: WsProxy, holdUp: boolean): string[] {
  const down: string[] = [];
  proxy.next = { holdUp, rewriteDown: (f) => (down.push(f), f) };
  return down;
}

/**
 * A fetch whose REST depth snapshots are taken when asked for and, while `holding`, handed over only when the test
 * calls `release()`; `snapshotU` is the last snapshot's lastUpdateId (wait for a diff past it, not for "one more
 * frame": a diff the snapshot includes may still be on its way when it is asked for); `bodiesRead` counts the
 * snapshot bodies the adapter has read.
 */
/** REST snapshots the adapter is done with: given to their bridge, refused, or dropped (their bridge gone). */
export function snapshotsHandled(adapter: { stats(): Record<string, number> }): number {
  const s = adapter.stats();
  return (s.snapshotsFetched ?? 0) + (s.snapshotsRefused ?? 0) + (s.snapshotsAbandoned ?? 0);
}

export function heldSnapshots() {
  const waiting: (() => void)[] = [];
  const held = { holding: false, snapshotU: Infinity, waiting: () => waiting.length, release: () => waiting.shift()?.(), bodiesRead: 0 };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (!String(input).includes("/depth")) return fetch(input, init);
    const res = await fetch(input, init);
    held.snapshotU = ((await res.clone().json()) as { lastUpdateId: number }).lastUpdateId;
    if (held.holding) await new Promise<void>((r) => waiting.push(r));
    // bodiesRead: the adapter has the snapshot's body (what it does with it follows within that task's microtasks).
    const text = res.text.bind(res);
    const read = async () => {
      const body = await text();
      held.bodiesRead++;
      return body;
    };
    Object.defineProperty(res, "text", { value: read });
    return res;
  }) as typeof fetch;
  return { fetchFn, held };
}

/**
 * Whether book `i` is live in the adapter and `sink` holds the simulator's book at its last update id, level for level
 * (for a test with a BookMaps sink over several streams).
 */
export function liveAndEqual(sim: BinanceSim, adapter: { topicInfo(i: number): { state: string } }, sink: BookMaps, subs: readonly Subscription[]) {
  return (i: number): boolean => {
    const b = sim.book(subs[i]!.market, subs[i]!.symbol);
    const inst = sink.instruments[i]!;
    const same = (m: Map<number, number> | undefined, s: Map<string, string>) =>
      m !== undefined && m.size === s.size && [...s].every(([p, q]) => m.get(Math.round(Number(p) * 10 ** inst.priceExp)) === Math.round(Number(q) * 10 ** inst.qtyExp));
    return adapter.topicInfo(i).state === "live" && sink.seq[i] === b.u && same(sink.bids[i], b.bids) && same(sink.asks[i], b.asks);
  };
}
