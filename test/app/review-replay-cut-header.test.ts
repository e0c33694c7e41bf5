/**
 * A capture file that ends inside its header (empty, or a few bytes of it) is what a recorder killed with -9, or
 * out of disk, just as it opened a new file leaves behind. It holds no records and is reported like any file cut
 * short. Before, it was "not a feeder capture file": `feeder replay DIR/*.fcap` refused to replay anything (exit 2)
 * and a reader threw.
 */
import { describe, expect, test } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { readCapture } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

describe("a capture file cut off inside its header", { timeout: 30_000 }, () => {
  const dir = makeTempDir("feeder-review-cut-header-");
  const config = writeXrpConfig(dir, uniqueDestination(67));
  mkdirSync(join(dir, "a"));
  const { file: good, frames } = writeXrpCapture(join(dir, "a"));
  const cut = [
    ["empty.fcap", Buffer.alloc(0)],
    ["plain-5.fcap", Buffer.from("FDRCA")],
    ["zstd-9.fcap", Buffer.from([...Buffer.from("FDRCAP02"), 2])],
  ] as const;
  for (const [name, bytes] of cut) writeFileSync(join(dir, name), bytes);

  test("holds no records and says where it ends; text that is not a capture is still refused", () => {
    for (const [name, bytes] of cut) {
      expect(readCapture(join(dir, name))).toEqual({ records: [], unknownRecords: 0, truncated: `capture header cut off after ${bytes.byteLength} bytes: no records (the recorder stopped as it opened the file)` });
    }
    writeFileSync(join(dir, "hello.fcap"), "hello");
    expect(() => readCapture(join(dir, "hello.fcap"))).toThrow(/not a feeder capture file/);
  });

  test("feeder replay replays the other files and lists the cut ones under truncated", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const files = [join(dir, "empty.fcap"), good, join(dir, "plain-5.fcap"), join(dir, "zstd-9.fcap")];
    const code = await main(["replay", "--config", config, ...files], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1)!);
    expect(summary).toMatchObject({ frames: frames.length, ingested: frames.length, skipped: 0 });
    expect(summary.truncated.map((t: { file: string }) => t.file)).toEqual([files[0], files[2], files[3]]);
  });
});
