/**
 * The compiled executable end to end: `bun build --compile` → dist-like binary → `feeder run` against the
 * simulator → multicast → subscriber library; then SIGTERM: every book is published halted and the process
 * exits 0. Also --help, --version and a broken config (exit 2) on the binary itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { levelsOfSim, levelsOfView, rawConfig, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "inverse", depth: 200, symbols: ["BTCUSD"] },
];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));

let binary: string;
let dir: string;

beforeAll(async () => {
  dir = tempDir("feeder-bin-");
  binary = join(dir, "feeder");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", "src/cli/main.ts", "src/app/worker-main.ts", "--outfile", binary], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
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

    beforeAll(async () => {
      sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 11, messagesPerSecond: 0 });
      const { group, port } = uniqueDestination(2);
      subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
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

    function allEqual(): boolean {
      return TOPICS.every((t) => {
        const b = subscriber.books.get(t.id);
        if (!b || !b.valid) return false;
        const s = sim.book(t.market, t.symbol);
        return b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
      });
    }

    test("books equal the simulator's; SIGTERM publishes halted and exits 0", async () => {
      await waitFor(allEqual, `initial books (feeder stderr: ${stderr})`, 20_000);
      for (let i = 0; i < 20; i++) {
        sim.step(1);
        await waitFor(allEqual, `books after step ${i}`);
      }
      sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
      sim.step(2);
      await waitFor(allEqual, "recovery after a gap", 20_000, () => sim.step(1));

      proc.kill("SIGTERM");
      const code = await proc.exited;
      expect(code).toBe(0);
      await waitFor(() => TOPICS.every((t) => subscriber.books.get(t.id)?.state === BookState.HALTED), "halted status for every book");
      for (const t of TOPICS) {
        const b = subscriber.books.get(t.id)!;
        expect(b.reason).toBe(StatusReason.SHUTDOWN);
        expect(b.valid).toBe(false);
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
          return b !== undefined && b.valid && b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
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
