/**
 * The real monotonic clock, taken at load: a test may stub Date.now (a stepped wall clock) or performance.now (a
 * clock it drives); a wait's bound is on neither.
 */
const monoNowMs = performance.now.bind(performance);

/**
 * Polls `cond` (an event the test cannot await directly) every 2 ms until it holds, calling `onPoll` before each
 * later try; past `timeoutMs` (a bound so a hang fails, not a timing) it throws naming `what`. No fixed sleep. 2 ms,
 * not coarser: a test that acts right after the wait (moves a driven clock, sends) then starts close to the event.
 * `what` as a function is asked at the timeout: a child's stderr named in it is what it wrote by then (a template
 * string is evaluated at the call, when it has written nothing yet).
 */
export async function until(cond: () => boolean, what: string | (() => string), timeoutMs = 10_000, onPoll?: () => void): Promise<void> {
  const deadlineMs = monoNowMs() + timeoutMs;
  while (!cond()) {
    if (monoNowMs() > deadlineMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${typeof what === "string" ? what : what()}`);
    onPoll?.();
    await new Promise((r) => setTimeout(r, 2));
  }
}
