/**
 * The stall rule (core/late-rounds.ts) covers the old socket of a planned reconnect too. A housekeeping round that
 * runs after a stall of this thread judges no deadline: the frames that arrived meanwhile still sit unread. The
 * connection's own verdicts waited, but the retiring old socket's ("nothing received on the old socket", "no pong
 * on the old socket") and the replacement's "not in use within" did not: the round after a stall gave up an old
 * socket that was alive, its topics not yet carried by the replacement. Bybit linear, replaced at the maximum
 * connection age, on the adapter's clock; the housekeeping timer is stopped and its rounds are run by hand, the
 * stalled one told so (as LateRounds.judge() says after a stall), so nothing here depends on timing.
 */
import { afterEach, expect, test } from "vitest";
import { ageToRetiring, startBybit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

type Conn = { retiringWs: WebSocket | null; retiringMessages: number; messages: number; retiringCounted: number; openedMs: number };
type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
const TICK_MS = 50;
const AGE_MS = 10_000;

test("bybit: the round after a stall does not give up the old socket of a planned reconnect; the next one, after the reads, finds it alive", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    // The replacement's subscribe answers dropped: the old socket keeps retiring. Its data still comes: a replacement
    // silent past the dead-connection time is given up by its own silence (since 2026-12-07), which is not this test.
    prepare: (p) => p.byIndex.set(1, { rewriteDown: (f) => (f.includes('"op":"subscribe"') ? null : f) }),
    adapter: { now: () => clock, housekeepingMs: 2, random: () => 0.5, ackTimeoutMs: 60_000, staleAfterMs: () => 600_000 },
  });
  runs.push(run);
  const { conn, lc } = await ageToRetiring<Conn, Lifecycle>(run, AGE_MS, TICK_MS, () => clock, (ms) => (clock += ms));
  // From here the rounds are ours.
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  const stalled = { judge: () => false };
  const onTime = { judge: () => true };
  lc.rounds = onTime;
  lc.onHousekeeping();
  // A stall of 7.5 s by the adapter's clock: the old socket's frames of that time are still unread.
  clock += 7_500;
  lc.rounds = stalled;
  lc.onHousekeeping();
  expect(conn.retiringWs).not.toBeNull();
  // The reads: the old socket's frames arrive; the next round judges and finds it alive.
  const seen = conn.retiringMessages;
  const own = () => conn.messages - conn.retiringCounted;
  const seenOwn = own();
  run.step(1);
  await until(() => conn.retiringMessages > seen && own() > seenOwn, "a frame on each socket");
  lc.rounds = onTime;
  lc.onHousekeeping();
  expect(conn.retiringWs).not.toBeNull();
  expect(run.sink.invalid).toEqual([]);
  expect(run.adapter.stats().reconnects).toBe(0);
});
