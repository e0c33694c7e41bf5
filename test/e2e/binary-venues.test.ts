/**
 * The compiled executable end to end, per venue and per fault: `npm run build` once for the run (binary-build.ts)
 * → `feeder run --config FILE` against each venue's simulator (in process) → real multicast (239.255.x.x, interface
 * 127.0.0.1, TTL 1) → FeedSubscriber. One feeder process per venue runs that venue's faults one after another:
 * Bybit (spot, linear, inverse, option), OKX (with `books`' snapshot, and bridged from REST snapshots), Binance (spot and USD-M), Deribit, Coinbase,
 * Upbit, Bithumb. Whatever event the subscriber raises, a book it shows usable must equal the simulator's book at that
 * venue sequence. Per fault: the feeder met it (its own counter on /metrics grew, or for Upbit's zero-size level,
 * which it counts nowhere, the simulator's count of such books served: the fault happened, not skipped by timing); a fault that breaks the target's stream makes the target not usable while it lasts; a harmless one
 * (a repeat, a keepalive) and a planned reconnect (OKX's 64008 notice, Binance's serverShutdown) leave every book
 * LIVE throughout; after each, every book is usable and equal again. SIGTERM publishes every book halted; exit 0.
 * The venue × fault table (this file, the in-process e2e files and the chaos runs) is in docs/add-venue.md.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type MarketName, type VenueName } from "../../src/core/types.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { mantissa } from "../venues/deribit/helpers.ts";
import { sharedBinary, spawnFeeder } from "./binary-build.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Levels } from "./harness.ts";

type Sides = { bids: Map<string, string>; asks: Map<string, string> };
type SimBook = Sides & { seq: number };

/**
 * One fault of a venue's run. `break`: the target (topics[0]) must leave usable while the fault lasts; `keep`: no
 * book may leave LIVE (a repeat the adapter drops, a keepalive, a planned reconnect made before it breaks).
 */
interface Fault {
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
interface Venue {
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

interface Topic {
  market: MarketName;
  /** As the config names it (Upbit: `CODE@depth`). */
  symbol: string;
  id: number;
}

interface Case {
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

const CASES: Case[] = [
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
            inject: () => sim.inject("notice"),
            settled: () => sim.stats.connections === 1,
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
          { name: "64008 notice", expect: "keep", counters: ["planned_reconnects_total"], inject: () => sim.inject("notice"), settled: () => sim.stats.connections === 1 },
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
        shutdownGraceMs: 1500,
      });
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
            // The server's notice, then its close 1.5 s later (both markets' connections): made before it breaks.
            name: "serverShutdown",
            expect: "keep",
            counters: ["planned_reconnects_total"],
            inject: () => void sim.inject("serverShutdown"),
            settled: () => sim.stats.connections === 2,
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

const stateName = (s: number) => Object.entries(BookState).find(([, v]) => v === s)?.[0] ?? String(s);

/** `feeder_venue_<name>` summed over its labels, from the feeder's /metrics text. */
function metricSum(text: string, name: string): number {
  let n = 0;
  const prefix = `feeder_venue_${name}{`;
  for (const line of text.split("\n")) if (line.startsWith(prefix)) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  return n;
}

let binary: string;
let dir: string;

beforeAll(() => {
  dir = tempDir("feeder-bin-venues-");
  binary = sharedBinary();
}, 120_000);

describe("compiled feeder binary against every venue simulator, fault by fault", { timeout: 90_000 }, () => {
  for (const [n, c] of CASES.entries()) {
    test(`${c.label ?? c.venue}: usable only while equal; each fault met, breaking the target or keeping every book LIVE; recovered equal; SIGTERM exits 0`, async () => {
      const topics: Topic[] = c.topics.map((t) => ({ ...t, id: instrumentIdOf(c.venue, t.market, t.symbol) }));
      const sim = await c.start();
      const { group, port } = uniqueDestination(70 + n);
      const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
      let feeder: ReturnType<typeof spawnFeeder> | undefined;
      try {
        /** The simulator's books by topic and sequence (several per sequence where a venue restarts its numbering). */
        const history = new Map<number, Map<number, Sides[]>>();
        const record = () => {
          for (const t of topics) {
            const b = sim.book(t);
            let h = history.get(t.id);
            if (!h) history.set(t.id, (h = new Map()));
            const at = h.get(b.seq) ?? [];
            at.push({ bids: b.bids, asks: b.asks });
            h.set(b.seq, at);
          }
        };
        const step = () => {
          record(); // a resubscribe or reconnect may have moved the simulator by itself
          sim.step();
          record();
        };
        let lastStep = 0;
        const pace = () => {
          // While waiting for the feeder: keep the simulator moving, every 20 ms at most.
          if (Date.now() - lastStep < 20) return;
          lastStep = Date.now();
          step();
        };
        const levels = (b: Sides, pe: number, qe: number) => (sim.levels ?? levelsOfSim)(b, pe, qe);

        const violations: string[] = [];
        /** Books seen not usable, and books seen leaving LIVE, since the current fault was injected. */
        const notUsable = new Set<number>();
        const leftLive = new Set<string>();
        let validChecks = 0;
        /** Valid checks per topic since the current fault was injected; of its target since the feeder met it. */
        const faultChecks = new Map<number, number>();
        let metTarget = -1;
        let targetChecksAfterMet = 0;
        const lastChecked = new Map<number, string>();
        const check = (book: SubscriberBook, event: string) => {
          const t = topics.find((x) => x.id === book.instrumentId);
          if (!t) return;
          if (book.state !== BookState.LIVE) leftLive.add(`${t.market}:${t.symbol} ${stateName(book.state)} (${event})`);
          if (!book.usable) return void notUsable.add(t.id);
          const key = `${book.sessionId}:${book.instrSeq}:${book.venueSeq}:${book.updates}`;
          if (lastChecked.get(t.id) === key) return;
          lastChecked.set(t.id, key);
          const got = levelsOfView(book);
          const pe = book.instrument.priceExp;
          const qe = book.instrument.qtyExp;
          const matches = () => {
            const had = sim.booksAt ? sim.booksAt(t, book.venueSeq) : history.get(t.id)?.get(book.venueSeq);
            return had === undefined || had.length === 0 ? undefined : had.some((s) => sameLevels(got, levels(s, pe, qe)));
          };
          let ok = matches();
          if (ok !== true && !sim.booksAt) {
            record(); // reached by the simulator itself (a snapshot on attach or resubscribe): its book now
            ok = matches();
          }
          if (ok === undefined) violations.push(`${t.market}:${t.symbol} usable at ${book.venueSeq} (${event}), a sequence the simulator never had`);
          else if (!ok) violations.push(`${t.market}:${t.symbol} usable at ${book.venueSeq} (${event}) but differs from the simulator's book there`);
          else {
            validChecks++;
            faultChecks.set(t.id, (faultChecks.get(t.id) ?? 0) + 1);
            if (t.id === metTarget) targetChecksAfterMet++;
          }
        };
        /**
         * A book can turn usable with no event of its own (its stream's staleness ended by a heartbeat, a held gap's
         * request over): every poll looks at each book too, so such a book is compared before any wait can end.
         */
        const sweep = () => {
          for (const b of subscriber.books.values()) check(b, "poll");
        };
        // Every event that can show a book usable or take it out of LIVE.
        subscriber.on("update", ({ book }) => check(book, "update"));
        subscriber.on("status", ({ book }) => check(book, "status"));
        await subscriber.start();

        const allEqual = () =>
          topics.every((t) => {
            const b = subscriber.books.get(t.id);
            if (!b || !b.usable) return false;
            const s = sim.book(t);
            return b.venueSeq === s.seq && sameLevels(levelsOfView(b), levels(s, b.instrument.priceExp, b.instrument.qtyExp));
          });

        const configPath = join(dir, `${c.venue}.toml`);
        const config = {
          workers: 1,
          // info: the "HTTP listening" line names the port the kernel gave /metrics.
          log: { level: "info", format: "json" },
          http: { enabled: true, listen: "127.0.0.1:0" },
          publish: {
            heartbeat_interval_ms: 200,
            snapshot_interval_ms: 500,
            startup_listen_ms: 0,
            destinations: [{ name: "e2e", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }],
          },
          venues: { [c.venue]: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir(`feeder-bin-${c.venue}-`), "instruments.json"), ...sim.markets } },
        };
        writeFileSync(configPath, toToml(config));
        record();
        feeder = spawnFeeder(binary, configPath);
        const f = feeder;
        const stderrTail = () => f.stderr().split("\n").filter((l) => !l.includes('"level":"info"')).join("\n").slice(-2000);
        /** waitFor, its failure naming the feeder's state and stderr at that moment. */
        const until = async (cond: () => boolean, what: string, timeoutMs = 10_000, onPoll?: () => void) => {
          try {
            await waitFor(() => (sweep(), cond()), what, timeoutMs, onPoll);
          } catch (e) {
            throw new Error(`${(e as Error).message} (violations: ${violations.slice(0, 3).join("; ") || "none"}; feeder exit code ${f.proc.exitCode}, stderr: ${stderrTail()})`);
          }
        };
        let metricsUrl = "";
        await until(() => (metricsUrl = /"msg":"HTTP listening".*?"url":"([^"]+)"/.exec(f.stderr())?.[1] ?? "") !== "", "the feeder's HTTP listening", 20_000);
        const counter = async (names: string[]) => {
          const text = await (await fetch(`${metricsUrl}/metrics`)).text();
          return names.reduce((sum, name) => sum + metricSum(text, name), 0);
        };

        await until(allEqual, `every ${c.venue} instrument usable and equal`, 20_000, pace);
        for (let i = 0; i < 5; i++) {
          step();
          await until(allEqual, `${c.venue} books equal after step ${i}`);
        }

        for (const fault of sim.faults) {
          const before = (await counter(fault.counters)) + (fault.served?.() ?? 0);
          notUsable.clear();
          leftLive.clear();
          faultChecks.clear();
          metTarget = -1;
          targetChecksAfterMet = 0;
          const target = topics[fault.target ?? 0]!;
          fault.inject();
          step();
          // The feeder met the fault: its counter grew (the simulator kept moving meanwhile).
          const deadline = Date.now() + 20_000;
          let met = before;
          while ((met = (await counter(fault.counters)) + (fault.served?.() ?? 0)) <= before) {
            if (Date.now() > deadline) {
              const text = await (await fetch(`${metricsUrl}/metrics`)).text();
              const counted = text.split("\n").filter((l) => l.startsWith("feeder_venue_") && /_total\{/.test(l) && !l.endsWith(" 0"));
              throw new Error(`${c.venue} ${fault.name}: ${fault.counters.join(" or ")} still ${met} after 20 s (counters: ${counted.join("; ")}; stderr: ${stderrTail()})`);
            }
            pace();
            await new Promise((r) => setTimeout(r, 20));
          }
          // From here the fault has hit: the target must be compared again (its recovery, or its next update) before
          // the checks, and every book at least once since the injection, or "none usable while different" held
          // vacuously over this fault. A step makes every book move past what it showed before the fault was met.
          metTarget = target.id;
          step();
          if (fault.expect === "break") await until(() => notUsable.has(target.id), `${target.market}:${target.symbol} not usable after ${fault.name}`, 15_000, pace);
          if (fault.settled) await until(fault.settled, `${c.venue} ${fault.name}: the simulator's side over`, 20_000, pace);
          await until(allEqual, `${c.venue} books equal after recovering from ${fault.name}`, 20_000, pace);
          const unchecked = topics.filter((t) => !faultChecks.get(t.id)).map((t) => `${t.market}:${t.symbol}`);
          expect(unchecked, `${c.venue} ${fault.name}: books never compared from the injection to the recovery`).toEqual([]);
          expect(targetChecksAfterMet, `${c.venue} ${fault.name}: ${target.market}:${target.symbol} compared after the feeder met the fault`).toBeGreaterThan(0);
          for (let i = 0; i < 3; i++) {
            step();
            await until(allEqual, `${c.venue} books equal after ${fault.name}, step ${i}`);
          }
          if (fault.expect === "keep") {
            expect([...leftLive], `${c.venue} ${fault.name}: every book stays LIVE`).toEqual([]);
            expect([...notUsable], `${c.venue} ${fault.name}: every book stays usable`).toEqual([]);
          }
          expect(violations, `${c.venue} after ${fault.name}`).toEqual([]);
        }
        expect(validChecks).toBeGreaterThan(10 * sim.faults.length);

        f.proc.kill("SIGTERM");
        expect(await f.proc.exited).toBe(0);
        await waitFor(() => topics.every((t) => subscriber.books.get(t.id)?.state === BookState.HALTED), `every ${c.venue} book published halted`, 5_000);
        for (const t of topics) expect(subscriber.books.get(t.id)!.reason).toBe(StatusReason.SHUTDOWN);
        expect(violations).toEqual([]);
      } finally {
        feeder?.proc.kill("SIGKILL");
        await subscriber.stop();
        await sim.stop();
      }
    });
  }
});
