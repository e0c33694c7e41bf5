/** bench/publish-guard.bench.ts's verdict: no added cost is claimed for a watcher that did not read every datagram. */
import { expect, test } from "vitest";
import { guardRounds, watcherCostLine } from "../../bench/publish-guard-cost.ts";

const off = (ns: number, round = 1) => ({ round, withGuard: false, sent: 64_000, seen: 0, cpuNsPerDgram: ns });
const on = (ns: number, seen = 64_000, round = 1) => ({ round, withGuard: true, sent: 64_000, seen, cpuNsPerDgram: ns });

test("the added cost is given when the watcher saw every datagram in each of its rounds", () => {
  expect(watcherCostLine([off(900), on(2100), on(2200, 64_000, 2), off(1000, 2)], "")).toMatch(/^Median CPU .* the watcher adds 1200 ns per datagram sent \(on\/off ratio, median of rounds: 2\.33\).*every datagram/);
});

test("a watcher that saw fewer datagrams than were sent gets NO and no cost figure", () => {
  // A watcher that missed half the datagrams was paid for half: its "cost" understated the real one.
  const line = watcherCostLine([off(900), on(1500), on(2100, 32_000, 2), off(1000, 2)], "");
  expect(line).toMatch(/^NO: the watcher saw fewer datagrams than were sent \(round 2: saw 32000 of 64000\)/);
  expect(line).not.toMatch(/adds/);
});

test("GUARD_ROUNDS below 1, or not a whole number, is refused naming it; unset is the default", () => {
  // Before: Number("0") ran no round, and the summary line gave NaN figures.
  expect(() => guardRounds("0", 5)).toThrow(/GUARD_ROUNDS must be a whole number of rounds, at least 1: got "0"/);
  expect(() => guardRounds("-2", 5)).toThrow(/GUARD_ROUNDS .*got "-2"/);
  expect(() => guardRounds("1.5", 5)).toThrow(/GUARD_ROUNDS .*got "1.5"/);
  expect(() => guardRounds("", 5)).toThrow(/GUARD_ROUNDS .*got ""/);
  expect(guardRounds(undefined, 5)).toBe(5);
  expect(guardRounds("3", 5)).toBe(3);
});
