/**
 * One connection of two LIVE books (book.A, book.B) on a bound fake socket `old`, under a ConnectionLifecycle never
 * started (no timer): a planned reconnect's old socket, for the overlap and go-back tests. Requests are
 * `{"id","method","params"}`, paced by `pacing`; `{"ack":id}` answers one, `{"test":true}` is the server's test request. round(ms) sets the clock,
 * runs `onRound` (what the test's sockets deliver then), then the pacing timer's work and housekeeping by hand; stop()
 * lets the fake socket go first (it cannot be closed), then ends the lifecycle. Stubs WebSocket with FakeWs (the
 * replacements opened are FakeWs.made): the test file unstubs it after each test.
 */
import { vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import { ConnectionLifecycle, type LifecycleOptions } from "../../../src/venues/common/connection-lifecycle.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { SubscriptionControl } from "../../../src/venues/common/subscription-control.ts";
import { fakeLifecycleOptions } from "./client-ping-rig.ts";
import { SendRecordingConnection } from "./fake-connection.ts";
import { FakeWs } from "./fake-ws.ts";

const PROTOCOL: RequestProtocol = {
  venue: "fake",
  maxArgsPerRequest: () => 4,
  encodeRequest: (op, topics, reqId) => JSON.stringify({ id: reqId, method: op, params: topics.map((t) => t.topic) }),
  classifyControl: (msg) => {
    const m = msg as { ack?: string; test?: boolean };
    if (m.test) return { kind: "test_request", reply: "test-reply" };
    if (typeof m.ack === "string") return { kind: "ack", op: "", success: true, retMsg: "", reqId: m.ack, successTopics: undefined, failTopics: undefined };
    return { kind: "other" };
  },
  parseAckError: () => ({ kind: "other" }),
  rejectHint: () => "",
};

export function oldSocketRig(o: {
  pacing: RequestProtocol["pacing"];
  keepalive: LifecycleOptions["keepalive"];
  ackTimeoutMs: number;
  deadConnectionMs: number;
  onRound?: () => void;
}) {
  vi.stubGlobal("WebSocket", FakeWs);
  let nowMs = 0;
  const control = new SubscriptionControl({ ...PROTOCOL, pacing: o.pacing }, silentLogger, () => nowMs, undefined, () => undefined);
  const conn = new SendRecordingConnection(0, "linear");
  conn.used = true;
  const topics = conn.addTopics(["book.A", "book.B"], 10);
  const invalidate = (t: TopicState, state: BookState) => void (t.book = state);
  const lifecycle = new ConnectionLifecycle("fake", [conn], control, { invalidate, resync: invalidate }, {
    ...fakeLifecycleOptions(() => nowMs, { pingIntervalMs: 1_000, pongTimeoutMs: 2_000, deadConnectionMs: o.deadConnectionMs }),
    keepalive: o.keepalive,
    ackTimeoutMs: o.ackTimeoutMs,
  });
  FakeWs.made = [];
  const old = new FakeWs("old");
  conn.ws = old as unknown as WebSocket;
  (lifecycle as unknown as { bindSocket(c: unknown, ws: unknown, gen: number): void }).bindSocket(conn, old, conn.generation);
  for (const t of topics) {
    t.sub = SUB_ACTIVE;
    t.book = BookState.LIVE;
  }
  const round = (ms: number) => {
    nowMs = ms;
    o.onRound?.();
    control.flush();
    (lifecycle as unknown as { onHousekeeping(): void }).onHousekeeping();
  };
  const stop = async () => {
    conn.ws = null;
    await lifecycle.stop();
  };
  return { control, conn, topics, lifecycle, old, round, now: () => nowMs, stop };
}
