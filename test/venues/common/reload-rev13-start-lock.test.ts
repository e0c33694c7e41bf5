/**
 * Start-up does not wait for the instrument cache's lock: resolveInstruments (which feeder start awaits before any
 * venue connects) returns with the instruments REST answered while another writer holds `<cache>.lock`, and the
 * new entries are merged into the cache once that writer lets go. Before, start-up awaited the merge: up to
 * CACHE_LOCK_WAIT_MS (30 s) with no venue connected behind a live holder, ~10 s behind the lock of a process killed
 * just before (a restart loop). Real files in a temporary directory; the holder keeps its lock fresh, as a live
 * writer does, until resolveInstruments has returned.
 */
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { instrumentCacheWritesSettled } from "../../../src/venues/common/instrument-cache.ts";
import { resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

test("resolveInstruments returns while another writer holds the cache lock; its entries are merged after", { timeout: 20_000 }, async () => {
  const path = join(makeTempDir("reload-rev13-start-lock-"), "instruments.json");
  writeFileSync(path, JSON.stringify({ version: 1, venue: "bybit", instruments: { "linear:ETHUSDT": { tickSize: "0.01", lotSize: "0.01" } } }));
  writeFileSync(`${path}.lock`, "another-writer 0\n");
  // A live holder: its lock never looks stale while resolveInstruments runs.
  const keepFresh = setInterval(() => utimesSync(`${path}.lock`, new Date(), new Date()), 500);
  const config = { venue: "bybit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: path, overrides: new Map(), markets: [] } as unknown as VenueConfig;
  const subs: Subscription[] = [{ market: "linear", symbol: "BTCUSDT", depth: 50 }];
  const source: InstrumentSource = {
    fetchSpecs: async () => new Map([["BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]),
    notListed: () => "not listed",
  };
  let resolved;
  try {
    resolved = await resolveInstruments(config, subs, source, silentLogger);
    expect(readFileSync(`${path}.lock`, "utf8")).toBe("another-writer 0\n"); // still the other writer's
  } finally {
    clearInterval(keepFresh);
  }
  expect(resolved.instruments[0]?.tickSize).toBe("0.1");
  await unlink(`${path}.lock`);
  await instrumentCacheWritesSettled();
  const body = JSON.parse(readFileSync(path, "utf8")) as { instruments: Record<string, unknown> };
  expect(body.instruments).toEqual({ "linear:BTCUSDT": { tickSize: "0.1", lotSize: "0.001" }, "linear:ETHUSDT": { tickSize: "0.01", lotSize: "0.01" } });
});
