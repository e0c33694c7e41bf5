/**
 * LifecycleOptions for a ConnectionLifecycle on a fake socket and a test's clock: every keepalive, dead-connection
 * and ack deadline 100 min off (a test's clock never reaches them), the stale time the test's, reconnects and resync
 * backoffs unjittered (random 0.5).
 */
import { silentLogger } from "../../../src/core/log.ts";
import type { LifecycleOptions } from "../../../src/venues/common/connection-lifecycle.ts";

export function quietLifecycleOptions(now: () => number, staleAfterMs = 6_000_000, encodePing: (seq: number) => string = () => "PING"): LifecycleOptions {
  return {
    log: silentLogger,
    keepalive: { kind: "client_ping", intervalMs: 6_000_000, pongTimeoutMs: 6_000_000, encodePing },
    deadConnectionMs: 6_000_000,
    ackTimeoutMs: 6_000_000,
    staleAfterMs: () => staleAfterMs,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now,
    random: () => 0.5,
  };
}
