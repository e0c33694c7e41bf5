/**
 * Write faults a real disk gives rarely, injected into the writer's node:fs: an EIO (not ENOSPC) in the middle of a
 * block, then the cut-back (ftruncate) failing too, and a close that fails (NFS reports deferred write errors at
 * close) when a new file's header could not be written. In each the process goes on, the loss is counted and named
 * under the right file, and what is on disk reads to its end or stops where the log says.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, test, vi } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";

/** Faults armed by a test: each is used once. */
const faults = vi.hoisted(() => ({
  /** The next write of a block (not a header) stops after this many bytes with EIO. */
  writeEioAfter: undefined as number | undefined,
  ftruncate: false,
  /** The next write of a file header (at position 0) fails with ENOSPC, and that file's close with EIO. */
  headerAndClose: false,
  closeFd: -1,
  /** The next close of any file fails with EIO (after releasing it, as Linux does). */
  nextClose: false,
  /** While set, every write past a file's header longer than this fails with ENOSPC, nothing written (a disk nearly full). */
  fullAbove: undefined as number | undefined,
}));

function errno(code: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    default: real,
    writeSync: (fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
      if (faults.headerAndClose && pos === 0) {
        faults.headerAndClose = false;
        faults.closeFd = fd;
        throw errno("ENOSPC");
      }
      if (faults.fullAbove !== undefined && pos > 0 && len > faults.fullAbove) throw errno("ENOSPC");
      if (faults.writeEioAfter !== undefined && pos > 0 && len > 8) {
        const n = faults.writeEioAfter;
        faults.writeEioAfter = undefined;
        real.writeSync(fd, buf, off, n, pos);
        throw errno("EIO");
      }
      return real.writeSync(fd, buf, off, len, pos);
    },
    ftruncateSync: (fd: number, len?: number): void => {
      if (faults.ftruncate) {
        faults.ftruncate = false;
        throw errno("EIO");
      }
      real.ftruncateSync(fd, len);
    },
    closeSync: (fd: number): void => {
      real.closeSync(fd);
      if (faults.nextClose) {
        faults.nextClose = false;
        throw errno("EIO");
      }
      if (fd === faults.closeFd) {
        faults.closeFd = -1;
        throw errno("EIO");
      }
    },
  };
});

const { CAPTURE_LOST_URL, CaptureWriter, readCapture } = await import("../../src/record/capture.ts");
const { createLogger } = await import("../../src/core/log.ts");

function writerIn(dir: string, lines: Record<string, unknown>[], maxFileBytes?: number) {
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  return new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log, compression: "none", maxFileBytes });
}

const frame = (n: number) => String(n).padStart(6, "0") + "x".repeat(200);
/** Each record's frame number, or "lost" for the mark of blocks lost before it (CAPTURE_LOST_URL). */
const framesOf = (file: string) => readCapture(file).records.map((r) => (r.url === CAPTURE_LOST_URL ? "lost" : Number((r.frame as string).slice(0, 6))));

test("EIO mid-block: the part is cut off, the file reads to its end and writing goes on in it", () => {
  const dir = makeTempDir("feeder-capture-eio-");
  const lines: Record<string, unknown>[] = [];
  const w = writerIn(dir, lines);
  w.write(1, "bybit", "linear", "c", frame(1));
  faults.writeEioAfter = 50;
  w.write(2, "bybit", "linear", "c", frame(2));
  w.write(3, "bybit", "linear", "c", frame(3));
  w.close();
  expect(w.files.length).toBe(1);
  expect(readCapture(w.files[0]!).truncated).toBeUndefined();
  expect(framesOf(w.files[0]!)).toEqual([1, "lost", 3]);
  expect(w.stats()).toMatchObject({ lostRecords: 1, writeErrors: 1 });
  expect(lines.find((l) => l.msg === "capture block could not be written; its records are lost")).toMatchObject({ file: w.files[0], detail: expect.stringMatching(/EIO/) });
});

test("EIO mid-block and the cut-back failing: the file ends there (a reader stops at the part, naming it) and the next block opens a new file", () => {
  const dir = makeTempDir("feeder-capture-eio-cut-");
  const lines: Record<string, unknown>[] = [];
  const w = writerIn(dir, lines);
  w.write(1, "bybit", "linear", "c", frame(1));
  faults.writeEioAfter = 50;
  faults.ftruncate = true;
  w.write(2, "bybit", "linear", "c", frame(2));
  w.write(3, "bybit", "linear", "c", frame(3));
  w.close();
  expect(w.files.length).toBe(2);
  const first = readCapture(w.files[0]!);
  expect(first.records.map((r) => Number((r.frame as string).slice(0, 6)))).toEqual([1]);
  expect(first.truncated).toMatch(/incomplete block/);
  expect(framesOf(w.files[1]!)).toEqual(["lost", 3]);
  expect(lines.filter((l) => l.msg === "capture file ended early by a write error")).toEqual([expect.objectContaining({ file: w.files[0] })]);
});

test("a new file's header not written and its close failing too: the file is removed, and no other file is said to have ended early", () => {
  const dir = makeTempDir("feeder-capture-header-close-");
  const lines: Record<string, unknown>[] = [];
  // Each block fills a file: the second block rotates.
  const w = writerIn(dir, lines, 100);
  w.write(1, "bybit", "linear", "c", frame(1));
  faults.headerAndClose = true;
  w.write(2, "bybit", "linear", "c", frame(2));
  w.write(3, "bybit", "linear", "c", frame(3));
  w.close();
  // The first file closed whole; the one whose header failed is gone; the third block is in a third file.
  const names = readdirSync(dir).sort();
  expect(names.map((n) => join(dir, n))).toEqual(w.files);
  expect(w.files.length).toBe(2);
  expect(framesOf(w.files[0]!)).toEqual([1]);
  expect(framesOf(w.files[1]!)).toEqual(["lost", 3]);
  expect(w.stats()).toMatchObject({ lostRecords: 1, writeErrors: 1 });
  expect(lines.filter((l) => l.msg === "capture file ended early by a write error")).toEqual([]);
  const error = lines.find((l) => l.msg === "capture block could not be written; its records are lost");
  // The header's error, not the close's that came after it.
  expect(error).toMatchObject({ detail: expect.stringMatching(/ENOSPC/) });
  expect(existsSync(w.files[0]!)).toBe(true);
});

test("a finished file's close failing (rotation, stop): named in a warning; the block goes to the new file, and close() does not throw", () => {
  const dir = makeTempDir("feeder-capture-close-fails-");
  const lines: Record<string, unknown>[] = [];
  const w = writerIn(dir, lines, 100);
  w.write(1, "bybit", "linear", "c", frame(1));
  faults.nextClose = true;
  w.write(2, "bybit", "linear", "c", frame(2));
  faults.nextClose = true;
  expect(() => w.close()).not.toThrow();
  expect(w.files.length).toBe(2);
  expect(w.files.map(framesOf)).toEqual([[1], [2]]);
  expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0, file: undefined });
  expect(lines.filter((l) => l.msg === "capture file could not be closed; what the system had not yet stored of it may be lost")).toEqual([
    expect.objectContaining({ level: "warn", file: w.files[0], error: expect.stringMatching(/EIO/) }),
    expect.objectContaining({ level: "warn", file: w.files[1], error: expect.stringMatching(/EIO/) }),
  ]);
});

test("the open file deleted under the writer and its close failing: the block still goes to a new file", async () => {
  const { unlinkSync } = await vi.importActual<typeof import("node:fs")>("node:fs");
  const dir = makeTempDir("feeder-capture-deleted-close-");
  const lines: Record<string, unknown>[] = [];
  const w = writerIn(dir, lines);
  w.write(1, "bybit", "linear", "c", frame(1));
  unlinkSync(w.files[0]!);
  faults.nextClose = true;
  w.write(2, "bybit", "linear", "c", frame(2));
  w.close();
  expect(w.files.length).toBe(2);
  expect(framesOf(w.files[1]!)).toEqual(["lost", 2]); // the deleted file's mark (capture:lost)
  expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0 });
  expect(lines.filter((l) => l.msg === "capture file ended early by a write error")).toEqual([]);
});

test("a block lost with a planned reconnect's ws:swap in it: the next file's head says the overlap all the same (app/capture-sockets.ts)", async () => {
  const { CaptureSocketHead } = await import("../../src/app/capture-sockets.ts");
  const dir = makeTempDir("feeder-capture-eio-head-");
  // Each block after the first two fills a file: every later block rotates.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, compression: "none", maxFileBytes: 100, fileHead: new CaptureSocketHead() });
  w.writeRest(1, "okx", "spot", "c", "ws:open", "wss://x");
  w.writeRest(2, "okx", "spot", "c", "ws:sockets", "");
  w.write(2, "okx", "spot", "c", frame(1));
  w.writeRest(3, "okx", "spot", "c", "ws:swap", "");
  faults.writeEioAfter = 50;
  // A new file: its head (one socket) fails mid-write, and the block with it (the write stops at the EIO).
  w.write(3, "okx", "spot", "c", frame(2));
  w.write(4, "okx", "spot", "c", frame(3)); // the same file: its head tried again, now saying what the lost block did
  w.write(5, "okx", "spot", "c", frame(4));
  w.close();
  const contents = w.files.map((f) => readCapture(f).records.map((r) => r.url ?? Number((r.frame as string).slice(0, 6))));
  // Before: no heads at all.
  expect(contents).toEqual([["ws:open", "ws:sockets", 1], [CAPTURE_LOST_URL, "ws:overlap", "ws:asked", 3], ["ws:overlap", "ws:asked", 4]]); // ws:asked: s-headask
  expect(readCapture(w.files[1]!).truncated).toBeUndefined();
  expect(w.stats()).toMatchObject({ lostRecords: 2, writeErrors: 1 });
});

test("a disk nearly full takes a new file's small head and refuses the block after it: the head goes with the block, and the next block's head says what the lost one did", async () => {
  const { CaptureSocketHead } = await import("../../src/app/capture-sockets.ts");
  const dir = makeTempDir("feeder-capture-full-head-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  // Flushed by hand; a block with a frame fills a file (the next block rotates).
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20, compression: "none", maxFileBytes: 100, log, fileHead: new CaptureSocketHead() });
  w.writeRest(1, "okx", "spot", "c", "ws:open", "wss://x");
  w.writeRest(1, "okx", "spot", "c", "ws:sockets", "");
  w.write(1, "okx", "spot", "c", frame(1));
  w.flush();
  faults.fullAbove = 100;
  // A new file: its head (one socket and its topics asked, ~80 bytes) fits, the block with the planned reconnect's ws:swap does not.
  w.writeRest(2, "okx", "spot", "c", "ws:swap", "");
  w.write(2, "okx", "spot", "c", frame(2));
  w.flush();
  faults.fullAbove = undefined;
  w.write(3, "okx", "spot", "c", frame(3)); // room again: the same file
  w.close();
  const contents = w.files.map((f) => readCapture(f).records.map((r) => r.url ?? Number((r.frame as string).slice(0, 6))));
  // Before: [..., ["ws:state", 3]]: the head written ahead of the lost block said one socket, and the file went on
  // after it; replayed alone, the overlap the lost ws:swap began was not known.
  expect(contents).toEqual([["ws:open", "ws:sockets", 1], [CAPTURE_LOST_URL, "ws:overlap", "ws:asked", 3]]); // ws:asked: s-headask
  expect(w.stats()).toMatchObject({ lostRecords: 2, writeErrors: 1 });
  // The totals say what the files hold and what was lost.
  expect(w.stats().records).toBe(contents.flat().length + w.stats().lostRecords);
  expect(lines.find((l) => l.msg === "capture block could not be written; its records are lost")).toMatchObject({ file: w.files[1], detail: expect.stringMatching(/ENOSPC/) });
});
