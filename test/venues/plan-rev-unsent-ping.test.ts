/**
 * Second read of the old socket's own keepalive: a ping still waiting for the pacing budget when the replacement is
 * swapped in is dropped with the outbox (it must not go out on the new socket), so it was never sent on the old
 * socket: its pong deadline is not the old socket's. Binance spot (2 messages/s per connection): the old socket's
 * idle ping waits in the outbox at the swap, every replacement fails (its frames held) and the old socket, which
 * keeps delivering, is gone back to. Before: the unsent ping's deadline came along, and 10 s later the healthy old
 * socket was taken for dead ("no pong"): given up or recycled, every book DISCONNECTED.
 */
import { afterEach, expect, test } from "vitest";
import { startBinance, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { outbox: unknown[]; pongDeadlineMs: number; retiringWs: WebSocket | null; bucket: { tryTake(nowMs: number, n?: number): boolean } | null };
const TICK_MS = 50;
/** Binance's pong deadline (protocol.ts KEEPALIVE_PONG_TIMEOUT_MS). */
const PONG_TIMEOUT_MS = 10_000;

test("binance: a ping queued for pacing at the swap is not the old socket's outstanding ping; the old socket gone back to stays the connection's", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const run = await startBinance(["BTCUSDT", "ETHUSDT"], {
    prepare: (p) => {
      for (let i = 1; i < 100; i++) p.byIndex.set(i, { holdDown: true });
    },
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  // Quiet, and no message budget left: the idle ping (half the dead-connection time) waits in the outbox.
  while (conn.outbox.length === 0) {
    if (clock > 1_000_000 + 6_000) throw new Error("no idle ping queued");
    for (const n of [1, 0.1, 0.01]) while (conn.bucket?.tryTake(clock, n)) {}
    clock += TICK_MS;
    await new Promise((r) => setTimeout(r, 4));
  }
  const pingQueuedMs = clock;
  expect(conn.pongDeadlineMs).toBeGreaterThan(0);
  run.announce!();
  await until(() => conn.retiringWs !== null, "the replacement swapped in");
  // The old socket keeps delivering (each 200 ms of the adapter's clock) while every replacement fails.
  let ticks = 0;
  while (clock < pingQueuedMs + PONG_TIMEOUT_MS + 3_000) {
    clock += TICK_MS;
    if (++ticks % 4 === 0) run.step(1);
    await new Promise((r) => setTimeout(r, 3));
  }
  expect(run.adapter.stats().plannedReconnectFailures).toBeGreaterThan(0);
  expect(p.links[0]!.closed).toBe(false);
  expect([run.adapter.stats().reconnects, run.adapter.stats().pongTimeouts]).toEqual([0, 0]);
  expect(run.sink.invalid).toEqual([]);
  await until(() => run.equal(0) && run.equal(1), "both books equal, from the old socket");
});
