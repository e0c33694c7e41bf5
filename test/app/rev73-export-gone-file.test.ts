/**
 * `feeder export` with a capture that is gone (or unreadable, or no longer a capture) when its turn comes, e.g.
 * deleted by the retention of a recorder writing the same directory after the arguments were checked: it is named
 * under `truncated` ({file, why}, as replay does; operations.md says export's `truncated` is replay's) and the files
 * after it are exported. Before, CaptureReader.open threw out of exportCaptures: "export failed", exit 1, the files
 * after it never read.
 */
import { expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportCaptures } from "../../src/app/export.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("a file gone or replaced by a non-capture before its turn is named under truncated; the files around it are exported", async () => {
  const dir = makeTempDir("feeder-export-gone-");
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "none" });
  for (let i = 0; i < 3; i++) w.write(1_733_011_200_000_000 + i, "bybit", "linear", "c", `{"n":${i}}`);
  w.close();
  const file = w.files[0]!;
  const gone = join(dir, "gone.fcap");
  const replaced = join(dir, "replaced.fcap");
  writeFileSync(replaced, "not a capture any more");
  const rows: string[] = [];
  const sink = { write: (c: string) => void rows.push(...c.split("\n").filter((l) => l !== "")), flush: () => undefined };
  const result = await exportCaptures([file, gone, replaced, file], sink, { format: "jsonl", log: silentLogger });
  expect(result).toMatchObject({ frames: 6, rows: 6, stoppedEarly: false });
  expect(rows).toHaveLength(6);
  expect(result.truncated).toEqual([
    { file: gone, why: "could not be read: ENOENT" },
    { file: replaced, why: "could not be read: not a feeder capture file (expected the header FDRCAP01 or FDRCAP02)" },
  ]);
});
