/**
 * A wall clock stepped back during a planned reconnect's overlap. The venue housekeeping brings the connection's own
 * deadline baselines back to now (ConnectionLifecycle.clampToClock), but the retiring old socket's (its last frame,
 * last ping, pong deadline) and the retry time of a failed planned reconnect lay an hour ahead: an old socket that died
 * then was not given up for the hour, while it still served books the replacement did not carry yet. Bybit linear,
 * replaced at the maximum connection age, on the adapter's clock; housekeeping rounds run by hand, each judging. The
 * clock reads below 0 after the step: the replacement, never pinged then, must not be taken to have a ping out
 * (clampToClock made "none outstanding" a deadline), and is kept alive by the pong of its idle probe, which the round
 * that sent it waits for (before, a fixed 5 ms sleep: a pong read later let the replacement look dead too).
 */
import { afterEach, expect, test } from "vitest";
import { ageToRetiring, startBybit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; openedMs: number; lastFrameMs: number; pongDeadlineMs: number; pongs: number };
type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
const TICK_MS = 50;
const AGE_MS = 10_000;

test("bybit: an hour's step back of the clock does not keep a retiring old socket that then goes silent", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    // The replacement's subscribe acks are lost (its pongs pass): the old socket keeps retiring, the replacement lives.
    prepare: (p) => p.byIndex.set(1, { rewriteDown: (f) => (f.includes('"op":"subscribe"') ? null : f) }),
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 600_000, staleAfterMs: () => 6_000_000 },
  });
  runs.push(run);
  const { conn, lc } = await ageToRetiring<Conn, Lifecycle>(run, AGE_MS, TICK_MS, () => clock, (ms) => (clock += ms));
  // From here the rounds are ours, each judging (a round late on a loaded machine would judge nothing).
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  lc.rounds = { judge: () => true };
  lc.onHousekeeping();
  expect(conn.retiringWs).not.toBeNull();
  // The clock steps back an hour (to below 0); the old socket then says nothing more (its frames held by the proxy).
  clock -= 3_600_000;
  run.proxy.links[0]!.heldDown = [];
  const pongsBefore = conn.pongs;
  const target = clock + 7_900;
  while (clock < target && conn.retiringWs !== null) {
    clock = Math.min(target, clock + 250);
    lc.onHousekeeping();
    // A ping the round sent the replacement is answered before the next round (its pong is what keeps it alive).
    await until(() => conn.pongDeadlineMs === 0, "the replacement's ping answered");
  }
  expect(conn.retiringWs).toBeNull(); // given up within its dead-connection time (7 s) of the step
  expect(conn.pongs).toBeGreaterThan(pongsBefore); // the replacement was probed and answered meanwhile
  expect(run.adapter.stats().reconnects).toBe(0); // the replacement carries on
});
