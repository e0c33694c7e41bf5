/**
 * A book bounded by a small snapshot limit (docs/venues/binance.md, "Depth: levels beyond the snapshot") when the
 * price moves further than the snapshot covered: the simulator's whole book moved (moveBook) under a real connection.
 * The sink is the app's publish rule (src/app/feeder.ts VenuePipeline): a BookBuilder per book, the adapter's verify()
 * after every applied update, a book verify() refuses is not published but RESYNCING with its reason. Every book
 * published LIVE must have both sides (the simulator always has) and be the simulator's book at that update id down to
 * its depth: the top levels of each side, exactly.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { BookBuilder, ApplyResult } from "../../../src/book/index.ts";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import type { BookView } from "../../../src/core/book-view.ts";
import type { BinanceConnection } from "../../../src/venues/binance/connection.ts";
import { BinanceTopic } from "../../../src/venues/binance/connection.ts";
import { DepthBand } from "../../../src/venues/binance/depth-band.ts";
import { MarketBridges, splitByMarket } from "../../../src/venues/binance/market-bridges.ts";
import { bytesOfCopy, type DiffRange } from "../../../src/venues/common/rest-bridge.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { levelsOfSim, levelsOfView, waitFor } from "../../e2e/harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

type M = "spot" | "linear";

/** What a buffered diff with no level takes of the byte budget (common/rest-bridge.ts bytesOfCopy). */
const EMPTY_DIFF_BYTES = bytesOfCopy(new BookUpdate());

/** The app's publish rule over one book (index 0), judging every book it would publish. */
class AppSink implements BookSink {
  builder: BookBuilder | undefined;
  adapter: BinanceAdapter | undefined;
  readonly invalid: StatusReason[] = [];
  readonly violations: string[] = [];
  published = 0;
  constructor(
    private readonly sim: BinanceSim,
    private readonly market: M,
    private readonly symbol: string,
  ) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    const b = this.builder!;
    const r = u.isSnapshot ? b.applySnapshot(u) : b.applyDelta(u);
    if (r === ApplyResult.IGNORED_NOT_LIVE) return;
    if (r === ApplyResult.CROSSED) {
      this.adapter!.requestResync(index, StatusReason.CROSSED_BOOK);
      return;
    }
    const why = (this.adapter!.verify?.(index, b) ?? StatusReason.NONE) as StatusReason;
    if (why !== StatusReason.NONE) {
      if (b.markInvalid(BookState.RESYNCING, why)) this.invalid.push(why);
      this.adapter!.requestResync(index, why);
      return;
    }
    this.judge(b);
  }
  onBookInvalid(_index: number, state: BookState, reason: StatusReason): void {
    if (this.builder!.markInvalid(state, reason)) this.invalid.push(reason);
  }
  onInstrumentChanged(): void {}
  private judge(b: BookBuilder): void {
    this.published++;
    if (b.state !== BookState.LIVE) return;
    const at = this.sim.bookAt(this.market, this.symbol, b.venueSeq);
    if (!at) return void this.violations.push(`LIVE at u=${b.venueSeq}, which the simulator never had`);
    const want = levelsOfSim(at, b.instrument.priceExp, b.instrument.qtyExp);
    const got = levelsOfView(b);
    if (got.bids.length === 0 || got.asks.length === 0) this.violations.push(`LIVE at u=${b.venueSeq} with ${got.bids.length} bids and ${got.asks.length} asks (the simulator: ${want.bids.length} and ${want.asks.length})`);
    const top = (side: [number, number][], n: number) => JSON.stringify(side.slice(0, n));
    if (JSON.stringify(got.bids) !== top(want.bids, got.bids.length) || JSON.stringify(got.asks) !== top(want.asks, got.asks.length)) this.violations.push(`LIVE at u=${b.venueSeq} but not the simulator's top levels`);
  }
}

async function setup(market: M, depth: number, levels = 40, liveRefreshFraction?: number) {
  const symbol = "BTCUSDT";
  const sim = await startBinanceSimulator({ markets: [{ market, symbols: [symbol] }], seed: 3, levels, history: true });
  const subs: Subscription[] = [{ market, symbol, depth }];
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-depth-band"), "i.json"),
    markets: [{ market, depth, symbols: [symbol] }],
    overrides: new Map(),
  };
  // What a capture would hold, in the order the adapter met it (frames, REST answers, connection events).
  type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number };
  const recorded: Recorded[] = [];
  const adapter = new BinanceAdapter(config, subs, {
    log: silentLogger,
    resyncBackoffBaseMs: 20,
    resyncBackoffMaxMs: 100,
    ...(liveRefreshFraction !== undefined ? { depthRefreshFraction: liveRefreshFraction } : {}),
    onRawFrame: (_m, connection, frame, tsRecvUs) => void recorded.push({ frame, connection, tsRecvUs }),
    onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs }),
  });
  stops.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  /** The recording replayed through a second adapter (startReplay), judged by the same rule. */
  const replay = async (more: Recorded[] = [], keepRunning = false, restBridgeBufferBytes?: number) => {
    const again = new BinanceAdapter(restBridgeBufferBytes !== undefined ? { ...config, restBridgeBufferBytes } : config, subs, { log: silentLogger });
    const instrumentsAgain = (await again.loadInstruments()) as Instrument[];
    const sink2 = new AppSink(sim, market, symbol);
    sink2.builder = new BookBuilder(instrumentsAgain[0]!);
    sink2.adapter = again;
    again.startReplay(sink2);
    for (const r of [...recorded, ...more]) {
      if (r.frame !== undefined) again.ingestFrame(market, r.connection, r.frame, r.tsRecvUs);
      else if (r.url!.startsWith("ws:")) again.ingestConnectionEvent(market, r.connection, r.url!, r.tsRecvUs);
      else again.ingestRest(market, r.connection, r.url!, r.body!, r.tsRecvUs);
    }
    if (!keepRunning) await again.stop();
    else stops.push(() => again.stop());
    return { again, sink2 };
  };
  const instruments = (await adapter.loadInstruments()) as Instrument[];
  const sink = new AppSink(sim, market, symbol);
  sink.builder = new BookBuilder(instruments[0]!);
  sink.adapter = adapter;
  adapter.start(sink);
  await waitFor(() => sink.builder!.state === BookState.LIVE, "the book LIVE");
  /** The book published LIVE at the simulator's latest update id. */
  const caughtUp = () => sink.builder!.state === BookState.LIVE && sink.builder!.venueSeq === sim.book(market, symbol).u;
  // The simulator sends diffs when told (and one after a subscription or a REST answer): a book being resynced needs them.
  const keepDiffsComing = () => {
    if (sink.builder!.state !== BookState.LIVE) sim.step(1);
  };
  return { sim, adapter, sink, symbol, caughtUp, keepDiffsComing, replay, recorded };
}

describe("Binance: a side bounded by the snapshot's limit when the price moves beyond it", () => {
  for (const market of ["spot", "linear"] as const) {
    test(`${market}: the book moves past a depth-5 snapshot in one diff: the bids empty, the book leaves LIVE (depth_exhausted), never published LIVE without bids, and comes back as the venue's top levels`, async () => {
      const { sim, adapter, sink, symbol, caughtUp, keepDiffsComing } = await setup(market, 5);
      // 40 ticks down: a depth-5 side spans 5–15 ticks, so every bid the snapshot covered is gone and the new ones are
      // all below its worst price. Before: the book stayed LIVE with no bid at all, and nothing resynced it.
      sim.moveBook(market, symbol, -40);
      await waitFor(() => sink.invalid.length > 0 && caughtUp(), "the book resynced and LIVE again", 10_000, keepDiffsComing);
      expect(sink.violations).toEqual([]);
      expect(sink.invalid).toContain(StatusReason.DEPTH_EXHAUSTED);
      expect(adapter.stats().depthExhausted).toBeGreaterThanOrEqual(1); // the simulator's next diffs may exhaust 5 levels again
      expect(sink.builder!.bidCount).toBeGreaterThan(0);
    });

    test(`${market}: the book walks down a tick at a time: the bounded side is refreshed (a new snapshot bridged while LIVE) before it empties; the book never leaves LIVE`, async () => {
      // Depth 20 (~40 ticks a side): the simulator's own diffs (one follows each REST answer) move a few ticks, which
      // a depth-5 band may not survive between two diffs. 80 ticks walk past it (the fair price pulls back a little).
      const { sim, adapter, sink, symbol, caughtUp, keepDiffsComing, replay } = await setup(market, 20);
      for (let i = 0; i < 80; i++) {
        sim.moveBook(market, symbol, -1);
        // Each step waits for the book to take it (and a refresh under way to complete): the walk is slower than REST.
        await waitFor(() => caughtUp() && !adapter.topicInfo(0).refreshing, `step ${i} applied`, 10_000, keepDiffsComing);
      }
      expect(sink.violations).toEqual([]);
      expect(sink.invalid).toEqual([]);
      expect(adapter.stats().depthRefreshes).toBeGreaterThanOrEqual(1);
      expect(adapter.stats().depthExhausted).toBe(0);
      // Each refresh's snapshot is a REST snapshot received, as the first bridge's is (before: the refreshes' were not
      // counted in rest_snapshots_fetched_total, though a refused one was in rest_snapshots_refused_total).
      expect(adapter.stats().snapshotsFetched).toBeGreaterThanOrEqual(1 + adapter.stats().depthRefreshes);
      // Replayed, the recorded answers refresh the book where the live run did: the same book, never left LIVE.
      const { again, sink2 } = await replay();
      expect(sink2.violations).toEqual([]);
      expect(sink2.invalid).toEqual([]);
      expect(again.stats().depthRefreshes).toBe(adapter.stats().depthRefreshes);
      expect(levelsOfView(sink2.builder!)).toEqual(levelsOfView(sink.builder!));
    });
  }

  for (const market of ["spot", "linear"] as const) {
    test(`${market}: randomized: moves, diffs, a lagging or refusing REST while refreshes are under way: every book published LIVE is the venue's, as is the end`, async () => {
      const { sim, adapter, sink, symbol, caughtUp, keepDiffsComing, replay } = await setup(market, 20);
      let seed = 17;
      const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), (seed >>> 16) % n);
      for (let i = 0; i < 150; i++) {
        const r = rnd(10);
        if (r < 5) sim.moveBook(market, symbol, rnd(4) === 0 ? 1 : -1 - rnd(2));
        else if (r < 8) sim.step(1 + rnd(3));
        else if (r < 9) sim.setRestLag(market, symbol, rnd(4));
        else sim.restFault(rnd(2) === 0 ? "error" : "no_bridge", { market, symbol });
        // A turn of the event loop now and then: REST answers land between diffs, refreshes under way meet moves.
        if (rnd(3) === 0) await new Promise((res) => setTimeout(res, rnd(3)));
        keepDiffsComing();
      }
      sim.setRestLag(market, symbol, 0);
      await waitFor(() => caughtUp() && !adapter.topicInfo(0).refreshing, "caught up", 10_000, () => sim.step(1));
      // How many refreshes complete (and how many moves outrun them: depth_exhausted) depends on when REST answers.
      expect(sink.violations).toEqual([]);
      const { sink2 } = await replay();
      expect(sink2.violations).toEqual([]);
    });
  }

  test("replay: a refresh no recorded answer comes for holds only the diffs of the last 2 × REST timeout (capture time), not up to 10,000 per book", async () => {
    // The live run refreshes nothing (fraction 0): its capture has a low book and no refresh answer. Replayed with the
    // default fraction, the first low diff starts a refresh that waits for an answer the capture does not hold.
    const { sim, sink, symbol, caughtUp, keepDiffsComing, replay, recorded } = await setup("spot", 20, 40, 0);
    for (let i = 0; i < 200 && !(caughtUp() && sink.builder!.bidCount > 0 && sink.builder!.bidCount <= 5); i++) {
      sim.moveBook("spot", symbol, -1);
      await waitFor(caughtUp, `step ${i} applied`, 10_000, keepDiffsComing);
    }
    expect(sink.builder!.bidCount).toBeGreaterThan(0);
    expect(sink.builder!.bidCount).toBeLessThanOrEqual(5);
    // 60 s more of the stream (10 diffs a second, changing nothing), as the capture would go on.
    const last = [...recorded].reverse().find((r) => r.frame !== undefined && r.frame.includes("depthUpdate"))!;
    const msg = JSON.parse(last.frame!) as { data: { E: number; U: number; u: number; b: unknown[]; a: unknown[] } };
    const more = [];
    for (let i = 1; i <= 600; i++) {
      const u = msg.data.u + i;
      more.push({ frame: JSON.stringify({ ...msg, data: { ...msg.data, E: msg.data.E + i * 100, U: u, u, b: [], a: [] } }), connection: last.connection, tsRecvUs: last.tsRecvUs + i * 100_000 });
    }
    const { again, sink2 } = await replay(more, true);
    // The simulator never had the made-up diffs: only the recorded part is judged.
    expect(sink2.violations.filter((v) => Number(/u=(\d+)/.exec(v)?.[1]) <= msg.data.u)).toEqual([]);
    expect(again.topicInfo(0)).toMatchObject({ state: "live", lastU: msg.data.u + 600, refreshing: true });
    // 20 s of diffs at 10 a second (the window's edge may hold one more); before: all 600 and on up to 10,000.
    expect(again.topicInfo(0).refreshBuffered).toBeGreaterThanOrEqual(200);
    expect(again.topicInfo(0).refreshBuffered).toBeLessThanOrEqual(201);
    expect(again.stats().depthRefreshBufferedBytes).toBe(again.topicInfo(0).refreshBuffered * EMPTY_DIFF_BYTES);
    // The adapter's byte budget (config venues.binance.rest_bridge_buffer_bytes) bounds the refreshes' buffers too.
    // Before, theirs was always 256 MiB whatever the budget: here 200 diffs, not 50.
    const small = await replay(more, true, 50 * EMPTY_DIFF_BYTES);
    expect(small.again.topicInfo(0)).toMatchObject({ state: "live", lastU: msg.data.u + 600 });
    expect(small.again.topicInfo(0).refreshBuffered).toBeLessThanOrEqual(50);
    expect(small.again.stats().depthRefreshBufferedBytes).toBeLessThanOrEqual(50 * EMPTY_DIFF_BYTES);
  });

  test("a snapshot side with fewer levels than the limit is the whole side: a far move keeps the book LIVE and whole, without a refresh or a resync", async () => {
    const { sim, adapter, sink, symbol, caughtUp } = await setup("spot", 5, 3);
    sim.moveBook("spot", symbol, -40);
    await waitFor(caughtUp, "the move applied");
    sim.moveBook("spot", symbol, 60);
    await waitFor(caughtUp, "the move back applied");
    expect(sink.violations).toEqual([]);
    expect(sink.invalid).toEqual([]);
    expect(sink.builder!.bidCount).toBe(sim.book("spot", symbol).bids.size);
    expect(adapter.stats().depthRefreshes).toBe(0);
    expect(adapter.stats().depthExhausted).toBe(0);
  });
});

describe("Binance: the depth refreshes' byte budget is split between spot and USD-M", () => {
  // Each market's refresh snapshots come through its own REST queue (api, fapi): the refreshes keep a part of the
  // budget and a rank order per market (market-bridges.ts). Before, one budget and one order served both: spot's
  // refresh, asked for first, overflowing it dropped the USD-M refresh asked for after it (its answer lost).
  test("a spot refresh over its part fails alone; the USD-M refresh asked for after it keeps its buffer", () => {
    const diff = (u: number) => {
      const d = new BookUpdate(8);
      for (let i = 0; i < 8; i++) d.pushBid(1000 - i, 1);
      d.venueSeq = u;
      return d;
    };
    const part = 20 * bytesOfCopy(diff(1)); // each market's: 20 diffs of 8 levels
    const band = new DepthBand(
      {
        log: silentLogger,
        now: () => 0,
        replaying: () => false,
        stopping: () => false,
        bridges: (seq, d) => d.first <= seq + 1 && seq + 1 <= d.last,
        covered: (seq, d) => d.last <= seq,
        // Asked for, as the adapter's snapshot fetch does (t.fetching, t.fetchAbort); answered never.
        fetch: (t) => {
          t.fetching = true;
          t.fetchAbort = new AbortController();
          requests.set(t.market, t.fetchAbort);
          return true;
        },
        publish: () => {},
      },
      0.25,
      new Map([
        ["spot", part],
        ["linear", part],
      ]),
    );
    const requests = new Map<string, AbortController>();
    const topic = (index: number, market: M) => {
      const t = new BinanceTopic(index, market, "BTCUSDT", 20, "btcusdt@depth@100ms", {} as BinanceConnection);
      t.book = BookState.LIVE;
      t.bidFloor = 900; // a full snapshot side: bounded
      return t;
    };
    const spot = topic(0, "spot");
    const usdm = topic(1, "linear");
    const low = { bidCount: 3, askCount: 50 } as unknown as BookView;
    expect(band.check(spot, low)).toBe(StatusReason.NONE);
    expect(band.check(usdm, low)).toBe(StatusReason.NONE);
    expect(band.isRefreshing(spot) && band.isRefreshing(usdm)).toBe(true);
    for (let u = 1; u <= 15; u++) band.buffer(usdm, diff(u), u, u - 1);
    for (let u = 1; u <= 40 && band.isRefreshing(spot); u++) band.buffer(spot, diff(u), u, -1);
    expect(band.refreshFailures).toBe(1);
    expect(band.isRefreshing(spot)).toBe(false); // spot's own part overflowed: its refresh gave way
    expect(band.isRefreshing(usdm)).toBe(true);
    expect(band.buffered(usdm)).toBe(15);
    // The request of the refresh that gave way is given up: before, it stayed out, and its answer, coming after the
    // next refresh of the book had begun (a second on), was handed to that one as its own (older than its diffs: a
    // no_bridge failing it, its own answer then dropped as abandoned, and t.fetching cleared under it).
    expect(requests.get("spot")!.signal.aborted).toBe(true);
    expect(spot.fetchAbort).toBeNull();
    expect(requests.get("linear")!.signal.aborted).toBe(false);
  });

  test("a refresh whose snapshot lists a price twice is refused, named in the log: nothing composed or published, the book as it was", () => {
    // Composed through Maps, the last entry of the price was kept and the book published LIVE at that guess.
    const warned: string[] = [];
    let published = 0;
    let nowMs = 0;
    const band = new DepthBand(
      {
        log: { ...silentLogger, warn: (msg, fields) => void warned.push(`${msg} ${JSON.stringify(fields)}`) },
        now: () => nowMs,
        replaying: () => false,
        stopping: () => false,
        bridges: (seq, d) => d.first <= seq + 1 && seq + 1 <= d.last,
        covered: (seq, d) => d.last <= seq,
        fetch: () => true,
        publish: () => void published++,
      },
      0.25,
      new Map([["spot", 1 << 20]]),
    );
    const t = new BinanceTopic(0, "spot", "BTCUSDT", 4, "btcusdt@depth@100ms", {} as BinanceConnection);
    t.book = BookState.LIVE;
    t.bidFloor = 96;
    t.lastSeq = 10;
    expect(band.check(t, { bidCount: 1, askCount: 0 } as unknown as BookView)).toBe(StatusReason.NONE);
    expect(band.isRefreshing(t)).toBe(true);
    for (const u of [11, 12]) {
      const d = new BookUpdate(1);
      d.pushBid(97, 3);
      d.venueSeq = u;
      t.lastSeq = u;
      band.buffer(t, d, u, -1);
    }
    const snap = new BookUpdate(4);
    for (const [px, q] of [[98, 2], [97, 2], [97, 5], [95, 1]]) snap.pushBid(px!, q!);
    snap.isSnapshot = true;
    snap.venueSeq = 11;
    band.supply(t, snap, 11);
    expect(band.refreshes).toBe(0);
    expect(band.refreshFailures).toBe(1);
    expect(band.isRefreshing(t)).toBe(false);
    expect(published).toBe(0);
    expect(t.bidFloor).toBe(96);
    expect(warned.join("\n")).toContain("bid price mantissa 97 twice");
    // The side is still low: a second later the book is refreshed again, and the venue repeats the price again. One
    // line per 5 s, the rest counted: until s-sr3 a line per refusal, a second apart per book for as long as it lasts.
    nowMs += 1_000;
    expect(band.check(t, { bidCount: 1, askCount: 0 } as unknown as BookView)).toBe(StatusReason.NONE);
    expect(band.isRefreshing(t)).toBe(true);
    const d = new BookUpdate(1);
    d.pushBid(97, 3);
    d.venueSeq = t.lastSeq = 13;
    band.buffer(t, d, 13, -1);
    snap.venueSeq = 12;
    band.supply(t, snap, 12);
    expect(band.refreshFailures).toBe(2);
    expect(published).toBe(0);
    expect(warned).toHaveLength(1);
  });

  test("levels beyond the depth are counted once a diff: the refresh does not count again the diffs the live book applied", () => {
    // The adapter counts a diff's levels beyond the band when the live book applies it (clipBeyondDepth). Before, the
    // refresh composing its book counted each buffered diff's levels beyond the new band again: levels_beyond_depth_total
    // grew by every such level twice (and by one the live book had kept). The diff that completes the refresh, which
    // the live book does not apply, is counted there, once.
    const band = new DepthBand(
      {
        log: silentLogger,
        now: () => 0,
        replaying: () => false,
        stopping: () => false,
        bridges: (seq, d) => d.first <= seq + 1 && seq + 1 <= d.last,
        covered: (seq, d) => d.last <= seq,
        fetch: () => true,
        publish: () => {},
      },
      0.25,
      new Map([["spot", 1 << 20]]),
    );
    const t = new BinanceTopic(0, "spot", "BTCUSDT", 4, "btcusdt@depth@100ms", {} as BinanceConnection);
    t.book = BookState.LIVE;
    t.bidFloor = 96; // the snapshot's 4 bids: 99..96
    t.lastSeq = 10;
    expect(band.check(t, { bidCount: 1, askCount: 0 } as unknown as BookView)).toBe(StatusReason.NONE);
    expect(band.isRefreshing(t)).toBe(true);
    // Each diff: one bid far below any band (50) and one inside. The live book applies u 11 and 12 (the adapter
    // counts their level at 50 then: 2), then the snapshot comes at 11 (bids 98..95, floor 95), bridged by u 12.
    const diff = (u: number, px: number) => {
      const d = new BookUpdate(2);
      d.pushBid(px, 1);
      d.pushBid(50, 1);
      d.venueSeq = u;
      return d;
    };
    for (const u of [11, 12]) {
      t.lastSeq = u;
      expect(band.buffer(t, diff(u, 97), u, -1)).toBe(false);
    }
    const snap = new BookUpdate(4);
    for (const px of [98, 97, 96, 95]) snap.pushBid(px, 2);
    snap.isSnapshot = true;
    snap.venueSeq = 11;
    band.supply(t, snap, 11);
    expect(band.refreshes).toBe(1);
    expect(t.bidFloor).toBe(95);
    expect(t.beyondDepth).toBe(0); // u 12 was counted when the live book applied it
    // The next refresh completes with the diff at hand (not applied by the live book): its level at 50 counts once.
    expect(band.check(t, { bidCount: 1, askCount: 0 } as unknown as BookView)).toBe(StatusReason.NONE);
    expect(band.isRefreshing(t)).toBe(true);
    band.supply(t, snap, 12); // newer than the book's diffs so far: waits for one reaching past it
    t.lastSeq = 13;
    expect(band.buffer(t, diff(13, 97), 13, -1)).toBe(true);
    expect(band.refreshes).toBe(2);
    expect(t.beyondDepth).toBe(1);
  });

  test("splitByMarket: one market has it all; two share half equally and half by their streams, within the total", () => {
    expect(splitByMarket(1000, new Map([["spot", 7]]))).toEqual(new Map([["spot", 1000]]));
    expect(splitByMarket(1000, new Map([["spot", 3], ["linear", 3]]))).toEqual(new Map([["spot", 500], ["linear", 500]]));
    const uneven = splitByMarket(1000, new Map([["spot", 999], ["linear", 1]]));
    expect(uneven.get("linear")).toBe(250); // a quarter at least, whatever its streams
    expect(uneven.get("spot")! + uneven.get("linear")!).toBeLessThanOrEqual(1000);
  });

  test("MarketBridges' peak counts the diff that bridges as it is buffered (each market's bridge counts it)", () => {
    // A snapshot in hand (newer than the diffs so far), the next diff bridges at once: held, then handed over. Until
    // s-rd4a the markets' peak was taken after the handover, without it (bridgeBufferedBytesPeak below its market's).
    const bridges = new MarketBridges<DiffRange>(
      {
        fetchSnapshot: () => Promise.reject(new Error("supplied")),
        bridges: (seq, d) => d.first <= seq + 1 && seq + 1 <= d.last,
        deliver: () => {},
        fail: () => {},
      },
      new Map([["spot", 1 << 20]]),
    );
    const t = new BinanceTopic(0, "spot", "BTCUSDT", 20, "btcusdt@depth@100ms", {} as BinanceConnection);
    const diff = new BookUpdate(8);
    for (let i = 0; i < 8; i++) diff.pushBid(1000 - i, 1);
    diff.venueSeq = 11;
    bridges.begin(t, false);
    bridges.supply(t, new BookUpdate(), 10);
    bridges.buffer(t, diff, { first: 11, last: 11 });
    expect(bridges.isBridging(t)).toBe(false); // bridged
    expect(bridges.bufferedBytes).toBe(0);
    expect(bridges.peakBufferedBytes).toBe(bytesOfCopy(diff));
  });
});
