/**
 * A venue's idle close, run on a simulator's tick (a test tool, cold): every connection inactive for the venue's
 * idle time is closed, by the venue's own measure of activity (Bybit and OKX: anything pushed to it; Upbit: a
 * message either way; Coinbase: a subscribe within its deadline, then anything pushed to it).
 * A late tick means this process was held up (a client's ping perhaps waiting unread): that time, but one tick, is
 * not idle time. Before, every connection got a whole idle time from now, so under load (a tick 50 ms late now and
 * then) a client that never pinged was never closed.
 * @module
 */

/**
 * A connection whose `data[key]` is when it was last active, on core/clock.ts monoMs as `IdleTick.nowMs` is: on the wall
 * clock (until 2026-12-07) a step back kept an idle connection open for as long as the step.
 */
export interface IdleWatched<K extends string> {
  readonly data: Record<K, number>;
  close(code?: number, reason?: string): void;
}

export interface IdleTick {
  nowMs: number;
  /** Since the previous tick: more than 5 ticks is a held-up process. */
  sinceTickMs: number;
  tickMs: number;
  idleMs: number;
  /** The close frame's reason. */
  reason: string;
  /** The close code (default 1000). */
  code?: number;
}

/** Closes (and removes from `conns`) every connection idle for `tick.idleMs`; how many it closed. */
export function closeIdle<K extends string, W extends IdleWatched<K>>(conns: Set<W>, key: K, tick: IdleTick): number {
  const heldMs = tick.sinceTickMs > 5 * tick.tickMs ? tick.sinceTickMs - tick.tickMs : 0;
  let closed = 0;
  for (const ws of [...conns]) {
    if (heldMs > 0) ws.data[key] = Math.min(tick.nowMs, ws.data[key] + heldMs);
    if (tick.nowMs - ws.data[key] < tick.idleMs) continue;
    closed++;
    conns.delete(ws);
    ws.close(tick.code ?? 1000, tick.reason);
  }
  return closed;
}
