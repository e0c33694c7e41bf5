/**
 * A recorder whose claim file was deleted (an operator's rm) and whose DIR another recorder then claimed changes
 * nothing more in DIR: its next block is dropped (counted in lostRecords), no file opened, no retention deletion,
 * and its stats say failing (the health report's capture_failing) until it stops.
 * Before, it found out only at its once-a-second look, and until then (and through its stop) went on writing blocks,
 * rotating and deleting by its retention in what is now the other recorder's DIR. In process:
 * two claims are two recorders to the kernel (flock belongs to an open file); `feeder record`'s own wiring
 * (claimOwnsDir) between its claim and its writer.
 */
import { expect, test } from "vitest";
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
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
  expect(w.stats().failing).toBeUndefined();

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
  // Failing from then on, for /status, /readyz and feeder_capture_failing (before: `ok` while every record was dropped).
  expect(w.stats().failing?.lastError).toBe("another recorder claimed the capture directory: nothing more is written there");
  expect(w.retain()).toEqual([]);
  w.close();
  expect(existsSync(otherFile)).toBe(true);
  other.close();
  expect(readCapture(otherFile).records.map((r) => r.frame)).toEqual(["the other's"]);
  first.release();
  second.release();
});

test("another recorder claiming DIR after the block's look, while this one lists DIR for a rotation: no file is made there", () => {
  const dir = makeTempDir("feeder-claim-overlap-");
  const first = DirClaim.take(dir);
  const found: ClaimCheck[] = [];
  // The takeover runs at the next read of the monotonic clock: a rotation reads it with the wall clock, then lists
  // DIR (seconds at 100,000 files) and opens the file, all after the block's look.
  let takeOver: (() => void) | undefined;
  let second: DirClaim | undefined;
  const w = new CaptureWriter({
    dir,
    prefix: "feeder",
    flushBytes: 1,
    maxFileBytes: 200,
    monoNow: () => {
      const run = takeOver;
      takeOver = undefined;
      run?.();
      return 0;
    },
    ownsDir: claimOwnsDir(first, (c) => found.push(c)),
  });
  w.write(0, "bybit", "linear", "c", FRAME);
  expect(w.files.length).toBe(1);
  takeOver = () => {
    unlinkSync(join(dir, CLAIM_FILE));
    second = DirClaim.take(dir);
  };
  w.write(1, "bybit", "linear", "c", FRAME); // due by size: a rotation
  expect(second).toBeDefined();
  // Old: feeder-…-1.fcap made in the other's DIR and the block written there.
  expect(readdirSync(dir).filter((n) => n.endsWith(".fcap"))).toEqual([basename(w.files[0]!)]);
  expect(found.at(-1)?.state).toBe("lost");
  expect(w.lostRecords).toBe(1);
  expect(w.stats().failing?.lastError).toMatch(/^another recorder claimed the capture directory/);
  w.write(2, "bybit", "linear", "c", FRAME);
  w.close();
  expect(w.lostRecords).toBe(2);
  expect(readdirSync(dir).filter((n) => n.endsWith(".fcap"))).toEqual([basename(w.files[0]!)]);
  first.release();
  second!.release();
});
