/**
 * A recorder killed between blocks (SIGKILL, a crash, a power loss) leaves its last file ending at a whole block,
 * with no stop records (`ws:close`, RECORDER_STOPPED_WHY). Until s-capkill replay and export --books resynced at such
 * a run boundary only when the file ended early, the next began before it or an hour on: a book stayed LIVE from the
 * killed run's last record until the next run's `ws:open` of its connection, and for good when the next run never
 * opened it (its config changed), where live its book went away with the process. Real capture files, written as
 * `feeder record` writes them (a file head after every rotation: CaptureSocketHead).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { replayCaptures, type ReplayResult } from "../../src/app/replay.ts";
import { CaptureSocketHead } from "../../src/app/capture-sockets.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CAPTURE_LOST_URL, CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { CONNECTION_OPENED_URL, SOCKETS_RECORDED_URL } from "../../src/venues/venue.ts";
import { captureBlock } from "../support/capture-block.ts";
import { checksumOfStrings } from "../../src/venues/okx/checksum.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { notingFeeder } from "../support/noting-feeder.ts";

/**
 * One recorder run into `dir`, as `feeder record` writes it: `maxFileBytes` 1 rotates at every block. `older`: as a
 * recorder before 2026-12-06 wrote it (no `ws:sockets` after a `ws:open`, no file heads, no stop records).
 */
function run(dir: string, maxFileBytes = 1 << 30, older = false) {
  const head = new CaptureSocketHead();
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, maxFileBytes, compression: "none", ...(older ? {} : { fileHead: head }) });
  return {
    w,
    open: (us: number, venue: string, market: string, conn: string) => {
      w.writeRest(us, venue, market, conn, CONNECTION_OPENED_URL, "wss://venue.example/ws");
      if (!older) w.writeRest(us, venue, market, conn, SOCKETS_RECORDED_URL, "");
    },
    frame: (us: number, venue: string, market: string, conn: string, frame: string) => w.write(us, venue, market, conn, frame),
    /** The clean stop's records (record.ts recordStop), then the close. */
    stop: (us: number) => {
      w.flush();
      for (const e of head.stopCloses()) w.writeRest(us, e.venue, e.market, e.connection, e.url, e.body ?? "");
      w.close();
    },
    /** Killed after its last block was written: the file ends there, nothing more. */
    kill: () => w.close(),
  };
}

/** A run whose one connection, okx spot-0, opens at 1 000 µs and carries frame "a1" 1 µs later; killed or stopped by the test. */
function spotRun(dir: string, maxFileBytes?: number, older?: boolean) {
  const a = run(dir, maxFileBytes, older);
  a.open(1_000, "okx", "spot", "spot-0");
  a.frame(1_001, "okx", "spot", "spot-0", "a1");
  return a;
}

/** A next run on another connection only (okx swap-0: its config changed), opened at `us`, `frame` 1 µs later. */
function swapRun(dir: string, us: number, frame: string) {
  const r = run(dir);
  r.open(us, "okx", "swap", "swap-0");
  r.frame(us + 1, "okx", "swap", "swap-0", frame);
  return r;
}

/** A replay's feeder that notes the frames fed and the capture gaps. */
async function replayed(files: string[]): Promise<{ calls: string[]; result: ReplayResult }> {
  const { feeder, calls } = notingFeeder();
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  return { calls, result };
}

test("replay: a run killed, then the next run: every book resyncs before the next run's first record, the file named", async () => {
  const dir = makeTempDir("feeder-killed-run-");
  const a = spotRun(dir);
  a.kill();
  // The next run opens another connection only (its config changed): no ws:open of spot-0 would resync its books.
  const b = swapRun(dir, 60_000_000, "b1");
  b.stop(60_000_002);
  const { calls, result } = await replayed([...a.w.files, ...b.w.files]);
  // Before: ["a1", "b1"], spot-0's books LIVE across the next run.
  expect(calls).toEqual(["a1", "gap", "b1"]);
  expect(result.unstopped).toEqual([{ file: a.w.files[0], endsUs: 1_001, next: b.w.files[0] }]);
  expect(result).toMatchObject({ truncated: [], outOfOrder: [], timeJumps: [], lost: [] });
});

test("replay: a clean stop, then the next run: as before, no gap (the stop records closed the books), nothing named", async () => {
  const dir = makeTempDir("feeder-stopped-run-");
  const a = spotRun(dir);
  a.stop(1_002);
  const b = swapRun(dir, 60_000_000, "b1");
  b.kill();
  const { calls, result } = await replayed([...a.w.files, ...b.w.files]);
  expect(calls).toEqual(["a1", "b1"]);
  expect(result.unstopped).toEqual([]);
});

test("replay: rotations within a run are no boundary (each file begins with its head); a kill after them is", async () => {
  const dir = makeTempDir("feeder-killed-rotated-");
  const a = run(dir, 1);
  a.open(1_000, "okx", "spot", "spot-0");
  a.w.flush();
  a.frame(2_000, "okx", "spot", "spot-0", "a1");
  a.w.flush();
  a.frame(3_000, "okx", "spot", "spot-0", "a2");
  a.kill();
  expect(a.w.files.length).toBe(3);
  expect(readCapture(a.w.files[1]!).records[0]!.url).toBe("ws:state"); // the head, as feeder record's
  const b = run(dir);
  b.open(60_000_000, "okx", "spot", "spot-0");
  b.frame(60_000_001, "okx", "spot", "spot-0", "b1");
  b.kill();
  const { calls, result } = await replayed([...a.w.files, ...b.w.files]);
  expect(calls).toEqual(["a1", "a2", "gap", "b1"]);
  expect(result.unstopped).toEqual([{ file: a.w.files[2], endsUs: 3_000, next: b.w.files[0] }]);
});

test("replay: a rotated file that begins with a capture:lost mark (then its head) is no run boundary: the loss alone", async () => {
  const dir = makeTempDir("feeder-lost-rotated-");
  const a = run(dir, 1);
  a.open(1_000, "okx", "spot", "spot-0");
  a.w.flush();
  a.frame(2_000, "okx", "spot", "spot-0", "a1");
  a.w.flush();
  a.frame(3_000, "okx", "spot", "spot-0", "a2");
  a.stop(3_001);
  // As the writer puts a loss before the next block it writes (a full disk refused one): the mark, then the head.
  const rotated = a.w.files[1]!;
  const bytes = readFileSync(rotated);
  const mark = captureBlock([[2_000n * 1000n, "", "", "", "1 records in 1 blocks not written: ENOSPC", CAPTURE_LOST_URL]]);
  writeFileSync(rotated, Buffer.concat([bytes.subarray(0, 8), mark, bytes.subarray(8)]));
  expect(readCapture(rotated).records.map((r) => r.url).slice(0, 2)).toEqual([CAPTURE_LOST_URL, "ws:state"]);
  const { calls, result } = await replayed(a.w.files);
  // Without the mark's exception: the mark taken for a new run's first record, a second gap and "killed?" named.
  expect(calls).toEqual(["gap", "a1", "a2"]);
  expect({ unstopped: result.unstopped, lost: result.lost.length }).toEqual({ unstopped: [], lost: 1 });
});

test("replay: a killed run's file concatenated with the next run's (cat a b > c) is cut there too, atByte named", async () => {
  const dir = makeTempDir("feeder-killed-cat-");
  const a = spotRun(dir);
  a.kill();
  const b = swapRun(dir, 60_000_000, "b1");
  b.kill();
  const first = readFileSync(a.w.files[0]!);
  const cat = join(dir, "cat.fcap");
  writeFileSync(cat, Buffer.concat([first, readFileSync(b.w.files[0]!)]));
  const { calls, result } = await replayed([cat]);
  expect(calls).toEqual(["a1", "gap", "b1"]);
  expect(result.unstopped).toEqual([{ file: cat, endsUs: 1_001, next: cat, atByte: first.byteLength }]);
});

test("replay: an older recorder's run (no heads) rotating with a connection open is no run boundary; its kill is not seen", async () => {
  const dir = makeTempDir("feeder-older-rotated-");
  const a = spotRun(dir, 1, true);
  a.w.flush();
  a.frame(2_000, "okx", "spot", "spot-0", "a2");
  a.w.flush();
  a.frame(3_000, "okx", "spot", "spot-0", "a3");
  a.kill();
  expect(a.w.files.length).toBe(3);
  expect(readCapture(a.w.files[1]!).records[0]!.frame).toBe("a2"); // no head: the rotation looks like a new run's file
  const b = swapRun(dir, 60_000_000, "b1");
  b.stop(60_000_002);
  const { calls, result } = await replayed([...a.w.files, ...b.w.files]);
  // Before: a gap (and an unstopped entry, a warning) at each of its rotations and before the next run.
  expect(calls).toEqual(["a1", "a2", "a3", "b1"]);
  expect(result.unstopped).toEqual([]);
  // The next run's records say it writes heads, but the older run's connection left open is not taken for its own: its
  // clean stop ends a run, not one killed.
  const c = swapRun(dir, 120_000_000, "c1");
  c.kill();
  expect((await replayed([...a.w.files, ...b.w.files, ...c.w.files])).result.unstopped).toEqual([]);
});

test("replay: a head-writing run killed after an older recorder's run is seen; unstopped lists the first 100", async () => {
  const dir = makeTempDir("feeder-killed-many-");
  const older = run(dir, 1 << 30, true);
  older.open(1_000, "okx", "spot", "spot-0");
  older.frame(1_001, "okx", "spot", "spot-0", "o1");
  older.kill();
  // 101 killed runs and a last one, concatenated into one file (cat): a cut before each next run.
  const parts = [readFileSync(older.w.files[0]!)];
  for (let i = 0; i <= 101; i++) {
    const r = run(dir);
    r.open(2_000 + i * 1_000, "okx", "spot", "spot-0");
    r.frame(2_001 + i * 1_000, "okx", "spot", "spot-0", `r${i}`);
    r.kill();
    parts.push(readFileSync(r.w.files[0]!));
  }
  const cat = join(dir, "cat.fcap");
  writeFileSync(cat, Buffer.concat(parts));
  const { calls, result } = await replayed([cat]);
  expect(calls.filter((c) => c === "gap").length).toBe(101);
  expect(calls.slice(0, 4)).toEqual(["o1", "r0", "gap", "r1"]);
  // Before: 102 entries, the older run's boundary the first.
  expect(result.unstopped.length).toBe(100);
  expect(result.unstopped[0]).toMatchObject({ endsUs: 2_001, atByte: parts[0]!.byteLength + parts[1]!.byteLength });
});

const T0_US = 1_733_011_200_000_000;

function okxSnapshot(instId: string, bids: string[][], asks: string[][], seqId: number): string {
  const data = { asks, bids, ts: String(T0_US / 1000), checksum: checksumOfStrings(bids, asks), prevSeqId: -1, seqId };
  return JSON.stringify({ arg: { channel: "books", instId }, action: "snapshot", data: [data] });
}

test("export --books: a run killed, the next run without the book's venue: the book leaves LIVE at the killed run's last record", async () => {
  const dir = makeTempDir("feeder-killed-export-");
  const a = run(dir);
  a.open(T0_US, "okx", "spot", "spot-0");
  a.frame(T0_US + 1, "okx", "spot", "spot-0", okxSnapshot("SOL-USDT", [["240.01", "3", "0", "1"]], [["240.02", "4", "0", "1"]], 30));
  a.kill();
  // The next run records another venue only (config changed): nothing of OKX's books follows.
  const b = run(dir);
  b.open(T0_US + 60_000_000, "bybit", "linear", "linear-0");
  b.frame(T0_US + 60_000_001, "bybit", "linear", "linear-0", "{}");
  b.kill();
  let out = "";
  const result = await exportCaptures([...a.w.files, ...b.w.files], { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(okxConfig(dir)), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; reason: string; tsUs: number });
  // Before: SOL's one row, live, carried into the next run and to the end.
  expect(rows.filter((r) => r.symbol === "SOL-USDT").map((r) => [r.state, r.reason, r.tsUs])).toEqual([
    ["live", "snapshot_applied", T0_US + 1],
    ["resyncing", "sequence_gap", T0_US + 1],
  ]);
  expect(result.unstopped).toEqual([{ file: a.w.files[0], endsUs: T0_US + 1, next: b.w.files[0] }]);
});

test("a killed run's file cut inside a block: replay and export --books name it truncated only (its gap taken), not unstopped too", async () => {
  const dir = makeTempDir("feeder-killed-cut-");
  const a = run(dir);
  a.open(T0_US, "okx", "spot", "spot-0");
  a.frame(T0_US + 1, "okx", "spot", "spot-0", okxSnapshot("SOL-USDT", [["240.01", "3", "0", "1"]], [["240.02", "4", "0", "1"]], 30));
  a.kill();
  writeFileSync(a.w.files[0]!, Buffer.concat([readFileSync(a.w.files[0]!), Buffer.from([9, 9, 9, 9, 9])])); // a block begun
  const b = run(dir);
  b.open(T0_US + 60_000_000, "bybit", "linear", "linear-0");
  b.frame(T0_US + 60_000_001, "bybit", "linear", "linear-0", "{}");
  b.kill();
  const files = [...a.w.files, ...b.w.files];
  const replay = (await replayed(files)).result;
  const exported = await exportCaptures(files, { write: () => undefined, flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(okxConfig(dir)), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  // Export's gap forgets what was open, as replay's: before, export alone also listed the run as unstopped.
  for (const r of [replay, exported]) expect({ truncated: r.truncated.length, unstopped: r.unstopped }).toEqual({ truncated: 1, unstopped: [] });
});

test("export --books: an older recorder's rotation keeps the book LIVE; killed head-writing runs after it: the first 100 listed", async () => {
  const dir = makeTempDir("feeder-older-export-");
  const a = run(dir, 1, true);
  a.open(T0_US, "okx", "spot", "spot-0");
  a.frame(T0_US + 1, "okx", "spot", "spot-0", okxSnapshot("SOL-USDT", [["240.01", "3", "0", "1"]], [["240.02", "4", "0", "1"]], 30));
  a.w.flush();
  a.frame(T0_US + 2, "okx", "spot", "spot-0", "{}");
  a.kill();
  expect(a.w.files.length).toBe(2);
  const parts: Buffer[] = [];
  for (let i = 0; i <= 101; i++) {
    const r = run(dir);
    r.open(T0_US + 10 + i, "bybit", "linear", "linear-0");
    r.kill();
    parts.push(readFileSync(r.w.files[0]!));
  }
  const cat = join(dir, "cat.fcap");
  writeFileSync(cat, Buffer.concat(parts));
  let out = "";
  const result = await exportCaptures([...a.w.files, cat], { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(okxConfig(dir)), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as { symbol: string; state: string; reason: string; tsUs: number });
  // LIVE across the rotation, out at the first killed run's end (every book resyncs there). Before: resyncing at
  // T0_US + 1, the older run's rotation taken for a new run's start.
  expect(rows.filter((r) => r.symbol === "SOL-USDT").map((r) => [r.state, r.reason, r.tsUs])).toEqual([
    ["live", "snapshot_applied", T0_US + 1],
    ["resyncing", "sequence_gap", T0_US + 10],
  ]);
  expect(result.unstopped.length).toBe(100);
  expect(result.unstopped[0]).toMatchObject({ file: cat, endsUs: T0_US + 10, next: cat, atByte: parts[0]!.byteLength });
});

/** An OKX config with one book, SOL-USDT spot, its REST and WebSocket on a closed loopback port. */
function okxConfig(dir: string): string {
  return writeOfflineOkxConfig(dir, { group: "239.255.61.4", port: 46104 }, { "SOL-USDT": "0.01" });
}
