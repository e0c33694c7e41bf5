/**
 * Exponential backoff with "equal jitter" (half fixed, half random), shared by reconnects and per-topic resyncs on
 * every venue: clients that fail together retry spread out, and the wait never drops below half its step.
 * @module
 */

/** min(max, base · 2^attempt) with equal jitter; attempt 0 is the first retry. */
export function equalJitterMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return exp / 2 + (random() * exp) / 2;
}
