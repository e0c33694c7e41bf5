/**
 * A capture record this version cannot read (another version's kind, or a receive time no recorder writes) is skipped
 * and counted, and replay and `export --books` resync the books there, as at a file cut short: it may have been a
 * frame. Before, they went on across it, and a book whose change it held stayed LIVE at levels live had left.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { captureBlock } from "../support/capture-block.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";
import { notingFeeder, okxInstId } from "../support/noting-feeder.ts";
import { exportCaptures } from "../../src/app/export.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { checksumOfStrings } from "../../src/venues/okx/checksum.ts";

const T0_US = 1_733_011_200_000_000;

function okxFrame(action: "snapshot" | "update", instId: string, bids: string[][], asks: string[][], prevSeqId: number, seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000), checksum: checksumOfStrings(bids, asks), prevSeqId, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action, data: [data] });
}

const rec = (i: number, frame: string) => [BigInt(T0_US + i) * 1000n, "okx", "spot", "spot-0", frame];
const sol = rec(0, okxFrame("snapshot", "SOL-USDT", [["240.01", "3", "0", "1"]], [["240.02", "4", "0", "1"]], -1, 30));
/** SOL's update as a later version might write it (a seventh field): unreadable here. */
const solUnread = [...rec(1, okxFrame("update", "SOL-USDT", [["240.01", "0", "0", "0"]], [], 30, 31)), "", { v: 2 }];
/** A receive time below 0: no recorder writes one. */
const badTime = [-1n, "okx", "spot", "spot-0", "{}"];
const eth = (i: number) => rec(i, okxFrame("snapshot", "ETH-USDT", [["3600.01", "1.5", "0", "1"]], [["3600.02", "2", "0", "1"]], -1, 10 + i));

function file(dir: string, name: string, blocks: unknown[][]): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([Buffer.from("FDRCAP01"), ...blocks.map(captureBlock)]));
  return path;
}

test("replay takes a capture gap at each place records were unread: in a block, across blocks, at a file's end", async () => {
  const dir = makeTempDir("feeder-capture-unknown-replay-");
  const files = [file(dir, "a.fcap", [[sol, solUnread, eth(2)], [badTime], [eth(3), badTime]]), file(dir, "b.fcap", [[eth(4)]])];
  const { feeder, calls } = notingFeeder({ frameLabel: okxInstId });
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  expect(calls).toEqual(["SOL-USDT", "gap", "ETH-USDT", "gap", "ETH-USDT", "gap", "ETH-USDT"]);
  expect(result).toMatchObject({ frames: 4, unknownRecords: [{ file: files[0], count: 3 }] });
});

/** export --books of `files` (OKX spot ETH-USDT and SOL-USDT, depth 1): the summary and SOL-USDT's rows. */
async function exportSol(dir: string, files: string[]) {
  const config = writeOfflineOkxConfig(dir, { group: "239.255.61.3", port: 46103 }, { "ETH-USDT": "0.01", "SOL-USDT": "0.01" });
  let out = "";
  const result = await exportCaptures(files, { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(config), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; reason: string; tsUs: number });
  return { result, sol: rows.filter((r) => r.symbol === "SOL-USDT").map((r) => [r.state, r.reason, r.tsUs]) };
}

test("export --books: the book whose update was unread leaves LIVE there (resyncing / sequence_gap), as in replay", async () => {
  const dir = makeTempDir("feeder-capture-unknown-export-");
  const files = [file(dir, "a.fcap", [[sol, solUnread, eth(2)]])];
  const { result, sol: rows } = await exportSol(dir, files);
  expect(result).toMatchObject({ skipped: 0, unknownRecords: [{ file: files[0], count: 1 }] });
  // Before: one row, live, and none after it (its levels from before the unread update).
  expect(rows).toEqual([
    ["live", "snapshot_applied", T0_US],
    ["resyncing", "sequence_gap", T0_US],
  ]);
});

test("export --books: records unread at a file's end, another file after it: the book leaves LIVE before that file", async () => {
  const dir = makeTempDir("feeder-capture-unknown-export-end-");
  const files = [file(dir, "a.fcap", [[sol, solUnread]]), file(dir, "b.fcap", [[eth(2)]])];
  const { result, sol: rows } = await exportSol(dir, files);
  expect(result).toMatchObject({ skipped: 0, unknownRecords: [{ file: files[0], count: 1 }] });
  // No record of the first file follows the unread one to carry the mark (unreadBefore): the reader's unreadAtEnd does.
  expect(rows).toEqual([
    ["live", "snapshot_applied", T0_US],
    ["resyncing", "sequence_gap", T0_US],
  ]);
});
