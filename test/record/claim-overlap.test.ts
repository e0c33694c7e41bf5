/**
 * A recorder whose claim file was deleted (an operator's rm) and whose DIR another recorder then claimed changes
 * nothing more in DIR: its next block is dropped (counted in lostRecords), no file opened, no retention deletion.
 * Before, it found out only at its once-a-second look, and until then (and through its stop) went on writing blocks,
 * rotating and deleting by its retention in what is now the other recorder's DIR. In process:
 * two claims are two recorders to the kernel (flock belongs to an open file); `feeder record`'s own wiring
 * (claimOwnsDir) between its claim and its writer.
 */
import { expect, test } from "vitest";
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { claimOwnsDir } from "../../src/cli/commands/record.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { CLAIM_FILE, DirClaim, type ClaimCheck } from "../../src/record/dir-claim.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const FRAME = "x".repeat(200);

test("once another recorder has claimed DIR, the first writes, opens and deletes nothing there (before: it opened a file and its retention deleted captures there)", () => {
  const dir = makeTempDir("feeder-claim-overlap-");
  const first = DirClaim.take(dir);
  const found: ClaimCheck[] = [];
  // A file per block, and a --keep-bytes that three fill: the next rotation deletes the oldest captures in DIR.
  const w = new CaptureWriter({
    dir,
    prefix: "feeder",
    flushBytes: 1,
    maxFileBytes: 200,
    retention: { keepBytes: 700 },
    ownsDir: claimOwnsDir(first, (c) => found.push(c)),
  });
  for (let i = 0; i < 3; i++) w.write(i, "bybit", "linear", "c", FRAME);
  const ownFiles = w.files.length;
  expect(ownFiles).toBe(3);

  unlinkSync(join(dir, CLAIM_FILE)); // an operator's rm, and another recorder starts in DIR before the next look
  const second = DirClaim.take(dir);
  const other = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1 << 20 });
  other.write(10, "bybit", "linear", "c", "the other's");
  other.flush();
  const otherFile = other.files[0]!;
  const before = readdirSync(dir).sort();

  w.write(3, "bybit", "linear", "c", FRAME); // a block due to rotate, whose retention would take the oldest files
  w.write(4, "bybit", "linear", "c", FRAME);
  expect(readdirSync(dir).sort()).toEqual(before); // nothing opened, nothing deleted
  expect(found.at(-1)?.state).toBe("lost"); // which `feeder record` hears as lost: it stops (exit 1)
  expect(w.files.length).toBe(ownFiles);
  expect(w.lostRecords).toBe(2);
  expect(w.retain()).toEqual([]);
  w.close();
  expect(existsSync(otherFile)).toBe(true);
  other.close();
  expect(readCapture(otherFile).records.map((r) => r.frame)).toEqual(["the other's"]);
  first.release();
  second.release();
});
