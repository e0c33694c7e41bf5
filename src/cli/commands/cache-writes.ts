/**
 * The wait, before a command that resolves instruments and then ends (`export --books`, `replay`) exits, for the
 * instrument cache merges it started (what its REST answered that the cache lacked). A merge that finds the cache's
 * lock held by another writer (a feeder merging, a lock a killed one left) goes on in the background
 * (resolveInstruments), and main's exit ended it there: the cache never got the instruments.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { CACHE_LOCK_WAIT_MS, instrumentCacheWritesSettled } from "../../venues/common/instrument-cache.ts";

/** Said when the merges have not ended by then (a lock held), so a quiet wait is not taken for a hang. */
const SAY_WAITING_AFTER_MS = 200;

/**
 * Resolves once every merge this thread started has ended: bounded by a merge's own wait for the lock
 * (CACHE_LOCK_WAIT_MS, then it gives up, logged), or at once when `stopSignal` resolves (a Ctrl-C, before or during
 * the wait: the stop asked for is not held up to 30 s; the merge is left to the exit, as before; `why` says what
 * stopped it: also an export whose output's reader is gone, which passes a resolved one).
 */
export async function instrumentCacheWritesEnded(log: Logger, stopSignal: Promise<unknown>, why: () => string = () => "stopped by a signal"): Promise<void> {
  let settled = false;
  const done = instrumentCacheWritesSettled().then(() => (settled = true));
  const said = setTimeout(() => {
    if (!settled) log.info("waiting for the instrument cache write to end (another writer may hold its lock); a stop signal ends the wait", { atMostMs: CACHE_LOCK_WAIT_MS });
  }, SAY_WAITING_AFTER_MS);
  // The stop's side takes a turn: with no merge under way, `done` resolves first (microtasks) and nothing is said.
  await Promise.race([done, stopSignal.then(() => new Promise((r) => setImmediate(r)))]);
  clearTimeout(said);
  if (!settled) log.warn(`instrument cache write left unfinished: ${why()}`, {});
}
