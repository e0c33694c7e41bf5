/**
 * One running feeder as `feeder run`, `feeder record` and `feeder demo` start it: the start-up checks, then the
 * pipeline (in-process, or on N workers under a supervisor), the HTTP status server and the publish guard.
 * @module
 */
import { awaitWithin, CUT_OFF } from "../core/await-within.ts";
import { errorText } from "../core/error-text.ts";
import type { Logger } from "../core/log.ts";
import type { FeederConfig } from "../config/types.ts";
import { captureStatusSource, type CaptureHealth } from "./capture-health.ts";
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
  /**
   * Publishes halted for every book, flushes, closes connections, sockets and HTTP. Each part is stopped whatever
   * the ones before threw (each failure logged); rejects with StopFailed after all have run if one failed.
   */
  stop(): Promise<void>;
}

/** Runtime.stop()'s answer when a part's stop threw: every part was stopped all the same, each failure logged. */
export class StopFailed extends Error {
  constructor(readonly parts: readonly string[]) {
    super(`stop failed: ${parts.join(", ")} (logged); the other parts were stopped`);
    this.name = "StopFailed";
  }
}

/**
 * Runs every part's stop in order, each one whatever the ones before threw: before, a pipeline stop that threw left
 * the publish guard's socket and the HTTP server open. Each failure is logged at error level naming the part; the
 * parts that failed are returned.
 */
async function stopEach(log: Logger, parts: readonly (readonly [string, () => Promise<unknown> | undefined])[]): Promise<string[]> {
  const failed: string[] = [];
  for (const [part, stop] of parts) {
    try {
      await stop();
    } catch (err) {
      failed.push(part);
      log.error("stop failed; the other parts are stopped all the same", { part, error: errorText(err) });
    }
  }
  return failed;
}

/**
 * `run` and `record`: runtime.stop(), waited for `deadlineMs` at most (a venue that does not close). True when a
 * part's stop failed (logged by it; the command then exits 1), false when it stopped or the deadline passed; the
 * deadline passing is logged (until 2026-12-06 it was not: the `stopped` line that follows read as a stop that ended).
 */
export async function stopWithin(runtime: Runtime, deadlineMs: number, log: Logger): Promise<boolean> {
  const failed = runtime.stop().then(
    () => false,
    () => true,
  );
  const outcome = await awaitWithin(failed, deadlineMs); // held by its timer: the warning and the exit code follow
  if (outcome !== CUT_OFF) return outcome;
  log.warn("stop not finished within its deadline: ending with it under way (a venue that does not close)", { deadlineMs });
  return false;
}

/** The HTTP view of one in-process Feeder (workers = 1; also `feeder record`). */
export function localStatusSource(feeder: Feeder): StatusSource {
  return {
    book: (venue, market, symbol, depth, maxBytes) => feeder.bookLevels(venue, market, symbol, depth, maxBytes),
    metricsText: () => renderMetrics({ pipelines: [feeder.metricsSnapshot()], process: processSnapshot() }),
    // A turn given (HTTP): summarized a chunk per turn, the pipeline running in between (list-stream.ts).
    readiness: (turn) => (turn === undefined ? feeder.readinessInput() : feeder.readinessInputInTurns(turn)),
    readyz: () => feeder.readinessSummary(), // one pass over the books' states, in /readyz's turn
    statusRows: (limit, chosen, turn) => feeder.statusRows(limit, chosen, turn), // its rows summarized, not every book
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
  /** Record: its capture writer's totals and state (undefined until it opens: shown as one that has written nothing), on /metrics, /status and /readyz (capture-health.ts). */
  readonly capture?: () => CaptureHealth | undefined;
  /**
   * Resolves when a stop is asked for (SIGINT/SIGTERM). During start-up the start goes no further: what it opened is
   * stopped and startRuntime rejects with StoppedDuringStart. After start-up it is the caller's to act on.
   */
  readonly stopSignal?: Promise<unknown>;
}

/** startRuntime's answer to a stop asked for (opts.stopSignal) while it started: nothing is left running. */
export class StoppedDuringStart extends Error {
  /** @param stopFailed the parts whose stop threw (logged; the command exits 1), empty when all stopped. */
  constructor(readonly stopFailed: readonly string[] = []) {
    super("stopped during start-up");
    this.name = "StoppedDuringStart";
  }
}

/**
 * startRuntime(config, log, { ...opts, stopSignal }), but a stop asked for during start-up ends the wait
 * `deadlineMs` later at the latest (StoppedDuringStart), like a running feeder's stop: a REST request under way
 * is not waited for to its timeout (the process exits; nothing was published after the signal).
 */
export function startRuntimeUnlessStopped(config: FeederConfig, log: Logger, stopSignal: Promise<unknown>, deadlineMs: number, opts: RuntimeOptions = {}): Promise<Runtime> {
  const deadline = stopSignal
    .then(() => Bun.sleep(deadlineMs))
    .then((): never => {
      throw new StoppedDuringStart();
    });
  void deadline.catch(() => undefined); // once started, the caller's stop has its own deadline
  return Promise.race([startRuntime(config, log, { ...opts, stopSignal }), deadline]);
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
  const guarded = guardedStatusSource(base, guard);
  const status = opts.capture !== undefined ? captureStatusSource(guarded, opts.capture) : guarded;
  const http = await preflight({ config, log, guard, status, instrumentCaches: true, writableDirs: opts.writableDirs });
  // A signal during the pipeline's start stops it where it is (a step under way, e.g. a REST request, is waited
  // for): before, the start went on to connect and publish, and only then stopped (or never, if it never ended).
  let stopAsked = false;
  let starting = false;
  let earlyStop: Promise<void> | undefined;
  void opts.stopSignal?.then(() => {
    stopAsked = true;
    if (!starting) return;
    earlyStop = pipeline.stop();
    earlyStop.catch(() => undefined); // awaited (and its failure logged) below, maybe after it has rejected
  });
  const stopParts = (): [string, () => Promise<unknown> | undefined][] => [
    ["pipeline", () => earlyStop ?? pipeline.stop()],
    ["publish guard", () => guard.stop()],
    ["http", () => http?.stop()],
  ];
  try {
    await Promise.resolve(); // a signal that came during the start-up checks is seen here
    if (stopAsked) throw new StoppedDuringStart();
    opts.beforePublishing?.();
    guard.startWatching();
    starting = true;
    await pipeline.start();
    starting = false;
    if (stopAsked) throw new StoppedDuringStart();
  } catch (err) {
    starting = false;
    // Everything opened is stopped whatever a stop throws (logged); the start's own failure is what is thrown.
    const failed = await stopEach(log, stopParts());
    throw stopAsked ? new StoppedDuringStart(failed) : err;
  }
  return {
    status,
    http,
    feeder,
    supervisor,
    guard,
    async stop() {
      const failed = await stopEach(log, stopParts());
      if (failed.length > 0) throw new StopFailed(failed);
    },
  };
}
