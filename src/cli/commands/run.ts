import { startRuntimeUnlessStopped, StoppedDuringStart, stopWithin, type Runtime } from "../../app/runtime.ts";
import { configNotes } from "../../config/notes.ts";
import { loadConfigFile } from "../../config/load.ts";
import { createLogger } from "../../core/log.ts";
import { loadForStart, startFailureExitCode, startFailureFields, UsageError, type CommandSpec } from "../command.ts";
import { reloadOnHangup } from "../config-reload.ts";
import { holdRepeatedStops, STOP_DEADLINE_MS } from "../start-or-stop.ts";

export const runCommand: CommandSpec = {
  name: "run",
  summary: "connect to the configured venues and publish their books over UDP multicast",
  help: [
    "Options:",
    "  -c, --config FILE  TOML configuration (required; see config/feeder.example.toml)",
    "",
    "Connects to each configured venue's real endpoints by default (Bybit, OKX, Binance spot and USD-M,",
    "Deribit, Coinbase, Upbit, Bithumb); venues.<venue>.ws_url / rest_url point it at any server (e.g.",
    "`feeder sim --venue okx`). Stops cleanly on SIGINT/SIGTERM (exit 0; 1 when a part's stop failed, logged):",
    "every book is published as halted first; a second one during the stop (at most 1.5 s) is logged and ignored",
    "(SIGKILL ends it at once).",
    "A signal during start-up stops it there (no venue connection is opened after it) and exits 0.",
    "SIGHUP neither stops it nor changes anything: the configuration applies at start only. It re-reads and",
    "validates the file and logs what a restart would change (warn, the keys; a change in [nats], the bridge's,",
    "is listed as ignored), that nothing would (info), or why the file cannot be used (error: missing,",
    "half-written, invalid, not a regular file: a FIFO or a device is refused unread); the process runs on as",
    "started. During the stop (after SIGINT/SIGTERM) a SIGHUP is logged as ignored, the file not re-read.",
    "It takes SIGHUP once its code runs (one while the file is read is answered when it is loaded); one",
    "before that, while Bun loads the program, ends it (deploy/systemd restarts it).",
    "",
    "Before the first datagram it checks, in order: HTTP binds http.listen; every destination's interface is",
    "an address of this host and its socket opens; each publish.retransmit server's port is free (not held by",
    "another process: a second feeder given the same port); the instrument cache directories are writable;",
    "and, for publish.startup_listen_ms (default 1.5 × heartbeat_interval_ms), no other publisher sends on our",
    "streams (same group, channel and source id). Any failure exits 1 naming it, having sent nothing, and",
    "before any venue is asked. While running, another publisher on our streams is logged, counted and makes",
    "/readyz answer 503.",
    "",
    "Each venue connects as soon as its own instruments resolve (with workers = N, in every worker; one whose",
    "instrument REST hangs holds no other; its symbols are `resolving` in /readyz meanwhile). A symbol whose",
    "instrument does not resolve at start (its market's instrument REST down and not in instrument_cache, or",
    "not listed yet) is left out with one error; the others start. Only a venue whose symbols are all answered",
    "as not listed (or with an unusable tick/lot) exits 2, a configuration error the systemd unit does not",
    "restart (with workers = N, decided over every worker's share; not with shard = i/n, whose share starts",
    "empty), the venues connected by then halted first; a failed start-up check exits 1 (it may clear); a venue whose",
    "instrument REST cannot be answered (network, 5xx, timeout, 429; no cache), or that lists its symbols but",
    "not as trading now (maintenance, a halt: `not_trading`), starts with no books. A symbol left out is asked",
    "for again while running (REST down: after 5 s, doubling to 5 min; not listed or not trading: every 5",
    "min) and joins when it resolves; /readyz names it with why until then.",
  ].join("\n"),
  hangupChecksConfig: true,
  options: { config: { type: "string", short: "c" } },
  async run(ctx) {
    const path = ctx.values.config;
    if (typeof path !== "string") throw new UsageError("--config FILE is required");
    const config = loadForStart(path, loadConfigFile, ctx.log);
    if (config === undefined) return 1;
    const log = createLogger({ level: config.log.level, format: config.log.format });
    for (const note of configNotes(config)) log.warn(`configuration: ${note}`);
    // SIGHUP re-checks the file and says what a restart would change; it neither applies nor stops anything.
    const endReload = reloadOnHangup(path, config, log, {}, ctx.stopSignal);
    const endHold = holdRepeatedStops(ctx.stopSignal, log, "reload");
    try {
      let runtime: Runtime;
      try {
        // A signal during start-up stops it where it is, within the same deadline as a running feeder's stop.
        runtime = await startRuntimeUnlessStopped(config, log, ctx.stopSignal, STOP_DEADLINE_MS);
      } catch (err) {
        if (err instanceof StoppedDuringStart) {
          log.info("stopped during start-up", { signal: await ctx.stopSignal });
          return err.stopFailed.length > 0 ? 1 : 0;
        }
        log.error("feeder could not start", startFailureFields(err, path));
        return startFailureExitCode(err);
      }
      const signal = await ctx.stopSignal;
      log.info("stopping", { signal });
      // A part whose stop throws is logged and the others stopped all the same; the process then exits 1.
      const stopFailed = await stopWithin(runtime, STOP_DEADLINE_MS, log);
      log.info("stopped");
      return stopFailed ? 1 : 0;
    } finally {
      endReload();
      endHold();
    }
  },
};
