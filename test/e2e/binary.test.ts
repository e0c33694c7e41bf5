/**
 * The compiled executable end to end: `bun build --compile` → dist-like binary → `feeder run` against the
 * simulator → multicast → subscriber library; books equal after every message and after a gap, a malformed
 * frame, a u = 1 reset, a duplicate and a disconnect, and never shown valid while they differ; then SIGTERM: every
 * book is published halted and the process exits 0. Also --help, --version and a broken config (exit 2).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { sharedBinary } from "./binary-build.ts";
import { allBooksEqual, levelsOfSim, levelsOfView, rawConfig, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "inverse", depth: 200, symbols: ["BTCUSD"] },
];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));

let binary: string;
let dir: string;

beforeAll(async () => {
  dir = tempDir("feeder-bin-");
  binary = sharedBinary();
}, 120_000);

function runBinary(args: string[]) {
  const r = Bun.spawnSync([binary, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("compiled feeder binary", { timeout: 60_000 }, () => {
  test("--help, --version and a broken config", () => {
    const help = runBinary(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("Usage: feeder <command> [options]");
    expect(runBinary(["--version"]).out.trim()).toBe(pkg.version);
    expect(runBinary(["run", "--help"]).out).toContain("Usage: feeder run");
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, '[venues.bybit.linear]\ndepth = 500\nsymbols = ["BTCUSDT"]\n[[publish.destinations]]\ngroup = "10.0.0.1"\nport = 1\n');
    const r = runBinary(["run", "--config", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("venues.bybit.linear.depth: 500 is not one of 1, 50, 200, 1000");
    expect(r.err).toContain('publish.destinations[0].group: "10.0.0.1" is not an IPv4 multicast address');
    expect(runBinary(["nonsense"]).code).toBe(2);
  });

  describe("run against the simulator", () => {
    let sim: BybitSim;
    let subscriber: FeedSubscriber;
    let proc: ReturnType<typeof Bun.spawn>;
    let stderr = "";
    /** The simulator's books (decimal strings) by topic and u, recorded whenever the test moves the simulator. */
    const history = new Map<string, Map<number, { bids: Map<string, string>; asks: Map<string, string> }>>();
    const violations: string[] = [];
    let validChecks = 0;

    function record(): void {
      for (const t of TOPICS) {
        const b = sim.book(t.market, t.symbol);
        let h = history.get(`${t.market}:${t.symbol}`);
        if (!h) history.set(`${t.market}:${t.symbol}`, (h = new Map()));
        h.set(b.u, b);
      }
    }

    function step(n = 1): void {
      for (let i = 0; i < n; i++) {
        record(); // a resubscribe may have moved the simulator on by itself
        sim.step(1);
        record();
      }
    }

    beforeAll(async () => {
      sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 11, messagesPerSecond: 0 });
      const { group, port } = uniqueDestination(2);
      subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
      subscriber.on("update", ({ book }) => {
        if (!book.usable) return;
        const key = `${book.instrument.market}:${book.instrument.symbol}`;
        if (!history.get(key)?.has(book.venueSeq)) record(); // reached by the simulator itself (resubscribe snapshot)
        const expected = history.get(key)?.get(book.venueSeq);
        if (!expected) return void violations.push(`${key} u=${book.venueSeq} valid at a sequence the simulator never had`);
        validChecks++;
        if (!sameLevels(levelsOfView(book), levelsOfSim(expected, book.instrument.priceExp, book.instrument.qtyExp))) {
          violations.push(`${key} u=${book.venueSeq} valid but differs`);
        }
      });
      await subscriber.start();
      const configPath = join(dir, "feeder.toml");
      writeFileSync(configPath, toToml(rawConfig({ sim, markets: MARKETS, group, port })));
      proc = Bun.spawn([binary, "run", "--config", configPath], { stdout: "pipe", stderr: "pipe" });
      (async () => {
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += new TextDecoder().decode(chunk);
      })();
    });

    afterAll(async () => {
      proc?.kill("SIGKILL");
      await subscriber?.stop();
      await sim?.stop();
    });

    const allEqual = () => allBooksEqual(subscriber, sim, TOPICS);

    test("books equal the simulator's after every message and every fault; SIGTERM publishes halted and exits 0", async () => {
      record();
      await waitFor(allEqual, () => `initial books (feeder stderr: ${stderr})`, 20_000);
      for (let i = 0; i < 20; i++) {
        step(1);
        await waitFor(allEqual, `books after step ${i}`);
      }
      const target = { market: "linear" as const, symbol: "ETHUSDT" };
      for (const fault of ["gap", "malformed", "reset", "duplicate", "disconnect"] as const) {
        if (fault === "reset") history.get(`${target.market}:${target.symbol}`)?.clear(); // u restarts at 1
        sim.inject(fault, target);
        record();
        step(2);
        await waitFor(allEqual, () => `recovery after ${fault} (feeder stderr: ${stderr})`, 30_000, () => step(1));
        for (let i = 0; i < 3; i++) {
          step(1);
          await waitFor(allEqual, `books after ${fault}, step ${i}`);
        }
      }
      expect(violations).toEqual([]);
      expect(validChecks).toBeGreaterThan(40);

      proc.kill("SIGTERM");
      const code = await proc.exited;
      expect(code).toBe(0);
      await waitFor(() => TOPICS.every((t) => subscriber.books.get(t.id)?.state === BookState.HALTED), "halted status for every book");
      for (const t of TOPICS) {
        const b = subscriber.books.get(t.id)!;
        expect(b.reason).toBe(StatusReason.SHUTDOWN);
        expect(b.usable).toBe(false);
      }
      expect(subscriber.streamInfo().every((s) => s.ended)).toBe(true);
    });
  });

  test("workers = 2 in the compiled binary: both workers start from the embedded entry point and publish", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
    const topics = markets[0]!.symbols.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: markets[0]!.symbols }], seed: 12, messagesPerSecond: 0 });
    const { group, port } = uniqueDestination(9);
    const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    await subscriber.start();
    const configPath = join(dir, "workers.toml");
    writeFileSync(configPath, toToml(rawConfig({ sim, markets, group, port, workers: 2 })));
    const proc = Bun.spawn([binary, "run", "--config", configPath], { stdout: "pipe", stderr: "pipe" });
    try {
      const equal = () =>
        topics.every((t) => {
          const b = subscriber.books.get(t.id);
          const s = sim.book(t.market, t.symbol);
          return b !== undefined && b.usable && b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
        });
      await waitFor(equal, "books from both workers", 20_000, () => sim.step(1));
      expect(new Set(subscriber.streamInfo().map((s) => s.sourceId))).toEqual(new Set([1, 2]));
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      await subscriber.stop();
      await sim.stop();
    }
  });
});
