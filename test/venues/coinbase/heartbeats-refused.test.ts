/**
 * The heartbeats subscribe refused for a passing reason (`Failed to subscribe: rate limit exceeded`). Before, the
 * refusal was taken as that subscribe's answer and nothing more was asked: the socket went without heartbeats for
 * good, so a quiet one was taken for dead after 7 s (deadConnectionMs) and every book on it resynced. Now it goes
 * again after the rate-limit backoff, on the same socket. Real simulator on 127.0.0.1 (option refuseHeartbeats).
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, countRounds, Sink, startSimAndAdapter, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

/**
 * The simulator refusing the heartbeats subscribe `refusals` times (heartbeats every 20 ms) and a started adapter on a
 * clock and jitter the test drives (`clock.nowMs`, `random`), its housekeeping every 5 ms of real time.
 */
async function drivenRig(refusals: number, random: number) {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], levels: 5, seed: 3, refuseHeartbeats: refusals, heartbeatMs: 20 });
  const clock = { nowMs: 1_000_000 };
  const adapter = createCoinbaseAdapter(coinbaseConfig(sim, ["BTC-USD"]), subsOf(["BTC-USD"]), { log: silentLogger, now: () => clock.nowMs, random: () => random, housekeepingMs: 5 });
  cleanup.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  adapter.start(new Sink((await adapter.loadInstruments()) as Instrument[]));
  return { sim, adapter, clock };
}

describe("coinbase: a heartbeats subscribe refused for a passing reason", { timeout: 30_000 }, () => {
  test("goes again on the same socket: heartbeats come, no reconnect", async () => {
    const { sim, adapter } = await startSimAndAdapter({ products: ["BTC-USD"], levels: 5, seed: 3, refuseHeartbeats: 1 }, cleanup);
    await waitFor(() => sim.stats.errorsSent === 1, "the heartbeats subscribe refused");
    // Nothing stepped: the socket carries nothing but heartbeats, which must come on this socket (else it is dead at 7 s).
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 2, "heartbeats", 15_000);
    expect(adapter.stats().reconnects).toBe(0);
    expect(adapter.stats().rateLimited).toBe(1);
    expect(sim.stats.errorsSent).toBe(1);
  });

  test("its acceptance starts the connection's rate-limit backoff over, as any request the connection has accepted", async () => {
    // Refused twice (backoff steps 0 and 1), then accepted: a later refusal of this connection must start at the first
    // step again. Before, only a level2 request's acceptance reset the step, so the next refusal waited 1-2 s, not 0.25-0.5 s.
    const { sim, adapter } = await startSimAndAdapter({ products: ["BTC-USD"], levels: 5, seed: 3, refuseHeartbeats: 2 }, cleanup);
    await waitFor(() => sim.stats.errorsSent === 2, "the heartbeats subscribe refused twice");
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 1, "heartbeats", 15_000);
    const conns = (adapter as unknown as { conns: { rateLimitStreak: number }[] }).conns;
    expect(conns[0]!.rateLimitStreak).toBe(0);
    expect(adapter.stats().rateLimited).toBe(2);
  });

  test("its wait is on the adapter's clock and jitter (injected now and random), not a real timer", async () => {
    // random 0: the first step's wait is exactly half the 500 ms base. Before, Math.random and a real setTimeout sent
    // it again within 0.5 s of real time whatever the adapter's clock said (a test's clock could not drive it).
    const { adapter, clock } = await drivenRig(1, 0);
    // The refusal as the adapter read it (its wait starts at its clock then), not as the simulator sent it: before, a
    // loaded machine moved the clock between the two, the wait started at 1_000_249 and the +1 below never ended it.
    await waitFor(() => adapter.stats().rateLimited === 1, "the heartbeats subscribe's refusal read");
    clock.nowMs += 249;
    // Past the longest real wait the old timer could take, with the adapter's clock 1 ms short of the wait: not sent.
    await new Promise((r) => setTimeout(r, 700));
    expect(adapter.stats().heartbeats ?? 0).toBe(0);
    clock.nowMs += 1;
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 1, "heartbeats once the adapter's clock reached the wait");
    expect(adapter.stats().reconnects).toBe(0);
    expect(adapter.stats().rateLimited).toBe(1);
  });

  test("refused again and again on a quiet socket: each wait stays below the dead-connection bound, so the socket is not failed as dead", async () => {
    // random 1: each wait the longest of its step. The backoff went 0.5 s doubling to 10 s: from the ~5th refusal in a
    // row (8 s) the wait passed deadConnectionMs (7 s) after the refusal, the last frame of a socket whose books are
    // quiet, and the socket was failed as dead, its books resynced, while nothing was wrong but the rate limit.
    const refusals = 8;
    const { sim, adapter, clock } = await drivenRig(refusals, 1);
    await waitFor(() => sim.stats.errorsSent === 1, "the first refusal");
    // The adapter's clock in 250 ms steps, never while a retry is out unanswered (its refusal is awaited in real time),
    // so a loaded machine's slow loopback adds no silence the venue would not have.
    const conn = (adapter as unknown as { conns: { heartbeatsDueMs: number }[] }).conns[0]!;
    const settled = () => conn.heartbeatsDueMs > 0 || (adapter.stats().heartbeats ?? 0) > 0 || adapter.stats().reconnects! > 0;
    const rounds = countRounds(adapter);
    for (let i = 0; i < 200 && (adapter.stats().heartbeats ?? 0) === 0 && adapter.stats().reconnects === 0; i++) {
      clock.nowMs += 250;
      // A housekeeping round after the move (it read the new time: a retry whose wait is over is sent), then its answer.
      const from = rounds.n;
      await waitFor(() => rounds.n > from, "a housekeeping round on the moved clock");
      await waitFor(settled, "the retry answered");
    }
    expect(sim.stats.errorsSent).toBe(refusals);
    expect([adapter.stats().reconnects, adapter.stats().deadConnections]).toEqual([0, 0]);
    expect(adapter.stats().heartbeats ?? 0).toBeGreaterThan(0);
  });
});
