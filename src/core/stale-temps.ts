/**
 * Temporary files a killed writer left, told apart from a live writer's by a kernel lock: the writer creates its file
 * exclusively and holds an flock(2) on it until it has renamed or removed it (createLockedFile); a sweep removes a
 * matching file only if it can take that lock and nobody modified the file for a while (removeStaleTemps). The kernel
 * drops a lock with its process however it ends (SIGKILL, the OOM killer), in any PID namespace on the host, so a
 * live writer's file is never taken, however long it waits quiet. Used by `export -o` (its `FILE.tmp-<pid>-<random>`)
 * and the instrument cache (its `<cache>.<pid>.<random>.tmp` and `<cache>.lock.<pid>.<random>.new`). Cold.
 * @module
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "./flock.ts";

/**
 * A file not modified for this long may be swept once unlocked: one modified since is left alone even unlocked (a
 * writer from before these locks, or one between its create and its lock).
 */
export const STALE_TEMP_MIN_AGE_MS = 60_000;

/**
 * Creates `path` exclusively (EEXIST when taken) for reading and writing, and takes an flock on it: the returned
 * descriptor holds it until closed. Where the filesystem has no locks it stays unlocked (a sweep there cannot lock
 * it either, so it leaves every file alone).
 */
export function createLockedFile(path: string, mode = 0o666): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    tryLockExclusive(fd); // a new file: nobody else holds it
  } catch {
    // no locks here (or no C library): unlocked
  }
  return fd;
}

/**
 * Removes the files of `dir` whose name `isTemp` takes that nobody holds the flock of and nobody modified for
 * `minAgeMs` (default STALE_TEMP_MIN_AGE_MS); `onRemoved` is told of each. `fsNowMs`: the filesystem's clock now, read
 * as the modification time of a file the caller has just written there (its own temporary file): the lower of it and
 * the host's clock is taken, so a host clock ahead of a file server's (NFS stamps files with the server's clock) makes
 * no live file look old, nor a clock stepped forward. A file that cannot be looked at, opened or locked (held, no
 * lock support) is left alone, and so is one replaced under its name meanwhile. Cold: one listing of `dir`.
 */
export function removeStaleTemps(dir: string, isTemp: (name: string) => boolean, o: { fsNowMs?: number; minAgeMs?: number; onRemoved?: (path: string, bytes: number) => void } = {}): void {
  const minAgeMs = o.minAgeMs ?? STALE_TEMP_MIN_AGE_MS;
  const old = (mtimeMs: number) => Math.min(Date.now(), o.fsNowMs ?? Infinity) - mtimeMs >= minAgeMs;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the caller's own use of the directory says what is wrong with it
  }
  for (const name of names) {
    if (!isTemp(name)) continue;
    const path = join(dir, name);
    let fd: number;
    try {
      const st = lstatSync(path);
      if (!st.isFile() || !old(st.mtimeMs)) continue;
      // Read-write: over NFS an exclusive flock is a write lock, which a read-only descriptor cannot take.
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch {
      continue;
    }
    try {
      if (!tryLockExclusive(fd)) continue; // its writer is alive
      // Still the file locked (not removed and made again under that name meanwhile), and still untouched.
      const held = fstatSync(fd);
      const now = lstatSync(path);
      if (now.ino !== held.ino || now.dev !== held.dev || !old(now.mtimeMs)) continue;
      unlinkSync(path);
      o.onRemoved?.(path, held.size);
    } catch {
      // no lock support here, or gone meanwhile: left as it is
    } finally {
      closeSync(fd);
    }
  }
}
