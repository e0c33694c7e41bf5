/**
 * What the chaos venues (test/support/chaos-*.ts, test/e2e/chaos-*.test.ts) share: the in-process Feeder a venue
 * publishes with (one config for every restart), the books a simulator had by sequence where the test records them
 * around each step, the simulators stopped after each test, and the checks every run ends with.
 * @module
 */
import { afterEach, expect } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import type { ChaosResult, ChaosVenue, SimSides } from "./chaos.ts";

/** Simulators started by a test file, stopped after each test: `const sims = simulatorsOfEachTest<MySim>()`. */
export function simulatorsOfEachTest<T extends { stop(): Promise<void> }>(): T[] {
  const sims: T[] = [];
  afterEach(async () => {
    for (const s of sims.splice(0)) await s.stop();
  });
  return sims;
}

/**
 * A venue's makeFeeder: a Feeder publishing to the run's destination (channel 9 unless given) with `venues` (the
 * config's venues table, built at the first call: the simulator's URLs) and the adapter options (faster timings).
 * Its config is built once, so every publisher restart finds the same instrument cache. `patch` changes the
 * validated config (a value below its configurable minimum). CHAOS_LOG=debug|info|warn: the feeder's log on stderr.
 */
export function chaosFeeder(
  venues: () => Record<string, unknown>,
  adapterOptions: Record<string, unknown>,
  o: { channel?: number; log?: Record<string, unknown>; patch?: (config: FeederConfig) => FeederConfig } = {},
): ChaosVenue["makeFeeder"] {
  let config: FeederConfig | undefined;
  return (dest, dropFilter) => {
    if (!config) {
      const raw = {
        log: o.log ?? { level: "warn", format: "json" },
        http: { enabled: false },
        publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "chaos", ...dest, interface: "127.0.0.1", ttl: 1, channel: o.channel ?? 9 }] },
        venues: venues(),
      };
      config = o.patch ? o.patch(validateConfig(raw)) : validateConfig(raw);
    }
    return new Feeder({
      config,
      log: process.env.CHAOS_LOG ? createLogger({ level: process.env.CHAOS_LOG as "warn", format: "json" }) : silentLogger,
      dropFilter,
      adapterOptions,
    });
  };
}

/**
 * Every book a simulator had, by "symbol|sequence" (several after a reset), for simulators that keep none. `at`
 * returns the same copies every call, so a run converts each state to integers once (chaos.ts) instead of parsing
 * text again per check; a state already recorded under its key (same levels in the same order) is kept once.
 */
export class BookHistory {
  private readonly books = new Map<string, SimSides[]>();

  record(key: string, b: { bids: Map<string, string>; asks: Map<string, string> }): void {
    let states = this.books.get(key);
    if (!states) this.books.set(key, (states = []));
    // A copy: the caller may change its Maps later, and what `at` gives is never changed (SimSides).
    if (!states.some((s) => sameEntries(s.bids, b.bids) && sameEntries(s.asks, b.asks))) states.push({ bids: new Map(b.bids), asks: new Map(b.asks) });
  }

  at(key: string): SimSides[] {
    return [...(this.books.get(key) ?? [])];
  }
}

/** The same entries in the same order (what the JSON text of both compared before, without formatting it). */
function sameEntries(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  const other = b.entries();
  for (const [k, v] of a) {
    const [k2, v2] = other.next().value!;
    if (k !== k2 || v !== v2) return false;
  }
  return true;
}

/**
 * The checks every run ends with: no usable book ever differed from the venue's (the message names the schedule),
 * enough books checked, the faults visible (some book not usable at some point), no apply exception contained.
 */
export function expectCleanRun(r: ChaosResult): void {
  expect(r.violations, `seed ${r.seed}: ${r.schedule.join(" ")}`).toEqual([]);
  expect(r.usableChecks).toBeGreaterThan(100);
  expect(r.notUsableSeen).toBeGreaterThan(0);
  expect(r.applyErrors).toBe(0);
}
