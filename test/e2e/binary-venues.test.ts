/**
 * The compiled executable end to end for every venue besides Bybit (binary.test.ts): `npm run build` once for this
 * file → `feeder run --config FILE` against the OKX, Binance (spot), Deribit, Coinbase, Upbit and Bithumb
 * simulators (in process) → real multicast (239.255.x.x, interface 127.0.0.1, TTL 1) → FeedSubscriber. Per venue:
 * every instrument becomes usable; whenever the subscriber shows a book usable its levels equal the simulator's
 * book at that venue sequence; one fault (a gap, or a disconnect where the venue has no sequence to break) makes the
 * target not usable, and the books recover equal; SIGTERM publishes every book halted and the process exits 0.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason, type MarketName, type VenueName } from "../../src/core/types.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { mantissa } from "../venues/deribit/helpers.ts";
import { sharedBinary, spawnFeeder } from "./binary-build.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Levels } from "./harness.ts";

type SimBook = { bids: Map<string, string>; asks: Map<string, string>; seq: number };

/** One venue's simulator, seen the same way for every venue. */
interface Venue {
  wsUrl: string;
  restUrl: string;
  /** The config's market tables (`[venues.X.<market>]`). */
  markets: Record<string, unknown>;
  /** Per topic (config symbol): the simulator's book now and the venue sequence the feeder publishes as venueSeq. */
  book(topic: Topic): SimBook;
  /** The simulator's authoritative book at a sequence, where it keeps one (Binance's history). */
  bookAt?(topic: Topic, seq: number): { bids: Map<string, string>; asks: Map<string, string> } | undefined;
  step(): void;
  /** Injects the fault on the target (topics[0]). */
  inject(): void;
  stop(): Promise<void>;
  /** Decimal text → mantissas at the instrument's exponents (Deribit's numbers may be in exponent form). */
  levels?(b: { bids: Map<string, string>; asks: Map<string, string> }, priceExp: number, qtyExp: number): Levels;
}

interface Topic {
  market: MarketName;
  /** As the config names it (Upbit: `CODE@depth`). */
  symbol: string;
  id: number;
}

interface Case {
  venue: VenueName;
  fault: string;
  topics: { market: MarketName; symbol: string }[];
  start(): Promise<Venue>;
}

const deribitLevels = (b: { bids: Map<string, string>; asks: Map<string, string> }, pe: number, qe: number): Levels => {
  const conv = (m: Map<string, string>) => [...m].map(([p, q]) => [mantissa(p, pe), mantissa(q, qe)] as [number, number]);
  return { bids: conv(b.bids).sort((x, y) => y[0] - x[0]), asks: conv(b.asks).sort((x, y) => x[0] - y[0]) };
};

const upbitCode = (symbol: string) => {
  const [code, depth] = symbol.split("@");
  return { code: code!, depth: depth ? Number(depth) : 30 };
};

const CASES: Case[] = [
  {
    venue: "okx",
    fault: "gap",
    topics: [
      { market: "spot", symbol: "BTC-USDT" },
      { market: "spot", symbol: "ETH-USDT" },
    ],
    async start() {
      const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT", "ETH-USDT"] }], seed: 5, checksums: true });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { depth: 400, symbols: ["BTC-USDT", "ETH-USDT"] } },
        book: (t) => {
          const b = sim.book(t.symbol, 400);
          return { ...b, seq: b.seqId };
        },
        step: () => sim.step(1),
        inject: () => sim.inject("gap", "BTC-USDT"),
        stop: () => sim.stop(),
      };
    },
  },
  {
    venue: "binance",
    fault: "gap",
    topics: [
      { market: "spot", symbol: "BTCUSDT" },
      { market: "spot", symbol: "ETHUSDT" },
    ],
    async start() {
      const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 5, history: true });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { depth: 1000, symbols: ["BTCUSDT", "ETHUSDT"] } },
        book: (t) => {
          const b = sim.book("spot", t.symbol);
          return { ...b, seq: b.u };
        },
        bookAt: (t, seq) => sim.bookAt("spot", t.symbol, seq),
        step: () => sim.step(1),
        inject: () => void sim.inject("gap", { market: "spot", symbol: "BTCUSDT" }),
        stop: () => sim.stop(),
      };
    },
  },
  {
    venue: "deribit",
    fault: "gap",
    topics: [
      { market: "inverse", symbol: "BTC-PERPETUAL" },
      { market: "inverse", symbol: "ETH-PERPETUAL" },
    ],
    async start() {
      const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }], seed: 21, heartbeatIntervalMs: 300 });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] } },
        book: (t) => {
          const b = sim.book(t.market, t.symbol, 0);
          return { ...b, seq: b.changeId };
        },
        step: () => sim.step(1),
        inject: () => void sim.inject("gap", { market: "inverse", symbol: "BTC-PERPETUAL" }),
        stop: () => sim.stop(),
        levels: deribitLevels,
      };
    },
  },
  {
    venue: "coinbase",
    fault: "gap",
    topics: [
      { market: "spot", symbol: "BTC-USD" },
      { market: "spot", symbol: "ETH-USD" },
    ],
    async start() {
      const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 17, levels: 80, heartbeatMs: 100 });
      return {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        markets: { spot: { symbols: ["BTC-USD", "ETH-USD"] } },
        // Each connection numbers from 0 (sequence_num): several states per number are kept, any may match.
        book: (t) => sim.book(t.symbol),
        step: () => sim.step(1),
        inject: () => void sim.inject("gap", "BTC-USD"),
        stop: () => sim.stop(),
      };
    },
  },
  ...(["upbit", "bithumb"] as const).map(
    (venue, n): Case => ({
      venue,
      // No sequence number to break (timestamps): the connection is dropped instead.
      fault: "disconnect",
      topics: [
        { market: "spot", symbol: "KRW-BTC" },
        { market: "spot", symbol: "KRW-XRP@15" },
      ],
      async start() {
        const sim = await startUpbitSimulator({ venue, codes: ["KRW-BTC", "KRW-XRP"], seed: 21 + n });
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
          inject: () => sim.inject("disconnect"),
          stop: () => sim.stop(),
        };
      },
    }),
  ),
];

let binary: string;
let dir: string;

beforeAll(() => {
  dir = tempDir("feeder-bin-venues-");
  binary = sharedBinary();
}, 120_000);

describe("compiled feeder binary against every venue simulator", { timeout: 45_000 }, () => {
  for (const [n, c] of CASES.entries()) {
    test(`${c.venue}: usable and equal at every sequence, ${c.fault} → not usable → recovered equal, SIGTERM exits 0`, async () => {
      const topics: Topic[] = c.topics.map((t) => ({ ...t, id: instrumentIdOf(c.venue, t.market, t.symbol) }));
      const target = topics[0]!;
      const sim = await c.start();
      const { group, port } = uniqueDestination(70 + n);
      const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
      let feeder: ReturnType<typeof spawnFeeder> | undefined;
      try {
        /** The simulator's books by topic and sequence (several per sequence where a venue restarts its numbering). */
        const history = new Map<number, Map<number, { bids: Map<string, string>; asks: Map<string, string> }[]>>();
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
        const levels = (b: { bids: Map<string, string>; asks: Map<string, string> }, pe: number, qe: number) => (sim.levels ?? levelsOfSim)(b, pe, qe);

        const violations: string[] = [];
        const notUsable = new Set<number>();
        let validChecks = 0;
        subscriber.on("update", ({ book }) => {
          const t = topics.find((x) => x.id === book.instrumentId);
          if (!t) return;
          if (!book.usable) return void notUsable.add(t.id);
          const got = levelsOfView(book);
          const pe = book.instrument.priceExp;
          const qe = book.instrument.qtyExp;
          const matches = () => {
            const authoritative = sim.bookAt?.(t, book.venueSeq);
            if (sim.bookAt) return authoritative === undefined ? undefined : sameLevels(got, levels(authoritative, pe, qe));
            const at = history.get(t.id)?.get(book.venueSeq);
            return at === undefined ? undefined : at.some((s) => sameLevels(got, levels(s, pe, qe)));
          };
          let ok = matches();
          if (ok !== true && !sim.bookAt) {
            record(); // reached by the simulator itself (a snapshot on attach or resubscribe): its book now
            ok = matches();
          }
          if (ok === undefined) violations.push(`${t.symbol} usable at ${book.venueSeq}, a sequence the simulator never had`);
          else if (!ok) violations.push(`${t.symbol} usable at ${book.venueSeq} but differs from the simulator's book there`);
          else validChecks++;
        });
        subscriber.on("status", (e) => {
          if (e.book.instrumentId === target.id && e.state !== BookState.LIVE) notUsable.add(target.id);
        });
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
          log: { level: "warn", format: "json" },
          http: { enabled: false, listen: "127.0.0.1:0" },
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
        /** waitFor, its failure naming the feeder's state and stderr at that moment. */
        const until = async (cond: () => boolean, what: string, timeoutMs = 10_000, onPoll?: () => void) => {
          try {
            await waitFor(cond, what, timeoutMs, onPoll);
          } catch (e) {
            throw new Error(`${(e as Error).message} (feeder exit code ${f.proc.exitCode}, stderr: ${f.stderr().slice(-2000)})`);
          }
        };

        await until(allEqual, `every ${c.venue} instrument usable and equal`, 20_000, pace);
        for (let i = 0; i < 10; i++) {
          step();
          await until(allEqual, `${c.venue} books equal after step ${i}`);
        }

        notUsable.clear();
        sim.inject();
        step();
        await until(() => notUsable.has(target.id), `${target.symbol} not usable after ${c.fault}`, 15_000, pace);
        await until(allEqual, `${c.venue} books equal after recovering from ${c.fault}`, 20_000, pace);
        for (let i = 0; i < 3; i++) {
          step();
          await until(allEqual, `${c.venue} books equal after ${c.fault}, step ${i}`);
        }
        expect(violations).toEqual([]);
        expect(validChecks).toBeGreaterThan(10);

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
