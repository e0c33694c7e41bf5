/**
 * A planned reconnect whose replacement always fails (the proxy holds everything the simulator sends every
 * replacement: its subscribe is never acked), on the adapter's clock (the test moves it): the retries come ever later
 * (equal jitter, reconnectBaseMs doubling to plannedRetryMaxMs), each step's failure is logged once (the counter has
 * every one), and when the connection is maxConnectionAgeMs + plannedAgeGraceMs old the ordinary reconnect is forced.
 * Bybit linear, replaced at the maximum connection age. Before: the retries were capped at the reconnect backoff's
 * maximum (30 s by default), every failure was a warning, and the old socket was kept for ever.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBinance, startBybit, until, type PlannedRun } from "./planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

/** Adapter time per look of the test (a look every ~2 ms): the policy's steps below are whole seconds. */
const TICK_MS = 50;
const AGE_MS = 10_000;
const GRACE_MS = 120_000;
const ACK_MS = 5_000;
const BASE_MS = 1_000;
/** The ordinary reconnect's cap, below the planned retries' own: before, the planned retries stopped growing here. */
const RECONNECT_MAX_MS = 2_000;
const PLANNED_MAX_MS = 32_000;
/** Math.random's stand-in: equal jitter then waits exactly 3/4 of each step. */
const RANDOM = 0.5;

const stepMs = (k: number) => Math.min(PLANNED_MAX_MS, BASE_MS * 2 ** k);

test("bybit: a replacement that always fails is retried ever later, logged once per step, until the age deadline forces the ordinary reconnect", { timeout: 60_000 }, async () => {
  let clock = 1_000_000;
  const startedMs = clock;
  const warns: { msg: string; fields: Record<string, unknown> }[] = [];
  const log: Logger = { ...silentLogger, warn: (msg, fields) => void warns.push({ msg, fields: fields ?? {} }) };
  const run = await startBybit(["BTCUSDT", "ETHUSDT"], AGE_MS, {
    // Every socket after the first: what the simulator sends it waits in the proxy (released below for the reconnect's).
    prepare: (p) => {
      for (let i = 1; i < 200; i++) p.byIndex.set(i, { holdDown: true });
    },
    adapter: {
      log,
      now: () => clock,
      random: () => RANDOM,
      housekeepingMs: 2,
      ackTimeoutMs: ACK_MS,
      reconnectBaseMs: BASE_MS,
      reconnectMaxMs: RECONNECT_MAX_MS,
      plannedRetryMaxMs: PLANNED_MAX_MS,
      plannedAgeGraceMs: GRACE_MS,
    },
  });
  runs.push(run);
  const p = run.proxy;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");

  // The adapter's clock moves TICK_MS per look; the simulator steps every 500 ms of it, so the old socket delivers.
  const opensMs: number[] = [];
  let ticks = 0;
  const drive = async (cond: () => boolean, what: string, maxMs: number) => {
    const end = clock + maxMs;
    while (!cond()) {
      if (clock > end) throw new Error(`not within ${maxMs} ms of the adapter's clock: ${what}`);
      clock += TICK_MS;
      if (++ticks % 10 === 0) run.step(1);
      await new Promise((r) => setTimeout(r, 2));
      while (opensMs.length + 1 < p.links.length) opensMs.push(clock);
    }
  };
  const deadlineMs = startedMs + AGE_MS + GRACE_MS;
  await drive(() => run.adapter.stats().reconnects > 0, "the ordinary reconnect", AGE_MS + GRACE_MS + 30_000);
  const reconnectAtMs = clock;
  const failures = run.adapter.stats().plannedReconnectFailures;
  // Forced at the deadline, not before (every planned attempt had its chance), within a few looks after it.
  expect(reconnectAtMs).toBeGreaterThanOrEqual(deadlineMs);
  expect(reconnectAtMs - deadlineMs).toBeLessThanOrEqual(10 * TICK_MS);

  // Replacements (every socket but the old one, so far: the reconnect's opens after its backoff): every failed one, at
  // most one more (open at the deadline, dropped).
  const replacements = p.links.length - 1;
  expect(replacements - failures).toBeGreaterThanOrEqual(0);
  expect(replacements - failures).toBeLessThanOrEqual(1);
  // From one replacement to the next: its ack deadline, then 3/4 of the step (equal jitter at 0.5), never less.
  for (let k = 1; k < failures; k++) {
    expect(opensMs[k]! - opensMs[k - 1]!, `gap before replacement ${k + 1}`).toBeGreaterThanOrEqual(ACK_MS + 0.75 * stepMs(k - 1) - TICK_MS);
  }
  // The most the policy allows in the grace (each attempt takes its ack deadline at least), and it kept trying.
  let modelAttempts = 0;
  for (let t = startedMs + AGE_MS; t < deadlineMs; modelAttempts++) t += ACK_MS + 0.75 * stepMs(modelAttempts);
  expect(failures).toBeLessThanOrEqual(modelAttempts);
  expect(failures).toBeGreaterThanOrEqual(modelAttempts - 2);

  // Logged when the step changes (the reason stays the same here); the counter has every failure.
  const failedLines = warns.filter((w) => w.msg.includes("planned reconnect failed"));
  const steps = new Set(Array.from({ length: failures }, (_, k) => stepMs(k)));
  expect(failedLines.length).toBe(steps.size);
  expect(failures).toBeGreaterThan(steps.size); // the cap was reached: a failure there is not logged again
  expect(failedLines.map((w) => w.fields.retryInMs)).toEqual([...steps].map((s) => 0.75 * s));
  const forced = warns.find((w) => w.msg.includes("disconnected; reconnecting"));
  expect(String(forced?.fields.why)).toContain("not replaced");

  // The ordinary reconnect's socket (its frames released): every book back, equal.
  await until(() => p.links.length > replacements + 1, "the reconnect's socket (after its backoff: a timer, not the clock)");
  p.releaseDown(p.links[replacements + 1]!);
  p.byIndex.clear();
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal after the reconnect");
  expect(run.sink.invalid).toEqual([
    { index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
    { index: 1, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED },
  ]);
});

test("binance: while every replacement fails, the venue's close of the old socket (its connection lifetime) forces the ordinary reconnect; the retry steps start over", { timeout: 30_000 }, async () => {
  // The simulator closes each connection 2.5 s old; the adapter replaces it from 0.5 s; every replacement's acks are held.
  const run = await startBinance(["BTCUSDT", "ETHUSDT"], {
    simConnectionLifetimeMs: 2_500,
    adapter: { maxConnectionAgeMs: 500 },
    prepare: (p) => {
      for (let i = 1; i < 100; i++) p.byIndex.set(i, { holdDown: true });
    },
  });
  runs.push(run);
  const p = run.proxy;
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books live at start");
  await until(() => run.adapter.stats().reconnects > 0, "the ordinary reconnect");
  expect(p.links[0]!.closed).toBe(true); // the venue's close of the old socket was it
  expect(run.adapter.stats().plannedReconnectFailures).toBeGreaterThanOrEqual(1);
  const conn = (run.adapter as unknown as { conns: { plannedFailuresInRow: number; plannedWhy: string }[] }).conns[0]!;
  expect([conn.plannedFailuresInRow, conn.plannedWhy]).toEqual([0, ""]);
  // The reconnect's socket (its frames released): every book back, equal.
  const n = p.links.length;
  await until(() => p.links.length > n, "the reconnect's socket (after the reconnect backoff)");
  p.byIndex.clear();
  p.releaseDown(p.links[n]!);
  run.step(1);
  await until(() => run.equal(0) && run.equal(1), "both books equal after the reconnect");
  expect(run.sink.invalid.map((x) => x.reason)).toEqual([StatusReason.DISCONNECTED, StatusReason.DISCONNECTED]);
});
