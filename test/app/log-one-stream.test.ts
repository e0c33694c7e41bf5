/**
 * `feeder run` with workers = 3 writes one log stream: every line on stderr is one whole record (JSON here), each
 * worker's with its `worker` field, even when stderr is slow (a pipe whose reader falls behind: a log shipper, tee
 * to a slow disk). Before, each thread wrote its own stderr: with the pipe full, each thread's pending text was
 * written in pieces as the pipe took it, and the threads' pieces interleaved mid-line (a line of worker 0 cut by one
 * of worker 1: unparseable). Here the reader starts 2 s late and then reads slowly, while the workers log the error naming the unlisted
 * symbols of their share (one line of about 200 KB each: each more than the pipe holds) and the main thread logs
 * too. Loopback only, TTL 1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { rawConfig, toToml, uniqueDestination } from "../e2e/harness.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";

const ROOT = join(import.meta.dirname, "../..");
const LISTED = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
/** Not listed by the simulator: each worker's start names those of its share in one error line. */
const UNLISTED = Array.from({ length: 3000 }, (_, i) => `NOPE${String(i).padStart(4, "0")}USDT`);
const BOUND_MS = 60_000;
/** Copies its stdin to stdout slowly (bun -e). */
const SLOW_READER = [
  'const fs = require("node:fs");',
  "Bun.sleepSync(2000);",
  "const buf = Buffer.alloc(1024);",
  "for (;;) {",
  "  const n = fs.readSync(0, buf, 0, buf.length, null);",
  "  if (n <= 0) break;",
  "  fs.writeSync(1, buf.subarray(0, n));",
  "  Bun.sleepSync(1);",
  "}",
].join("\n");

let sim: BybitSim;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: LISTED }], seed: 61, messagesPerSecond: 0 });
});

afterAll(async () => {
  await sim?.stop();
});

test("workers = 3 on a slow stderr: every line is one whole JSON record, both workers' lines carry their id", { timeout: 120_000 }, async () => {
  const dir = makeTempDir("feeder-log-one-stream-");
  const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: [...LISTED, ...UNLISTED] }], ...uniqueDestination(161), workers: 3 });
  raw.log = { level: "info", format: "json" };
  const config = join(dir, "run.toml");
  writeFileSync(config, toToml(raw));
  // stderr is a pipe nobody reads for 2 s (it fills), then read slowly: 1 KiB at a time, a millisecond apart.
  const script = `exec "$0" src/cli/main.ts run -c "$1" 2> >("$0" -e "$2" >&2) > /dev/null`;
  const proc = Bun.spawn(["bash", "-c", script, process.execPath, config, SLOW_READER], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  let text = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  // Every worker's error line begun (whole or not) and every worker started (the main thread's line for each).
  const seen = (what: string) => text.split(what).length - 1;
  try {
    const end = performance.now() + BOUND_MS;
    while ((seen("cannot resolve instruments for") < 3 || seen('"msg":"worker started"') < 3) && performance.now() < end) await Bun.sleep(50);
  } finally {
    proc.kill("SIGTERM");
  }
  expect(await exitCodeWithin(proc, 30_000)).toBe(0);
  await reading;
  const lines = text.split("\n").filter((l) => l !== "");
  const broken = lines.filter((l) => {
    try {
      return typeof JSON.parse(l) !== "object";
    } catch {
      return true;
    }
  });
  expect(broken.map((l) => l.slice(0, 200)), "lines that are not one whole JSON record").toEqual([]);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const unresolvable = records.filter((r) => typeof r.msg === "string" && r.msg.startsWith("bybit: cannot resolve instruments for"));
  expect(unresolvable.map((r) => r.worker).sort()).toEqual([0, 1, 2]);
  // Every unlisted symbol named, in its worker's line.
  const named = unresolvable.flatMap((r) => UNLISTED.filter((s) => (r.msg as string).includes(`linear:${s} `)));
  expect(named.sort()).toEqual([...UNLISTED].sort());
  expect(records.filter((r) => r.msg === "worker started").map((r) => r.worker).sort()).toEqual([0, 1, 2]); // the main thread's lines
});
