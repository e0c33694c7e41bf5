/**
 * A connection past its age deadline (maxConnectionAgeMs + plannedAgeGraceMs, every make-before-break failed) while
 * the venue holds connects (its planned replacement was refused 429: connect-hold.ts) keeps its socket, which still
 * delivers, until a connect may go; logged once. Before, the old socket was broken at the deadline and its books
 * were down for the rest of the hold (up to 10 min). Bybit through a proxy, on the adapter's clock (the test moves it).
 */
import { afterEach, expect, test } from "vitest";
import { captureLog } from "../../support/capture-log.ts";
import { startBybit, until, type PlannedRun } from "../planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

const AGE_MS = 10_000;
const GRACE_MS = 5_000;
const HOLD_MS = 600_000;

test("bybit: past the age deadline during the venue's connect hold, the old socket is kept and its books stay LIVE", { timeout: 30_000 }, async () => {
  let clock = 1_000_000;
  const { log, lines } = captureLog();
  const run = await startBybit(["BTCUSDT"], AGE_MS, {
    prepare: (p) => (p.refuseUpgrade = (attempt) => (attempt === 0 ? undefined : 429)),
    // The clock jumps 10 s and 6 s at once: the dead-connection deadline (8 s, on the same clock) would judge
    // the socket by whether a frame happened to land between a jump and the next round (the full run at load 25 saw
    // 2 reconnects): set beyond the test, which is about the age deadline alone.
    adapter: { log, now: () => clock, housekeepingMs: 2, connectHoldMs: { 429: HOLD_MS }, plannedAgeGraceMs: GRACE_MS, deadConnectionMs: 3_600_000 },
  });
  runs.push(run);
  run.step(1);
  await until(() => run.equal(0), "the book live at start");
  clock += AGE_MS; // the maximum age: the planned replacement's handshake is refused
  await until(() => lines.some((l) => l.msg.includes("refused a connect")), "the replacement refused");
  clock += GRACE_MS + 1_000; // past the age deadline, the hold still on
  await until(() => run.adapter.stats().reconnects > 0 || lines.some((l) => l.msg.includes("past its age deadline kept")), "the deadline judged");
  expect(run.adapter.stats().reconnects).toBe(0);
  expect(run.proxy.links[0]!.closed).toBe(false);
  expect(lines.filter((l) => l.msg.includes("past its age deadline kept"))).toHaveLength(1);
  await allEqualAgain(run);
  expect(run.sink.invalid).toEqual([]);
  expect(run.proxy.upgradesAtMs).toHaveLength(2); // nothing connected into the hold
});

async function allEqualAgain(run: PlannedRun): Promise<void> {
  run.step(2);
  await until(() => run.equal(0), "the book equal on the old socket");
}
