/**
 * publish.auth_key_file rotated in place while `workers = 2` run. Each worker used to read the file as it started, so
 * a worker the supervisor restarted (crashed, hung) signed with the new key while the other signed with the old one:
 * subscribers holding either key refused part of the feed (here: the restarted worker's books never usable again at
 * a subscriber with the running key, every datagram `bad_auth`). Now the supervisor reads the key once at its start
 * and gives it to every worker, restarted ones too; a restart of the process applies a new key (SIGHUP says so).
 * Destination uniqueDestination(181), interface 127.0.0.1, TTL 1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, tempDir, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"];
const share = (worker: number) => CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, worker, 2));
/** One symbol of each worker's share. */
const SYMBOLS = [share(0)[0]!, share(1)[0]!];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
const TOPICS = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
const KEY_RUNNING = "11".repeat(32);
const KEY_ROTATED = "22".repeat(32);

let sim: BybitSim;
let supervisor: Supervisor;
let subscriber: FeedSubscriber;
let keyFile: string;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 181, messagesPerSecond: 0 });
  keyFile = join(tempDir("feeder-key-rotated-"), "feed.key");
  writeFileSync(keyFile, KEY_RUNNING + "\n");
  const { group, port } = uniqueDestination(181);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], authKey: Buffer.from(KEY_RUNNING, "hex") });
  await subscriber.start();
  const raw = rawConfig({ sim, markets: MARKETS, group, port, workers: 2 });
  (raw.publish as Record<string, unknown>).auth_key_file = keyFile;
  supervisor = new Supervisor(validateConfig(raw), silentLogger);
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  await supervisor?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

test("a worker restarted after the key file was rotated in place signs with the key the others sign with", { timeout: 60_000 }, async () => {
  expect(share(0).length > 0 && share(1).length > 0).toBe(true);
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both workers' books at the subscriber", 20_000);
  writeFileSync(keyFile, KEY_ROTATED + "\n");
  supervisor.kill(1);
  await waitFor(() => supervisor.restarts === 1, "worker 1 restarted", 20_000);
  for (let i = 0; i < 3; i++) {
    sim.step(1);
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), `both workers' books after step ${i}`, 20_000);
  }
  expect(subscriber.counters.rejected.bad_auth).toBe(0);
});
