/**
 * The 64008 notice (service upgrade) goes to every connection at once, but only 3 connects per second are allowed:
 * a connection whose make-before-break replacement finds no connect budget tries again shortly, until it is
 * replaced or its socket is gone. Cold.
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

  /** Replaces `conn` (socket generation `gen`) now, or once there is connect budget. */
  soon(conn: OkxConnection, gen: number): void {
    if (this.lifecycle.stopping || !conn.open || conn.generation !== gen) return;
    const before = conn.plannedReconnects;
    this.lifecycle.onPlannedClose(conn, "notice 64008 (service upgrade)");
    if (conn.plannedReconnects !== before || conn.replacing || conn.retiringWs) return;
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
