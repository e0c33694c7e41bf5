/**
 * The claim compared by inode alone: a filesystem mounted over DIR whose file at the claim path has the claim's inode
 * number (inode numbers are unique per filesystem only) read as the recorder's own claim, "held", for good, while
 * that file's lock was anyone's to take. Now device and inode are compared. No mount here: dir-claim's node:fs
 * reports one real file (the mounted filesystem's claim file, left by a recorder that no longer runs) under another
 * device with the claim's inode number, consistently in stat and fstat.
 */
import { expect, test, vi } from "vitest";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLAIM_FILE, DirClaim } from "../../src/record/dir-claim.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** The real file (dev, ino) reported as `as` while set: the mounted filesystem's claim file. */
const mount = vi.hoisted(() => ({ real: undefined as { dev: number; ino: number } | undefined, as: { dev: 0, ino: 0 } }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const seen = <S extends { dev: number; ino: number }>(st: S): S => {
    const r = mount.real;
    if (r === undefined || st.dev !== r.dev || st.ino !== r.ino) return st;
    return Object.assign(Object.create(Object.getPrototypeOf(st) as object) as S, st, mount.as);
  };
  const statSync = ((...args: Parameters<typeof real.statSync>) => seen((real.statSync as (...a: unknown[]) => import("node:fs").Stats)(...args))) as typeof real.statSync;
  const fstatSync = ((...args: Parameters<typeof real.fstatSync>) => seen((real.fstatSync as (...a: unknown[]) => import("node:fs").Stats)(...args))) as typeof real.fstatSync;
  return { ...real, default: { ...real, statSync, fstatSync }, statSync, fstatSync };
});

test("a claim file on a filesystem mounted over DIR with the claim's inode number is not taken for the claim", () => {
  const dir = makeTempDir("feeder-claim-mount-");
  const path = join(dir, CLAIM_FILE);
  const claim = DirClaim.take(dir);
  const own = statSync(path);
  // The mount hides the claim (its lock held on it all the same); DIR now shows the other filesystem's claim file.
  renameSync(path, join(makeTempDir("feeder-claim-hidden-"), CLAIM_FILE));
  writeFileSync(path, JSON.stringify({ pid: 999_999_999, since: "2026-01-01T00:00:00.000Z" }) + "\n");
  const other = statSync(path);
  mount.real = { dev: other.dev, ino: other.ino };
  mount.as = { dev: own.dev + 1, ino: own.ino };
  try {
    expect(statSync(path)).toMatchObject({ dev: own.dev + 1, ino: own.ino }); // the collision the fake makes
    // Before: "held" (the same inode number), at every look, while DIR's claim file was free for another recorder.
    expect(claim.check()).toEqual({ state: "renewed" });
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid });
    expect(claim.check()).toEqual({ state: "held" });
  } finally {
    claim.release();
    mount.real = undefined;
  }
});
