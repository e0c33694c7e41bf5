/**
 * Planned reconnects over a WebSocket proxy (ws-proxy.ts) between the adapter and its simulator, for OKX (notice
 * 64008), Binance spot (`serverShutdown`), Bybit and Deribit (the maximum connection age): one running simulator + proxy +
 * adapter, a sink that keeps every book as price → qty maps, and the simulator's true books to compare with.
 */
import { join } from "node:path";
import type { BookUpdate } from "../../src/core/book-update.ts";
import { parseFixed } from "../../src/core/fixed.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import type { BookState, Instrument, MarketName, StatusReason } from "../../src/core/types.ts";
import type { VenueConfig } from "../../src/config/types.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startDeribitSimulator, type DeribitSim } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator, type OkxSim } from "../../src/sim/okx-sim.ts";
import { BinanceAdapter } from "../../src/venues/binance/index.ts";
import { createBybitAdapter } from "../../src/venues/bybit/index.ts";
import { DeribitAdapter } from "../../src/venues/deribit/adapter.ts";
import { OkxAdapter } from "../../src/venues/okx/index.ts";
import type { BookSink, CommonAdapterOptions, Subscription, VenueAdapter } from "../../src/venues/venue.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { applyToMaps } from "./contract.ts";
import { mantissa } from "./deribit/helpers.ts";
import { startWsProxy, type WsProxy } from "./ws-proxy.ts";
import { until } from "../support/until.ts";

/**
 * Deadlines short enough for a test, long enough for loopback: a replacement's subscribe unanswered for 500 ms has
 * failed; a failed planned reconnect is tried again 150–300 ms later (the reconnect backoff's first step), time to
 * check the books on the old socket in between.
 */
export const TEST_TIMINGS = { ackTimeoutMs: 500, reconnectBaseMs: 300, reconnectMaxMs: 600 };

/** Silent, or with DBG=1 in the environment the adapter's info and warnings on stdout (to see what a failing run did). */
function testLog(): Logger {
  if (!process.env.DBG) return silentLogger;
  const line = (...a: unknown[]) => console.log(Date.now() % 100_000, ...a.map((x) => JSON.stringify(x)));
  return { ...silentLogger, info: line, warn: line, error: line };
}

/** Adapter options a test sets on top of TEST_TIMINGS (its own clock, log, deadlines). */
export type AdapterExtras = Partial<CommonAdapterOptions> & {
  log?: Logger;
  now?: () => number;
  random?: () => number;
  housekeepingMs?: number;
  ackTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  staleAfterMs?: (depth: number, market: MarketName) => number;
  /** OKX: its request budget (OkxAdapterOptions). */
  requestsPerHour?: number;
  requestWindowMs?: number;
};

type Expected = { bids: Map<number, number>; asks: Map<number, number>; seq: number };

/** Keeps each book as the app would (snapshot replaces, deltas apply); every invalidation is recorded. */
export class BookMaps implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  readonly invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  constructor(readonly instruments: (Instrument | undefined)[]) {}
  onBookUpdate(index: number, u: BookUpdate): void {
    if (u.isSnapshot || u.replace) {
      this.bids[index] = new Map();
      this.asks[index] = new Map();
    }
    if (!this.bids[index]) throw new Error(`delta without a book (${index})`);
    applyToMaps(u, this.bids[index]!, this.asks[index]!);
    this.seq[index] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
  }
  onInstrumentChanged(): void {}
}

export interface PlannedRun {
  readonly venue: "okx" | "binance" | "bybit" | "deribit";
  readonly adapter: VenueAdapter;
  readonly proxy: WsProxy;
  readonly sink: BookMaps;
  readonly subs: Subscription[];
  step(n: number): void;
  /** The venue announces a close of the (old) socket; undefined for Bybit, whose planned reconnects come by age. */
  announce?: () => void;
  /** Whether book i equals the simulator's, level for level, at the same sequence. */
  equal(i: number): boolean;
  stop(): Promise<void>;
}

/**
 * A run whose adapter records as `feeder record` does (Bybit, Deribit: when asked, `record`), and the replay of what it
 * recorded so far; `replayEachRecord` (OKX) also compares the books after every record (capture).
 */
export type RecordedRun = PlannedRun & { recorded: readonly Recorded[]; replay(): Promise<BookMaps>; replayEachRecord?(): Promise<string | null> };

function sameMaps(a: Map<number, number> | undefined, b: Map<number, number>): boolean {
  return a !== undefined && a.size === b.size && [...b].every(([k, v]) => a.get(k) === v);
}

function convert(b: { bids: Map<string, string>; asks: Map<string, string> }, seq: number, inst: Instrument, parse = parseFixed): Expected {
  const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parse(p, inst.priceExp), parse(q, inst.qtyExp)] as [number, number]));
  return { bids: conv(b.bids), asks: conv(b.asks), seq };
}

async function finish(venue: PlannedRun["venue"], adapter: VenueAdapter, proxy: WsProxy, subs: Subscription[], parts: { step(n: number): void; announce?: () => void; expected(i: number, inst: Instrument): Expected; stopSim(): Promise<void> }): Promise<PlannedRun> {
  const sink = new BookMaps(await adapter.loadInstruments());
  adapter.start(sink);
  return {
    venue,
    adapter,
    proxy,
    sink,
    subs,
    step: parts.step,
    announce: parts.announce,
    equal(i) {
      const inst = sink.instruments[i];
      if (!inst) return false;
      const e = parts.expected(i, inst);
      return sink.seq[i] === e.seq && sameMaps(sink.bids[i], e.bids) && sameMaps(sink.asks[i], e.asks);
    },
    async stop() {
      await adapter.stop();
      proxy.stop();
      await parts.stopSim();
    },
  };
}

function config(venue: VenueConfig["venue"], wsUrl: string, restUrl: string, subs: Subscription[]): VenueConfig {
  const markets = [...new Set(subs.map((s) => s.market))].map((market: MarketName) => ({ market, depth: subs.find((s) => s.market === market)!.depth, symbols: subs.filter((s) => s.market === market).map((s) => s.symbol) }));
  return { venue, wsUrl, restUrl, instrumentCachePath: join(makeTempDir(`planned-${venue}`), "instruments.json"), markets, overrides: new Map() };
}

/**
 * A record as `feeder record` writes it, in the order the adapter met it (frames, REST answers, connection events);
 * `live`: the live run's books when the tap met it (booksShown), all records before it handled.
 */
export type Recorded = { frame?: string; url?: string; body?: string; connection: string; tsRecvUs: number; live?: string };

/** Integers below 2^53 summed modulo a prime: the same for a map whatever its order. */
function levelsDigest(m: Map<number, number> | undefined): string {
  if (m === undefined) return "-";
  let h = 0;
  for (const [p, q] of m) h = (h + (p % 1_000_003) * 131 + (q % 1_000_003)) % 2_147_483_647;
  return `${m.size}/${h}`;
}

/** What the sink shows: how many invalidations so far, and each book's seqId and levels (none while not LIVE). */
export function booksShown(sink: BookMaps): string {
  return `${sink.invalid.length} ${sink.bids.map((b, i) => `${sink.seq[i]}:${levelsDigest(b)}:${levelsDigest(sink.asks[i])}`).join(" ")}`;
}

/**
 * What a live adapter given `taps` records, and `replay`: what it recorded so far, replayed through a second adapter
 * made by `again` (as `feeder replay` does).
 */
function capture(market: MarketName, again: () => VenueAdapter): { recorded: Recorded[]; taps: Partial<CommonAdapterOptions>; watch(sink: BookMaps): void; replay(): Promise<BookMaps>; replayEachRecord(): Promise<string | null> } {
  const recorded: Recorded[] = [];
  let liveSink: BookMaps | null = null;
  // A request (ws:req) is written while a record is handled (its books part-way): no state is kept for it.
  const shown = (url?: string) => (liveSink === null || url?.startsWith("ws:req ") ? undefined : booksShown(liveSink));
  const taps: Partial<CommonAdapterOptions> = {
    onRawFrame: (_m, connection, frame, tsRecvUs) => void recorded.push({ frame, connection, tsRecvUs, live: shown() }),
    onRawRest: (_m, connection, url, body, tsRecvUs) => void recorded.push({ url, body, connection, tsRecvUs, live: shown(url) }),
  };
  /** Replays what was recorded so far; `check(k)` is called before record k is fed (the books after record k - 1). */
  const run = async (check?: (k: number, sink: BookMaps) => boolean): Promise<BookMaps> => {
    const adapter = again();
    const sink = new BookMaps(await adapter.loadInstruments());
    adapter.startReplay(sink);
    try {
      for (let k = 0; k < recorded.length; k++) {
        const r = recorded[k]!;
        if (check && !check(k, sink)) break;
        if (r.frame !== undefined) adapter.ingestFrame(market, r.connection, r.frame, r.tsRecvUs);
        else if (r.url!.startsWith("ws:")) adapter.ingestConnectionEvent?.(market, r.connection, r.url!, r.tsRecvUs, r.body); // the body too, as feeder replay (ws:retired names books)
        else adapter.ingestRest?.(market, r.connection, r.url!, r.body!, r.tsRecvUs);
      }
    } finally {
      await adapter.stop();
    }
    return sink;
  };
  /** The first record before which the replay's books differ from the live run's (null: none; its last state is the caller's to compare). */
  const replayEachRecord = async (): Promise<string | null> => {
    let diverged: string | null = null;
    await run((k, sink) => {
      const live = recorded[k]!.live;
      if (live === undefined || live === booksShown(sink)) return true;
      const r = recorded[k - 1];
      diverged = `after record ${k - 1} (${r?.url ?? r?.frame?.slice(0, 120)}): live ${live}, replay ${booksShown(sink)}`;
      return false;
    });
    return diverged;
  };
  return { recorded, taps, watch: (sink) => void (liveSink = sink), replay: () => run(), replayEachRecord };
}

/**
 * OKX `books` on spot (with its initial snapshot unless `initialSnapshot` is false; `depth` 5: books5, full books); the
 * 64008 notice is sent to every socket, which the simulator closes only 30 s later.
 */
export async function startOkx(
  symbols: string[],
  opts: { seed?: number; vipOnly?: string[]; initialSnapshot?: boolean; depth?: 400 | 5; prepare?: (p: WsProxy) => void; resyncBackoffBaseMs?: number; adapter?: AdapterExtras } = {},
): Promise<RecordedRun & { sim: OkxSim }> {
  const depth = opts.depth ?? 400;
  const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols }], seed: opts.seed ?? 21, noticeCloseMs: 30_000, vipOnly: opts.vipOnly, initialSnapshot: opts.initialSnapshot });
  const proxy = startWsProxy(new URL(sim.wsUrl).origin);
  opts.prepare?.(proxy);
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth }));
  const cfg = config("okx", `${proxy.origin}/ws/v5/public`, sim.restUrl, subs);
  const cap = capture("spot", () => new OkxAdapter(cfg, subs, { log: silentLogger }));
  const adapter = new OkxAdapter(cfg, subs, { log: testLog(), ...TEST_TIMINGS, resyncBackoffBaseMs: opts.resyncBackoffBaseMs, ...cap.taps, ...opts.adapter });
  const run = await finish("okx", adapter, proxy, subs, {
    step: (n) => sim.step(n),
    announce: () => sim.inject("notice"),
    expected: (i, inst) => {
      const b = sim.book(subs[i]!.symbol, depth);
      return convert(b, b.seqId, inst);
    },
    stopSim: () => sim.stop(),
  });
  cap.watch(run.sink);
  return { ...run, sim, recorded: cap.recorded, replay: cap.replay, replayEachRecord: cap.replayEachRecord };
}

/**
 * Binance spot diffs bridged to REST snapshots; `serverShutdown` is followed by the close only 30 s later; with
 * `simConnectionLifetimeMs` the simulator closes every connection at that age (Binance's 24 h).
 */
export async function startBinance(symbols: string[], opts: { prepare?: (p: WsProxy) => void; adapter?: AdapterExtras; simConnectionLifetimeMs?: number } = {}): Promise<PlannedRun> {
  const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 22, shutdownGraceMs: 30_000, maxConnectionAgeMs: opts.simConnectionLifetimeMs });
  const proxy = startWsProxy(sim.wsUrl);
  opts.prepare?.(proxy);
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 100 }));
  const adapter = new BinanceAdapter(config("binance", proxy.origin, sim.restUrl, subs), subs, { log: testLog(), ...TEST_TIMINGS, ...opts.adapter });
  return finish("binance", adapter, proxy, subs, {
    step: (n) => sim.step(n),
    announce: () => void sim.inject("serverShutdown"),
    expected: (i, inst) => {
      const b = sim.book("spot", subs[i]!.symbol);
      return convert(b, b.u, inst);
    },
    stopSim: () => sim.stop(),
  });
}

/** Bybit linear, replaced make-before-break whenever a connection is maxConnectionAgeMs old (Bybit announces nothing). */
export async function startBybit(symbols: string[], maxConnectionAgeMs: number, opts: { prepare?: (p: WsProxy) => void; adapter?: AdapterExtras; record?: boolean } = {}): Promise<RecordedRun> {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols }], seed: 23 });
  const origin = new URL(sim.wsUrl).origin;
  const proxy = startWsProxy(origin);
  opts.prepare?.(proxy);
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 50 }));
  const cfg = config("bybit", `${proxy.origin}/v5/public`, sim.restUrl, subs);
  const cap = capture("linear", () => createBybitAdapter(cfg, subs, { log: silentLogger }));
  const adapter = createBybitAdapter(cfg, subs, { log: testLog(), ...TEST_TIMINGS, maxConnectionAgeMs, ...(opts.record ? cap.taps : {}), ...opts.adapter });
  const run = await finish("bybit", adapter, proxy, subs, {
    step: (n) => sim.step(n),
    expected: (i, inst) => {
      const b = sim.book("linear", subs[i]!.symbol, 50);
      return convert(b, b.u, inst);
    },
    stopSim: () => sim.stop(),
  });
  return { ...run, recorded: cap.recorded, replay: cap.replay };
}

/**
 * Deribit inverse perpetuals, replaced make-before-break at maxConnectionAgeMs; the simulator sends each socket a
 * `test_request` every 100 ms and closes a socket that leaves one unanswered when the next is due (or for
 * `heartbeatTimeoutMs`).
 */
export async function startDeribit(
  symbols: string[],
  maxConnectionAgeMs: number,
  opts: { prepare?: (p: WsProxy) => void; adapter?: AdapterExtras; onSim?: (sim: DeribitSim) => void; heartbeatTimeoutMs?: number; record?: boolean } = {},
): Promise<RecordedRun> {
  const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols }], seed: 24, heartbeatIntervalMs: 100, heartbeatTimeoutMs: opts.heartbeatTimeoutMs });
  opts.onSim?.(sim);
  const proxy = startWsProxy(new URL(sim.wsUrl).origin);
  opts.prepare?.(proxy);
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "inverse", symbol, depth: 0 }));
  const cfg = config("deribit", `${proxy.origin}/ws/api/v2`, sim.restUrl, subs);
  const cap = capture("inverse", () => new DeribitAdapter(cfg, subs, { log: silentLogger }));
  const adapter = new DeribitAdapter(cfg, subs, { log: testLog(), ...TEST_TIMINGS, maxConnectionAgeMs, ...(opts.record ? cap.taps : {}), ...opts.adapter });
  const run = await finish("deribit", adapter, proxy, subs, {
    step: (n) => sim.step(n),
    expected: (i, inst) => {
      const b = sim.book("inverse", subs[i]!.symbol, 0);
      return convert(b, b.changeId, inst, mantissa);
    },
    stopSim: () => sim.stop(),
  });
  return { ...run, recorded: cap.recorded, replay: cap.replay };
}

/** Polls a condition until it holds, failing naming what was awaited (test/support/until.ts). */
export { until };

/**
 * A planned reconnect's overlap reached on the adapter's clock: step run's symbol 1 (both books live), then move the
 * clock (`now`, `advance`) in `tickMs` steps, 3 ms apart, to connection 0's age limit, where its replacement opens and
 * swaps in and the old socket retires. A ping the housekeeping rounds send meanwhile (the idle probe) is answered
 * before the clock moves on: its pong is a real round trip, and on a loaded machine it could otherwise come seconds
 * later by this clock (past the dead-connection time). Returns connection 0 and the adapter's lifecycle, typed by the caller.
 */
export async function ageToRetiring<C extends { retiringWs: unknown; openedMs: number }, L>(run: PlannedRun, ageMs: number, tickMs: number, now: () => number, advance: (ms: number) => void): Promise<{ conn: C; lc: L }> {
  const conn = (run.adapter as unknown as { conns: C[] }).conns[0]!;
  const lc = (run.adapter as unknown as { lifecycle: L }).lifecycle;
  const keepalive = conn as unknown as { pongDeadlineMs: number };
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  while (now() < conn.openedMs + ageMs - tickMs) {
    advance(tickMs);
    await new Promise((r) => setTimeout(r, 3));
    await until(() => keepalive.pongDeadlineMs === 0, "the ping's pong");
  }
  advance(tickMs); // the age limit: the replacement opens and swaps in, the old socket retires
  await until(() => conn.retiringWs !== null, "the replacement swapped in");
  return { conn, lc };
}
