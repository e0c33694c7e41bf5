/**
 * The cases of binary-venues.test.ts: per venue, its simulator started, its config tables and its faults, each with
 * what it must do (break the target, or keep every book LIVE) and the counter that proves the feeder met it. Apart
 * from the test so that test/docs/venue-fault-table.test.ts checks docs/add-venue.md's table against these.
 */
import type { MarketName, VenueName } from "../../src/core/types.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator, type OkxSim } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { mantissa } from "../venues/deribit/helpers.ts";
import type { Levels } from "./harness.ts";

export type Sides = { bids: Map<string, string>; asks: Map<string, string> };
export type SimBook = Sides & { seq: number };

/**
 * One fault of a venue's run. `break`: the target (topics[0]) must leave usable while the fault lasts; `keep`: no
 * book may leave LIVE (a repeat the adapter drops, a keepalive, a planned reconnect made before it breaks).
 */
export interface Fault {
  name: string;
  expect: "break" | "keep";
  /** The topic it hits (index into the case's topics; default 0). */
  target?: number;
  inject(): void;
  /** The feeder's counters (`feeder_venue_<name>`, summed over their labels) of which one must grow: it met the fault. */
  counters: string[];
  /** Where the feeder counts nothing for it: the simulator's count of the fault served, which must grow instead. */
  served?(): number;
  /** The simulator's side is over too (e.g. the old sockets of a planned reconnect closed): waited for before the checks. */
  settled?(): boolean;
}

/** One venue's simulator, seen the same way for every venue. */
export interface Venue {
  wsUrl: string;
  restUrl: string;
  /** The config's market tables (`[venues.X.<market>]`). */
  markets: Record<string, unknown>;
  /** Per topic (config symbol): the simulator's book now and the venue sequence the feeder publishes as venueSeq. */
  book(topic: Topic): SimBook;
  /** Every book the simulator had at a sequence, where it keeps them (Bybit, Binance): nothing else is compared. */
  booksAt?(topic: Topic, seq: number): Sides[];
  step(): void;
  faults: Fault[];
  stop(): Promise<void>;
  /** Decimal text → mantissas at the instrument's exponents (Deribit's numbers may be in exponent form). */
  levels?(b: Sides, priceExp: number, qtyExp: number): Levels;
}

export interface Topic {
  market: MarketName;
  /** As the config names it (Upbit: `CODE@depth`). */
  symbol: string;
  id: number;
}

export interface Case {
  venue: VenueName;
  /** In the test's name where a venue runs twice. */
  label?: string;
  topics: { market: MarketName; symbol: string }[];
  start(): Promise<Venue>;
}

const deribitLevels = (b: Sides, pe: number, qe: number): Levels => {
  const conv = (m: Map<string, string>) => [...m].map(([p, q]) => [mantissa(p, pe), mantissa(q, qe)] as [number, number]);
  return { bids: conv(b.bids).sort((x, y) => y[0] - x[0]), asks: conv(b.asks).sort((x, y) => x[0] - y[0]) };
};

const upbitCode = (symbol: string) => {
  const [code, depth] = symbol.split("@");
  return { code: code!, depth: depth ? Number(depth) : 30 };
};

/** Connections an OKX simulator had accepted when its 64008 notice was sent. */
const acceptedAtNotice = new WeakMap<OkxSim, number>();

function noticed(sim: OkxSim): void {
  acceptedAtNotice.set(sim, sim.stats.connectionsTotal);
  sim.inject("notice");
}

/**
 * The replacement opened and the old socket gone. Until s-rd3j only `connections === 1`, true before the replacement
 * opened (planned_reconnects_total counts a replacement begun): the case could end before the handover.
 */
function handedOver(sim: OkxSim): boolean {
  return sim.stats.connectionsTotal > acceptedAtNotice.get(sim)! && sim.stats.connections === 1;
}

export const CASES: Case[] = [
  {
    venue: "bybit",
    topics: [
      { market: "spot", symbol: "BTCUSDT" },
      { market: "spot", symbol: "ETHUSDT" },
      { market: "option", symbol: "BTC-27MAR26-70000-C" },
      { market: "linear", symbol: "BTCUSDT" },
      { market: "inverse", symbol: "BTCUSD" },
    ],
    async start() {
      const markets = [
        { market: "spot" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
        { market: "option" as const, depth: 25, symbols: ["BTC-27MAR26-70000-C"] },
        { market: "linear" as const, depth: 50, symbols: ["BTCUSDT"] },
        { market: "inverse" as const, depth: 200, symbols: ["BTCUSD"] },
      ];
      const sim = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 13, messagesPerSecond: 0, history: true });
      const depthOf = (t: Topic) => markets.find((m) => m.market === t.market)!.depth;
      const target = { market: "spot" as const, symbol: "BTCUSDT" };
      const fault = (name: "gap" | "malformed" | "reset" | "crossed" | "duplicate" | "disconnect", expect: Fault["expect"], counters: string[]): Fault => ({ name, expect, counters, inject: () => void sim.inject(name, target) });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: Object.fromEntries(markets.map((m) => [m.market, { depth: m.depth, symbols: m.symbols }])),
        book: (t) => {
          const b = sim.book(t.market, t.symbol, depthOf(t));
          return { ...b, seq: b.u };
        },
        booksAt: (t, seq) => sim.booksAt(t.market, t.symbol, depthOf(t), seq),
        step: () => sim.step(1),
        faults: [
          fault("gap", "break", ["sequence_gaps_total"]),
          fault("malformed", "break", ["parse_errors_total"]),
          fault("crossed", "break", ["resyncs_total"]),
          fault("reset", "keep", ["venue_resets_total"]),
          fault("duplicate", "keep", ["duplicates_total"]),
          fault("disconnect", "break", ["reconnects_total"]),
        ],
        stop: () => sim.stop(),
      };
    },
  },
  {
    venue: "okx",
    topics: [
      { market: "spot", symbol: "BTC-USDT" },
      { market: "spot", symbol: "ETH-USDT" },
    ],
    async start() {
      const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 5, checksums: true, noticeCloseMs: 1500 });
      const fault = (name: "gap" | "reset" | "lost_reset" | "checksum" | "malformed" | "duplicate" | "keepalive" | "disconnect", expect: Fault["expect"], counters: string[]): Fault => ({ name, expect, counters, inject: () => sim.inject(name, "BTC-USDT") });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { depth: 400, symbols: ["BTC-USDT", "ETH-USDT"] } },
        book: (t) => {
          const b = sim.book(t.symbol, 400);
          return { ...b, seq: b.seqId };
        },
        step: () => sim.step(1),
        faults: [
          fault("gap", "break", ["sequence_gaps_total"]),
          fault("checksum", "break", ["checksum_mismatches_total"]),
          fault("malformed", "break", ["parse_errors_total"]),
          fault("reset", "keep", ["maintenance_resets_total"]),
          fault("lost_reset", "break", ["sequence_gaps_total", "maintenance_resets_total"]),
          fault("duplicate", "keep", ["duplicates_total"]),
          fault("keepalive", "keep", ["keepalives_total"]),
          fault("disconnect", "break", ["reconnects_total"]),
          {
            // 64008: the server closes every connection 1.5 s after its notice; the replacement is made first.
            name: "64008 notice",
            expect: "keep",
            counters: ["planned_reconnects_total"],
            inject: () => noticed(sim),
            settled: () => handedOver(sim),
          },
        ],
        stop: () => sim.stop(),
      };
    },
  },
  {
    // `books` without its snapshot (the sim's initialSnapshot false): each book bridged from a REST snapshot by seqId.
    venue: "okx",
    label: "okx (REST snapshots bridged)",
    topics: [
      { market: "spot", symbol: "BTC-USDT" },
      { market: "spot", symbol: "ETH-USDT" },
    ],
    async start() {
      const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 6, checksums: true, initialSnapshot: false, noticeCloseMs: 1500 });
      /** The next REST book refused (429) or older than the buffered updates, met by the resync a gap starts. */
      const rest = (kind: "refuse" | "no_bridge", name: string, counters: string[], target: number): Fault => ({
        name,
        expect: "break",
        counters,
        target,
        inject: () => {
          const instId = target === 0 ? "BTC-USDT" : "ETH-USDT";
          sim.restFault(kind, instId);
          sim.inject("gap", instId);
        },
        settled: () => sim.restFaultsPending() === 0,
      });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { depth: 400, symbols: ["BTC-USDT", "ETH-USDT"] } },
        book: (t) => {
          const b = sim.book(t.symbol, 400);
          return { ...b, seq: b.seqId };
        },
        step: () => sim.step(1),
        faults: [
          { name: "gap", expect: "break", counters: ["sequence_gaps_total"], inject: () => sim.inject("gap", "BTC-USDT") },
          rest("no_bridge", "stale REST snapshot", ["rest_snapshots_not_bridging_total"], 0),
          rest("refuse", "REST 429", ["rest_snapshots_refused_total"], 1),
          { name: "64008 notice", expect: "keep", counters: ["planned_reconnects_total"], inject: () => noticed(sim), settled: () => handedOver(sim) },
        ],
        stop: () => sim.stop(),
      };
    },
  },
  {
    venue: "binance",
    topics: [
      { market: "spot", symbol: "BTCUSDT" },
      { market: "spot", symbol: "ETHUSDT" },
      { market: "linear", symbol: "BTCUSDT" },
    ],
    async start() {
      const sim = await startBinanceSimulator({
        markets: [
          { market: "spot", symbols: ["BTCUSDT", "ETHUSDT"] },
          { market: "linear", symbols: ["BTCUSDT"] },
        ],
        seed: 5,
        history: true,
        // The feeder closes the old sockets itself once their replacements carry every book; a short grace let a loaded
        // box's replacement miss its acks, and the books the old socket alone fed rightly left LIVE (test/e2e/binance.test.ts).
        shutdownGraceMs: 10_000,
      });
      /** Connections the simulator had accepted when serverShutdown was injected. */
      let openedBefore = 0;
      // Each topic's own faults are few: a topic failing again within 10 s of its last resync waits longer each time.
      const targets = [
        { market: "spot" as const, symbol: "BTCUSDT" },
        { market: "spot" as const, symbol: "ETHUSDT" },
        { market: "linear" as const, symbol: "BTCUSDT" },
      ];
      const fault = (name: "gap" | "duplicate" | "malformed" | "disconnect", expect: Fault["expect"], counters: string[], target = 0): Fault => ({ name, expect, counters, target, inject: () => void sim.inject(name, targets[target]) });
      /** A REST depth answer refused (429), banned (418), failed (500) or too old to bridge, met by the next resync (a gap). */
      const rest = (kind: "refuse" | "ban" | "error" | "no_bridge", name: string, counters: string[], target: number): Fault => ({
        name,
        expect: "break",
        counters,
        target,
        inject: () => {
          sim.restFault(kind, targets[target]!);
          sim.inject("gap", targets[target]);
        },
        settled: () => sim.restFaultsPending() === 0,
      });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { depth: 1000, symbols: ["BTCUSDT", "ETHUSDT"] }, linear: { depth: 1000, symbols: ["BTCUSDT"] } },
        book: (t) => {
          const b = sim.book(t.market, t.symbol);
          return { ...b, seq: b.u };
        },
        booksAt: (t, seq) => {
          const b = sim.bookAt(t.market, t.symbol, seq);
          return b ? [b] : [];
        },
        step: () => sim.step(1),
        faults: [
          fault("gap", "break", ["sequence_gaps_total"]),
          fault("malformed", "break", ["parse_errors_total"], 1),
          fault("duplicate", "keep", ["duplicates_total"]),
          fault("disconnect", "break", ["reconnects_total"]),
          rest("no_bridge", "stale REST snapshot", ["rest_snapshots_not_bridging_total"], 0),
          rest("refuse", "REST 429", ["rest_snapshots_refused_total"], 1),
          rest("ban", "REST 418", ["rest_snapshots_refused_total"], 2),
          {
            // The server's notice, then its close 10 s later (both markets' connections): made before it breaks.
            name: "serverShutdown",
            expect: "keep",
            counters: ["planned_reconnects_total"],
            inject: () => {
              openedBefore = sim.stats.connectionsTotal;
              void sim.inject("serverShutdown");
            },
            // Both replacements opened and both old sockets closed by the feeder itself (make-before-break), not by the
            // simulator at the grace's end. Until s-rd3j only `connections === 2`, true before any replacement opened
            // (planned_reconnects_total counts a replacement begun): the case ended before the handover, unseen.
            settled: () => {
              if (sim.stats.closedForShutdown > 0) throw new Error(`binance serverShutdown: the simulator closed ${sim.stats.closedForShutdown} old sockets at the grace's end (the feeder did not)`);
              return sim.stats.connectionsTotal >= openedBefore + 2 && sim.stats.connections === 2;
            },
          },
        ],
        stop: () => sim.stop(),
      };
    },
  },
  {
    venue: "deribit",
    topics: [
      { market: "inverse", symbol: "BTC-PERPETUAL" },
      { market: "inverse", symbol: "ETH-PERPETUAL" },
    ],
    async start() {
      const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }], seed: 21, heartbeatIntervalMs: 300 });
      const target = { market: "inverse" as const, symbol: "BTC-PERPETUAL" };
      const fault = (name: "gap" | "change_id_break" | "reset" | "reset_low" | "malformed" | "duplicate" | "disconnect", expect: Fault["expect"], counters: string[]): Fault => ({ name, expect, counters, inject: () => void sim.inject(name, target) });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] } },
        book: (t) => {
          const b = sim.book(t.market, t.symbol, 0);
          return { ...b, seq: b.changeId };
        },
        step: () => sim.step(1),
        faults: [
          fault("gap", "break", ["sequence_gaps_total"]),
          fault("change_id_break", "break", ["sequence_gaps_total"]),
          fault("malformed", "break", ["parse_errors_total"]),
          fault("reset", "keep", ["snapshots_total"]),
          fault("reset_low", "break", ["venue_resets_total"]),
          fault("duplicate", "keep", ["duplicates_total"]),
          fault("disconnect", "break", ["reconnects_total"]),
          {
            // 10028 "too many requests" on the reconnect's first two subscribes.
            name: "rate_limit",
            expect: "break",
            counters: ["rate_limited_total"],
            inject: () => {
              sim.inject("rate_limit", undefined, { count: 2 });
              sim.inject("disconnect", target);
            },
          },
        ],
        stop: () => sim.stop(),
        levels: deribitLevels,
      };
    },
  },
  {
    venue: "coinbase",
    topics: [
      { market: "spot", symbol: "BTC-USD" },
      { market: "spot", symbol: "ETH-USD" },
    ],
    async start() {
      const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 17, levels: 80, heartbeatMs: 100 });
      const fault = (name: "gap" | "sequence_reset" | "malformed" | "reset" | "duplicate" | "error" | "disconnect", expect: Fault["expect"], counters: string[]): Fault => ({ name, expect, counters, inject: () => void sim.inject(name, "BTC-USD") });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { symbols: ["BTC-USD", "ETH-USD"] } },
        // Each connection numbers from 0 (sequence_num): several states per number are kept, any may match.
        book: (t) => sim.book(t.symbol),
        step: () => sim.step(1),
        faults: [
          fault("gap", "break", ["sequence_gaps_total"]),
          fault("sequence_reset", "break", ["sequence_gaps_total"]),
          fault("malformed", "break", ["parse_errors_total"]),
          fault("reset", "keep", ["snapshots_total"]),
          fault("duplicate", "keep", ["duplicates_total"]),
          fault("error", "keep", ["error_frames_total"]),
          fault("disconnect", "break", ["reconnects_total"]),
        ],
        stop: () => sim.stop(),
      };
    },
  },
  ...(["upbit", "bithumb"] as const).map(
    (venue, n): Case => ({
      venue,
      topics: [
        { market: "spot", symbol: "KRW-BTC" },
        { market: "spot", symbol: "KRW-XRP@15" },
      ],
      async start() {
        const sim = await startUpbitSimulator({ venue, codes: ["KRW-BTC", "KRW-XRP"], seed: 21 + n });
        const fault = (name: "duplicate" | "older" | "zero_size" | "malformed" | "disconnect", expect: Fault["expect"], counters: string[]): Fault => ({ name, expect, counters, inject: () => sim.inject(name, "KRW-BTC") });
        return {
          wsUrl: sim.wsUrl,
          restUrl: sim.restUrl,
          markets: { spot: { depth: 30, symbols: ["KRW-BTC", "KRW-XRP@15"] } },
          book: (t) => {
            const { code, depth } = upbitCode(t.symbol);
            const b = sim.book(code, depth);
            return { ...b, seq: b.ts };
          },
          step: () => sim.step(1),
          faults: [
            fault("duplicate", "keep", ["repeated_timestamps_total"]),
            fault("older", "keep", ["older_timestamps_total"]),
            // A level of size 0 in a whole book: left out of the book, nothing counted by the feeder.
            { ...fault("zero_size", "keep", []), served: () => sim.stats.zeroSizeSent },
            fault("malformed", "break", ["parse_errors_total"]),
            fault("disconnect", "break", ["reconnects_total"]),
          ],
          stop: () => sim.stop(),
        };
      },
    }),
  ),
];
