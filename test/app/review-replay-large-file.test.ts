/**
 * A capture is read block by block from the file, not loaded whole: the reader holds one block's bytes whatever the
 * file's size. Before, CaptureReader.open read the whole file into memory, which fails beyond 4 GiB (ENOMEM from
 * Bun's readFileSync), so `feeder replay` of a large uncompressed capture (`record --compress none --max-file-mb
 * 8192`) died with a stack trace. The file here is sparse: one real block, then a 5 GiB hole that reads as zeros
 * (a zero-length block header whose checksum 0 matches, then nothing a reader can decode), so it takes no disk.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { CaptureReader, readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

describe("a capture larger than memory would take is read block by block", () => {
  test("a 5 GiB (sparse) file: its records, and where it stops", () => {
    const dir = makeTempDir("feeder-review-large-");
    mkdirSync(join(dir, "a"));
    const { file, frames } = writeXrpCapture(join(dir, "a"));
    const realBytes = readFileSync(file).byteLength;
    truncateSync(file, 5 * 1024 ** 3);
    const r = readCapture(file);
    expect(r.records.map((x) => x.frame)).toEqual(frames.map((f) => f.frame));
    expect(r.truncated).toMatch(new RegExp(`^undecodable block at byte ${realBytes}: `));
    const reader = CaptureReader.open(file);
    expect(reader.byteLength).toBe(5 * 1024 ** 3);
    reader.close();
    expect(reader.nextBlock()).toBeUndefined();
  });
});
