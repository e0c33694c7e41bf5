/**
 * `feeder record`: runs the pipeline like `feeder run` and writes every raw frame received to capture files.
 * @module
 */
import { Feeder } from "../../app/feeder.ts";
import { startHttpServer } from "../../app/http-server.ts";
import { localStatusSource } from "../../app/runtime.ts";
import { loadConfigFile } from "../../config/load.ts";
import { createLogger } from "../../core/log.ts";
import { CaptureWriter } from "../../record/capture.ts";
import { UsageError, type CommandSpec } from "../command.ts";

const STOP_DEADLINE_MS = 1500;

export const recordCommand: CommandSpec = {
  name: "record",
  summary: "run the feeder and write every raw exchange frame to capture files",
  help: [
    "Options:",
    "  -c, --config FILE        TOML configuration (required), as for `feeder run`",
    "  -o, --out DIR            directory for capture files (required)",
    "      --max-file-mb N      rotate at this size (default 256)",
    "      --max-file-minutes N rotate at this age (default 60)",
    "",
    "Books are published exactly as by `feeder run`. Every frame (book data, acks, pongs, errors) is stored with",
    "its receive time (ns), venue, market and connection, in MessagePack blocks with a CRC32 each, written every",
    "200 ms: a crash loses at most the last block, and a truncated file is readable up to the break.",
    "Recording runs in one process (the config's `workers` setting is ignored).",
  ].join("\n"),
  options: {
    config: { type: "string", short: "c" },
    out: { type: "string", short: "o" },
    "max-file-mb": { type: "string" },
    "max-file-minutes": { type: "string" },
  },
  async run(ctx) {
    const path = ctx.values.config;
    const out = ctx.values.out;
    if (typeof path !== "string") throw new UsageError("--config FILE is required");
    if (typeof out !== "string") throw new UsageError("--out DIR is required");
    const maxMb = positive(ctx.values["max-file-mb"], "max-file-mb", 256);
    const maxMinutes = positive(ctx.values["max-file-minutes"], "max-file-minutes", 60);
    const config = loadConfigFile(path);
    const log = createLogger({ level: config.log.level, format: config.log.format });
    if (config.workers > 1) log.warn("record runs in one process; workers setting ignored", { workers: config.workers });
    const writer = new CaptureWriter({ dir: out, prefix: "feeder", maxFileBytes: maxMb * 1024 * 1024, maxFileAgeMs: maxMinutes * 60_000 });
    const feeder = new Feeder({
      config,
      log,
      onRawFrame: (venue, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, venue, market, connection, frame),
      onRawRest: (venue, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, venue, market, connection, url, body),
    });
    try {
      await feeder.start();
    } catch (err) {
      log.error("feeder could not start", { error: err instanceof Error ? err.message : String(err) });
      writer.close();
      return 1;
    }
    const http = config.http.enabled ? startHttpServer(config.http, localStatusSource(feeder), log.child({ part: "http" })) : undefined;
    log.info("recording", { dir: out });
    const signal = await ctx.stopSignal;
    log.info("stopping", { signal });
    await Promise.race([feeder.stop(), Bun.sleep(STOP_DEADLINE_MS)]);
    writer.close();
    await http?.stop();
    log.info("stopped", { records: writer.records, files: writer.files });
    return 0;
  },
};

function positive(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}
