/**
 * One running feeder as `feeder run` and `feeder demo` start it: the pipeline (in-process, or on N workers
 * under a supervisor) plus the HTTP status server.
 * @module
 */
import type { Logger } from "../core/log.ts";
import type { FeederConfig } from "../config/types.ts";
import { Feeder } from "./feeder.ts";
import { checkHttpExposure, startHttpServer, type HttpServerHandle, type StatusSource } from "./http-server.ts";
import { renderMetrics } from "./metrics.ts";
import { processSnapshot } from "./process-metrics.ts";
import { Supervisor } from "./supervisor.ts";

export interface Runtime {
  readonly status: StatusSource;
  readonly http: HttpServerHandle | undefined;
  /** The in-process pipeline when workers = 1. */
  readonly feeder: Feeder | undefined;
  readonly supervisor: Supervisor | undefined;
  /** Publishes halted for every book, flushes, closes connections, sockets and HTTP. */
  stop(): Promise<void>;
}

/** The HTTP view of one in-process Feeder (workers = 1; also `feeder record`). */
export function localStatusSource(feeder: Feeder): StatusSource {
  return {
    books: () => feeder.bookSummaries(),
    book: (venue, market, symbol, depth) => feeder.bookDetail(venue, market, symbol, depth),
    metricsText: () => renderMetrics({ pipelines: [feeder.metricsSnapshot()], process: processSnapshot() }),
    readiness: () => feeder.readinessInput(),
    latency: () => feeder.latencySnapshot(),
  };
}

export async function startRuntime(config: FeederConfig, log: Logger): Promise<Runtime> {
  let feeder: Feeder | undefined;
  let supervisor: Supervisor | undefined;
  let status: StatusSource;
  checkHttpExposure(config.http); // before any venue connection: a refused HTTP config must not half-start
  if (config.workers > 1) {
    supervisor = new Supervisor(config, log.child({ part: "supervisor" }));
    status = supervisor;
    try {
      await supervisor.start();
    } catch (err) {
      await supervisor.stop();
      throw err;
    }
  } else {
    const f = new Feeder({ config, log });
    feeder = f;
    status = localStatusSource(f);
    try {
      await f.start();
    } catch (err) {
      await f.stop();
      throw err;
    }
  }
  let http: HttpServerHandle | undefined;
  try {
    http = config.http.enabled ? startHttpServer(config.http, status, log.child({ part: "http" })) : undefined;
  } catch (err) {
    await (feeder ?? supervisor)!.stop();
    throw new Error(`HTTP cannot listen on ${config.http.host}:${config.http.port}: ${(err as Error).message}`);
  }
  return {
    status,
    http,
    feeder,
    supervisor,
    async stop() {
      await (feeder ?? supervisor)!.stop();
      await http?.stop();
    },
  };
}
