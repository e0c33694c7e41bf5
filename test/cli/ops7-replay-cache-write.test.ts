/**
 * `feeder replay` resolves its instruments like `run` (overrides, cache, REST) and merges what the REST answered into
 * the instrument cache. A merge that found the cache's lock held by another writer (a feeder merging, a lock a killed
 * one left) went on in the background, and main's exit ended it: the cache was never written. The replay now waits
 * for it after its summary (bounded by the merge's own 30 s wait for the lock), as `export --books` does
 * (test/cli/export-out-kept.test.ts).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { withCacheLock } from "../../src/venues/common/instrument-cache.ts";
import { loopbackDestinationToml } from "../support/config-toml.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

test("a replay whose instrument cache write waits for another writer's lock writes it before it exits (before: exited first, the cache never written)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-replay-cache-");
  const { file } = writeXrpCapture(dir);
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["XRPUSDT"] }], specs: { "linear:XRPUSDT": { tickSize: "0.0001", lotSize: "1" } }, seed: 4 });
  const cache = join(dir, "instruments.json");
  const config = join(dir, "replay.toml");
  writeFileSync(config, ['log = { level = "warn", format = "json" }', "http = { enabled = false }", "[publish]", "snapshot_interval_ms = 0", ...loopbackDestinationToml(uniqueDestination(396)), "[venues.bybit]", `ws_url = "${sim.wsUrl}"`, `rest_url = "${sim.restUrl}"`, `instrument_cache = "${cache}"`, "[venues.bybit.linear]", "depth = 1000", 'symbols = ["XRPUSDT"]', ""].join("\n"));
  // Another writer holds the cache's lock until a while after the replay has printed its summary (its end, before).
  let release = () => {};
  let taken = () => {};
  const lockTaken = new Promise<void>((r) => (taken = r));
  const held = withCacheLock(cache, () => {
    taken();
    return new Promise<void>((r) => (release = r));
  });
  await lockTaken;
  try {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["replay", "--config", config, file], {
      out: (t) => {
        out.push(t);
        setTimeout(() => release(), 300);
      },
      err: (t) => err.push(t),
    });
    expect(code, err.join("\n")).toBe(0);
    expect(JSON.parse(out.at(-1)!).frames).toBeGreaterThan(0);
    expect(existsSync(cache)).toBe(true);
    expect(JSON.parse(readFileSync(cache, "utf8")).instruments["linear:XRPUSDT"]).toEqual({ tickSize: "0.0001", lotSize: "1" });
  } finally {
    release();
    await held;
    await sim.stop();
  }
});
