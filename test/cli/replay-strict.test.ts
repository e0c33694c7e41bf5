/**
 * `feeder replay` of a capture cut off mid-block (a recorder that crashed or was killed -9 leaves its last file so):
 * the frames before the break are replayed, exit 0, and the summary and the warning say where reading stopped
 * (atByte) and how much of the file was left unread (bytesLeft). With --strict the same replay exits 3, so a
 * script can tell it from a replay of whole files (exit 0 with --strict too). Before: no byte offset but inside
 * the `why` text, and no way to get anything but exit 0 (--strict was an unknown flag: exit 2). Also (s-wsreq) the
 * summary's malformedRecords: the connection records the replay ignored as malformed.
 */
import { describe, expect, test, vi } from "vitest";
import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { CAPTURE_LOST_URL, CaptureWriter } from "../../src/record/capture.ts";
import { XRP_LINES, XRP_T0_US, writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

async function replay(args: string[]): Promise<{ code: number; summary: Record<string, unknown> | undefined; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["replay", ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, summary: out.length > 0 ? JSON.parse(out.at(-1)!) : undefined, err };
}

/** `replay` with what it writes to process.stderr (the --strict error line goes there) captured. */
async function replayWithStderr(args: string[]): Promise<{ r: Awaited<ReturnType<typeof replay>>; stderr: string[] }> {
  const stderr: string[] = [];
  const spy = vi.spyOn(process.stderr, "write").mockImplementation(((text: string, done?: () => void) => {
    stderr.push(String(text));
    done?.();
    return true;
  }) as typeof process.stderr.write);
  try {
    return { r: await replay(args), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** The XRP config on its own destination, with no start-up listen (1.5 s otherwise). */
function quickXrpConfig(dir: string, destination: number): string {
  const config = writeXrpConfig(dir, uniqueDestination(destination));
  writeFileSync(config, readFileSync(config, "utf8").replace("[publish]\n", "[publish]\nstartup_listen_ms = 0\n"));
  return config;
}

describe("feeder replay of a capture cut off mid-block", { timeout: 60_000 }, () => {
  const dir = makeTempDir("feeder-replay-strict-");
  const config = writeXrpConfig(dir, uniqueDestination(381));
  mkdirSync(join(dir, "whole"));
  mkdirSync(join(dir, "cut"));
  const { file: whole, frames } = writeXrpCapture(join(dir, "whole"));
  const { file: cut } = writeXrpCapture(join(dir, "cut"));
  const size = statSync(cut).size;
  truncateSync(cut, size - 100);

  test("exit 0; the summary says where reading stopped and how many bytes were left unread", async () => {
    const r = await replay(["--config", config, cut]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const t = (r.summary!.truncated as { file: string; why: string; atByte: number; bytesLeft: number }[])[0]!;
    expect(t).toEqual({ file: cut, why: `incomplete block at byte ${t.atByte} (${t.bytesLeft - 8} of ${t.bytesLeft + 92} bytes)`, atByte: expect.any(Number), bytesLeft: expect.any(Number) });
    expect(t.atByte + t.bytesLeft).toBe(size - 100);
    expect(r.summary!.frames).toBeGreaterThan(0);
    expect(r.summary!.frames).toBeLessThan(frames.length);
  });

  test("--strict: the cut capture exits 3 (after the same summary); whole files exit 0", async () => {
    const r = await replay(["--config", config, "--strict", whole, cut]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(3);
    expect((r.summary!.truncated as { file: string }[]).map((t) => t.file)).toEqual([cut]);
    const w = await replay(["--config", config, "--strict", whole]);
    expect(w).toMatchObject({ code: 0, err: [] });
    expect(w.summary).toMatchObject({ frames: frames.length, truncated: [] });
  });

  test("--strict: the cut capture joined with a whole one (cat): the whole one replayed, the bytes skipped named, exit 3", async () => {
    const joined = join(dir, "joined.fcap");
    const cutBytes = readFileSync(cut);
    writeFileSync(joined, Buffer.concat([cutBytes, readFileSync(whole)]));
    const r = await replay(["--config", config, "--strict", joined]);
    // Before: exit 3 for the cut only, the whole capture's frames not replayed (truncated, bytesLeft its size and more).
    expect(r.code).toBe(3);
    expect(r.summary).toMatchObject({ truncated: [], resynced: [{ file: joined, resumedAt: cutBytes.byteLength }] });
    expect(r.summary!.frames).toBeGreaterThan(frames.length);
  });

  test("--strict: a file cut off inside its header (a recorder stopped as it opened it) lost no record: exit 0, named", async () => {
    const empty = join(dir, "empty.fcap");
    writeFileSync(empty, "FDRC");
    const r = await replay(["--config", config, "--strict", whole, empty]);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ frames: frames.length, truncated: [{ file: empty, atByte: 4, bytesLeft: 0 }] });
  });
});

describe("feeder replay's summary counts the connection records it ignored as malformed", { timeout: 60_000 }, () => {
  // Until s-wsreq a malformed ws:asked was counted in a log line only, a malformed ws:req not at all.
  test("a ws:req that is not a request live writes and a head's ws:asked that does not parse: malformedRecords 2", async () => {
    const dir = makeTempDir("feeder-replay-malformed-");
    const config = quickXrpConfig(dir, 382);
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    const conn = "conn0.linear"; // the config's one connection
    w.writeRest(XRP_T0_US, "bybit", "linear", conn, "ws:asked", "{not json");
    w.writeRest(XRP_T0_US + 1, "bybit", "linear", conn, 'ws:req ["1","subscribe",["orderbook.1000.XRPUSDT"]]', "");
    w.writeRest(XRP_T0_US + 2, "bybit", "linear", conn, 'ws:req [1,"subscribe",["orderbook.1000.XRPUSDT"]]', "");
    XRP_LINES.slice(0, 5).forEach((l, i) => w.write(XRP_T0_US + 10 + i, "bybit", "linear", conn, l));
    w.close();
    const r = await replay(["--config", config, w.files[0]!]);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ frames: 8, skipped: 0, malformedRecords: 2 });
  });
});

describe("feeder replay --strict of a capture holding capture:lost marks", { timeout: 60_000 }, () => {
  // Until 2026-12-07 it exited 0: the records the recorder could not write (a full disk) were named in the summary's
  // lost, but --strict did not count them, and nothing said how many.
  test("exit 3, and one error line names how many records were lost and where", async () => {
    const dir = makeTempDir("feeder-replay-strict-lost-");
    const config = quickXrpConfig(dir, 385);
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    XRP_LINES.slice(0, 3).forEach((l, i) => w.write(XRP_T0_US + i, "bybit", "linear", "conn0.linear", l));
    w.writeRest(XRP_T0_US + 5, "", "", "", CAPTURE_LOST_URL, "7 records in 2 blocks not written: ENOSPC: no space left on device");
    XRP_LINES.slice(3, 5).forEach((l, i) => w.write(XRP_T0_US + 6 + i, "bybit", "linear", "conn0.linear", l));
    w.close();
    const file = w.files[0]!;
    const { r, stderr } = await replayWithStderr(["--config", config, "--strict", file]);
    expect(r.summary).toMatchObject({ frames: 5, truncated: [], unknownRecords: [], lost: [{ file, atUs: XRP_T0_US + 5 }] });
    expect(r.code).toBe(3);
    const line = stderr.find((l) => l.includes("replay --strict: not every record of the captures was replayed"));
    expect(line).toBeDefined();
    expect(line).toContain('"lostRecords":7');
    expect(line).toContain(`"lostAt":[{"file":${JSON.stringify(file)},"atUs":${XRP_T0_US + 5}}]`);
  });

  // lostRecords was summed from the bounded list of marks (the first 100): beyond them the total was understated.
  test("past the 100 marks listed, the summary and the error line count every mark's records", async () => {
    const dir = makeTempDir("feeder-replay-strict-lost-many-");
    const config = quickXrpConfig(dir, 386);
    const w = new CaptureWriter({ dir, prefix: "feeder" });
    XRP_LINES.slice(0, 3).forEach((l, i) => w.write(XRP_T0_US + i, "bybit", "linear", "conn0.linear", l));
    for (let i = 0; i < 101; i++) w.writeRest(XRP_T0_US + 5 + i, "", "", "", CAPTURE_LOST_URL, "2 records in 1 blocks not written: ENOSPC: no space left on device");
    w.close();
    const { r, stderr } = await replayWithStderr(["--config", config, "--strict", w.files[0]!]);
    expect(r.code).toBe(3);
    const line = stderr.find((l) => l.includes("replay --strict: not every record of the captures was replayed"));
    expect(line).toContain('"lostRecords":202'); // 200 before
    expect(line).toContain('"lostMarks":101');
    expect((r.summary!.lost as unknown[]).length).toBe(100); // the list stays bounded
    expect(r.summary).toMatchObject({ lostTotal: 101, lostRecords: 202 });
  });
});

describe("feeder replay --strict of a file resynced more than 100 times", { timeout: 60_000 }, () => {
  // The error line's skippedBytes is built from the summary's resynced, the first 100: until 2026-12-07 nothing in it
  // said how many skips there were (lostRecords/lostMarks count all marks, lostAt lists the first 100).
  test("the error line counts every skip (resyncedTotal); skippedBytes stays the first 100", async () => {
    const dir = makeTempDir("feeder-replay-strict-resync-many-");
    const config = quickXrpConfig(dir, 387);
    const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
    w.write(XRP_T0_US, "bybit", "linear", "conn0.linear", XRP_LINES[0]!);
    w.close();
    const good = readFileSync(w.files[0]!);
    const junk = Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]); // a block length past the bound: a bad block
    const parts: Buffer[] = [good];
    for (let i = 0; i < 101; i++) parts.push(junk, good);
    const file = join(dir, "many.fcap");
    writeFileSync(file, Buffer.concat(parts));
    const { r, stderr } = await replayWithStderr(["--config", config, "--strict", file]);
    expect(r.code).toBe(3);
    expect(r.summary).toMatchObject({ resyncedTotal: 101 });
    const line = stderr.find((l) => l.includes("replay --strict: not every record of the captures was replayed"));
    expect(line).toContain('"resyncedTotal":101');
    expect(JSON.parse(line!.slice(line!.indexOf("{"))).skippedBytes).toHaveLength(100);
  });
});
