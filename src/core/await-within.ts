/**
 * Waiting for a promise at most some milliseconds (cold: stops and deletions that may never end).
 * @module
 */

/** What awaitWithin gives when its deadline passed first. */
export const CUT_OFF = "cut off";

/**
 * `p`'s value, or CUT_OFF when `withinMs` passed first (what `p` has not done then goes on unwaited for); a rejection
 * of `p` before then is thrown. The timer is cleared either way. It holds the process unless `unref`: a caller that
 * goes on after the wait (logs the cut, answers, returns an exit code) must not be ended early by an event loop left
 * empty meanwhile; unref'd, a wait that no one needs to outlast does not hold the process for its bound.
 */
export async function awaitWithin<T>(p: Promise<T>, withinMs: number, unref = false): Promise<T | typeof CUT_OFF> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cutOff = new Promise<typeof CUT_OFF>((resolve) => {
    timer = setTimeout(() => resolve(CUT_OFF), withinMs);
    if (unref) timer.unref?.();
  });
  try {
    return await Promise.race([p, cutOff]);
  } finally {
    clearTimeout(timer);
  }
}
