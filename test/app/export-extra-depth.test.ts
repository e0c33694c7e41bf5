/**
 * `feeder export --books` with a further depth of a symbol ("SYMBOL@depth", as `run` and `replay` take it): the
 * book of that depth is rebuilt and written as the instrument `SYMBOL@depth`. Before, export passed "XRPUSDT@1000"
 * to the adapter as a venue symbol at the market's depth: "cannot resolve instruments for linear:XRPUSDT@1000",
 * exit 1, for a configuration replay runs. In process, the genuine Bybit XRPUSDT recording, instruments from overrides.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

async function books(config: string, file: string): Promise<{ symbol: string; state: string; bids: string[][]; asks: string[][] }[]> {
  let out = "";
  const r = await exportCaptures([file], { write: (c) => void (out += c), flush: () => undefined }, { format: "jsonl", books: { config: loadConfigFile(config), depth: 3, everyMs: 0 }, log: silentLogger });
  expect(r.skipped).toBe(0);
  return out.trim().split("\n").map((l) => JSON.parse(l));
}

test("a config's SYMBOL@depth is that depth's book, named so, with the levels the plain symbol's book has at that depth", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-extra-depth-");
  const plain = writeXrpConfig(dir, { group: "239.255.61.2", port: 46102 }); // linear depth 1000, XRPUSDT
  const extra = join(dir, "extra.toml");
  // The market's depth 50, XRPUSDT's further depth 1000: the capture's topic orderbook.1000.XRPUSDT is that book's.
  writeFileSync(extra, readFileSync(plain, "utf8").replace("depth = 1000", "depth = 50").replace('symbols = ["XRPUSDT"]', 'symbols = ["XRPUSDT@1000"]'));
  const { file } = writeXrpCapture(dir);
  const want = await books(plain, file);
  const got = await books(extra, file);
  expect(got).toHaveLength(want.length);
  expect(got.every((r) => r.symbol === "XRPUSDT@1000")).toBe(true);
  expect(got.map(({ state, bids, asks }) => ({ state, bids, asks }))).toEqual(want.map(({ state, bids, asks }) => ({ state, bids, asks })));
  expect(got.at(-1)!.state).toBe("live");
});
