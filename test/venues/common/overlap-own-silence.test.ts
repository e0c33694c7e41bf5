/**
 * A planned reconnect's replacement is judged by its own frames (the old socket's do not count for it), and so by the
 * same rule as any socket: its first messages waiting for the pacing budget hold its dead-connection time until they
 * go (it has asked the venue nothing). Until 2026-12-07 the swap kept the old socket's "has sent" (sentOnSocket), so on
 * a venue without server test requests a replacement whose subscribe waited past the dead-connection time was found
 * dead before it could send anything, and every planned reconnect of such a connection failed (latent: those venues'
 * budgets today let a first message wait under a second; Deribit's rule holds whatever waits). A replacement silent
 * after its subscribe went is given up for the old socket (books LIVE), counted as a planned reconnect failure, not a
 * dead connection, the next attempt waiting out its backoff. The common machinery on fake sockets, rounds by hand.
 */
import { afterEach, expect, test, vi } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { FakeWs } from "./fake-ws.ts";
import { oldSocketRig } from "./old-socket-rig.ts";

const DEAD_CONNECTION_MS = 7_000;
const ROUND_MS = 250;
/** One message, then one per 10 s: past the dead-connection time. */
const BUDGET_STEP_MS = 10_000;
const PACING = { perConnection: { capacity: 1, perSecond: 1_000 / BUDGET_STEP_MS } };

afterEach(() => {
  vi.unstubAllGlobals();
});

/** One connection of two LIVE books on an old socket that delivers a frame each round, a planned reconnect started at 0. */
function overlapRig() {
  const rig = oldSocketRig({
    pacing: PACING,
    keepalive: { kind: "heartbeat_channel" }, // no ping of ours: only the frames decide
    ackTimeoutMs: 60_000, // far past the dead-connection time: only silence can fail the replacement
    deadConnectionMs: DEAD_CONNECTION_MS,
    onRound: () => {
      if (rig.conn.retiringWs === (rig.old as unknown as WebSocket)) rig.old.onmessage!({ data: "{}" }); // the old socket delivers all along
    },
  });
  rig.old.onmessage = () => void rig.conn.messages++; // the venue's frame handler (counts the frame)
  return rig;
}

test("a replacement whose subscribe waits for the budget past the dead-connection time is not found dead; once it goes and is answered, it carries the books", async () => {
  const { conn, control, lifecycle, topics, old, round, stop } = overlapRig();
  control.send(conn, "spent"); // the budget's one message goes on the old socket: the next waits 10 s
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!();
  expect(conn.ws).toBe(replacement as unknown as WebSocket);
  expect(conn.outbox.length, "the replacement's subscribe waits").toBe(1);
  let now = 0;
  while (replacement.sent.length === 0 && now < 2 * BUDGET_STEP_MS) {
    now += ROUND_MS;
    round(now);
    // Before: found dead 7 s after the swap, its subscribe never out, and gone back to the old socket.
    expect(conn.ws, `the replacement still the socket at ${now} ms`).toBe(replacement as unknown as WebSocket);
  }
  expect(now).toBeGreaterThan(DEAD_CONNECTION_MS);
  expect(conn.plannedReconnectFailures).toBe(0);
  const id = (JSON.parse(replacement.sent[0]!) as { id: string }).id;
  conn.messages++; // the ack, a frame on the replacement
  control.onControl(conn, { ack: id });
  round(now + ROUND_MS);
  expect(conn.retiringWs, "the old socket closed: replaced").toBeNull();
  expect(old.closedWith).toBe(1000);
  expect(topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE]);
  expect(conn.plannedReconnectFailures).toBe(0);
  await stop();
});

test("a replacement silent after its subscribe went is given up for the old socket after the dead-connection time, books LIVE, and tried again only after its backoff", async () => {
  const { conn, lifecycle, topics, old, round, stop } = overlapRig();
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  replacement.onopen!();
  expect(replacement.sent.length, "its subscribe went").toBe(1);
  let now = 0;
  while (conn.ws === (replacement as unknown as WebSocket) && now < 3 * DEAD_CONNECTION_MS) {
    now += ROUND_MS;
    round(now);
  }
  expect(conn.ws, "gone back").toBe(old as unknown as WebSocket);
  expect(now).toBeGreaterThan(DEAD_CONNECTION_MS);
  expect(now).toBeLessThanOrEqual(DEAD_CONNECTION_MS + 2 * ROUND_MS);
  expect(replacement.closedWith).toBe(1000);
  expect(conn.plannedReconnectFailures).toBe(1);
  // A planned reconnect failure, not a dead connection: the connection was not recycled (as a replacement's ack or pong timeout).
  expect(conn.deadConnections).toBe(0);
  expect(topics.map((t) => t.book)).toEqual([BookState.LIVE, BookState.LIVE]);
  // The next attempt waits out its backoff: no replacement opened before plannedRetryAtMs.
  const made = FakeWs.made.length;
  const retryAtMs = conn.plannedRetryAtMs;
  expect(retryAtMs).toBeGreaterThan(now);
  while (now + ROUND_MS < retryAtMs) {
    now += ROUND_MS;
    conn.messages++; // the old socket, the connection's again, delivers
    round(now);
  }
  expect(FakeWs.made.length).toBe(made);
  round(retryAtMs + ROUND_MS);
  expect(FakeWs.made.length).toBe(made + 1);
  await stop();
});
