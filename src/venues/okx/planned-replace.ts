/**
 * The 64008 notice (service upgrade) goes to every connection at once, but only 3 connects per second are allowed:
 * a connection whose make-before-break replacement finds no connect budget tries again shortly, until it is
 * replaced or its socket is gone. A notice on the replacement socket of a planned reconnect still in progress (the
 * old socket not yet closed: its server is upgraded too) waits the same way until that one is done. Cold.
 * @module
 */
import type { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import type { OkxConnection } from "./connection.ts";

/** A planned replacement that found no connect budget tries again after this long. */
export const PLANNED_RETRY_MS = 100;

export class PlannedReplacements {
  /** Retry timers waiting; each leaves the set when it fires (bounded by connections). */
  readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly lifecycle: ConnectionLifecycle) {}

  /**
   * Replaces `conn` (socket generation `gen`, the one that got the notice) now, or once there is connect budget and
   * no planned reconnect in progress. While a replacement is still opening, the notice came from the socket it
   * replaces: nothing more to do.
   */
  soon(conn: OkxConnection, gen: number): void {
    if (this.lifecycle.stopping || !conn.open || conn.generation !== gen || conn.replacing) return;
    const before = conn.plannedReconnects;
    if (!conn.retiringWs) this.lifecycle.onPlannedClose(conn, "notice 64008 (service upgrade)");
    if (conn.plannedReconnects !== before || conn.replacing) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.soon(conn, gen);
    }, PLANNED_RETRY_MS);
    this.timers.add(timer);
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
