/**
 * A capture file that ends early (here a block whose checksum fails, bit rot) lost the records after it; when another
 * file follows, every LIVE book leaves LIVE there (RESYNCING / sequence_gap) and resyncs from the capture's next
 * snapshot, in replay and in `export --books`: whatever the lost records held, the next file's frames need not show it. Before, the books
 * stayed LIVE at their levels before the damage: `export --every-ms` wrote the old levels as live for every grid time
 * of the stretch lost. The genuine Bybit XRPUSDT frames, split over two files; in process.
 */
import { expect, test } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportCaptures } from "../../src/app/export.ts";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { ACK, XRP_LINES, XRP_T0_US, writeXrpConfig } from "../support/xrp-capture.ts";

const dir = makeTempDir("feeder-codec8-gap-");

/** Lines [from, to) of the recording, 1 ms apart from XRP_T0_US + from ms, in blocks of ~3 KB. */
function capture(name: string, from: number, to: number, ack: boolean): string {
  const w = new CaptureWriter({ dir: join(dir, name), prefix: "feeder", flushBytes: 3_000 });
  if (ack) w.write(XRP_T0_US - 500, "bybit", "linear", "linear-0", ACK);
  for (let i = from; i < to; i++) w.write(XRP_T0_US + i * 1000, "bybit", "linear", "linear-0", XRP_LINES[i]!);
  w.close();
  return w.files[0]!;
}

const first = capture("a", 0, 25, true);
const second = capture("b", 25, 45, false);
/** The first file with a byte of its third block flipped: reading stops there. */
const damaged = join(dir, "damaged.fcap");
{
  const bytes = new Uint8Array(readFileSync(first));
  const dv = new DataView(bytes.buffer);
  let off = 8;
  for (let b = 0; b < 2; b++) off += 8 + dv.getUint32(off, true);
  bytes[off + 8 + 5]! ^= 0x10;
  writeFileSync(damaged, bytes);
}

test("export --books --every-ms: after the damage no row says live with levels the intact capture does not have there", async () => {
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(82)));
  const rows = async (files: string[]) => {
    let text = "";
    const result = await exportCaptures(files, { write: (c) => void (text += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 5, everyMs: 1 }, log: silentLogger });
    return { result, rows: text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l)) };
  };
  const intact = await rows([first, second]);
  const cut = await rows([damaged, second]);
  expect(cut.result.truncated).toEqual([expect.objectContaining({ file: damaged, why: expect.stringMatching(/^checksum mismatch in block at byte \d+$/) })]);
  const intactAt = new Map(intact.rows.map((r) => [r.tsUs, r]));
  const live = cut.rows.filter((r) => r.state === "live");
  // Rows before the damage are there and live; none after it shows levels other than the intact ones at that time.
  expect(live.length).toBeGreaterThan(3);
  for (const r of live) expect({ ts: r.tsUs, bids: r.bids, asks: r.asks }).toEqual({ ts: r.tsUs, bids: intactAt.get(r.tsUs).bids, asks: intactAt.get(r.tsUs).asks });
  const lastLive = live.at(-1)!.tsUs;
  const after = cut.rows.filter((r) => r.tsUs > lastLive);
  expect(after.length).toBeGreaterThan(10);
  expect(after.every((r) => r.state === "resyncing")).toBe(true);
  expect(after[0]).toMatchObject({ reason: "sequence_gap", tsUs: lastLive + 1000 });
});

/** A stand-in Feeder that records replay's calls: `frame@ts`, `url@ts` for a REST or socket record, `gap`. */
function callRecorder(): { calls: string[]; feeder: Feeder } {
  const calls: string[] = [];
  const feeder = {
    ingest: (_v: string, _m: string, _c: string, _f: string, ts: number) => (calls.push(`frame@${ts}`), true),
    ingestRest: (_v: string, _m: string, _c: string, url: string, _b: string, ts: number) => (calls.push(`${url}@${ts}`), true),
    captureGap: () => void calls.push("gap"),
  } as unknown as Feeder;
  return { calls, feeder };
}

test("replay: the books leave LIVE right after the damaged file's last record, before the next file's first; not after the last file", async () => {
  const { calls, feeder } = callRecorder();
  const result = await replayCaptures(feeder, [damaged, second, damaged], { pace: "fast" });
  expect(result.truncated.map((t) => t.file)).toEqual([damaged, damaged]);
  const gaps = calls.flatMap((c, i) => (c === "gap" ? [i] : []));
  // The second: the last file begins before the second one ends (out of order, below), not the end of the last file.
  expect(gaps).toHaveLength(2);
  expect(calls[gaps[0]! + 1]).toBe(`frame@${XRP_T0_US + 25_000}`);
  expect(calls[gaps[1]! + 1]).toBe(`frame@${XRP_T0_US - 500}`);
  expect(calls.at(-1)).not.toBe("gap");
  expect(calls.slice(0, gaps[0]!).every((c) => c.startsWith("frame@") && Number(c.slice(6)) < XRP_T0_US + 25_000)).toBe(true);
});

test("replay through the Feeder: the book is RESYNCING / sequence_gap when the next file's first frame comes", async () => {
  const feeder = new Feeder({ config: loadConfigFile(writeXrpConfig(dir, uniqueDestination(83))), log: silentLogger, replay: true });
  await feeder.start();
  try {
    const states: string[] = [];
    const ingest = feeder.ingest.bind(feeder);
    feeder.ingest = (venue, market, connection, frame, tsRecvUs) => {
      if (tsRecvUs === XRP_T0_US + 25_000) states.push(`${BOOK_STATE_NAMES[feeder.books()[0]!.state]}/${STATUS_REASON_NAMES[feeder.books()[0]!.reason]}`);
      return ingest(venue, market, connection, frame, tsRecvUs);
    };
    await replayCaptures(feeder, [damaged, second], { pace: "fast" });
    expect(states).toEqual(["resyncing/sequence_gap"]);
  } finally {
    await feeder.stop();
  }
});

/**
 * A file that begins before the previous one's last record (files given out of time order, or two recorders'
 * captures) is not its continuation: the same damage point in replay and export --books. Until s-rd5a neither took
 * one there unless it began an hour or more back (a time jump): the books stayed LIVE into the earlier records, and
 * the requests still unanswered were matched to answers of the other file's sockets. Here a copy of the first file
 * given after it (as a second recorder's capture of the same run would be).
 */
const again = capture("c", 0, 25, true);

test("out of order: replay takes the gap right before the earlier file's first record, once", async () => {
  const { calls, feeder } = callRecorder();
  const result = await replayCaptures(feeder, [first, again], { pace: "fast" });
  expect(result.outOfOrder).toEqual([{ file: again, startsUs: XRP_T0_US - 500, previousEndsUs: XRP_T0_US + 24_000 }]);
  expect(calls.filter((c) => c === "gap")).toHaveLength(1);
  expect(calls[calls.indexOf("gap") - 1]).toBe(`frame@${XRP_T0_US + 24_000}`);
  expect(calls[calls.indexOf("gap") + 1]).toBe(`frame@${XRP_T0_US - 500}`);
});

test("out of order: export --books makes the live book resyncing / sequence_gap at the previous record, named in outOfOrder", async () => {
  const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(84)));
  let text = "";
  const result = await exportCaptures([first, again], { write: (c) => void (text += c), flush: () => undefined }, { format: "jsonl", books: { config, depth: 5, everyMs: 0 }, log: silentLogger });
  expect(result.outOfOrder).toEqual([{ file: again, startsUs: XRP_T0_US - 500, previousEndsUs: XRP_T0_US + 24_000 }]);
  const rows = text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { tsUs: number; state: string; reason: string });
  const gapAt = rows.findIndex((r) => r.state === "resyncing");
  expect(rows[gapAt]).toMatchObject({ tsUs: XRP_T0_US + 24_000, reason: "sequence_gap" });
  expect(rows.slice(0, gapAt).every((r) => r.state === "live" && r.tsUs <= XRP_T0_US + 24_000)).toBe(true);
  expect(rows.at(-1)).toMatchObject({ state: "live" }); // the earlier file's snapshot makes it LIVE again
});
