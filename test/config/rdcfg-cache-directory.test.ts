/**
 * An instrument_cache that names a directory (`"var/cache/"`, `"."`, or a directory that exists) was taken: the start-up
 * check looked only at its parent being writable, the cache's read then warned "not a regular file" at every start,
 * and every write failed (its temporary file and lock went inside the directory, the rename over it refused), so no
 * instrument was ever cached and a restart while the venue's REST is down started with no books. Refused, naming the
 * key: the value is a file's path, not a directory's.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const cache = (path: string) => `[venues.bybit]\ninstrument_cache = ${JSON.stringify(path)}\n${VENUE}`;

describe("instrument_cache must name a file, not a directory", () => {
  test('a path ending in "/" (or "." / ".." last) is refused', () => {
    for (const path of ["var/cache/", ".", "var/..", "/tmp/./", "var/."]) {
      expect(configProblems(cache(path)), path).toEqual([
        `venues.bybit.instrument_cache: ${JSON.stringify(path)} is not a file path (it names a directory: the instrument cache is a file, e.g. "var/instruments-bybit.json")`,
      ]);
    }
  });

  test("a directory that exists is refused", () => {
    const dir = makeTempDir("feeder-rdcfg-cache-");
    expect(configProblems(cache(dir))).toEqual([
      `venues.bybit.instrument_cache: ${JSON.stringify(dir)} is not a file path (it is a directory: the instrument cache is a file, e.g. "${dir}/instruments-bybit.json")`,
    ]);
  });

  test("a file in a directory, existing or not, is taken", () => {
    const dir = makeTempDir("feeder-rdcfg-cache-");
    for (const path of [join(dir, "instruments.json"), join(dir, "new", "instruments.json"), "var/instruments-bybit.json", "cache"]) expect(configProblems(cache(path)), path).toEqual([]);
  });
});
