/**
 * shard = "i/n" and workers = N read as an operator writing configs for a host of several shards: each instance's
 * share of the configured symbols (by instrument id: config/share.ts) is checked as the file is loaded, so
 * `feeder check-config` (and `run`, exit 2) names the key and value. Before, a shard that took none of the symbols,
 * or more workers than symbols, started and published heartbeats for ever, and shards left at the default source id
 * were two publishers of one stream when started together (neither hears the other in the start-up window).
 * A worker the id split leaves empty although there are enough symbols is allowed (whether it happens follows the
 * ids, not the list), and `check-config` names it in a `# note:` line; before, nothing said so.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { changedKeys, checkReload } from "../../src/cli/config-reload.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { main } from "../../src/cli/main.ts";
import { shardOfId, workerOfId } from "../../src/config/share.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const linear = (symbols: string[]) => `[venues.bybit.linear]\nsymbols = ${JSON.stringify(symbols)}\n`;
const shardOf = (symbol: string, n: number) => shardOfId(instrumentIdOf("bybit", "linear", symbol), n);

describe("an instance's share of the symbols", () => {
  test("a shard that takes none of the configured symbols is refused, naming the shard and what each shard takes", () => {
    const other = 1 - shardOf("BTCUSDT", 2);
    const problems = configProblems(`shard = "${other}/2"\n[publish]\nsource_id = 5\n${linear(["BTCUSDT"])}`);
    const counts = other === 0 ? "0, 1" : "1, 0";
    expect(problems).toEqual([
      `shard: "${other}/2" is not a share holding a configured symbol: none of the 1 configured has instrument id mod 2 = ${other}; the shards take ${counts} (fewer shards, or more symbols)`,
    ]);
    // Its own shard takes it.
    expect(configProblems(`shard = "${1 - other}/2"\n[publish]\nsource_id = 5\n${linear(["BTCUSDT"])}`)).toEqual([]);
  });

  test("more workers than the instance's symbols is refused, naming workers; as many is taken", () => {
    expect(configProblems(`workers = 3\n${linear(["BTCUSDT", "ETHUSDT"])}`)).toEqual([
      "workers: 3 is not at most the number of symbols this instance publishes (2 are configured): a worker takes a share of them, and more workers than symbols leaves some with none",
    ]);
    expect(configProblems(`workers = 2\n${linear(["BTCUSDT", "ETHUSDT"])}`)).toEqual([]);
    // With a shard: its own share counts, not the file's.
    const symbols = Array.from({ length: 12 }, (_, i) => `S${i}USDT`);
    const mine = symbols.filter((s) => shardOf(s, 3) === 0).length;
    expect(configProblems(`workers = ${mine + 1}\nshard = "0/3"\n[publish]\nsource_id = 10\n${linear(symbols)}`)).toEqual([
      `workers: ${mine + 1} is not at most the number of symbols this instance publishes (${mine} shard 0/3 takes): a worker takes a share of them, and more workers than symbols leaves some with none`,
    ]);
  });

  test("a shard with the default source id is refused (shards of one destination would be one stream); set, 0 included, it is taken", () => {
    const symbols = Array.from({ length: 12 }, (_, i) => `S${i}USDT`);
    expect(configProblems(`shard = "1/2"\n${linear(symbols)}`)).toEqual([
      'publish.source_id: missing (expected a source id set for shard = "1/2": each shard needs ids of its own (source_id, or with workers = N source_id + 1 … source_id + N) that no other shard of the same destinations or subscribers uses)',
    ]);
    expect(configProblems(`shard = "0/2"\n[publish]\nsource_id = 0\n${linear(symbols)}`)).toEqual([]);
    expect(configProblems(`shard = "0/1"\n${linear(symbols)}`)).toEqual([]); // not sharded: the default is fine
  });

  test("a subscriber reading a shard's file for its [publish] (listen --config, bridge) is not refused for the shard's keys", () => {
    const other = 1 - shardOf("BTCUSDT", 2);
    const publishOnly = { localAddresses: LOOPBACK_ONLY, requireVenue: false };
    expect(configProblems(`workers = 4
shard = "${other}/2"
${linear(["BTCUSDT"])}`, publishOnly)).toEqual([]);
  });

  test("0, negative and malformed counts name the key and the value (as before)", () => {
    const v = linear(["BTCUSDT"]);
    expect(configProblems(`workers = 0\n${v}`)).toEqual(["workers: 0 is not an integer 1–64"]);
    expect(configProblems(`workers = -2\n${v}`)).toEqual(["workers: -2 is not an integer 1–64"]);
    expect(configProblems(`workers = 65\n${v}`)).toEqual(["workers: 65 is not an integer 1–64"]);
    for (const spec of ["0/0", "-1/2", "2/2", "1", "a/b"]) expect(configProblems(`shard = "${spec}"\n${v}`)).toEqual([`shard: "${spec}" is not a string "i/n" with 0 ≤ i < n ≤ 65536, e.g. "0/2"`]);
    expect(configProblems(`shard = 1\n${v}`)).toEqual(['shard: 1 is not a string "i/n" with 0 ≤ i < n ≤ 65536, e.g. "0/2"']);
  });
});

describe("SIGHUP's re-check of a file that changes the layout", () => {
  const symbols = Array.from({ length: 12 }, (_, i) => `S${i}USDT`);
  const opts = { localAddresses: LOOPBACK_ONLY };

  test("another shard or worker count is a change a restart applies, named by its key", () => {
    const running = parseConfigText(`workers = 2\nshard = "0/2"\n[publish]\nsource_id = 0\n${linear(symbols)}`, "a", opts);
    const next = parseConfigText(`workers = 3\nshard = "1/3"\n[publish]\nsource_id = 0\n${linear(symbols)}`, "b", opts);
    expect(changedKeys(running, next).sort()).toEqual(["shard", "workers"]);
  });

  test("a file whose shard would take nothing is refused by the re-check, naming the shard", () => {
    const dir = mkdtempSync(join(tmpdir(), "feeder-ops3-shares-"));
    const path = join(dir, "feeder.toml");
    const running = parseConfigText(`[publish]\nsource_id = 0\n${linear(["BTCUSDT"])}`, "a", opts);
    const other = 1 - shardOf("BTCUSDT", 2);
    // Its destination on loopback (the default) is this host's whatever the test host has.
    writeFileSync(path, `shard = "${other}/2"\n[publish]\nsource_id = 0\n${linear(["BTCUSDT"])}`);
    const check = checkReload(path, running);
    expect("problems" in check && check.problems.join("\n")).toMatch(new RegExp(`^shard: "${other}/2" is not a share holding a configured symbol`));
  });
});

describe("a worker the id split leaves empty", () => {
  test("is allowed, and check-config names it in a # note: line (the output still loads); none when every worker has a symbol", async () => {
    const workerOf = (symbol: string) => workerOfId(instrumentIdOf("bybit", "linear", symbol), 2);
    const names = Array.from({ length: 200 }, (_, i) => `S${i}USDT`);
    const onZero = names.filter((s) => workerOf(s) === 0).slice(0, 4);
    const spread = [...onZero.slice(0, 2), ...names.filter((s) => workerOf(s) === 1).slice(0, 2)];
    const dir = mkdtempSync(join(tmpdir(), "feeder-ops3-empty-worker-"));
    const check = async (symbols: string[]) => {
      const path = join(dir, `${symbols.join("-")}.toml`);
      writeFileSync(path, `workers = 2\n${linear(symbols)}`);
      const out: string[] = [];
      const code = await main(["check-config", "-c", path], { out: (t) => out.push(t), err: () => undefined });
      return { code, out: out.join("\n"), path };
    };
    const empty = await check(onZero);
    expect(empty.code).toBe(0);
    expect(empty.out.split("\n").filter((l) => l.startsWith("# note:"))).toEqual([
      "# note: worker 1 takes none of this instance's 4 symbols (workers = 2 split them by instrument id as 4, 0): it will publish heartbeats only; fewer workers would carry the same books",
    ]);
    expect(parseConfigText(empty.out, empty.path, { localAddresses: LOOPBACK_ONLY }).workers).toBe(2);
    const even = await check(spread);
    expect(even.code).toBe(0);
    expect(even.out).not.toContain("# note:");
  });
});

describe("a further depth written with a leading zero", () => {
  test('"BTCUSDT@050" is refused: it is published as BTCUSDT@50, so beside "BTCUSDT@50" it was a second book of one instrument id', () => {
    const problems = configProblems(`[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT", "BTCUSDT@50", "BTCUSDT@050"]\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^venues\.bybit\.linear\.symbols\[2\]: "BTCUSDT@050" is not an upper-case venue symbol/);
    expect(configProblems(`[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT", "BTCUSDT@50"]\n`)).toEqual([]);
  });
});
