/**
 * LifecycleOptions for a ConnectionLifecycle on a fake socket and a test's clock: every keepalive, dead-connection
 * and ack deadline 100 min off (a test's clock never reaches them), the stale time the test's, reconnects and resync
 * backoffs unjittered (random 0.5); and a request protocol to go with it that understands no answer.
 */
import { silentLogger } from "../../../src/core/log.ts";
import type { LifecycleOptions } from "../../../src/venues/common/connection-lifecycle.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";

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

/**
 * A request protocol that understands no answer (every frame "other"): requests `{"id","method","params"}`, `o` adding
 * or replacing fields (pacing, maxArgsPerRequest, replay flags).
 */
export function quietProtocol(o: Partial<RequestProtocol> = {}): RequestProtocol {
  return {
    venue: "fake",
    maxArgsPerRequest: () => 10,
    encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
    classifyControl: () => ({ kind: "other" }),
    parseAckError: () => ({ kind: "other" }),
    rejectHint: () => "",
    ...o,
  };
}
