/**
 * `feeder demo` (what `npm start` runs): the Bybit simulator, the feeder and a listener in one process,
 * offline, on loopback multicast (interface 127.0.0.1, TTL 1), with a live top-of-book table. Ctrl-C stops all.
 * @module
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../../config/load.ts";
import { createLogger } from "../../core/log.ts";
import { startRuntime, stopWithin } from "../../app/runtime.ts";
import { describeConflict, PublishConflictError } from "../../app/publish-guard.ts";
import { startBybitSimulator } from "../../sim/bybit-sim.ts";
import type { CommandSpec } from "../command.ts";
import { holdRepeatedStops, STOP_DEADLINE_MS } from "../start-or-stop.ts";
import { durationSeconds, listen } from "./listen.ts";
import { intIn } from "./number-args.ts";

const DEMO_GROUP = "239.255.0.1";
const DEMO_PORT = 31001;
const DEMO_MARKETS = [
  { market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] },
  { market: "spot" as const, depth: 200, symbols: ["BTCUSDT", "ETHUSDT"] },
];

export const demoCommand: CommandSpec = {
  name: "demo",
  summary: "offline demo: exchange simulator + feeder + live top-of-book view in one command",
  help: [
    "Options:",
    "      --rate N        simulator book messages per second across all symbols (default 2000)",
    "      --port N        multicast port (default 31001, group 239.255.0.1 on 127.0.0.1, TTL 1)",
    "      --http PORT     status/metrics HTTP port on 127.0.0.1 (default 0 = any free port)",
    "      --duration S    stop after S seconds (at most 2147483; default: run until Ctrl-C)",
    "",
    "The simulator serves Bybit v5 order books for linear BTCUSDT ETHUSDT SOLUSDT XRPUSDT (depth 50) and",
    "spot BTCUSDT ETHUSDT (depth 200) on 127.0.0.1; the feeder connects to it exactly as to Bybit and",
    "publishes to the multicast group; the view is `feeder listen` on that group, its title saying the",
    "exchange is simulated and naming the status page (http://127.0.0.1:PORT), a legend under the table",
    "saying what each column shown means. Each simulated book follows a mean-reverting fair price with a",
    "spread of a few ticks and refilling depth, however long the demo runs. The feeder logs warnings and errors",
    "only (FEEDER_LOG_LEVEL sets the demo's own lines), so that its log does not push the table away.",
    "Ctrl-C (SIGINT/SIGTERM, or SIGHUP) stops the view, then the feeder within 1.5 s (cut there with a warning) and",
    "the simulator: exit 0 (1 when a part's stop failed, logged); another one during that stop is logged and",
    "ignored (SIGKILL ends it at once). An --http port in use exits 1, and so does a --port another demo (or",
    "another publisher) sends on, saying so: a second demo beside a running one needs its own --port N.",
  ].join("\n"),
  options: {
    rate: { type: "string" },
    port: { type: "string" },
    http: { type: "string" },
    duration: { type: "string" },
  },
  async run(ctx) {
    const rate = intIn(ctx.values.rate, "rate", 2000, 1, 1_000_000);
    const port = intIn(ctx.values.port, "port", DEMO_PORT, 1, 65535);
    const httpPort = intIn(ctx.values.http, "http", 0, 0, 65535);
    durationSeconds(ctx.values.duration); // refused before the simulator and the feeder start
    const log = createLogger({ level: "warn" });
    const sim = await startBybitSimulator({ markets: DEMO_MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), messagesPerSecond: rate, seed: Date.now() % 1_000_000 });
    const cachePath = join(tmpdir(), `feeder-demo-instruments-${process.pid}.json`);
    const bybit: Record<string, unknown> = { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cachePath };
    for (const m of DEMO_MARKETS) bybit[m.market] = { depth: m.depth, symbols: m.symbols };
    const config = validateConfig({
      log: { level: "warn" },
      http: { listen: `127.0.0.1:${httpPort}` },
      publish: { destinations: [{ name: "demo", group: DEMO_GROUP, port, interface: "127.0.0.1", ttl: 1, channel: 1 }] },
      venues: { bybit },
    });
    let runtime;
    try {
      runtime = await startRuntime(config, log);
    } catch (err) {
      // A start-up check that failed (the --http port taken) is said in one line, exit 1, as by `run` (before: a stack).
      await sim.stop();
      rmSync(cachePath, { force: true });
      // Another demo on the port (run twice): the demo has no destinations or source_id to change, run's advice.
      const error =
        err instanceof PublishConflictError
          ? `${describeConflict(err.conflicts[0]!)}, another feeder demo perhaps. Stop it, or give this demo its own port: feeder demo --port N (npm start -- --port N)`
          : (err as Error).message;
      ctx.log.error("demo could not start", { error });
      return 1;
    }
    ctx.log.info("demo running", { simulator: sim.wsUrl, http: runtime.http?.url, group: `${DEMO_GROUP}:${port}`, ratePerSec: rate });
    let code = 1;
    try {
      // Says the books are simulated (the prices look like real ones) and, below the table, what its columns mean.
      const title = ["feeder demo (simulated exchange, offline)", `status ${runtime.http?.url ?? "(http off)"}`, `feed ${DEMO_GROUP}:${port} on 127.0.0.1`, "Ctrl-C stops"];
      code = await listen(
        { ...ctx, values: { group: [`${DEMO_GROUP}:${port}`], iface: "127.0.0.1", format: "table", duration: ctx.values.duration }, positionals: [] },
        { title, legend: true },
      );
    } finally {
      // Within run's deadline, a second SIGINT/SIGTERM/SIGHUP meanwhile logged and ignored (before 2026-12-06: unbounded, and the
      // second signal killed the process, the cache file left in the temporary directory).
      const endHold = holdRepeatedStops(ctx.stopSignal, ctx.log, "stop");
      try {
        // A part that fails is logged (exit 1 as run and record; until 2026-12-06 StopFailed's stack trace on stderr);
        // the simulator and the cache file go all the same.
        if (await stopWithin(runtime, STOP_DEADLINE_MS, ctx.log)) code = 1;
      } finally {
        await sim.stop();
        rmSync(cachePath, { force: true });
        endHold();
      }
    }
    return code;
  },
};
