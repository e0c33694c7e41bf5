/**
 * The subscriber's clock for silences and timeouts (the stale check, retransmit deadlines, `lastRecvMs`): epoch ms,
 * but read from the monotonic clock (performance.timeOrigin + performance.now(), as its receive times are), so a
 * step of the host's clock (NTP stepping it back, a VM resumed, `date -s`) is no silence of a stream, nor hides one.
 * Date.now() stepped back an hour kept a silent stream's books usable for that hour. Plain JS (Node too).
 * @module
 */

const ORIGIN_MS = performance.timeOrigin;

/** Now, in ms since the epoch as of this process's start, advancing monotonically. */
export function monoEpochMs(): number {
  return ORIGIN_MS + performance.now();
}
