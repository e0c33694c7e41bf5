/**
 * `feeder run` whose log reader goes away (`feeder run 2>&1 | tee feeder.log` and tee ends: stderr is a pipe with no
 * reader, EPIPE) loses the log lines from then on and nothing else. Before, the 'error' event of each worker's
 * stderr went unhandled and ended the worker at its next log line: with workers = 2 the workers died, were
 * restarted and died again (10 restarts in 15 s), /readyz said worker_down and every book went stale.
 * The venue is unreachable (127.0.0.1:9) so the worker logs a retry line on each connect attempt: counted attempts
 * after the reader went away are the worker's log lines into the closed pipe. Loopback only, TTL 1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { freePort } from "../support/free-port.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";

const ROOT = join(import.meta.dirname, "../..");
const BOUND_MS = 30_000;

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) if (line.startsWith(name + "{") || line.startsWith(name + " ")) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

describe("feeder run with workers = 2 whose stderr reader goes away", { timeout: 90_000 }, () => {
  test("the workers keep running (no restarts) while they log into the closed pipe; SIGTERM still stops it, exit 0", async () => {
    const dir = makeTempDir("feeder-log-reader-gone-");
    const httpPort = await freePort();
    const dest = uniqueDestination(255);
    const config = join(dir, "run.toml");
    writeFileSync(
      config,
      [
        "workers = 2",
        'log = { level = "info", format = "json" }',
        `http = { enabled = true, listen = "127.0.0.1:${httpPort}" }`,
        "[publish]",
        "startup_listen_ms = 0",
        ...loopbackDestinationToml(dest),
        ...unreachableBybitToml(dir),
        "[venues.bybit.linear]",
        "depth = 50",
        'symbols = ["XRPUSDT", "BTCUSDT"]',
        '[venues.bybit.overrides."linear:XRPUSDT"]',
        'tick_size = "0.0001"',
        'lot_size = "1"',
        '[venues.bybit.overrides."linear:BTCUSDT"]',
        'tick_size = "0.1"',
        'lot_size = "0.001"',
        "",
      ].join("\n"),
    );
    // The feeder's stderr is a pipe read by `head -n 1`, which passes the first line on and exits: from then on
    // every log line meets a pipe with no reader.
    const script = `exec "$0" src/cli/main.ts run -c "$1" 2> >(head -n 1 >&2) > /dev/null`;
    const proc = Bun.spawn(["bash", "-c", script, process.execPath, config], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    try {
      const firstLine = await new Response(proc.stderr).text(); // ends when head has exited
      expect(firstLine).toContain("HTTP listening");
      const metrics = async () => {
        try {
          return await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
        } catch {
          return "";
        }
      };
      const end = performance.now() + BOUND_MS;
      let connects0 = -1;
      let text = "";
      for (;;) {
        text = await metrics();
        const connects = metric(text, "feeder_venue_connects_total");
        if (connects0 < 0 && connects > 0) connects0 = connects;
        if (metric(text, "feeder_worker_restarts_total") > 0) break;
        if (connects0 > 0 && connects >= connects0 + 2) break;
        if (performance.now() > end) throw new Error(`timed out waiting for connect attempts or a worker restart:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(metric(text, "feeder_worker_restarts_total"), "workers died at a log line into the closed pipe").toBe(0);
      expect(proc.exitCode).toBeNull();
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await exitCodeWithin(proc, BOUND_MS)).toBe(0);
  });
});
