/**
 * The recorder's claim content (PID, start time) failing to be written to its locked claim file: a full disk (ENOSPC,
 * injected into dir-claim's node:fs here), e.g. a cleanup cron's `find DIR -mtime +7 -delete` taking the claim file
 * of a recorder running for a week while the disk is full. Before: check() threw out of `feeder record`'s
 * once-a-second timer (the recorder ended there, its last block unwritten) and left the new claim file locked by a
 * descriptor nothing held, so a look after that took the recorder's own lock for another recorder's ("lost": it
 * stopped, exit 1, saying another recorder had claimed DIR); take() threw the bare ENOSPC and the start failed.
 * Now the lock is held all the same (it is what claims DIR: another recorder is refused), `unwritten` says why,
 * and the content is written at the first look that can.
 */
import { expect, test, vi } from "vitest";
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { CLAIM_FILE, DirClaim, DirClaimedError } from "../../src/record/dir-claim.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** Writes that fail with ENOSPC before writes work again. */
const faults = vi.hoisted(() => ({ failingWrites: 0 }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const writeSync = ((...args: Parameters<typeof real.writeSync>) => {
    if (faults.failingWrites > 0) {
      faults.failingWrites--;
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
    return (real.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof real.writeSync;
  return { ...real, default: { ...real, writeSync }, writeSync };
});

function refusal(dir: string): string {
  try {
    DirClaim.take(dir).release();
  } catch (err) {
    expect(err).toBeInstanceOf(DirClaimedError);
    return (err as Error).message;
  }
  throw new Error("the claim was not refused");
}

test("the claim file written again on a full disk: DIR stays held by its lock, the content is written once there is room", () => {
  const dir = makeTempDir("feeder-claim-nospace-");
  const path = join(dir, CLAIM_FILE);
  const c = DirClaim.take(dir);
  unlinkSync(path); // an operator's rm (or a cleanup cron's find -delete) while the disk is full
  faults.failingWrites = 1;
  expect(c.check()).toEqual({ state: "renewed", unwritten: "ENOSPC: no space left on device, write" });
  expect(c.unwritten).toBe("ENOSPC: no space left on device, write");
  expect(refusal(dir)).toContain("(its PID not written yet;"); // another recorder is refused all the same
  expect(c.check()).toEqual({ state: "held" }); // room again: not another recorder's lock
  expect(c.unwritten).toBeUndefined();
  expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid });
  expect(refusal(dir)).toContain(`(pid ${process.pid}, since `);
  c.release();
  expect(existsSync(path)).toBe(false);
});

test("a claim taken on a full disk: the start goes on holding DIR by its lock; the content is written at the next look", () => {
  const dir = makeTempDir("feeder-claim-nospace-");
  const path = join(dir, CLAIM_FILE);
  faults.failingWrites = 1;
  const c = DirClaim.take(dir);
  expect(c.unwritten).toBe("ENOSPC: no space left on device, write");
  expect(refusal(dir)).toContain("(its PID not written yet;");
  faults.failingWrites = 1; // still full at the first look: tried again at the next
  expect(c.check()).toEqual({ state: "held" });
  expect(c.unwritten).toBe("ENOSPC: no space left on device, write");
  expect(c.check()).toEqual({ state: "held" });
  expect(c.unwritten).toBeUndefined();
  expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid });
  c.release();
  expect(existsSync(path)).toBe(false);
});
