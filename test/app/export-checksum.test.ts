/**
 * `feeder export --books` on a venue with an integrity field (OKX's checksum): a book whose checksum disagrees is
 * not written as live. The feeder (and so replay) checks every applied update with the adapter's verify() and marks
 * a book that fails it RESYNCING / checksum_mismatch; export applied the same frames without the check, so its rows
 * said "live" for a book the engine would have refused. In process, a capture of handmade frames, levels from
 * overrides (nothing fetched: REST on 127.0.0.1:9).
 */
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { checksumOfStrings } from "../../src/venues/okx/checksum.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";

const T0_US = 1_733_011_200_000_000;

function snapshot(instId: string, bids: string[][], asks: string[][], checksum: number, seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000), checksum, prevSeqId: -1, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action: "snapshot", data: [data] });
}

function update(instId: string, bids: string[][], asks: string[][], checksum: number, prevSeqId: number, seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000 + 1), checksum, prevSeqId, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action: "update", data: [data] });
}

test("a checksum that disagrees makes the book's rows say resyncing (before: live); a book whose checksum agrees stays live", async () => {
  const dir = makeTempDir("feeder-export-checksum-");
  const config = writeOfflineOkxConfig(dir, { group: "239.255.61.1", port: 46101 }, { "BTC-USDT": "0.1", "ETH-USDT": "0.01" });
  const btcBids = [["97000.1", "0.5", "0", "1"]];
  const btcAsks = [["97000.2", "0.25", "0", "2"]];
  const ethBids = [["3600.01", "1.5", "0", "1"]];
  const ethAsks = [["3600.02", "2", "0", "1"]];
  const w = new CaptureWriter({ dir, prefix: "okx" });
  // ETH-USDT: its checksum is the venue's over the levels as sent; BTC-USDT's snapshot is fine, its update is not.
  w.write(T0_US, "okx", "spot", "spot-0", snapshot("ETH-USDT", ethBids, ethAsks, checksumOfStrings(ethBids, ethAsks), 10));
  w.write(T0_US + 1, "okx", "spot", "spot-0", snapshot("BTC-USDT", btcBids, btcAsks, checksumOfStrings(btcBids, btcAsks), 20));
  const newBids = [["97000.0", "1", "0", "1"]];
  const wrong = checksumOfStrings(btcBids, btcAsks); // the checksum of the book before the update: not the new book's
  w.write(T0_US + 2, "okx", "spot", "spot-0", update("BTC-USDT", newBids, [], wrong, 20, 21));
  w.close();

  let out = "";
  const result = await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(config), depth: 2, everyMs: 0 },
    log: silentLogger,
  });
  expect(result.skipped).toBe(0);
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; tsUs: number; bids: string[][] });
  const eth = rows.filter((r) => r.symbol === "ETH-USDT");
  const btc = rows.filter((r) => r.symbol === "BTC-USDT");
  expect(eth.at(-1)).toMatchObject({ state: "live", bids: [["3600.01", "1.500"]] });
  expect(btc[0]).toMatchObject({ state: "live", tsUs: T0_US + 1 });
  // The update's row, and every row after it, must not say live.
  const afterUpdate = btc.filter((r) => r.tsUs === T0_US + 2);
  expect(afterUpdate.length).toBeGreaterThan(0);
  expect(afterUpdate.map((r) => r.state)).not.toContain("live");
  expect(btc.at(-1)!.state).toBe("resyncing");
});
