/**
 * `export --books -c FILE` reads the file for its venues, symbols and instruments: nothing is published from it. It
 * was checked as `run` checks it, so the recorder's own file, exported on another host (a research machine), was
 * refused, exit 2, for what only a publisher on the recording host needs: its destination's interface ("not an
 * address of this host"), its key file, its retransmission server's address, its workers (which record ignores)
 * against its symbols, its shard's source id. Those are no longer checked for export; the file's own mistakes still are.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

/** The recording host's file: its interface and server on 10.99.1.2, a key file there, 4 workers for 2 symbols, a shard. */
function recorderToml(dir: string): string {
  return [
    'log = { level = "warn", format = "json" }',
    "http = { enabled = false }",
    "workers = 4",
    'shard = "1/2"',
    "[publish]",
    `auth_key_file = "${join(dir, "no-such-dir", "feed.key")}"`,
    'retransmit = { listen = "10.99.1.2:31900" }',
    "[[publish.destinations]]",
    'group = "239.1.1.1"',
    "port = 40000",
    'interface = "10.99.1.2"',
    "ttl = 1",
    "[venues.bybit]",
    'ws_url = "ws://127.0.0.1:9/v5/public"',
    'rest_url = "http://127.0.0.1:9"',
    "[venues.bybit.linear]",
    "depth = 1000",
    'symbols = ["XRPUSDT", "ADAUSDT"]',
    ...["XRPUSDT", "ADAUSDT"].flatMap((s) => [`[venues.bybit.overrides."linear:${s}"]`, 'tick_size = "0.0001"', 'lot_size = "1"']),
    "",
  ].join("\n");
}

test("the loader: what only a publisher here needs is not checked with publishesHere false; the file's own mistakes are", () => {
  const dir = makeTempDir("feeder-export-books-config-");
  const toml = recorderToml(dir);
  const asRun = configProblems(toml, { localAddresses: LOOPBACK_ONLY });
  for (const key of ["publish.auth_key_file", "publish.retransmit.listen", "publish.destinations[0].interface"]) {
    expect(asRun.some((p) => p.includes(key)), `${key} in ${JSON.stringify(asRun)}`).toBe(true);
  }
  expect(configProblems(toml, { localAddresses: LOOPBACK_ONLY, publishesHere: false })).toEqual([]);
  // Workers and shard are checked once the addresses are the host's (a file with host problems is not counted).
  const local = toml.replaceAll("10.99.1.2", "127.0.0.1").replace(/auth_key_file = .*\n/, "");
  expect(configProblems(local, { localAddresses: LOOPBACK_ONLY }).join("\n")).toMatch(/^(workers|shard|publish\.source_id): /m);
  expect(configProblems(local, { localAddresses: LOOPBACK_ONLY, publishesHere: false })).toEqual([]);
  // Mistakes of the file itself are still named.
  const wrong = toml.replace('interface = "10.99.1.2"', 'interface = "239.1.1.1"').replace("ttl = 1", "ttl = 1\nttl_typo = 2");
  expect(configProblems(wrong, { localAddresses: LOOPBACK_ONLY, publishesHere: false })).toEqual([
    expect.stringMatching(/^publish\.destinations\[0\]\.ttl_typo: unknown key/),
    expect.stringMatching(/^publish\.destinations\[0\]\.interface: "239\.1\.1\.1" is not the IPv4 address of a local interface.*multicast group/),
  ]);
});

test("feeder export --books with the recorder's file on another host: the books exported, exit 0 (before: exit 2, 'not an address of this host')", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-books-config-");
  const config = join(dir, "record.toml");
  writeFileSync(config, recorderToml(dir));
  const { file } = writeXrpCapture(dir);
  const out = join(dir, "books.csv");
  const err: string[] = [];
  const code = await main(["export", "--books", "-c", config, "--depth", "1", "--format", "csv", "-o", out, file], { out: () => undefined, err: (t) => err.push(t) });
  expect({ code, err }).toEqual({ code: 0, err: [] });
  const lines = (await Bun.file(out).text()).trim().split("\n");
  expect(lines[0]).toMatch(/^ts_us,ts_exchange_us,/);
  expect(lines.slice(1).filter((l) => l.includes(",bybit,linear,XRPUSDT,live,")).length).toBeGreaterThan(0);
});
