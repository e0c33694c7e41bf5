/**
 * `feeder replay` resolves its instruments like `run` (overrides, cache, REST) and merges what the REST answered into
 * the instrument cache. A merge that found the cache's lock held by another writer (a feeder merging, a lock a killed
 * one left) went on in the background, and main's exit ended it: the cache was never written. The replay now waits
 * for it after its summary (bounded by the merge's own 30 s wait for the lock), as `export --books` does
 * (test/cli/export-out-kept.test.ts).
 */
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { expectXrpCached, holdCacheLock, startXrpCacheRig, writeXrpCapture } from "../support/xrp-capture.ts";

test("a replay whose instrument cache write waits for another writer's lock writes it before it exits (before: exited first, the cache never written)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-replay-cache-");
  const { file } = writeXrpCapture(dir);
  const { sim, cache, config } = await startXrpCacheRig(dir, uniqueDestination(396), { seed: 4, configName: "replay.toml", topToml: ['log = { level = "warn", format = "json" }'], publishToml: ["snapshot_interval_ms = 0"] });
  // Another writer holds the cache's lock until a while after the replay has printed its summary (its end, before).
  const { release, held } = await holdCacheLock(cache);
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
    expectXrpCached(cache);
  } finally {
    release();
    await held;
    await sim.stop();
  }
});
