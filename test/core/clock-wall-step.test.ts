/**
 * nowUs (the wire's receive and send stamps) was the wall clock at start plus the monotonic time since: after a step
 * of the host's clock (NTP, a VM resumed) every published tsRecv/sendTime stayed off true wall time by the step until
 * a restart. Now its origin follows Date.now within WALL_DRIFT_MAX_MS, checked at a turn's end every WALL_CHECK_MS;
 * monoEpochMs (the deadline clock) and a capture's timeline (monoStampUs) do not move. Date.now is stubbed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkWallClock, monoEpochMs, monoStampUs, nowUs, turnReceiptUs, WALL_DRIFT_MAX_MS, wallOriginAtTick } from "../../src/core/clock.ts";

const realNow = Date.now.bind(Date);
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How far nowUs is from the (stubbed) wall clock, ms: Date.now floors, so 0..1 ms ahead is exact. */
function offWallMs(): number {
  const us = nowUs();
  return us / 1000 - Date.now();
}

/** Arms turn ends (as input does) until nowUs is within the bound of Date.now, or the deadline passes. */
async function followed(deadlineMs: number): Promise<boolean> {
  const giveUp = performance.now() + deadlineMs;
  while (performance.now() < giveUp) {
    turnReceiptUs(); // a frame's receipt: arms the turn's end, where the check runs
    await nextTurn();
    const off = offWallMs();
    if (off > -WALL_DRIFT_MAX_MS && off < 1 + WALL_DRIFT_MAX_MS) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

afterEach(async () => {
  vi.restoreAllMocks();
  checkWallClock(); // back to the real wall clock for the next test
});

describe("nowUs after a step of the wall clock", () => {
  it("follows the wall clock stepped a minute ahead, within the bound, on its own (turn ends of ordinary input)", async () => {
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + 60_000);
    expect(offWallMs()).toBeLessThan(-59_000); // the step: nowUs a minute behind
    expect(await followed(4_000)).toBe(true);
  });

  it("follows a step back of an hour; the monotonic clocks (deadlines, a capture's timeline) do not move", () => {
    const monoBefore = monoEpochMs();
    const stampBefore = monoStampUs(nowUs());
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000);
    expect(checkWallClock()).toBe(true);
    const off = offWallMs();
    expect(off).toBeGreaterThan(-WALL_DRIFT_MAX_MS);
    expect(off).toBeLessThan(1 + WALL_DRIFT_MAX_MS);
    // Read after the move: each still reads the time since, not an hour back.
    expect(monoEpochMs() - monoBefore).toBeGreaterThanOrEqual(0);
    expect(monoEpochMs() - monoBefore).toBeLessThan(60_000);
    const stampAfter = monoStampUs(nowUs());
    expect(stampAfter - stampBefore).toBeGreaterThanOrEqual(0);
    expect(stampAfter - stampBefore).toBeLessThan(60_000_000);
  });

  it("keeps sub-ms stamps after the move, and does not move while the clocks agree", async () => {
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + 90_000);
    expect(checkWallClock()).toBe(true);
    let moves = 0;
    for (let i = 0; i < 2_000; i++) if (checkWallClock()) moves++;
    expect(moves).toBe(0); // a preemption between the readings never reads as a drift
    const fractions = new Set<number>();
    for (let i = 0; i < 2_000 && fractions.size < 3; i++) fractions.add(nowUs() % 1000);
    expect(fractions.size).toBeGreaterThan(1); // µs, not whole ms
  });

  it("with no clean tick, anchors to the tightest-bracketed reading, not a preempted last one", () => {
    // A loaded host: every Date.now tick falls between monotonic readings 0.08 ms apart (never clean), and the
    // reading just before the wait gives up is preempted 2 ms between Date.now and performance.now. Anchoring to that
    // reading put the origin 2 ms off, so the next check saw a drift that was not there and moved the clock again.
    const wallMinusMonoMs = 1_700_000_000_123.25; // the true origin
    let tMs = 50_000;
    let calls = 0;
    let preempted = false;
    const startMs = tMs;
    vi.spyOn(Date, "now").mockImplementation(() => {
      tMs += 0.02;
      calls++;
      return Math.floor(wallMinusMonoMs + tMs);
    });
    vi.spyOn(performance, "now").mockImplementation(() => {
      tMs += !preempted && tMs > startMs + 2.9 ? ((preempted = true), 2) : 0.02;
      calls++;
      return tMs;
    });
    const originMs = wallOriginAtTick();
    vi.restoreAllMocks();
    expect(preempted).toBe(true);
    expect(calls).toBeGreaterThan(100);
    expect(Math.abs(originMs - wallMinusMonoMs)).toBeLessThanOrEqual(0.5 + 0.05);
  });
});
