/**
 * Scale-out across hosts, on one machine: three `feeder run` processes with shard = "0/3", "1/3", "2/3" of one
 * config, each with its own publish.source_id, on the same group and channel. One subscriber sees every
 * configured book exactly once (each instrument from one source only), usable and equal to the exchange's, under
 * the instrument id every process derives the same way. Killing one process (SIGKILL: no goodbye) makes only its
 * books unusable (stale); restarting it brings them back from fresh snapshots. docs/deployment.md, "Scale-out".
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inShard } from "../../src/app/feeder.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const ROOT = join(import.meta.dirname, "../..");
const SHARDS = 3;
const SOURCE_IDS = [101, 202, 303];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT"] }];
const TOPICS = MARKETS.flatMap((m) =>
  m.symbols.map((symbol) => ({
    market: m.market,
    symbol,
    id: instrumentIdOf("bybit", m.market, symbol),
    shard: [...Array(SHARDS).keys()].find((i) => inShard("bybit", { market: m.market, symbol, depth: m.depth }, i, SHARDS))!,
  })),
);

let sim: BybitSim;
let subscriber: FeedSubscriber;
const procs: (ReturnType<typeof Bun.spawn> | undefined)[] = [];
const configPaths: string[] = [];
/** Every source id each instrument's updates came from. */
const sourcesOf = new Map<number, Set<number>>();

function start(shard: number): void {
  procs[shard] = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "run", "--config", configPaths[shard]!], { stdout: "ignore", stderr: "pipe" });
}

function topicsOf(shard: number) {
  return TOPICS.filter((t) => t.shard === shard);
}

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 31, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(41);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    let s = sourcesOf.get(e.instrument.instrumentId);
    if (!s) sourcesOf.set(e.instrument.instrumentId, (s = new Set()));
    s.add(e.sourceId);
  });
  await subscriber.start();
  const dir = tempDir("feeder-scale-out-");
  for (let i = 0; i < SHARDS; i++) {
    const raw = rawConfig({ sim, markets: MARKETS, group, port, heartbeatIntervalMs: 100, snapshotIntervalMs: 500 });
    raw.shard = `${i}/${SHARDS}`;
    (raw.publish as Record<string, unknown>).source_id = SOURCE_IDS[i];
    configPaths.push(join(dir, `shard-${i}.toml`));
    writeFileSync(configPaths[i]!, toToml(raw));
    start(i);
  }
}, 30_000);

afterAll(async () => {
  for (const p of procs) p?.kill("SIGKILL");
  await Promise.all(procs.map((p) => p?.exited));
  await subscriber?.stop();
  await sim?.stop();
});

describe("three shards of one config", { timeout: 60_000 }, () => {
  test("the split uses all three shards", () => {
    for (let i = 0; i < SHARDS; i++) expect(topicsOf(i).length, `shard ${i}`).toBeGreaterThan(0);
  });

  test("one subscriber sees every configured book exactly once, usable, equal to the exchange's", async () => {
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "every book from its shard", 30_000);
    for (let step = 0; step < 5; step++) {
      sim.step(1);
      await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), `books after step ${step}`);
    }
    expect([...subscriber.books.keys()].sort()).toEqual(TOPICS.map((t) => t.id).sort());
    for (const t of TOPICS) expect([...sourcesOf.get(t.id)!], t.symbol).toEqual([SOURCE_IDS[t.shard]]);
    expect(new Set(subscriber.streamInfo().map((s) => s.sourceId))).toEqual(new Set(SOURCE_IDS));
  });

  test("killing one process invalidates only its books; its restart recovers them", async () => {
    const victim = 1;
    const mine = topicsOf(victim);
    const others = TOPICS.filter((t) => t.shard !== victim);
    procs[victim]!.kill("SIGKILL");
    await procs[victim]!.exited;
    await waitFor(() => mine.every((t) => !subscriber.books.get(t.id)!.usable), "the killed shard's books unusable (stale)");
    // The other shards go on: their books stay usable and follow the exchange.
    for (let step = 0; step < 3; step++) {
      sim.step(1);
      await waitFor(() => allBooksEqual(subscriber, sim, others), `other shards after step ${step}`);
      expect(mine.every((t) => !subscriber.books.get(t.id)!.usable)).toBe(true);
    }
    const restarted: number[] = [];
    subscriber.on("session", (e) => void (e.kind === "restarted" && restarted.push(e.sourceId)));
    start(victim);
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "every book after the restart", 30_000, () => sim.step(1));
    expect(restarted).toEqual([SOURCE_IDS[victim]]);
    // Stable ids: the same instrument ids as before, each still from its own shard's source only.
    expect([...subscriber.books.keys()].sort()).toEqual(TOPICS.map((t) => t.id).sort());
    for (const t of TOPICS) expect([...sourcesOf.get(t.id)!], t.symbol).toEqual([SOURCE_IDS[t.shard]]);
  });
});
