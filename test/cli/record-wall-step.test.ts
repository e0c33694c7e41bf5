/**
 * nowUs follows a step of the wall clock (core/clock.ts checkWallClock); a capture must not: `feeder record` writes
 * each record's stamp on the process's monotonic timeline (monoStampUs), so the records around a step stay a moment
 * apart and `replay --pace recorded` does not wait the step's length. Date.now is stubbed an hour ahead.
 */
import { afterEach, expect, it, vi } from "vitest";
import { checkWallClock, monoEpochMs, nowUs, turnReceiptUs } from "../../src/core/clock.ts";
import { captureTaps } from "../../src/cli/commands/record.ts";

afterEach(() => {
  vi.restoreAllMocks();
  checkWallClock();
});

it("records a frame and a REST answer stamped after a step of an hour on the monotonic timeline", () => {
  const written: number[] = [];
  const taps = captureTaps(() => ({ write: (us: number) => void written.push(us), writeRest: (us: number) => void written.push(us) }));
  taps.onRawFrame("bybit", "linear", "c0", "{}", nowUs());
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() + 3_600_000);
  expect(checkWallClock()).toBe(true);
  // The published stamp follows the step: it lies between two reads of the stepped wall clock (read around it, as a
  // thread preempted between one read and the stamp failed a one-sided bound under load).
  const beforeMs = Date.now();
  const stampUs = nowUs();
  const afterMs = Date.now();
  expect(stampUs / 1000).toBeGreaterThan(beforeMs - 2);
  expect(stampUs / 1000).toBeLessThan(afterMs + 2);
  taps.onRawFrame("bybit", "linear", "c0", "{}", turnReceiptUs());
  taps.onRawRest("bybit", "linear", "c0", "https://x/", "{}", stampUs);
  expect(written[1]! - written[0]!).toBeGreaterThanOrEqual(0);
  expect(written[1]! - written[0]!).toBeLessThan(60_000_000); // not an hour apart
  expect(Math.abs(written[2]! - monoEpochMs() * 1000)).toBeLessThan(60_000_000);
});
