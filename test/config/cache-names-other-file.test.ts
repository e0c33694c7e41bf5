/**
 * An instrument_cache naming the configuration file itself or publish.auth_key_file was taken: the first cache write
 * replaced that file with JSON, and the next start failed to read it. Refused at load, naming both (paths compared
 * resolved).
 */
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";
import { loadConfigFile } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
const cache = (path: string) => `[venues.bybit]\ninstrument_cache = ${JSON.stringify(path)}\n${VENUE}`;

describe("instrument_cache must not name another file the process needs", () => {
  test("the configuration file itself (here through a relative path) is refused, naming it", () => {
    const dir = makeTempDir("feeder-cache-cfg-");
    const path = join(dir, "feeder.toml");
    const named = relative(process.cwd(), path);
    writeFileSync(path, cache(named));
    let problems: readonly string[] = [];
    try {
      loadConfigFile(path, { localAddresses: LOOPBACK_ONLY });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      `venues.bybit.instrument_cache: ${JSON.stringify(named)} is not a file of its own (the configuration file is the same file: the first cache write would replace it with JSON)`,
    ]);
  });

  test("publish.auth_key_file is refused, naming both keys", () => {
    const key = join(makeTempDir("feeder-cache-key-"), "feed.key");
    const toml = `[publish]\nauth_key_file = ${JSON.stringify(key)}\n${cache(`${key}/../feed.key`)}`;
    expect(configProblems(toml, { localAddresses: LOOPBACK_ONLY, authKeyFileUnused: true })).toEqual([
      `venues.bybit.instrument_cache: ${JSON.stringify(`${key}/../feed.key`)} is not a file of its own (publish.auth_key_file is the same file: the first cache write would replace it with JSON)`,
    ]);
  });

  test("another file beside them is taken", () => {
    const dir = makeTempDir("feeder-cache-cfg-");
    const path = join(dir, "feeder.toml");
    writeFileSync(path, `[publish]\nauth_key_file = ${JSON.stringify(join(dir, "feed.key"))}\n${cache(join(dir, "instruments.json"))}`);
    expect(loadConfigFile(path, { localAddresses: LOOPBACK_ONLY, authKeyFileUnused: true }).venues[0]!.instrumentCachePath).toBe(join(dir, "instruments.json"));
  });
});
