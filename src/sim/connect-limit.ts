/**
 * A venue's per-IP connect limit, enforced on a simulator's WebSocket upgrades (a test tool, cold): an upgrade past
 * any window's count is refused with HTTP 429, as the venues answer (docs/venues/*.md), so a feeder that connects
 * faster than its venue allows fails its tests. Only upgrades let through count. The simulator sees when an upgrade
 * arrives, not when the client sent it: a window is counted shorter by a quarter of it (at most 250 ms), so a client
 * keeping the venue's window exactly is not refused for a late arrival in a busy test process, while one that
 * ignores it (a burst) is.
 * @module
 */

/** At most `max` connects in any `windowMs`. */
export interface ConnectWindow {
  max: number;
  windowMs: number;
}

/** The allowance for arrival jitter: a window is counted this much shorter. */
export function arrivalAllowanceMs(windowMs: number): number {
  return Math.min(250, windowMs / 4);
}

export class ConnectLimit {
  /** Upgrades refused so far. */
  refused = 0;
  private readonly timesMs: number[][];

  constructor(readonly windows: readonly ConnectWindow[]) {
    this.timesMs = windows.map(() => []);
  }

  /** Counts one upgrade at `nowMs`; the 429 to answer instead when it would pass a window, else null. */
  admit(nowMs: number): Response | null {
    for (let i = 0; i < this.windows.length; i++) {
      const w = this.windows[i]!;
      const times = this.timesMs[i]!;
      const countedMs = w.windowMs - arrivalAllowanceMs(w.windowMs);
      while (times.length > 0 && nowMs - times[0]! >= countedMs) times.shift();
      if (times.length >= w.max) {
        this.refused++;
        return new Response(`too many connection requests: at most ${w.max} per ${w.windowMs} ms per IP (simulator)`, { status: 429 });
      }
    }
    for (const times of this.timesMs) times.push(nowMs);
    return null;
  }
}
