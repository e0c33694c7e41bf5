/**
 * Replay and export --books tell their run boundary tracker (app/run-boundary.ts) every REST and connection-event
 * record, and a connection in a planned reconnect's overlap (Binance, Upbit) has a `ws:old` record before each old
 * socket's frame: one per frame, which must allocate nothing there (the tracker learns nothing from it).
 */
import { expect, test } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { RunBoundaries } from "../../src/app/run-boundary.ts";
import type { CaptureRecord } from "../../src/record/capture.ts";
import { CONNECTION_OPENED_URL, SOCKET_OLD_FRAME_URL, SOCKETS_RECORDED_URL } from "../../src/venues/venue.ts";

test("a ws:old record (one per old-socket frame in an overlap) allocates nothing in the run boundary tracker", () => {
  const runs = new RunBoundaries();
  const rec = (url: string): CaptureRecord => ({ tsRecvUs: 1, venue: "binance", market: "spot", connection: "spot-0", url, frame: "" });
  // As the recorder writes an open (a capture that records its sockets: one whose killed run is seen).
  runs.observe(rec(CONNECTION_OPENED_URL));
  runs.observe(rec(SOCKETS_RECORDED_URL));
  const old = [rec(SOCKET_OLD_FRAME_URL), rec(SOCKET_OLD_FRAME_URL)];
  const perRecord = measureAllocation(2_000, 8_000, (i) => runs.observe(old[i & 1]!));
  expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
  expect(perRecord.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  // Before: the connection's key, a string made for every record.
  expect(perRecord.cellsPerStep, perRecord.types).toBeLessThan(0.05);
  // Still open: the ws:old records changed nothing.
  expect(runs.cutBefore(rec(CONNECTION_OPENED_URL))).toBe(true);
});
