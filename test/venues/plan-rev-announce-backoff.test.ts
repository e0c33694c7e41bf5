/**
 * Second read of the planned-reconnect retries: a venue's close announcement (Binance `serverShutdown`: "reconnect
 * promptly", docs/venues/binance.md) that comes while an age-limit planned reconnect waits out a long retry step is a
 * new reason: it is tried at once (one attempt; the steps keep growing if it fails too), not after the step. Binance
 * spot replaced from 0.5 s of age, every replacement's frames held, on the adapter's clock. Before: the announcement
 * waited for the age-limit attempt's backoff (up to 5 min; here 7 s), and the venue's close would come first.
 */
import { afterEach, expect, test } from "vitest";
import { startBinance, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { plannedRetryAtMs: number; plannedFailuresInRow: number; replacing: WebSocket | null; retiringWs: WebSocket | null };
const TICK_MS = 50;

test("binance: serverShutdown during an age-limit retry's long backoff starts a replacement at once", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const run = await startBinance(["BTCUSDT", "ETHUSDT"], {
    prepare: (p) => {
      for (let i = 1; i < 100; i++) p.byIndex.set(i, { holdDown: true });
    },
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, maxConnectionAgeMs: 500, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const p = run.proxy;
  const conn = (run.adapter as unknown as { conns: Conn[] }).conns[0]!;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  // Age-limit attempts fail (acks held) until the next one waits more than 5 s.
  let ticks = 0;
  while (!(conn.plannedFailuresInRow >= 6 && !conn.replacing && !conn.retiringWs)) {
    if (clock > 1_000_000 + 60_000) throw new Error("the retries did not grow");
    clock += TICK_MS;
    if (++ticks % 4 === 0) run.step(1);
    await new Promise((r) => setTimeout(r, 3));
  }
  const dueMs = conn.plannedRetryAtMs;
  const waitMs = dueMs - clock;
  expect(waitMs).toBeGreaterThan(5_000);
  const links = p.links.length;
  run.announce!();
  for (let i = 0; i < 10; i++) {
    clock += TICK_MS;
    await new Promise((r) => setTimeout(r, 5));
  }
  // "Long before" is on the adapter's clock (checked below; it does not move while this waits), not real time.
  await until(() => p.links.length > links, "a replacement for the announced close, long before the age-limit retry was due");
  expect(dueMs - clock).toBeGreaterThan(4_000);
  expect(run.sink.invalid).toEqual([]);
});
