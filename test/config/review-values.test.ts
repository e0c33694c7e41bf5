/**
 * Values as they are in the file. A configuration file that is not UTF-8 (TOML is UTF-8) is refused, naming the
 * byte, line and column. Before, it was decoded leniently: a Latin-1 "é" became U+FFFD, so
 * `instrument_cache = "/var/cache/café.json"` was taken as another path (`caf\uFFFD.json`) without a word, and one in a comment passed unseen. TOML's nan and inf were
 * named as `null` (their JSON spelling) in the problem. A depth given as a string ("50") or a fraction was "not an
 * integer 0–9007199254740991" (no venue's depths named), and receivers given as a string were two problems. An
 * unknown key that TOML takes only quoted was named bare: ["venues.bybit.linear"] looked like the valid path.
 */
import { describe, expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.ts";
import { loadConfigFile, validateConfig } from "../../src/config/load.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const dir = makeTempDir("feeder-review-utf8-");
const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(bytes: Buffer): string[] {
  const path = join(dir, "c.toml");
  writeFileSync(path, bytes);
  try {
    loadConfigFile(path, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

describe("a configuration file that is not UTF-8", () => {
  const path = join(dir, "c.toml");
  test("a Latin-1 byte in a string value is named with its line and column", () => {
    const text = Buffer.concat([Buffer.from('[venues.bybit]\ninstrument_cache = "/var/cache/caf'), Buffer.from([0xe9]), Buffer.from('.json"\n' + VENUE)]);
    expect(problemsOf(text)).toEqual([`${path}: not UTF-8 text (TOML is UTF-8): byte 0xE9 at line 2, column 35`]);
  });

  test("one in a comment after multi-byte UTF-8 on the same line: the column counts characters", () => {
    const text = Buffer.concat([Buffer.from(VENUE + "# prix en € et "), Buffer.from([0xe0, 0x20]), Buffer.from("\n")]);
    expect(problemsOf(text)).toEqual([`${path}: not UTF-8 text (TOML is UTF-8): byte 0xE0 at line 3, column 16`]);
  });

  test("UTF-8, with a byte-order mark or without, is read as before", () => {
    expect(problemsOf(Buffer.from("# prix en €\n" + VENUE))).toEqual([]);
    expect(problemsOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VENUE)]))).toEqual([]);
  });
});

describe("TOML's nan and inf are named as such", () => {
  test("not as null (JSON's spelling of them)", () => {
    const path = join(dir, "n.toml");
    writeFileSync(path, `workers = nan\n[publish]\nheartbeat_interval_ms = -inf\n${VENUE}`);
    let problems: string[] = [];
    try {
      loadConfigFile(path, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    } catch (err) {
      problems = [...(err as ConfigError).problems];
    }
    expect(problems).toEqual(["workers: NaN is not an integer 1–64", "publish.heartbeat_interval_ms: -Infinity is not an integer 10–60000"]);
  });
});

describe("symbols given as a string", () => {
  test("is one problem, not also an empty list", () => {
    const path = join(dir, "s.toml");
    writeFileSync(path, '[venues.bybit.linear]\nsymbols = "BTCUSDT"\n');
    let problems: string[] = [];
    try {
      loadConfigFile(path, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    } catch (err) {
      problems = [...(err as ConfigError).problems];
    }
    expect(problems).toEqual(['venues.bybit.linear.symbols: "BTCUSDT" is not an array of strings']);
  });
});

describe("a depth not among the venue's is named with the depths it may be", () => {
  test('a string ("50"), a fraction or a negative number: one of the depths, not "an integer 0–9007199254740991"', () => {
    const path = join(dir, "d.toml");
    const problems: string[] = [];
    for (const depth of ['"50"', "50.5", "-1", "nan", "500"]) {
      writeFileSync(path, `[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\ndepth = ${depth}\n`);
      problems.push(...problemsOfFile(path));
    }
    expect(problems).toEqual(['"50"', "50.5", "-1", "NaN", "500"].map((d) => `venues.bybit.linear.depth: ${d} is not one of 1, 50, 200, 1000`));
  });

  test("Deribit's full book, depth = -0 in a document built in code, is taken as 0 (check-config prints 0)", () => {
    const config = validateConfig({ venues: { deribit: { inverse: { symbols: ["BTC-PERPETUAL"], depth: -0 } } } }, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    expect(Object.is(config.venues[0]!.markets[0]!.depth, 0)).toBe(true);
  });
});

describe("a unicast destination's receivers given as a string", () => {
  test("is one problem, not also an empty list", () => {
    const path = join(dir, "r.toml");
    writeFileSync(path, `[[publish.destinations]]\nreceivers = "127.0.0.1:31001"\n${VENUE}`);
    expect(problemsOfFile(path)).toEqual(['publish.destinations[0].receivers: "127.0.0.1:31001" is not an array of strings']);
    writeFileSync(path, `[[publish.destinations]]\nreceivers = []\n${VENUE}`);
    expect(problemsOfFile(path)).toEqual(['publish.destinations[0].receivers: [] is not a non-empty list of IPv4 "host:port" receivers']);
  });
});

function problemsOfFile(path: string): string[] {
  try {
    loadConfigFile(path, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

describe("an unknown key TOML would not take bare is named quoted", () => {
  test('["venues.bybit.linear"] (one key, quoted), "depth " and "" are told apart from the keys they look like', () => {
    const path = join(dir, "k.toml");
    writeFileSync(path, `["venues.bybit.linear"]\nsymbols = ["BTCUSDT"]\n${VENUE}"depth " = 50\n"" = 1\n`);
    expect(problemsOfFile(path)).toEqual([
      '"venues.bybit.linear": unknown key (expected one of workers, shard, log, http, publish, venues, nats)',
      'venues.bybit.linear."depth ": unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)',
      'venues.bybit.linear."": unknown key (expected one of depth, symbols, stale_after_ms, ws_url, rest_url)',
    ]);
  });
});
