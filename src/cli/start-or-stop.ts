/**
 * A long-running command's start raced with its stop signal (cold): a SIGINT/SIGTERM while the start waits (a NATS
 * server that accepts but does not answer holds a connect for each dial's 5 s timeout) stops it there and exits 0, as
 * `feeder run` does, instead of waiting for the start to end and then failing it (exit 1).
 * @module
 */

import { awaitWithin, CUT_OFF } from "../core/await-within.ts";
import type { Logger } from "../core/log.ts";

/**
 * Every command's stop deadline (run, record, demo, …: one constant, imported): what a stop during start-up gets to
 * close what the start opened, and a running feeder's stop, so SIGINT/SIGTERM ends the process within 2 s even when a
 * venue hangs on close (app/supervisor.ts STOP_ANSWER_MS fits inside it).
 */
export const STOP_DEADLINE_MS = 1500;

/**
 * "started" once `start` resolved with no stop asked for; "stopped" when the stop signal came first (or while it
 * started): `stop()` is called and waited for STOP_DEADLINE_MS at most, the step under way is not waited for. A
 * start that fails with no stop asked for throws.
 */
export async function startOrStop(start: Promise<unknown>, stopSignal: Promise<unknown>, stop: () => Promise<unknown>): Promise<"started" | "stopped"> {
  let stopAsked = false;
  void stopSignal.then(() => (stopAsked = true));
  try {
    await Promise.race([start, stopSignal]);
  } catch (err) {
    if (!stopAsked) throw err;
  }
  if (!stopAsked) return "started";
  start.catch(() => undefined); // it ends as it will; nothing follows it
  await awaitWithin(stop().catch(() => undefined), STOP_DEADLINE_MS);
  return "stopped";
}

/**
 * A command's stop waited for STOP_DEADLINE_MS at most (listen, bridge, replay, demo: run and record have runtime.ts
 * stopWithin). Cut off: a warning naming what was left under way (`what`) with `cutFields()` read at the cut (how
 * much was lost: bridge to-nats' unflushedBytes), and "cut off"; a stop that throws throws.
 * Before 2026-12-06 these waited for as long as it took: a bridge's NATS flush to a server that does not answer held
 * `systemctl stop` until its SIGKILL, and a second signal was the only way out.
 */
export async function stopBounded(stop: Promise<unknown>, log: Logger, what: string, cutFields?: () => Record<string, unknown>): Promise<"stopped" | "cut off"> {
  const outcome = await awaitWithin(stop.then(() => "stopped" as const), STOP_DEADLINE_MS);
  if (outcome === CUT_OFF) log.warn(`stop not finished within its deadline: ending with it under way (${what})`, { deadlineMs: STOP_DEADLINE_MS, ...cutFields?.() });
  return outcome;
}

/**
 * `run`, `record`, `listen`, `bridge`, `replay` and `demo`: a SIGINT or SIGTERM after the one that stopped them is
 * logged and ignored, their stop being bounded (STOP_DEADLINE_MS) and worth finishing (the end of session, the
 * capture closed with its last block, a bridge's last NATS messages flushed, replay's summary line). main
 * listens for the first only: the second met its default action, and a second Ctrl-C during the stop killed the
 * process there (record's capture left without its last block and its `stopped` line; exit by the signal). SIGKILL
 * still ends it at once. `hangup`: "stop" for the commands SIGHUP stops (listen, bridge, replay, demo: main's
 * STOP_SIGNALS), held as well (until 2026-12-06 it was not: a second SIGHUP, or SIGINT then two SIGHUPs, killed the
 * process mid-stop, exit 129); "reload" for run and record, whose SIGHUP re-checks the configuration, stop or not
 * (config-reload.ts). Returns what removes the listeners.
 */
export function holdRepeatedStops(stopSignal: Promise<unknown>, log: Logger, hangup: "stop" | "reload"): () => void {
  let stopping = false;
  void stopSignal.then(() => (stopping = true));
  // The first signal's emit resolves stopSignal (main's listener) but `stopping` only turns true after it: not logged.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) log.warn("stop signal again while stopping: ignored (the stop ends within its deadline; SIGKILL ends it at once)", { signal, deadlineMs: STOP_DEADLINE_MS });
  };
  const signals: NodeJS.Signals[] = hangup === "stop" ? ["SIGINT", "SIGTERM", "SIGHUP"] : ["SIGINT", "SIGTERM"];
  for (const sig of signals) process.on(sig, onSignal);
  return () => {
    for (const sig of signals) process.off(sig, onSignal);
  };
}
