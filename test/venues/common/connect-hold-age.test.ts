/**
 * A connection past its age deadline (maxConnectionAgeMs + plannedAgeGraceMs, every make-before-break failed) while
 * the venue holds connects (its planned replacement was refused 429: connect-hold.ts) keeps its socket, which still
 * delivers, until a connect may go; logged once. Before, the old socket was broken at the deadline and its books
 * were down for the rest of the hold (up to 10 min). Once the hold is over, one make-before-break goes before the
 * break (s-rev55; before, the break came first: books down and two connects right after the venue's hold). Bybit
 * through a proxy, on the adapter's clock (the test moves it).
 */
import { afterEach, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { captureLog } from "../../support/capture-log.ts";
import { startBybit, until, type AdapterExtras, type PlannedRun } from "../planned-fallback-harness.ts";

const runs: PlannedRun[] = [];
afterEach(async () => {
  while (runs.length > 0) await runs.pop()!.stop();
});

const AGE_MS = 10_000;
const GRACE_MS = 5_000;
const HOLD_MS = 600_000;
/**
 * The hold left (adapter clock) once the clock is past the age deadline: long, so a loaded machine still sees the kept
 * socket judged before the hold ends (with 1.5 s of real time left, a load of 20 saw the hold end first: no "kept",
 * the old socket broken instead); the tests then move the clock to (or past) its end.
 */
const HOLD_LEFT_MS = 20_000;

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

test("s-rev55: the kept socket closed by the venue itself during the hold (Binance's 24 h close): its books leave LIVE at once, nothing connects into the hold, and after it the connection reconnects and the book is equal again", { timeout: 30_000 }, async () => {
  let offsetMs = 0; // the test moves the adapter's clock forward; the hold's last 1.5 s run out on their own
  const { log, lines } = captureLog();
  const extras: AdapterExtras & { pongTimeoutMs: number } = { log, now: () => Date.now() + offsetMs, housekeepingMs: 2, connectHoldMs: { 429: GRACE_MS + 1_000 + HOLD_LEFT_MS }, plannedAgeGraceMs: GRACE_MS, deadConnectionMs: 60_000, pongTimeoutMs: 60_000 }; // the steps are no silence
  const run = await startBybit(["BTCUSDT"], AGE_MS, {
    prepare: (p) => (p.refuseUpgrade = (attempt) => (attempt === 1 ? 429 : undefined)), // only the planned replacement
    adapter: extras,
  });
  runs.push(run);
  run.step(1);
  await until(() => run.equal(0), "the book live at start");
  offsetMs += AGE_MS;
  await until(() => lines.some((l) => l.msg.includes("refused a connect")), "the replacement refused");
  offsetMs += GRACE_MS + 1_000;
  await until(() => lines.some((l) => l.msg.includes("past its age deadline kept")), "the old socket kept");
  // The hold's end, on the adapter's clock (its wall clock here): moved to 1.5 s from now, then real time runs it out.
  const holdEndMs = lines.find((l) => l.msg.includes("past its age deadline kept"))!.fields.heldUntilMs as number;
  offsetMs += holdEndMs - (Date.now() + offsetMs) - 1_500;
  run.proxy.closeClient(run.proxy.links[0]!, 1000); // the venue's own close of the kept socket
  await until(() => run.sink.invalid.length > 0, "the book invalidated");
  expect(run.sink.invalid[0]).toMatchObject({ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
  await until(() => run.proxy.upgradesAtMs.length >= 3, "the reconnect once the hold is over");
  // No connect into the hold: the reconnect's handshake came at its end or later (real time; ±1 ms of rounding).
  expect(run.proxy.upgradesAtMs[2]!).toBeGreaterThanOrEqual(holdEndMs - offsetMs - 1);
  run.step(2);
  await until(() => run.equal(0), "the book equal again on the new socket");
  expect(run.adapter.stats().reconnects).toBe(1);
});

test("s-rev55: the hold over, the kept connection is replaced make-before-break (one connect), not broken first", { timeout: 30_000 }, async () => {
  let offsetMs = 0;
  const { log, lines } = captureLog();
  // pingIntervalMs: Bybit's own option (not in the harness's type); a ping each 20 ms counts housekeeping rounds below.
  // pongTimeoutMs: a ping outstanding at a step of the clock is no dead socket (the steps are 10, 6 and 20 s).
  const bybitExtras: AdapterExtras & { pingIntervalMs: number; pongTimeoutMs: number } = { log, now: () => Date.now() + offsetMs, housekeepingMs: 2, connectHoldMs: { 429: GRACE_MS + 1_000 + HOLD_LEFT_MS }, plannedAgeGraceMs: GRACE_MS, deadConnectionMs: 60_000, ackTimeoutMs: 5_000, pingIntervalMs: 20, pongTimeoutMs: 60_000 };
  const run = await startBybit(["BTCUSDT"], AGE_MS, {
    prepare: (p) => (p.refuseUpgrade = (attempt) => (attempt === 1 ? 429 : undefined)), // only the first replacement
    adapter: bybitExtras,
  });
  runs.push(run);
  run.step(1);
  await until(() => run.equal(0), "the book live at start");
  offsetMs += AGE_MS;
  await until(() => lines.some((l) => l.msg.includes("refused a connect")), "the replacement refused");
  offsetMs += GRACE_MS + 1_000;
  await until(() => lines.some((l) => l.msg.includes("past its age deadline kept")), "the old socket kept");
  run.proxy.holdUpgrades = true; // the next handshake (after the hold) takes long, as over a real network: rounds run meanwhile
  offsetMs += HOLD_LEFT_MS + 1; // the hold over (it began before the last step of GRACE_MS + 1 s)
  await until(() => run.proxy.upgradesHeld >= 1, "a connect once the hold is over");
  // Two more pings on the old socket: housekeeping rounds ran while that handshake was under way (the old code broke
  // the old socket in the first of them, its pings ending: the wait ends at its reconnect instead).
  const sentMs = run.proxy.links[0]!.fromClient.length;
  const pings = () => run.proxy.links[0]!.fromClient.slice(sentMs).filter((f) => f.includes("ping")).length;
  await until(() => pings() >= 2 || run.adapter.stats().reconnects > 0, "rounds during the replacement's handshake");
  run.proxy.holdUpgrades = false;
  run.proxy.releaseUpgrades();
  await until(() => run.proxy.links[0]!.closed || run.adapter.stats().reconnects > 0, "the old socket gone once the hold is over");
  expect(run.adapter.stats().reconnects).toBe(0); // old code: 1 (broken before make)
  expect(run.proxy.upgradesAtMs).toHaveLength(3); // the connection, the refused replacement, the one after the hold
  expect(run.sink.invalid).toEqual([]);
  run.step(2);
  await until(() => run.equal(0), "the book equal on the replacement");
});
