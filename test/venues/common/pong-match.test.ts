/**
 * A client ping's pong is matched to the ping its deadline is for. OKX's `pong`, Upbit's and Bithumb's
 * `{"status":"UP"}` carry no id, so a pong can only be told apart by keeping one ping in flight a socket. Before, pings
 * went on while one was unanswered (every interval, or when idle) and the deadline was set for the first of them
 * only: a late pong of an earlier ping then cleared the deadline of a later one, and a server that stopped answering
 * was found one or more pings later than its pong time. A planned reconnect's swap lost the old socket's deadline the
 * same way (a later ping waiting for the pacing budget made the sent one's deadline look unsent). The common machinery
 * on fake sockets, rounds run by hand on a fake clock (as clock-step-pong.test.ts).
 */
import { afterEach, expect, test, vi } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE } from "../../../src/venues/common/connection.ts";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { clientPingRig } from "./client-ping-rig.ts";
import { FakeWs } from "./fake-ws.ts";

const PING_INTERVAL_MS = 1_000; // shorter than the pong time: a ping is due while one is unanswered
const PONG_TIMEOUT_MS = 2_000;
const ROUND_MS = 250;

function setup(pacing?: RequestProtocol["pacing"]) {
  return clientPingRig({ pacing, pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS, deadConnectionMs: 7_000 });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

/**
 * Random answer times against the model: the server answers pings in order (TCP), each after its own latency; data
 * keeps coming, so only the pong rule can fail the connection. Late = its pong not there by the first round past its
 * deadline. The connection must fail for a pong at exactly that round of the first late ping, and never before.
 */
test("randomized: a late pong of an earlier ping never meets a later ping's deadline; the first late ping fails the connection on time", async () => {
  let seed = 4242;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let run = 0; run < 60; run++) {
    const { conn, round, stop } = setup();
    const arrivals: number[] = []; // of the pongs still on their way, in order
    let lastArrivalMs = 0;
    let firstLateFailsAtMs = Infinity;
    let pingsSeen = 0;
    const pings = () => conn.sent.filter((s) => s.startsWith("ping")).length;
    for (let now = ROUND_MS; now < 40_000 && conn.reconnects === 0; now += ROUND_MS) {
      // Between two rounds (never on one: 125 ms past): every pong arrived since the last round.
      while (arrivals.length > 0 && arrivals[0]! < now) {
        arrivals.shift();
        conn.messages++;
        conn.onPong();
      }
      conn.messages++; // a data frame
      round(now);
      if (conn.reconnects > 0) {
        expect(conn.pongTimeouts).toBe(1);
        expect(now).toBe(firstLateFailsAtMs); // before: later (a late pong cleared a later deadline), or never
        break;
      }
      expect(now).toBeLessThan(firstLateFailsAtMs);
      for (; pingsSeen < pings(); pingsSeen++) {
        const latencyMs = Math.floor(rand() * 12) * ROUND_MS + ROUND_MS / 2;
        lastArrivalMs = Math.max(lastArrivalMs, now + latencyMs);
        arrivals.push(lastArrivalMs);
        // Its deadline is judged at the first round past now + PONG_TIMEOUT_MS; a pong not there by then is late.
        const judgedAtMs = now + PONG_TIMEOUT_MS + ROUND_MS;
        if (lastArrivalMs > judgedAtMs) firstLateFailsAtMs = Math.min(firstLateFailsAtMs, judgedAtMs);
      }
    }
    if (firstLateFailsAtMs < 40_000) expect(conn.pongTimeouts).toBe(1);
    await stop();
  }
});

test("a pong late by more than the ping interval meets no later ping's deadline", async () => {
  const { conn, round, stop } = setup();
  // Answers come 1.5 s after each ping (within the pong time) for pings sent up to 5 s; then none.
  const sentAt: number[] = [];
  const pongsDue: number[] = [];
  let now = 0;
  while (conn.reconnects === 0 && now < 20_000) {
    now += ROUND_MS;
    while (pongsDue.length > 0 && pongsDue[0]! < now) {
      pongsDue.shift();
      conn.messages++;
      conn.onPong();
    }
    conn.messages++;
    round(now);
    for (const s of conn.sent.slice(sentAt.length)) {
      if (!s.startsWith("ping")) continue;
      sentAt.push(now);
      if (now <= 5_000) pongsDue.push(now + 1_500 - ROUND_MS / 2);
    }
  }
  const firstUnansweredMs = sentAt.find((s) => s > 5_000)!;
  expect(conn.pongTimeouts).toBe(1);
  // Before: pings every second, so the one at 6 s (the first unanswered) had its deadline cleared by the pong of the one
  // at 5 s, which came after it went: failed at 9.25 s, for the ping at 7 s, not at 8.25 s.
  expect(now).toBe(firstUnansweredMs + PONG_TIMEOUT_MS + ROUND_MS);
  await stop();
});

/**
 * The old socket keeps delivering but never answers its ping (sent before the swap). The swap read anything still
 * waiting for the pacing budget as "the ping was never sent" and dropped the sent ping's deadline: a later ping (before
 * one ping in flight), or a request that no ack is awaited for (Upbit's whole-list resend: settled, yet queued). The
 * old socket, its books LIVE from it, was then not judged for its pong during the overlap.
 */
test.each([
  { queued: "a later ping", request: false },
  { queued: "a request no ack is awaited for", request: true },
])("a planned reconnect's swap keeps the old socket's pong deadline ($queued queued); unanswered, the old socket is given up in time", async ({ request }) => {
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const { conn, control, lifecycle, round, stop } = setup({ perConnection: { capacity: 1, perSecond: 0.1 } });
  const old = new FakeWs("old");
  conn.ws = old as unknown as WebSocket;
  const t = conn.topics[0]!;
  t.sub = SUB_ACTIVE;
  t.book = BookState.LIVE;
  let now = 0;
  let pingSentMs = -1;
  while (now < 2_000 + PING_INTERVAL_MS) {
    now += ROUND_MS;
    conn.messages++;
    round(now);
    if (pingSentMs < 0 && old.sent.some((s) => s.startsWith("ping"))) pingSentMs = now;
  }
  expect(pingSentMs).toBeGreaterThan(0);
  if (request) {
    control.send(conn, '{"resend":1}', "resend1"); // waits for the bucket, as the ping took its token
    expect(conn.outbox.length).toBe(1);
  }
  // The replacement: opened and swapped in at once (nothing in flight on the old socket).
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  expect(replacement).not.toBe(old);
  replacement.onopen!();
  expect(conn.retiringWs).toBe(old);
  while (conn.retiringWs !== null && now < pingSentMs + 3 * PONG_TIMEOUT_MS) {
    now += ROUND_MS;
    old.onmessage!({ data: "{}" }); // the old socket delivers: not silent, not idle
    round(now);
  }
  expect(conn.retiringWs).toBe(null); // before: still kept at 3 pong times (its deadline dropped at the swap)
  expect(old.closedWith).toBe(4000);
  expect(conn.pongTimeouts).toBe(1);
  expect(now).toBe(pingSentMs + PONG_TIMEOUT_MS + ROUND_MS);
  expect(old.sent.filter((s) => s.startsWith("ping")).length).toBe(1);
  await stop();
});

/**
 * The old socket keeps delivering through an overlap but no longer answers pings; its last ping was answered before
 * the swap. It was pinged only when idle, which a delivering socket never is: its pong was judged only after the
 * replacement failed (the ack deadline, 10 s on) and the connection went back to it. Now it is pinged on the interval.
 */
test("an old socket that keeps delivering is pinged on the interval during the overlap; unanswered, it is given up in time", async () => {
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const { conn, lifecycle, round, stop } = setup();
  const old = new FakeWs("old");
  conn.ws = old as unknown as WebSocket;
  const t = conn.topics[0]!;
  t.sub = SUB_ACTIVE;
  t.book = BookState.LIVE;
  let now = 0;
  while (now < PING_INTERVAL_MS + 2 * ROUND_MS) {
    now += ROUND_MS;
    conn.messages++;
    if (conn.pongDeadlineMs !== 0 && old.sent.some((s) => s.startsWith("ping"))) conn.onPong(); // answered
    round(now);
  }
  expect(old.sent.filter((s) => s.startsWith("ping")).length).toBe(1);
  expect(conn.pongDeadlineMs).toBe(0);
  lifecycle.onPlannedClose(conn, "test");
  const replacement = FakeWs.made.at(-1)!;
  expect(replacement).not.toBe(old);
  replacement.onopen!();
  expect(conn.retiringWs).toBe(old);
  const oldPings = () => old.sent.filter((s) => s.startsWith("ping")).length;
  let oldPingMs = -1;
  while (conn.retiringWs !== null && now < 8_000) {
    now += ROUND_MS;
    old.onmessage!({ data: "{}" }); // the old socket delivers, never idle; its pings go unanswered
    conn.messages++; // so does the replacement, which answers its own
    if (conn.pongDeadlineMs !== 0) conn.onPong();
    round(now);
    if (oldPingMs < 0 && oldPings() === 2) oldPingMs = now;
  }
  expect(oldPingMs).toBe(2 * PING_INTERVAL_MS); // the interval from its last ping, 1 s (before: none during the overlap)
  expect(conn.retiringWs).toBe(null);
  expect(old.closedWith).toBe(4000); // given up, the replacement carries on
  expect(conn.ws).toBe(replacement as unknown as WebSocket);
  expect(now).toBe(oldPingMs + PONG_TIMEOUT_MS + ROUND_MS);
  await stop();
});
