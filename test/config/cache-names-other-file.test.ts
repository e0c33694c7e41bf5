/**
 * An instrument_cache naming the configuration file itself or publish.auth_key_file is no cache: every start would find
 * a file that is not this venue's cache there, leave it as it is, warn and never cache; a key file not there yet (where
 * the key is not read) would be made the cache. Refused at load, naming both: the same file by
 * any name (device and inode where it exists, the real path of its directory where not; until 2026-12-07 paths were
 * compared resolved only, and a symlink or hard link got through).
 */
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
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
      `venues.bybit.instrument_cache: ${JSON.stringify(named)} is not a file of its own (the configuration file is the same file: the cache would never be read or written there, and every start would warn)`,
    ]);
  });

  test("publish.auth_key_file not there yet is refused, naming both keys and what the first cache write would do", () => {
    // Where the key is not read (export --books, whose cache merges write; beside --auth-key-file) it may be missing:
    // the cache is then written there. Before, the refusal said no cache would ever be read or written there.
    const key = join(makeTempDir("feeder-cache-key-"), "feed.key");
    const toml = `[publish]\nauth_key_file = ${JSON.stringify(key)}\n${cache(`${key}/../feed.key`)}`;
    expect(configProblems(toml, { localAddresses: LOOPBACK_ONLY, publishesHere: false })).toEqual([
      `venues.bybit.instrument_cache: ${JSON.stringify(`${key}/../feed.key`)} is not a file of its own (publish.auth_key_file is the same file, not there yet: the first cache write would make it a cache, where that file belongs)`,
    ]);
  });

  test("a symlink to the configuration file is refused", () => {
    const dir = makeTempDir("feeder-cache-cfg-link-");
    const path = join(dir, "feeder.toml");
    const link = join(dir, "instruments.json");
    symlinkSync(path, link);
    writeFileSync(path, cache(link));
    expect(() => loadConfigFile(path, { localAddresses: LOOPBACK_ONLY })).toThrow(/instrument_cache: .* is not a file of its own \(the configuration file is the same file/);
  });

  test("a hard link to publish.auth_key_file is refused", () => {
    const dir = makeTempDir("feeder-cache-key-link-");
    const key = join(dir, "feed.key");
    writeFileSync(key, "k".repeat(64));
    linkSync(key, join(dir, "instruments.json"));
    const toml = `[publish]\nauth_key_file = ${JSON.stringify(key)}\n${cache(join(dir, "instruments.json"))}`;
    expect(configProblems(toml, { localAddresses: LOOPBACK_ONLY, authKeyFileUnused: true })).toEqual([
      `venues.bybit.instrument_cache: ${JSON.stringify(join(dir, "instruments.json"))} is not a file of its own (publish.auth_key_file is the same file: the cache would never be read or written there, and every start would warn)`,
    ]);
  });

  test("two venues' caches not written yet, one named through a symlinked directory: one file, refused", () => {
    const dir = makeTempDir("feeder-cache-dir-link-");
    mkdirSync(join(dir, "var"));
    symlinkSync(join(dir, "var"), join(dir, "cache"));
    const toml =
      `[venues.upbit]\ninstrument_cache = ${JSON.stringify(join(dir, "var/krw.json"))}\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n` +
      `[venues.bithumb]\ninstrument_cache = ${JSON.stringify(join(dir, "cache/krw.json"))}\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n`;
    expect(configProblems(toml)).toEqual([
      `venues.bithumb.instrument_cache: ${JSON.stringify(join(dir, "cache/krw.json"))} is not a file of its own (venues.upbit.instrument_cache is the same file: a cache holds one venue's instruments)`,
    ]);
  });

  test("a cache named by a symlink to another venue's cache not written yet: one file, refused", () => {
    // Its reads follow the link: once the other venue has written there, this one finds "another venue's" file for good.
    const dir = makeTempDir("feeder-cache-file-link-");
    symlinkSync(join(dir, "krw.json"), join(dir, "bithumb.json"));
    const toml =
      `[venues.upbit]\ninstrument_cache = ${JSON.stringify(join(dir, "krw.json"))}\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n` +
      `[venues.bithumb]\ninstrument_cache = ${JSON.stringify(join(dir, "bithumb.json"))}\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n`;
    expect(configProblems(toml)).toEqual([
      `venues.bithumb.instrument_cache: ${JSON.stringify(join(dir, "bithumb.json"))} is not a file of its own (venues.upbit.instrument_cache is the same file: a cache holds one venue's instruments)`,
    ]);
  });

  test("a cache named through a symlinked directory whose target is not made yet: one file with the other's, refused", () => {
    const dir = makeTempDir("feeder-cache-dir-link-ahead-");
    symlinkSync(join(dir, "var"), join(dir, "cache"));
    const toml =
      `[venues.upbit]\ninstrument_cache = ${JSON.stringify(join(dir, "var/krw.json"))}\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n` +
      `[venues.bithumb]\ninstrument_cache = ${JSON.stringify(join(dir, "cache/krw.json"))}\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n`;
    expect(configProblems(toml)).toEqual([
      `venues.bithumb.instrument_cache: ${JSON.stringify(join(dir, "cache/krw.json"))} is not a file of its own (venues.upbit.instrument_cache is the same file: a cache holds one venue's instruments)`,
    ]);
  });

  test("symlinks in a loop, or a cache under a missing directory, are no error of their own", () => {
    const dir = makeTempDir("feeder-cache-link-loop-");
    symlinkSync(join(dir, "b.json"), join(dir, "a.json"));
    symlinkSync(join(dir, "a.json"), join(dir, "b.json"));
    const toml =
      `[venues.upbit]\ninstrument_cache = ${JSON.stringify(join(dir, "a.json"))}\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n` +
      `[venues.bithumb]\ninstrument_cache = ${JSON.stringify(join(dir, "no/such/dir/krw.json"))}\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n`;
    expect(configProblems(toml)).toEqual([]);
  });

  test("another file beside them is taken", () => {
    const dir = makeTempDir("feeder-cache-cfg-");
    const path = join(dir, "feeder.toml");
    writeFileSync(path, `[publish]\nauth_key_file = ${JSON.stringify(join(dir, "feed.key"))}\n${cache(join(dir, "instruments.json"))}`);
    expect(loadConfigFile(path, { localAddresses: LOOPBACK_ONLY, authKeyFileUnused: true }).venues[0]!.instrumentCachePath).toBe(join(dir, "instruments.json"));
  });
});
