/**
 * The instrument cache's start sweep (sweepInstrumentCacheTemps) aged temporary files by the host's clock alone: on
 * NFS a file's mtime is the server's clock, so a host a minute or more ahead took a file another process had just
 * made, between its exclusive create and its flock (unlocked for that instant), for a killed writer's, and removed
 * it under its writer. Now, with no file of its own to read the filesystem's clock by, the sweep takes the lower of
 * the host's clock and the directory's mtime (set by the server's clock at the directory's last change).
 */
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test, vi } from "vitest";
import { newTempTags } from "../../../src/core/stale-temps.ts";
import { sweepInstrumentCacheTemps } from "../../../src/venues/common/instrument-cache.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

afterEach(() => vi.restoreAllMocks());

test("a host clock 10 min ahead of the files' clock: a temporary file just made (not yet locked) is kept; a killed writer's old one goes", () => {
  const dir = makeTempDir("feeder-cache-sweep-skew-");
  const cache = join(dir, "instruments.json");
  const tag = (pid: number) => newTempTags("instruments.json", ".", pid).tag;
  const dead = join(dir, `instruments.json.${tag(4242)}.tmp`);
  writeFileSync(dead, "half a cache");
  const tenMinutesAgo = (Date.now() - 10 * 60_000) / 1000;
  utimesSync(dead, tenMinutesAgo, tenMinutesAgo);
  // Another process's file between its create and its lock: made now by the files' clock.
  const justMade = join(dir, `instruments.json.${tag(4243)}.tmp`);
  writeFileSync(justMade, "");
  const hostNowMs = Date.now() + 10 * 60_000;
  vi.spyOn(Date, "now").mockReturnValue(hostNowMs);
  sweepInstrumentCacheTemps(cache);
  // Before: removed (host's now - its mtime = 10 min, past the minute), its writer's rename then failing.
  expect(existsSync(justMade)).toBe(true);
  expect(existsSync(dead)).toBe(false);
});
