/**
 * The rig of test/e2e/isolation.test.ts: the Bybit, Binance and Coinbase simulators (in process, stepped by the
 * test), one in-process Feeder with all three venues in one config (as `feeder run` with several venues), multicast
 * on 127.0.0.1 (TTL 1) and a FeedSubscriber. Deadlines are short (stale and dead-connection 1.5 s), so a stall of
 * the thread or a held queue long enough to matter trips them. One topic or venue is the "broken" one; the rig
 * watches every other book at the subscriber and at the feeder: any event that shows one of them not LIVE, not
 * usable or stale is a violation.
 * @module
 */
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BOOK_STATE_NAMES, BookState, type MarketName, type VenueName } from "../../src/core/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../src/sim/coinbase-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { captureLog } from "../support/capture-log.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor } from "./harness.ts";

export const DEADLINE_MS = 1500;

export interface IsoTopic {
  venue: VenueName;
  market: MarketName;
  symbol: string;
  id: number;
  label: string;
  /** The simulator's book now and its sequence (what the feeder publishes as venueSeq). */
  now(): { bids: Map<string, string>; asks: Map<string, string>; seq: number };
}

export interface RigOptions {
  seed: number;
  /** Levels per side of the Coinbase simulator's books (full depth; default 80). */
  coinbaseLevels?: number;
  /** Labels of the topics (or "venue:*") allowed to break; every other book must stay LIVE and usable. */
  broken: string[];
  /**
   * A venue served by a simulator in another process (test/support/sim-child.ts): coinbase replaces the in-process
   * Coinbase simulator, okx is added. Its books are the broken ones: never compared.
   */
  /** The Binance REST URL the feeder is given instead of the simulator's (a proxy in front of it). */
  binanceRestUrl?: (simRestUrl: string) => string;
  /** Keys merged into the config's [publish] table. */
  publish?: Record<string, unknown>;
  external?: { venue: "coinbase" | "okx"; wsUrl: string; restUrl: string; symbols: string[] };
}

export interface Rig {
  bybit: BybitSim;
  binance: BinanceSim;
  coinbase: CoinbaseSim;
  feeder: Feeder;
  subscriber: FeedSubscriber;
  topics: IsoTopic[];
  healthy: IsoTopic[];
  violations: string[];
  /** Every log line the feeder wrote at info or above. */
  logLines: { level: string; msg: string }[];
  /** One normal message per book on every simulator (`times` per venue overrides, e.g. a flood). */
  step(times?: Partial<Record<"bybit" | "binance" | "coinbase", number>>): void;
  /** Every healthy book usable at the subscriber, at its simulator's sequence, with its simulator's levels. */
  healthyEqual(): boolean;
  /** Starts watching: from here on a healthy book seen not LIVE, unusable or stale is a violation. */
  watch(): void;
  stop(): Promise<void>;
}

const SYMBOLS = { bybit: ["BTCUSDT", "ETHUSDT"], binance: ["BTCUSDT", "ETHUSDT"], coinbase: ["BTC-USD", "ETH-USD"] };

export async function startRig(o: RigOptions): Promise<Rig> {
  const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS.bybit }], seed: o.seed });
  const binance = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS.binance }], seed: o.seed });
  const coinbase = await startCoinbaseSimulator({ products: SYMBOLS.coinbase, seed: o.seed, levels: o.coinbaseLevels ?? 80, heartbeatMs: 100 });
  const topics: IsoTopic[] = [
    // book() formats the whole book (Binance's every level): once per look, not twice.
    ...SYMBOLS.bybit.map((s) => topic("bybit", "linear", s, () => withSeq(bybit.book("linear", s)))),
    ...SYMBOLS.binance.map((s) => topic("binance", "spot", s, () => withSeq(binance.book("spot", s)))),
    ...(o.external?.venue === "coinbase" ? [] : SYMBOLS.coinbase.map((s) => topic("coinbase", "spot", s, () => coinbase.book(s)))),
  ];
  const isBroken = (t: { venue: string; label: string }) => o.broken.includes(t.label) || o.broken.includes(`${t.venue}:*`);
  const healthy = topics.filter((t) => !isBroken(t));
  const healthyIds = new Set(healthy.map((t) => t.id));
  const { group, port } = uniqueDestination(40 + (o.seed % 50));
  // Room for the huge books of case (b): 100k levels a side, assembled from ~1,400 datagrams per snapshot.
  const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], maxLevelsPerSide: 250_000, maxAssemblyLevels: 2_000_000 });
  const violations: string[] = [];
  let watching = false;
  const labelOf = (id: number) => topics.find((t) => t.id === id)?.label ?? String(id);
  const judge = (what: string) => (e: { book: { instrumentId: number; state: BookState; usable: boolean; stale: boolean } }) => {
    if (!watching || !healthyIds.has(e.book.instrumentId)) return;
    const b = e.book;
    if (b.state !== BookState.LIVE || !b.usable || b.stale) violations.push(`${labelOf(b.instrumentId)}: ${what} state ${BOOK_STATE_NAMES[b.state]} usable ${b.usable} stale ${b.stale}`);
  };
  subscriber.on("update", judge("update"));
  subscriber.on("status", judge("status"));
  // One stream carries every book: a stale stream is every healthy book unusable.
  subscriber.on("stale", (e) => {
    if (watching) violations.push(`stream stale: silent ${e.silentMs} ms, ${e.books} books`);
  });
  subscriber.on("gap", (e: { lost: number }) => {
    if (watching) violations.push(`channel gap: ${e.lost} lost`);
  });
  await subscriber.start();

  const { log, lines: logLines } = captureLog({ info: true });
  const cache = (v: string) => join(tempDir(`feeder-iso-${v}-`), "instruments.json");
  const config = validateConfig({
    workers: 1,
    log: { level: "info", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: {
      heartbeat_interval_ms: 500, // the stream is stale at the subscriber after 3 × 500 ms = DEADLINE_MS
      snapshot_interval_ms: 1000,
      startup_listen_ms: 0,
      destinations: [{ name: "iso", group, port, interface: "127.0.0.1", ttl: 1, channel: 5 }],
      ...o.publish,
    },
    venues: {
      bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: cache("bybit"), linear: { depth: 50, symbols: SYMBOLS.bybit } },
      binance: { ws_url: binance.wsUrl, rest_url: o.binanceRestUrl?.(binance.restUrl) ?? binance.restUrl, instrument_cache: cache("binance"), spot: { depth: 1000, symbols: SYMBOLS.binance } },
      coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbase.restUrl, instrument_cache: cache("coinbase"), spot: { symbols: SYMBOLS.coinbase } },
      ...(o.external && {
        [o.external.venue]: {
          ws_url: o.external.wsUrl,
          rest_url: o.external.restUrl,
          instrument_cache: cache(o.external.venue),
          spot: o.external.venue === "okx" ? { depth: 400, symbols: o.external.symbols } : { symbols: o.external.symbols },
        },
      }),
    },
  });
  const feeder = new Feeder({
    config,
    log,
    // Short deadlines for every venue: a healthy book silent (or a thread stalled) for 1.5 s goes STALE or DISCONNECTED.
    adapterOptions: { staleAfterMs: () => DEADLINE_MS, deadConnectionMs: DEADLINE_MS, reconnectBaseMs: 50, reconnectMaxMs: 400 },
  });
  // The feeder's own books too: a healthy book leaving LIVE is a violation even when no datagram said so yet.
  const feederWatch = setInterval(() => {
    if (!watching) return;
    for (const b of feeder.bookSummaries()) {
      const id = instrumentIdOf(b.venue as VenueName, b.market as MarketName, b.symbol);
      if (healthyIds.has(id) && b.state.toUpperCase() !== "LIVE") violations.push(`${labelOf(id)}: feeder book ${b.state} (${b.reason})`);
    }
  }, 20);
  await feeder.start();

  const rig: Rig = {
    bybit,
    binance,
    coinbase,
    feeder,
    subscriber,
    topics,
    healthy,
    violations,
    logLines,
    step(times = {}) {
      bybit.step(times.bybit ?? 1);
      binance.step(times.binance ?? 1);
      coinbase.step(times.coinbase ?? 1);
    },
    healthyEqual: () => healthy.every((t) => equal(subscriber, t)),
    watch() {
      watching = true;
    },
    async stop() {
      watching = false;
      clearInterval(feederWatch);
      await feeder.stop();
      await subscriber.stop();
      await Promise.all([bybit.stop(), binance.stop(), coinbase.stop()]);
    },
  };
  return rig;
}

const withSeq = <B extends { u: number }>(b: B) => ({ ...b, seq: b.u });

function topic(venue: VenueName, market: MarketName, symbol: string, now: IsoTopic["now"]): IsoTopic {
  return { venue, market, symbol, id: instrumentIdOf(venue, market, symbol), label: `${venue}:${symbol}`, now };
}

export function equal(subscriber: FeedSubscriber, t: IsoTopic): boolean {
  const b = subscriber.books.get(t.id);
  if (!b || !b.usable) return false;
  const s = t.now();
  return b.venueSeq === s.seq && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
}

/**
 * `rounds` rounds: each steps the simulators (`times`), runs `fault` and waits (stepping every 20 ms) until every
 * healthy book is equal to its simulator's again. Then the violations must be none.
 */
export async function runRounds(rig: Rig, rounds: number, fault: (round: number) => void | Promise<void>, times?: Parameters<Rig["step"]>[0]): Promise<void> {
  let last = 0;
  const pace = () => {
    if (Date.now() - last < 20) return;
    last = Date.now();
    rig.step(times);
  };
  for (let i = 0; i < rounds; i++) {
    rig.step(times);
    await fault(i);
    await waitFor(() => rig.healthyEqual(), `healthy books equal after round ${i} (violations: ${rig.violations.slice(0, 5).join("; ")})`, 10_000, pace);
  }
}

/** An onPoll for waitFor: one step of every simulator at most every 20 ms (its polls are 2 ms apart), as the rounds pace. */
export function paced(rig: Rig): () => void {
  let last = 0;
  return () => {
    if (Date.now() - last < 20) return;
    last = Date.now();
    rig.step();
  };
}

/** Until every book (healthy or not) is usable and equal, stepping: the rig's start. */
export async function allLiveAndEqual(rig: Rig, timeoutMs = 20_000): Promise<void> {
  let last = 0;
  try {
    await waitFor(
      () => rig.topics.every((t) => equal(rig.subscriber, t)),
      "every book usable and equal at the start",
      timeoutMs,
      () => {
        if (Date.now() - last < 20) return;
        last = Date.now();
        rig.step();
      },
    );
  } catch (err) {
    const subs = rig.topics.map((t) => {
      const b = rig.subscriber.books.get(t.id);
      return `${t.label}: sub ${b ? `${BOOK_STATE_NAMES[b.state]} usable ${b.usable} seq ${b.venueSeq}/${t.now().seq} bids ${b.bidCount}` : "none"}`;
    });
    const feeder = rig.feeder.bookSummaries().map((b) => `${b.venue}:${b.symbol} ${b.state}`);
    throw new Error(`${(err as Error).message}: ${subs.join("; ")} | feeder: ${feeder.join("; ")} | sub counters ${JSON.stringify(rig.subscriber.counters)}`);
  }
}
