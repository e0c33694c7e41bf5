/**
 * One fake socket (topic book.A, open since 0) under a ConnectionLifecycle with a client ping (`ping <seq>`), never
 * started: no timer, no LateRounds (every round judges). round(ms) sets the clock and runs the pacing timer's work and
 * housekeeping by hand; stop() lets the fake socket go first (it cannot be closed), then ends any reconnect a failure
 * scheduled.
 */
import { silentLogger } from "../../../src/core/log.ts";
import { ConnectionLifecycle, type LifecycleOptions } from "../../../src/venues/common/connection-lifecycle.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { quietProtocol } from "./quiet-lifecycle.ts";

const PROTOCOL = quietProtocol({ maxArgsPerRequest: () => 4 });

/**
 * The lifecycle options of the fake-socket rigs: a client ping (`ping <seq>`) on the given intervals, books never
 * stale, a fixed backoff jitter, the clock `now`.
 */
export function fakeLifecycleOptions(now: () => number, o: { pingIntervalMs: number; pongTimeoutMs: number; deadConnectionMs: number }): LifecycleOptions {
  return {
    log: silentLogger,
    keepalive: { kind: "client_ping", intervalMs: o.pingIntervalMs, pongTimeoutMs: o.pongTimeoutMs, encodePing: (seq) => `ping ${seq}` },
    deadConnectionMs: o.deadConnectionMs,
    staleAfterMs: () => 6_000_000,
    resyncBackoffBaseMs: 100,
    maxConnectsPerWindow: 10,
    connectWindowMs: 1_000,
    now,
    random: () => 0.5,
  };
}

export function clientPingRig(o: { pingIntervalMs: number; pongTimeoutMs: number; deadConnectionMs: number; pacing?: RequestProtocol["pacing"] }) {
  let nowMs = 0;
  const control = new SubscriptionControl({ ...PROTOCOL, pacing: o.pacing }, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  conn.used = true;
  conn.addTopics(["book.A"], 10);
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate: () => undefined, resync: () => undefined }, fakeLifecycleOptions(() => nowMs, o));
  const round = (ms: number) => {
    nowMs = ms;
    control.flush();
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  const stop = async () => {
    conn.ws = null;
    await lifecycle.stop();
  };
  return { conn, control, lifecycle, round, stop };
}
