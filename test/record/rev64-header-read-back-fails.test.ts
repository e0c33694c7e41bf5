/**
 * The open file's header, read back before each block (s-rev60), could not be read (an EIO; a file system that
 * refuses to read a file opened for writing): checkOpenFile threw before the rotation, so that block and every
 * later one were lost, the file never rotated, and the error named only the read. Now the block is written (the
 * length check still applies), and a warning names the read-back once per file.
 */
import { expect, test, vi } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";

/** While set, a read at position 0 of a file's header length (the writer's read-back) fails with EIO. */
const faults = vi.hoisted(() => ({ readBack: false }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const readSync = ((fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
    if (faults.readBack && pos === 0 && len === 8) {
      const e = new Error("EIO: injected") as NodeJS.ErrnoException;
      e.code = "EIO";
      throw e;
    }
    return real.readSync(fd, buf, off, len, pos);
  }) as typeof real.readSync;
  return { ...real, default: real, readSync };
});

const { CaptureWriter, readCapture } = await import("../../src/record/capture.ts");
const { createLogger } = await import("../../src/core/log.ts");

const frame = (n: number) => String(n).padStart(6, "0") + "x".repeat(200);
const framesOf = (file: string) => readCapture(file).records.map((r) => Number((r.frame as string).slice(0, 6)));
const READ_BACK_FAILED = "capture file header could not be read back; a cut of the file between checks may go unseen";

test("the header read-back failing: every block is still written, the file still rotates, and the warning names the read-back once per file", () => {
  const dir = makeTempDir("feeder-capture-read-back-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  // Each block but the first of a file fills it: a rotation after two blocks.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log, compression: "none", maxFileBytes: 300 });
  w.write(1, "bybit", "linear", "c", frame(1));
  faults.readBack = true;
  for (let n = 2; n <= 5; n++) w.write(n, "bybit", "linear", "c", frame(n));
  faults.readBack = false;
  w.close();
  expect(w.stats()).toMatchObject({ lostRecords: 0, writeErrors: 0 });
  expect(w.files.map(framesOf)).toEqual([[1, 2], [3, 4], [5]]);
  expect(lines.filter((l) => l.msg === "capture block could not be written; its records are lost")).toEqual([]);
  // Files 1 and 2 had a block checked (file 3's one block came with its opening: nothing to check).
  expect(lines.filter((l) => l.msg === READ_BACK_FAILED)).toEqual([
    expect.objectContaining({ level: "warn", file: w.files[0], error: expect.stringMatching(/EIO/) }),
    expect.objectContaining({ level: "warn", file: w.files[1], error: expect.stringMatching(/EIO/) }),
  ]);
});
