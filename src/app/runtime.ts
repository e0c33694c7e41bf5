/**
 * One running feeder as `feeder run`, `feeder record` and `feeder demo` start it: the start-up checks, then the
 * pipeline (in-process, or on N workers under a supervisor), the HTTP status server and the publish guard.
 * @module
 */
import type { Logger } from "../core/log.ts";
import type { FeederConfig } from "../config/types.ts";
import { Feeder, type FeederOptions } from "./feeder.ts";
import { checkHttpExposure, type HttpServerHandle, type StatusSource } from "./http-server.ts";
import { renderMetrics } from "./metrics.ts";
import { preflight } from "./preflight.ts";
import { processSnapshot } from "./process-metrics.ts";
import { guardedStatusSource, PublishGuard } from "./publish-guard.ts";
import { Supervisor } from "./supervisor.ts";

export interface Runtime {
  readonly status: StatusSource;
  readonly http: HttpServerHandle | undefined;
  /** The in-process pipeline when workers = 1. */
  readonly feeder: Feeder | undefined;
  readonly supervisor: Supervisor | undefined;
  /** Watches our streams for another publisher (log, metrics, /readyz). */
  readonly guard: PublishGuard;
  /** Publishes halted for every book, flushes, closes connections, sockets and HTTP. */
  stop(): Promise<void>;
}

/** The HTTP view of one in-process Feeder (workers = 1; also `feeder record`). */
export function localStatusSource(feeder: Feeder): StatusSource {
  return {
    books: () => feeder.bookSummaries(),
    book: (venue, market, symbol, depth) => feeder.bookLevels(venue, market, symbol, depth),
    metricsText: () => renderMetrics({ pipelines: [feeder.metricsSnapshot()], process: processSnapshot() }),
    readiness: () => feeder.readinessInput(),
    latency: () => feeder.latencySnapshot(),
  };
}

export interface RuntimeOptions {
  /** More Feeder options (record: onRawFrame); only with workers = 1. */
  readonly feederOptions?: Partial<Omit<FeederOptions, "config" | "log">>;
  /** Directories the run writes to besides the instrument caches, with the option naming them (record: --out). */
  readonly writableDirs?: readonly { readonly key: string; readonly dir: string }[];
  /** Called once the start-up checks passed, before anything is published (record opens its capture writer). */
  readonly beforePublishing?: () => void;
  /**
   * SIGINT/SIGTERM: aborted during start-up, it stops the pipeline's start-up at once (its venue REST requests end,
   * nothing connects); startRuntime then returns the runtime, whose stop() finishes the job.
   */
  readonly stopSignal?: AbortSignal;
}

/**
 * Start-up checks first (app/preflight.ts: HTTP bind, destination sockets, writable directories, listening for
 * another publisher of our streams), and only then the pipeline: nothing is published unless all pass. The publish
 * guard keeps watching our streams while the runtime runs.
 */
export async function startRuntime(config: FeederConfig, log: Logger, opts: RuntimeOptions = {}): Promise<Runtime> {
  const guard = new PublishGuard(config, log.child({ part: "publish-guard" }));
  let feeder: Feeder | undefined;
  let supervisor: Supervisor | undefined;
  let base: StatusSource;
  checkHttpExposure(config.http); // before any socket or venue connection: a refused HTTP config must not half-start
  if (config.workers > 1) {
    supervisor = new Supervisor(config, log.child({ part: "supervisor" }));
    supervisor.onWorkerSession = (sourceId, sessionId) => guard.addOwnSession(sourceId, sessionId);
    base = supervisor;
  } else {
    feeder = new Feeder({ ...opts.feederOptions, config, log });
    guard.addOwnSession(feeder.publisher.sourceId, feeder.publisher.sessionId);
    base = localStatusSource(feeder);
  }
  const pipeline = (feeder ?? supervisor)!;
  const status = guardedStatusSource(base, guard);
  const http = await preflight({ config, log, guard, status, instrumentCaches: true, writableDirs: opts.writableDirs });
  const stopDuringStart = () => void pipeline.stop();
  opts.stopSignal?.addEventListener("abort", stopDuringStart, { once: true });
  try {
    opts.beforePublishing?.();
    guard.startWatching();
    if (!opts.stopSignal?.aborted) await pipeline.start();
  } catch (err) {
    await pipeline.stop();
    await guard.stop();
    await http?.stop();
    throw err;
  } finally {
    opts.stopSignal?.removeEventListener("abort", stopDuringStart);
  }
  return {
    status,
    http,
    feeder,
    supervisor,
    guard,
    async stop() {
      await pipeline.stop();
      await guard.stop();
      await http?.stop();
    },
  };
}
