/**
 * A wall clock stepped back during a planned reconnect's overlap. The venue housekeeping brings the connection's own
 * deadline baselines back to now (ConnectionLifecycle.clampToClock), but the retiring old socket's (its last frame,
 * last ping, pong deadline) and the retry time of a failed planned reconnect lay an hour ahead: an old socket that died
 * then was not given up for the hour, while it still served books the replacement did not carry yet. Bybit linear,
 * replaced at the maximum connection age, on the adapter's clock; housekeeping rounds run by hand.
 */
import { afterEach, expect, test } from "vitest";
import { ageToRetiring, startBybit, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; openedMs: number; lastFrameMs: number };
type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; onHousekeeping(): void };
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
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  lc.onHousekeeping();
  expect(conn.retiringWs).not.toBeNull();
  // The clock steps back an hour; the old socket then says nothing more (its frames held by the proxy).
  clock -= 3_600_000;
  run.proxy.links[0]!.heldDown = [];
  const target = clock + 7_900;
  while (clock < target && conn.retiringWs !== null) {
    clock = Math.min(target, clock + 250);
    lc.onHousekeeping();
    await new Promise((r) => setTimeout(r, 5)); // the replacement's pongs are read
  }
  expect(conn.retiringWs).toBeNull(); // given up within its dead-connection time (7 s) of the step
  expect(run.adapter.stats().reconnects).toBe(0); // the replacement carries on
});
