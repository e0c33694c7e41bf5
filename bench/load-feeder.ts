/**
 * Child process of bench/load.bench.ts: the feeder as `feeder run --config FILE` starts it (loadConfigFile, then
 * startRuntime: pipeline, publisher and HTTP), plus a JSON-line side channel on stdin/stdout so the bench can read
 * what HTTP does not show: the process's memory and CPU time and the books' own byte counts
 * (BookBuilder.bytesAllocated: both ladders' typed arrays).
 * Commands: start (→ httpUrl), mem (full GC first; rss, heap, book bytes), stats (CPU µs, venue and publisher
 * counters), quit. Before start it answers one {ready, …} line with the baseline memory (modules loaded, config read).
 * Usage: bun bench/load-feeder.ts <config.toml>
 * @module
 */
import { startRuntime, type Runtime } from "../src/app/runtime.ts";
import type { BookBuilder } from "../src/book/book-builder.ts";
import { loadConfigFile } from "../src/config/load.ts";
import { createLogger } from "../src/core/log.ts";
import { parentCommands } from "./e2e-common.ts";

const config = loadConfigFile(process.argv[2]!);
const log = createLogger({ level: config.log.level, format: config.log.format });

function out(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

function mem(): Record<string, number> {
  Bun.gc(true);
  const m = process.memoryUsage();
  let bookBytes = 0;
  let books = 0;
  let levels = 0;
  for (const b of runtime?.feeder?.books() ?? []) {
    bookBytes += (b as BookBuilder).bytesAllocated();
    levels += b.bidCount + b.askCount;
    books++;
  }
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, bookBytes, books, levels };
}

let runtime: Runtime | undefined;
out({ ready: true, ...mem() });
for await (const cmd of parentCommands<{ cmd: string }>()) {
  if (cmd.cmd === "start") {
    runtime = await startRuntime(config, log);
    if (runtime.feeder === undefined) throw new Error("load-feeder: the bench reads one in-process pipeline (workers = 1)");
    out({ started: true, httpUrl: runtime.http?.url });
  } else if (cmd.cmd === "mem") {
    out(mem());
  } else if (cmd.cmd === "stats") {
    const cpu = process.cpuUsage();
    const s = runtime!.feeder!.stats();
    out({ cpuUs: cpu.user + cpu.system, venue: s.venues.bybit ?? {}, publisher: s.publisher, applyErrors: s.applyErrors, rss: process.memoryUsage().rss });
  } else if (cmd.cmd === "quit") {
    await runtime?.stop();
    process.exit(0);
  }
}
