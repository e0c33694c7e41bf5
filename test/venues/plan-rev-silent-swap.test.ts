/**
 * Second read of the per-socket liveness: a replacement swapped in while the old socket has been silent for a while
 * is judged from its own open, not from the old socket's last frame. Bybit linear, replaced at the maximum connection
 * age, on the adapter's clock: the old socket's path goes silent (nothing arrives, no close) 6.5 s before the age
 * limit; the replacement opens then and its answers take 1 s. The old socket is given up 7 s after its last frame and
 * the replacement carries on, without a reconnect. Before: the connection's last frame was the old socket's, so 0.5 s
 * after the swap the fresh replacement was declared dead with it ("nothing received for 7000 ms"): both closed, every
 * book DISCONNECTED. The books, whose only feed was the dead old socket (the replacement's subscribe not answered
 * yet), leave LIVE when it is given up (since 2026-12-07: retired-unfed.test.ts) and are LIVE again from the
 * replacement's snapshots.
 */
import { afterEach, expect, test } from "vitest";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBybit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; openedMs: number };
const TICK_MS = 50;
const AGE_MS = 10_000;
const SILENT_BEFORE_AGE_MS = 6_500;
const REPLACEMENT_RTT_MS = 1_000;

test("bybit: the old socket silent when the replacement swaps in: the old one is given up, the fresh replacement carries on", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    prepare: (p) => p.byIndex.set(1, { holdDown: true }),
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 5_000, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  const drive = async (untilMs: number, step: boolean) => {
    let ticks = 0;
    while (clock < untilMs) {
      clock += TICK_MS;
      if (step && ++ticks % 4 === 0) run.step(1);
      await new Promise((r) => setTimeout(r, 3));
    }
  };
  await drive(conn.openedMs + AGE_MS - SILENT_BEFORE_AGE_MS, true);
  p.links[0]!.heldDown = []; // the old socket's path: nothing arrives from now on
  await drive(conn.openedMs + AGE_MS - TICK_MS, false);
  await until(() => run.adapter.stats().reconnects === 0 && p.links.length === 1, "still the first socket");
  clock += TICK_MS; // the age limit: the replacement opens (its answers held, as on a far path)
  await until(() => conn.retiringWs !== null, "the replacement swapped in");
  const swapMs = clock;
  await drive(swapMs + REPLACEMENT_RTT_MS, false);
  expect(p.links[0]!.closed).toBe(true); // the silent old socket given up
  expect(run.adapter.stats().reconnects).toBe(0);
  const unfed = { state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED };
  expect(run.sink.invalid).toEqual([{ index: 0, ...unfed }, { index: 1, ...unfed }]);
  p.releaseDown(p.links[1]!);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
  expect(run.sink.invalid).toHaveLength(2);
  expect(run.adapter.stats().reconnects).toBe(0);
});
