/**
 * Restart gap as subscribers see it (docs/deployment.md, "Upgrades"): a `feeder run` child process publishes the
 * simulator's books on loopback; it gets SIGTERM and a new one starts at once, as `systemctl restart` does. A
 * FeedSubscriber in this process measures, per round: from the first book going invalid (halted) to the old
 * process's exit, and to every book valid again in the new session. The simulator is local, so the venue's
 * connect and snapshot round trips are near zero here; on a real link add them.
 * Multicast stays on loopback (127.0.0.1, TTL 1, a per-run group: e2e-common loopbackDestination).
 *   unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/restart.bench.ts'
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBybitSimulator } from "../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../src/subscriber/index.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { printTable, SMOKE, benchTempDir, waitBoundMs } from "./harness.ts";

const ROUNDS = Number(process.env.RESTART_ROUNDS ?? (SMOKE ? 1 : 5));
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
const { group: GROUP, port: PORT } = loopbackDestination(8);
const ROOT = join(import.meta.dirname, "..");
/** How often `until` looks: 1 ms resolves the gaps; a smoke run's figures mean nothing, and its waits (a feeder starting
 * on a loaded box) last seconds: 20 ms there. */
const POLL_MS = SMOKE ? 20 : 1;

const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], messagesPerSecond: 1000, seed: 3 });
const dir = benchTempDir("feeder-restart-bench-");
const config = join(dir, "feeder.toml");
writeFileSync(
  config,
  [
    'log = { level = "warn", format = "json" }',
    "http = { enabled = false }",
    "[[publish.destinations]]",
    `group = "${GROUP}"`,
    `port = ${PORT}`,
    'interface = "127.0.0.1"',
    "ttl = 1",
    "[venues.bybit]",
    `ws_url = "${sim.wsUrl}"`,
    `rest_url = "${sim.restUrl}"`,
    `instrument_cache = "${join(dir, "instruments.json")}"`,
    "[venues.bybit.linear]",
    "depth = 50",
    `symbols = ${JSON.stringify(SYMBOLS)}`,
  ].join("\n") + "\n",
);

const sub = new FeedSubscriber({ groups: [{ group: GROUP, port: PORT, iface: "127.0.0.1" }] });
await sub.start();
const allValid = () => sub.books.size === SYMBOLS.length && [...sub.books.values()].every((b) => b.valid);
const spawn = () => Bun.spawn([process.execPath, "src/cli/main.ts", "run", "--config", config], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
async function until(cond: () => boolean, what: string, timeoutMs = waitBoundMs(20_000)): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(POLL_MS);
  }
  return performance.now();
}

let proc = spawn();
await until(allValid, "first start: all books valid");
const rows: Record<string, unknown>[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  await Bun.sleep(500);
  const t0 = performance.now();
  proc.kill("SIGTERM");
  const tInvalid = await until(() => [...sub.books.values()].some((b) => !b.valid), "a book invalid");
  await proc.exited;
  const tExit = performance.now();
  proc = spawn();
  const tValid = await until(allValid, "every book valid again");
  rows.push({ round, "SIGTERM→first invalid ms": tInvalid - t0, "first invalid→old exited ms": tExit - tInvalid, "first invalid→all valid ms": tValid - tInvalid });
}
proc.kill("SIGTERM");
await proc.exited;
await sub.stop();
await sim.stop();
console.log(`Bun ${Bun.version}; ${SYMBOLS.length} linear depth-50 books, simulator at 1000 msgs/s on loopback`);
printTable(rows);
