/**
 * Second read of the planned-reconnect retries: a planned reconnect that ends with the venue closing the old socket
 * during the overlap (the replacement carries on alone, then carries every book) is over, as one whose old socket
 * we close: the retry steps start over, so the next planned reconnect that fails (the next 64008, a day later) is
 * tried again after the first step, not after the step the earlier failures had grown to. OKX (notice 64008): the
 * first replacement's frames are held (it fails at the ack deadline), the second's too until the old socket is
 * closed by the proxy mid-overlap. Before: the failures in a row were kept (1 here, up to ~10 in a grace period).
 * The books, whose only feed was the old socket (the replacement's subscribe held), leave LIVE at its close (since
 * 2026-12-07: retired-unfed.test.ts) and are LIVE again from the replacement's snapshots.
 */
import { afterEach, expect, test } from "vitest";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startOkx, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { plannedFailuresInRow: number; plannedLoggedStepMs: number; plannedWhy: string; retiringWs: WebSocket | null; replacing: WebSocket | null };

test("okx: the old socket closed by the venue during the overlap, the replacement carrying every book: the retry steps start over", { timeout: 30_000 }, async () => {
  const run = await startOkx(["BTC-USDT", "ETH-USDT"], {
    prepare: (p) => {
      p.byIndex.set(1, { holdDown: true });
      p.byIndex.set(2, { holdDown: true });
    },
  });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  run.announce!();
  await until(() => run.adapter.stats().plannedReconnectFailures === 1, "the first replacement failed at its ack deadline");
  expect(conn.plannedFailuresInRow).toBe(1);
  // The second replacement swapped in (its subscribe held): the venue closes the old socket now.
  await until(() => p.links.length === 3 && conn.retiringWs !== null, "the second replacement in the overlap");
  p.closeClient(p.links[0]!);
  await until(() => conn.retiringWs === null, "the old socket gone");
  const unfed = { state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED };
  expect(run.sink.invalid).toEqual([{ index: 0, ...unfed }, { index: 1, ...unfed }]);
  p.releaseDown(p.links[2]!);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal on the replacement");
  expect(run.adapter.stats().plannedReconnectFailures).toBe(1);
  expect(run.adapter.stats().reconnects).toBe(0);
  expect(run.sink.invalid).toHaveLength(2);
  // The planned reconnect is over: nothing wanted, the steps start over.
  expect([conn.plannedWhy, conn.plannedFailuresInRow, conn.plannedLoggedStepMs]).toEqual(["", 0, 0]);
});
