/**
 * A client ping's pong deadline across a step back of an injected clock (ConnectionLifecycle.clampToClock). 0 means
 * "no ping outstanding", but the clamp read it as a time: with the clock below -pongTimeoutMs after the step (a clock
 * counting from its start, stepped back an hour), 0 lay "beyond" now + pongTimeoutMs and became a pong deadline for
 * a ping never sent. The connection's real ping then set no deadline of its own, and a live connection was failed
 * ("no pong") without having been pinged. The common machinery on a fake socket, rounds run by hand.
 */
import { expect, test } from "vitest";
import type { RequestProtocol } from "../../../src/venues/common/hooks.ts";
import { clientPingRig } from "./client-ping-rig.ts";

const PING_INTERVAL_MS = 20_000;
const PONG_TIMEOUT_MS = 2_000;
const DEAD_MS = 7_000; // an idle connection is probed at half of it (3.5 s)

function setup(o: { pacing?: RequestProtocol["pacing"]; pingIntervalMs?: number } = {}) {
  const { conn, round, stop } = clientPingRig({ pacing: o.pacing, pingIntervalMs: o.pingIntervalMs ?? PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS, deadConnectionMs: DEAD_MS });
  const pings = () => conn.sent.filter((s) => s.startsWith("ping")).length;
  return { conn, round, pings, stop };
}

test("a clock stepped back below -pongTimeoutMs invents no outstanding ping: the idle connection is pinged and kept", async () => {
  const { conn, round, pings, stop } = setup();
  round(1_000);
  conn.messages++; // a frame: the connection is alive
  round(1_250);
  expect(conn.pongDeadlineMs).toBe(0);
  // Stepped back an hour: the clock now reads below -PONG_TIMEOUT_MS.
  let now = 1_250 - 3_600_000;
  round(now);
  expect(conn.pongDeadlineMs).toBe(0); // before: now + PONG_TIMEOUT_MS, for no ping
  expect(conn.retiringPongDeadlineMs).toBe(0); // the same rule for a planned reconnect's old socket
  // Idle: probed at 3.5 s; the pong comes before the next round. Before: the invented deadline failed it at 2 s.
  while (pings() === 0 && now < 1_250 - 3_600_000 + DEAD_MS) round((now += 250));
  expect(pings()).toBe(1);
  expect(conn.pongDeadlineMs).toBe(now + PONG_TIMEOUT_MS);
  conn.messages++;
  conn.onPong();
  round((now += 250));
  expect(conn.pongDeadlineMs).toBe(0);
  expect(conn.pongTimeouts + conn.reconnects).toBe(0);
  await stop();
});

/**
 * Random walks of the clock (steps back and forward of up to two hours, readings far below 0 too), with frames and
 * the pongs of sent pings arriving between rounds, against the model: a pong deadline is set exactly while a sent
 * ping is unanswered, and the connection is failed for a pong only when one was (never for a ping not sent).
 */
test("randomized: the pong deadline is set exactly while a sent ping is unanswered, whatever the clock does", async () => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let run = 0; run < 100; run++) {
    const { conn, round, pings, stop } = setup();
    let now = Math.floor(rand() * 20_000) - 10_000;
    let answered = 0;
    for (let i = 0; i < 60 && conn.reconnects === 0; i++) {
      const r = rand();
      if (r < 0.1) now -= Math.floor(rand() * 7_200_000);
      else if (r < 0.15) now += Math.floor(rand() * 7_200_000);
      else now += Math.floor(rand() * 1_500);
      if (rand() < 0.5) conn.messages++; // a data frame
      const outstandingBefore = pings() > answered;
      round(now);
      if (conn.reconnects > 0) {
        // Failed this round: for a pong only if a ping was out; otherwise the dead-connection rule.
        if (conn.pongTimeouts > 0) expect(outstandingBefore).toBe(true);
        break;
      }
      expect(conn.pongDeadlineMs !== 0).toBe(pings() > answered);
      if (pings() > answered && rand() < 0.6) {
        answered = pings();
        conn.messages++;
        conn.onPong();
        expect(conn.pongDeadlineMs).toBe(0);
      }
    }
    await stop();
  }
});

/**
 * A queued ping's pong time starts when it goes (merge of s-binrd), but that push took any queued ping for the one
 * the deadline was set for: with pings due faster than the pacing let them go (a slow budget, a short interval), a
 * later ping was always queued, and a sent ping left unanswered on a connection still receiving data was never judged.
 */
test("a sent ping's pong deadline is not pushed by a later ping still queued for the pacing budget", async () => {
  const { conn, round, pings, stop } = setup({ pacing: { perConnection: { capacity: 1, perSecond: 0.1 } }, pingIntervalMs: 1_000 });
  let now = 0;
  let sentAtMs = -1;
  while (conn.reconnects === 0 && now < 60_000) {
    conn.messages++; // data keeps coming: the dead-connection rule never fires; pings are never answered
    round((now += 250));
    if (sentAtMs < 0 && pings() === 1) sentAtMs = now;
  }
  expect(sentAtMs).toBeGreaterThan(0);
  expect(pings()).toBe(1); // the later ones still wait for the bucket
  expect(conn.pongTimeouts).toBe(1); // before: none within the minute (a later ping always queued, the deadline pushed)
  expect(now).toBeLessThanOrEqual(sentAtMs + PONG_TIMEOUT_MS + 250);
  await stop();
});

test("a ping queued for the pacing budget gets its full pong time from when it goes, and is judged then, later pings queued or not", async () => {
  const { conn, round, pings, stop } = setup({ pacing: { perConnection: { capacity: 1, perSecond: 0.1 } }, pingIntervalMs: 1_000 });
  let now = 0;
  conn.messages++;
  round((now += 250));
  while (pings() < 2 && now < 30_000) {
    conn.messages++;
    if (pings() === 1 && conn.pongDeadlineMs !== 0 && conn.outbox.length === 0) conn.onPong(); // the first is answered
    round((now += 250));
  }
  const secondAtMs = now;
  expect(pings()).toBe(2); // the second went by the bucket, ~10 s after it was due
  expect(conn.pongTimeouts).toBe(0);
  while (conn.reconnects === 0 && now < secondAtMs + 30_000) {
    conn.messages++;
    round((now += 250));
  }
  expect(conn.pongTimeouts).toBe(1); // unanswered: failed one pong time after it went (before: never, a third queued)
  expect(now).toBeGreaterThanOrEqual(secondAtMs + PONG_TIMEOUT_MS);
  expect(now).toBeLessThanOrEqual(secondAtMs + PONG_TIMEOUT_MS + 500);
  await stop();
});
