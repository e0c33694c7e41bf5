/**
 * `feeder run` with `workers = 2` and publish.auth_key_file, the key file rotated in place during the start-up checks
 * (which listen publish.startup_listen_ms before anything starts). SIGHUP's check compares the file's key with the
 * running one, whose digest run takes as it starts (config-reload.ts reloadOnHangup); the supervisor read the key
 * only in start(), after the checks: so its workers signed with the rotated key while SIGHUP said a restart was
 * needed to apply it, and subscribers given the key SIGHUP called running refused every datagram (bad_auth). Now the
 * supervisor reads the key as it is made, in the same synchronous stretch as run's digest (a Feeder's publisher
 * with workers = 1 always did): the key SIGHUP calls running is the one every worker signs with.
 * In process, as run does it; the rotation comes from startRuntime's beforePublishing hook (after the checks, before
 * the pipeline starts). Destination uniqueDestination(182), interface 127.0.0.1, TTL 1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { reloadOnHangup } from "../../src/cli/config-reload.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { captureLog } from "../support/capture-log.ts";
import { allBooksEqual, rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"];
const share = (worker: number) => CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, worker, 2));
const SYMBOLS = [share(0)[0]!, share(1)[0]!];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
const TOPICS = SYMBOLS.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
const KEY_AT_START = "33".repeat(32);
const KEY_ROTATED = "44".repeat(32);

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a key rotated during the start-up checks: every worker signs with the key SIGHUP calls the running one", { timeout: 60_000 }, async () => {
  const sim: BybitSim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 182, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  const dir = tempDir("feeder-key-with-check-");
  const keyFile = join(dir, "feed.key");
  writeFileSync(keyFile, KEY_AT_START + "\n");
  const { group, port } = uniqueDestination(182);
  const raw = rawConfig({ sim, markets: MARKETS, group, port, workers: 2 });
  (raw.publish as Record<string, unknown>).auth_key_file = keyFile;
  const path = join(dir, "run.toml");
  writeFileSync(path, toToml(raw));
  const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], authKey: Buffer.from(KEY_AT_START, "hex") });
  await subscriber.start();
  cleanups.push(() => subscriber.stop());

  // As run: the configuration loaded, SIGHUP's check set up, then the runtime started.
  const config = loadConfigFile(path);
  const { log, lines } = captureLog({ info: true });
  cleanups.push(reloadOnHangup(path, config, log));
  const runtime: Runtime = await startRuntime(config, log, { beforePublishing: () => writeFileSync(keyFile, KEY_ROTATED + "\n") });
  cleanups.push(() => runtime.stop());

  process.emit("SIGHUP", "SIGHUP");
  const reload = lines.find((l) => l.msg.startsWith("configuration reload"));
  expect(reload).toMatchObject({ level: "warn", fields: { changed: ["publish.auth_key_file (the key it holds)"] } });
  // Old: the workers read the key in start(), after the rotation: every datagram bad_auth here.
  for (let i = 0; i < 2; i++) {
    sim.step(1);
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), `both workers' books with the running key, step ${i}`, 20_000);
  }
  expect(subscriber.counters.rejected.bad_auth).toBe(0);
});
