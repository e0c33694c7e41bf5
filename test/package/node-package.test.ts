/**
 * The subscriber library as a package, used from plain Node: `npm pack` (its prepack builds dist/lib; once per run,
 * shared with wire/node-compat.test.ts: packed-library.ts), a fresh
 * Node project installs the tarball offline (the package has no runtime dependencies, so no registry and no
 * cache is needed: the install uses an empty npm cache of its own), and a Node (not Bun) script that imports
 * `feeder/subscriber` receives a live feed from the simulator → feeder pipeline running in this process, on
 * 127.0.0.1 multicast with TTL 1. Every book the script reports valid must be the simulator's book at that
 * venue sequence. The consumer's TypeScript also type-checks against the shipped .d.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { feederConfig, levelsOfSim, tempDir, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { childEnv, realNode, run, sharedPack } from "./packed-library.ts";

const REPO = join(import.meta.dirname, "..", "..");
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 50, symbols: ["SOLUSDT"] },
];
const NAMES = MARKETS.flatMap((m) => m.symbols.map((s) => `${m.market}:${s}`));
/** Valid updates the script must report per instrument before it says it is done. */
const UPDATES_PER_BOOK = 5;
const STEP_MS = 10;
const FEED_TIMEOUT_MS = 30_000;

/** The consumer: what a Node user writes. Prints one JSON line per valid update, then {"done":true}. */
const CONSUMER_MJS = `
import { FeedSubscriber, BOOK_STATE_NAMES } from "feeder/subscriber";
const [group, port, names, perBook, timeoutMs] = process.argv.slice(2);
const wanted = new Set(names.split(","));
const counts = new Map();
const sub = new FeedSubscriber({ groups: [{ group, port: Number(port), iface: "127.0.0.1" }] });
const out = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const timer = setTimeout(() => { out({ timeout: Object.fromEntries(counts) }); process.exit(2); }, Number(timeoutMs));
sub.on("error", (e) => out({ error: e.error.message }));
sub.on("update", (e) => {
  const b = e.book;
  if (!b.usable) return;
  const name = b.instrument.market + ":" + b.instrument.symbol;
  out({
    name, kind: e.kind, state: BOOK_STATE_NAMES[b.state], u: b.venueSeq, priceExp: b.instrument.priceExp,
    qtyExp: b.instrument.qtyExp, bids: b.bidCount, asks: b.askCount,
    bid: b.bidCount > 0 ? [b.bidPriceAt(0), b.bidQtyAt(0)] : null, ask: b.askCount > 0 ? [b.askPriceAt(0), b.askQtyAt(0)] : null,
  });
  counts.set(name, (counts.get(name) ?? 0) + 1);
  if ([...wanted].every((n) => (counts.get(n) ?? 0) >= Number(perBook))) {
    clearTimeout(timer);
    out({ done: true });
    sub.stop().then(() => process.exit(0));
  }
});
await sub.start();
out({ ready: true, node: process.versions.node, bun: process.versions.bun ?? null });
`;

/** What the consumer's TypeScript must accept (and reject) against the shipped declarations. */
const CONSUMER_TS = `
import { FeedSubscriber, BOOK_STATE_NAMES, type UpdateEvent } from "feeder/subscriber";
const sub = new FeedSubscriber({ groups: [{ group: "239.255.1.1", port: 30000, iface: "127.0.0.1" }] });
sub.on("update", (e: UpdateEvent) => {
  const bid: number = e.book.bidPriceAt(0);
  const line: string = e.instrument.symbol + " " + BOOK_STATE_NAMES[e.book.state] + " " + bid + " " + e.book.valid;
  void line;
});
// @ts-expect-error groups is required
new FeedSubscriber({});
`;

let node = "";
let env: Record<string, string> = {};
let app = "";
let tarball = "";
let sim: BybitSim | undefined;
let feeder: Feeder | undefined;
let child: ChildProcess | undefined;

beforeAll(async () => {
  const found = realNode();
  if (found === undefined) throw new Error("no Node.js on the PATH (the subscriber package must be tested under Node, not Bun)");
  node = found;
  const root = tempDir("feeder-pkg-");
  env = childEnv(node, join(root, "npm-cache"));
  tarball = await sharedPack(node); // the run's npm pack (packed-library.ts): node-compat.test.ts runs the same dist/lib
  app = join(root, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", tarball], app, env);
  writeFileSync(join(app, "consumer.mjs"), CONSUMER_MJS);
  writeFileSync(join(app, "consumer.ts"), CONSUMER_TS);
}, 300_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await feeder?.stop();
  await sim?.stop();
});

describe("the subscriber package in plain Node", { timeout: 90_000 }, () => {
  test("the tarball holds the built library and nothing from src/, test/ or the CLI", () => {
    const listing = run("tar", ["-tzf", tarball], app, env).split("\n").filter(Boolean);
    expect(listing).toContain("package/dist/lib/subscriber/index.js");
    expect(listing).toContain("package/dist/lib/subscriber/index.d.ts");
    expect(listing).toContain("package/package.json");
    expect(listing.filter((f) => !f.startsWith("package/dist/lib/") && f !== "package/package.json" && f !== "package/README.md" && f !== "package/LICENSE")).toEqual([]);
    expect(listing.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    // Only the files reached from src/subscriber: nothing of the venues, the app or the network publisher.
    expect(listing.filter((f) => /\/(venues|app|cli|sim|net|record|config)\//.test(f))).toEqual([]);
  });

  test("a TypeScript consumer type-checks against the shipped declarations (no Bun or Node types needed)", () => {
    const tsc = createRequire(join(REPO, "package.json")).resolve("typescript/bin/tsc");
    const tsconfig = {
      compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022"], types: [], strict: true, noEmit: true, skipLibCheck: false },
      files: ["consumer.ts"],
    };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig));
    run(node, [tsc, "-p", "tsconfig.json"], app, env);
  });

  test("node imports feeder/subscriber and receives valid live books from a running feeder", async () => {
    sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 31, messagesPerSecond: 0 });
    const { group, port } = uniqueDestination(31);
    /** The simulator's book per instrument and u, recorded after every step: what a valid book there must show. */
    const history = new Map<string, Map<number, { bids: Map<string, string>; asks: Map<string, string> }>>();
    const record = () => {
      for (const m of MARKETS) {
        for (const s of m.symbols) {
          const book = sim!.book(m.market as MarketName, s);
          if (book.u === 0) continue; // not subscribed yet
          const name = `${m.market}:${s}`;
          let h = history.get(name);
          if (!h) history.set(name, (h = new Map()));
          h.set(book.u, book);
        }
      }
    };
    const topOf = (book: { bids: Map<string, string>; asks: Map<string, string> }, priceExp: number, qtyExp: number) => {
      const l = levelsOfSim(book, priceExp, qtyExp);
      return JSON.stringify({ bids: l.bids.length, asks: l.asks.length, bid: l.bids[0] ?? null, ask: l.asks[0] ?? null });
    };

    child = spawn(node, [join(app, "consumer.mjs"), group, String(port), NAMES.join(","), String(UPDATES_PER_BOOK), String(FEED_TIMEOUT_MS)], {
      cwd: app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const lines: Record<string, unknown>[] = [];
    const mismatches: string[] = [];
    let stepper: ReturnType<typeof setInterval> | undefined;
    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
    const done = new Promise<void>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on("line", (text) => {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (line.ready) {
          // The subscriber has joined: start the feeder, then keep the simulator moving (each step is recorded
          // before its frame can reach the feeder) until the script has seen enough valid books.
          feeder = new Feeder({
            config: feederConfig({ sim: sim!, markets: MARKETS, group, port, snapshotIntervalMs: 300 }),
            log: silentLogger,
          });
          const subscribed = () => MARKETS.every((m) => m.symbols.every((s) => sim!.book(m.market as MarketName, s).u !== 0));
          feeder
            .start()
            .then(() => waitFor(subscribed, "the feeder's subscriptions at the simulator"))
            .then(() => {
              record(); // the state the subscribe snapshots carry: nothing has been stepped yet
              stepper = setInterval(() => {
                sim!.step(1);
                record();
              }, STEP_MS);
            }, reject);
        } else if (typeof line.name === "string") {
          const name = line.name;
          // Not recorded yet: the simulator moved there by itself (a subscribe's snapshot); its book now is it.
          if (!history.get(name)?.has(line.u as number)) record();
          const expected = history.get(name)?.get(line.u as number);
          const got = JSON.stringify({ bids: line.bids, asks: line.asks, bid: line.bid, ask: line.ask });
          if (expected === undefined) mismatches.push(`${name} u=${line.u}: valid at a sequence the simulator never had`);
          else if (topOf(expected, line.priceExp as number, line.qtyExp as number) !== got)
            mismatches.push(`${name} u=${line.u}: ${got} but the simulator had ${topOf(expected, line.priceExp as number, line.qtyExp as number)}`);
        }
        if (line.done || line.timeout) resolve();
      });
      exited.then((code) => reject(new Error(`node exited (${code}) before reporting done: ${stderr}`)));
    });
    try {
      await done;
    } finally {
      if (stepper) clearInterval(stepper);
    }
    expect(await exited).toBe(0);

    const ready = lines.find((l) => l.ready)!;
    expect(ready.bun).toBeNull(); // it really ran in Node
    expect(Number(String(ready.node).split(".")[0])).toBeGreaterThanOrEqual(20);
    expect(lines.filter((l) => l.error)).toEqual([]);
    const books = lines.filter((l) => typeof l.name === "string");
    for (const name of NAMES) {
      const mine = books.filter((l) => l.name === name);
      expect(mine.length, name).toBeGreaterThanOrEqual(UPDATES_PER_BOOK);
      for (const l of mine) {
        expect(l.state).toBe("live");
        const bid = l.bid as [number, number], ask = l.ask as [number, number];
        expect(bid[0], `${name} u=${l.u} not crossed`).toBeLessThan(ask[0]);
        expect(bid[1]).toBeGreaterThan(0);
        expect(ask[1]).toBeGreaterThan(0);
      }
      // A live feed: the venue sequence moves on while the script watches.
      expect(new Set(mine.map((l) => l.u)).size, name).toBeGreaterThan(1);
    }
    expect(mismatches).toEqual([]);
    expect(books.length).toBeGreaterThanOrEqual(NAMES.length * UPDATES_PER_BOOK);
  });
});
