/**
 * A clock stepped back during a planned reconnect's overlap. The adapters' clock is the wall clock by default;
 * ConnectionLifecycle.clampToClock brings the times the deadlines count from back to the clock each round, but not
 * the old (retiring) socket's own: stepped back an hour, its last frame lay an hour ahead, it was neither probed nor
 * found silent, and an old socket that died then stayed "one to go back to", serving its books, for the hour. Bybit
 * linear, replaced at the maximum connection age, on the adapter's clock; the housekeeping rounds are run by hand.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { ageToRetiring, startBybit, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; openedMs: number };
type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
const TICK_MS = 50;
const AGE_MS = 10_000;

test("bybit: an old socket that goes silent after the clock steps back an hour is found silent within the usual deadline", { timeout: 60_000 }, async () => {
  let clock = 10_000_000;
  const warns: string[] = [];
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    prepare: (p) => p.byIndex.set(1, { holdDown: true }), // the replacement's answers held: the old socket keeps retiring
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 60_000, staleAfterMs: () => 600_000, log: { ...silentLogger, warn: (msg: string) => void warns.push(msg) } },
  });
  runs.push(run);
  const { conn, lc } = await ageToRetiring<Conn, Lifecycle>(run, AGE_MS, TICK_MS, () => clock, (ms) => (clock += ms));
  // From here the rounds are ours, each on time.
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  lc.rounds = { judge: () => true };
  lc.onHousekeeping();
  // The clock steps back an hour and the old socket goes silent (the path to it dies).
  clock -= 3_600_000;
  run.proxy.links[0]!.heldDown = [];
  const target = clock + 7_900;
  while (clock < target && !warns.some((w) => w.includes("old socket silent"))) {
    clock = Math.min(target, clock + 250);
    lc.onHousekeeping();
    await new Promise((r) => setTimeout(r, 1)); // the sockets are read between rounds
  }
  expect(warns.filter((w) => w.includes("old socket silent"))).toHaveLength(1);
});
