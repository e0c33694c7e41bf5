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

/** Every book a simulator had, by "symbol|sequence" (several after a reset), for simulators that keep none. */
export class BookHistory {
  private readonly books = new Map<string, Set<string>>();

  record(key: string, b: { bids: Map<string, string>; asks: Map<string, string> }): void {
    let set = this.books.get(key);
    if (!set) this.books.set(key, (set = new Set()));
    set.add(JSON.stringify([[...b.bids], [...b.asks]]));
  }

  at(key: string): SimSides[] {
    return [...(this.books.get(key) ?? [])].map((text) => {
      const [bids, asks] = JSON.parse(text) as [[string, string][], [string, string][]];
      return { bids: new Map(bids), asks: new Map(asks) };
    });
  }
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
