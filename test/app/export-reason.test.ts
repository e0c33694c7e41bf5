/**
 * `feeder export --books` rows say why a book is not live (`reason`, the wire's status reason: sequence_gap,
 * checksum_mismatch, …) in both formats, and write a timestamp the venue did not send (0 on the wire: "unknown") as
 * null (jsonl) or an empty cell (csv), not as 0; a row of a book not live carries no levels (until 2026-12-07 its last
 * levels, which read as the book in a table without the state column). Before, rows carried `state` only, and OKX's rows had
 * tsEventUs 0 (OKX sends no matching-engine time), read by research tools as 1970-01-01. In process, a capture of
 * handmade OKX frames, levels from overrides (nothing fetched: REST on 127.0.0.1:9).
 */
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { checksumOfStrings } from "../../src/venues/okx/checksum.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";

const T0_US = 1_733_011_200_000_000;

/** An OKX `books` frame; `tsMs` undefined: no `ts` field (the venue's time unknown). */
function frame(action: "snapshot" | "update", instId: string, bids: string[][], asks: string[][], checksum: number, prevSeqId: number, seqId: number, tsMs?: number): string {
  const data = { asks, bids, ...(tsMs === undefined ? {} : { ts: String(tsMs) }), checksum, prevSeqId, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action, data: [data] });
}

const btcBids = [["97000.1", "0.5", "0", "1"]];
const btcAsks = [["97000.2", "0.25", "0", "2"]];
const ethBids = [["3600.01", "1.5", "0", "1"]];
const ethAsks = [["3600.02", "2", "0", "1"]];
const solBids = [["240.01", "3", "0", "1"]];
const solAsks = [["240.02", "4", "0", "1"]];

function capture(dir: string): { config: string; files: string[] } {
  const config = writeOfflineOkxConfig(dir, { group: "239.255.61.2", port: 46102 }, { "BTC-USDT": "0.1", "ETH-USDT": "0.01", "SOL-USDT": "0.01" });
  const w = new CaptureWriter({ dir, prefix: "okx" });
  const tsMs = T0_US / 1000;
  // ETH-USDT: a snapshot without `ts`; then an update whose prevSeqId is not the snapshot's seqId (a lost update).
  w.write(T0_US, "okx", "spot", "spot-0", frame("snapshot", "ETH-USDT", ethBids, ethAsks, checksumOfStrings(ethBids, ethAsks), -1, 10));
  w.write(T0_US + 1, "okx", "spot", "spot-0", frame("update", "ETH-USDT", [], [], checksumOfStrings(ethBids, ethAsks), 11, 12, tsMs + 1));
  // BTC-USDT: a snapshot with `ts`, then an update whose checksum is not the new book's.
  w.write(T0_US + 2, "okx", "spot", "spot-0", frame("snapshot", "BTC-USDT", btcBids, btcAsks, checksumOfStrings(btcBids, btcAsks), -1, 20, tsMs));
  w.write(T0_US + 3, "okx", "spot", "spot-0", frame("update", "BTC-USDT", [["97000.0", "1", "0", "1"]], [], checksumOfStrings(btcBids, btcAsks), 20, 21, tsMs + 3));
  // SOL-USDT: stays live.
  w.write(T0_US + 4, "okx", "spot", "spot-0", frame("snapshot", "SOL-USDT", solBids, solAsks, checksumOfStrings(solBids, solAsks), -1, 30, tsMs + 4));
  w.close();
  return { config, files: w.files };
}

async function exportBooks(files: string[], config: string, format: "jsonl" | "csv"): Promise<string[]> {
  let out = "";
  const result = await exportCaptures(files, { write: (c) => void (out += c), flush: () => undefined }, {
    format,
    books: { config: loadConfigFile(config), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  expect(result.skipped).toBe(0);
  return out.trim().split("\n");
}

test("rows name why a book is not live (sequence_gap, checksum_mismatch) and leave times the venue did not send empty, in jsonl and csv", async () => {
  const { config, files } = capture(makeTempDir("feeder-export-reason-"));
  const rows = (await exportBooks(files, config, "jsonl")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const pick = (r: Record<string, unknown>) => [r.symbol, r.state, r.reason, r.tsExchangeUs, r.tsEventUs];
  const tsUs = T0_US;
  expect(rows.map(pick)).toEqual([
    ["ETH-USDT", "live", "snapshot_applied", null, null],
    ["ETH-USDT", "resyncing", "sequence_gap", null, null],
    ["BTC-USDT", "live", "snapshot_applied", tsUs, null],
    ["BTC-USDT", "resyncing", "checksum_mismatch", tsUs + 3000, null],
    ["SOL-USDT", "live", "snapshot_applied", tsUs + 4000, null],
  ]);
  // A row of a book not live carries no levels (its state says so; a table without the state column would read the
  // kept levels as the book): before, ETH's gap row and BTC's checksum row held their last levels.
  expect(rows.map((r) => [r.state, (r.bids as unknown[]).length, (r.asks as unknown[]).length])).toEqual([
    ["live", 1, 1],
    ["resyncing", 0, 0],
    ["live", 1, 1],
    ["resyncing", 0, 0],
    ["live", 1, 1],
  ]);
  // The key order is the documented one.
  expect(Object.keys(rows[0]!)).toEqual(["tsUs", "tsExchangeUs", "tsEventUs", "venue", "market", "symbol", "state", "reason", "venueSeq", "bids", "asks"]);

  const [header, ...lines] = await exportBooks(files, config, "csv");
  const cols = header!.split(",");
  expect(cols).toEqual(["ts_us", "ts_exchange_us", "ts_event_us", "venue", "market", "symbol", "state", "reason", "venue_seq", "bid_px_1", "bid_qty_1", "ask_px_1", "ask_qty_1"]);
  const cells = lines.map((l) => l.split(","));
  expect(cells.every((c) => c.length === cols.length)).toBe(true);
  const at = (name: string) => cols.indexOf(name);
  expect(cells.map((c) => [c[at("symbol")], c[at("state")], c[at("reason")], c[at("ts_exchange_us")], c[at("ts_event_us")]])).toEqual(
    rows.map((r) => [r.symbol, r.state, r.reason, r.tsExchangeUs === null ? "" : String(r.tsExchangeUs), ""]),
  );
  // csv: a book not live has every level cell empty, state and reason kept.
  const levelCells = (c: string[]) => c.slice(at("bid_px_1")).join("|");
  expect(cells.map((c) => [c[at("state")], levelCells(c)])).toEqual([
    ["live", "3600.01|1.500|3600.02|2.000"],
    ["resyncing", "|||"],
    ["live", "97000.1|0.500|97000.2|0.250"],
    ["resyncing", "|||"],
    ["live", "240.01|3.000|240.02|4.000"],
  ]);
});
