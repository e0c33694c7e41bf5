/**
 * Times in milliseconds written as seconds. `snapshot_interval_ms = 5` (meant: 5 s) was taken as 5 ms: every book
 * refreshed 200 times a second, a datagram flood on every destination. `startup_listen_ms = 2` (meant: 2 s) was
 * taken as a 2 ms window, in which a running instance of the same config, whose idle channel beats only every 1.25
 * heartbeat intervals, is not heard: the start it should refuse went ahead (the running check found it later).
 */
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(publish: string): string[] {
  return configProblems(`[publish]\n${publish}\n${VENUE}`);
}

describe("millisecond keys given in seconds", () => {
  test("snapshot_interval_ms under 100 (but 0, off) is refused", () => {
    expect(problemsOf("snapshot_interval_ms = 5")).toEqual(["publish.snapshot_interval_ms: 5 is not 0 (off) or 100–3600000 milliseconds (5000 is 5 s)"]);
    expect(problemsOf("snapshot_interval_ms = 0")).toEqual([]);
    expect(problemsOf("snapshot_interval_ms = 100")).toEqual([]);
  });

  test("startup_listen_ms shorter than 1.25 heartbeat intervals (but 0, no window) is refused", () => {
    expect(problemsOf("startup_listen_ms = 2")).toEqual([
      "publish.startup_listen_ms: 2 is not 0 (no window) or 1250–90000 milliseconds (a running publisher's idle channel beats within 1.25 × heartbeat_interval_ms = 1250)",
    ]);
    expect(problemsOf("heartbeat_interval_ms = 200\nstartup_listen_ms = 250")).toEqual([]);
    expect(problemsOf("startup_listen_ms = 0")).toEqual([]);
    expect(problemsOf("startup_listen_ms = 1250")).toEqual([]);
  });
});
