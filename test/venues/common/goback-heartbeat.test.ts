/**
 * A server_test keepalive with a promised heartbeat (Deribit): the old socket of a planned reconnect keeps its promise
 * through the overlap, so after a go-back its silence past the heartbeat + the dead-connection time is death even while
 * a message waits for the pacing budget. Until 2026-12-07 the go-back cleared it (waiting for the socket's next test
 * request): an old socket whose server died at the go-back, a message kept waiting, kept its books LIVE until a message
 * went and its ack was late. The common machinery on fake sockets, rounds run by hand on a fake clock (as
 * retired-unfed.test.ts).
 */
import { afterEach, expect, test, vi } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { FakeWs } from "./fake-ws.ts";
import { oldSocketRig } from "./old-socket-rig.ts";

const HEARTBEAT_MS = 10_000;
const DEAD_CONNECTION_MS = 7_000;
const ROUND_MS = 250;

/** Two messages, then one per 1000 s. */
const PACING = { perConnection: { capacity: 2, perSecond: 0.001 } };

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The old socket of a connection kept alive by the server's test requests (heartbeat promised). */
function serverTestRig(ackTimeoutMs: number) {
  return oldSocketRig({ pacing: PACING, keepalive: { kind: "server_test", heartbeatMs: HEARTBEAT_MS }, ackTimeoutMs, deadConnectionMs: DEAD_CONNECTION_MS });
}

test("gone back to the old socket, whose server then dies while a message waits for the budget: found by its heartbeat promise", async () => {
  const { control, conn, topics, lifecycle, old, round, now: clock, stop } = serverTestRig(1_000);
  control.onControl(conn, { test: true }); // the old socket's server has shown its heartbeat
  // A planned reconnect: the replacement opens and swaps in, its subscribe out (the budget's first message) ...
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!();
  expect(conn.retiringWs).toBe(old as unknown as WebSocket);
  // ... and is never answered: at its ack deadline the old socket is gone back to, every book LIVE on it.
  round(ROUND_MS);
  round(1_500);
  expect(conn.ws).toBe(old as unknown as WebSocket);
  expect(conn.retiringWs).toBeNull();
  expect(topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE]);
  // The old socket's server dies now; a message waits for the budget (the bucket's second goes, the third waits).
  control.send(conn, "x1");
  control.send(conn, "x2");
  expect(conn.outbox.length).toBe(1);
  const lastHeardMs = clock();
  let now = clock();
  while (conn.deadConnections === 0 && now < lastHeardMs + 30_000) {
    now += ROUND_MS;
    round(now);
  }
  // Before: no bound while the message waited (its budget 1000 s away), the books LIVE on a dead socket.
  expect(conn.deadConnections).toBe(1);
  expect(now - lastHeardMs).toBeLessThanOrEqual(HEARTBEAT_MS + DEAD_CONNECTION_MS + ROUND_MS);
  expect(topics.map((t) => t.book)).not.toContain(BookState.LIVE);
  await stop();
});

/**
 * The old socket's server dead from 0 ms, a message of it waiting for the budget (which holds its dead-connection time,
 * not its heartbeat promise's: found dead at 17 s alone). A planned reconnect swaps in at 16 s. Until 2026-12-07 the swap
 * kept only the held time (lastFrameMs) as the old socket's: its books stayed LIVE to 16 s + the dead-connection time
 * during the overlap, and gone back to, to 16 s + heartbeat + dead-connection time.
 */
function deadOldSocketRig() {
  const { control, conn, topics, lifecycle, old, round, now: clock, stop } = serverTestRig(60_000);
  control.onControl(conn, { test: true }); // heard at 0 ms, its heartbeat promised; nothing more comes
  control.send(conn, "x1");
  control.send(conn, "x2");
  control.send(conn, "x3"); // waits for the budget (1000 s away)
  expect(conn.outbox.length).toBe(1);
  for (let ms = ROUND_MS; ms <= 16_000; ms += ROUND_MS) round(ms);
  expect(topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE]);
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!(); // swapped in; its subscribe waits for the budget too
  expect(conn.retiringWs).toBe(old as unknown as WebSocket);
  /** Rounds until no book is LIVE (or 40 s): the time reached. */
  const untilNotLive = () => {
    let now = clock();
    while (topics.some((t) => t.book === BookState.LIVE) && now < 40_000) round((now += ROUND_MS));
    return now;
  };
  return { control, conn, topics, old, replacement, untilNotLive, stop };
}

test("old socket whose server is dead, swapped out while a message held its dead-connection time: given up by its heartbeat promise", async () => {
  const { conn, untilNotLive, stop } = deadOldSocketRig();
  const notLiveMs = untilNotLive();
  // Before: 23.25 s (the held 16 s + the dead-connection time), its books LIVE on a server dead since 0.
  expect(notLiveMs).toBeLessThanOrEqual(HEARTBEAT_MS + DEAD_CONNECTION_MS + ROUND_MS);
  expect(conn.retiringWs).toBeNull();
  expect(conn.deadConnections).toBe(1); // the old socket's death, once
  await stop();
});

test("old socket whose server is dead, gone back to from a failed replacement: its heartbeat promise counts from its last frame, not the held time", async () => {
  const { control, conn, old, replacement, untilNotLive, stop } = deadOldSocketRig();
  replacement.close(1006);
  replacement.onclose!({ code: 1006, reason: "" }); // the replacement fails: gone back to the old socket
  expect(conn.ws).toBe(old as unknown as WebSocket);
  expect(conn.plannedReconnectFailures).toBe(1);
  control.send(conn, "x4"); // waits for the budget again: the dead-connection time held
  const notLiveMs = untilNotLive();
  // Before: 33.25 s (the held 16 s + heartbeat + dead-connection time).
  expect(notLiveMs).toBeLessThanOrEqual(HEARTBEAT_MS + DEAD_CONNECTION_MS + ROUND_MS);
  expect(conn.deadConnections).toBe(1);
  await stop();
});
