/**
 * Temporary files a killed writer left, told apart from a live writer's by a kernel lock: the writer creates its file
 * exclusively and holds an flock(2) on it until it has renamed or removed it (createLockedFile, lockNewTemp); a sweep
 * removes a matching file only if it can take that lock and nobody modified the file for a while (removeStaleTemps).
 * The kernel drops a lock with its process however it ends (SIGKILL, the OOM killer), in any PID namespace on the
 * host, so a live writer's file is never taken, however long it waits quiet. A file matches only by a name its
 * writer alone makes (newTempTags: the pid, a random part and a check of both keyed to the file it stands for), so no
 * user's file beside it (`out.csv.tmp-2024-dec`) is ever taken for one; and a writer that could not take its lock
 * (ENOLCK: the lock service of an NFS mount down) renames its file to a name no sweep matches, so a sweep on another
 * host, where locks work, never takes a live writer's file for a dead one's. Used by `export -o` (its
 * `FILE.tmp-<tag>`) and the instrument cache (its `<cache>.<tag>.tmp` and `<cache>.lock.<tag>.new`). Cold.
 * @module
 */
import { createHash, getRandomValues } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "./flock.ts";

/**
 * A file not modified for this long may be swept once unlocked: one modified since is left alone even unlocked (a
 * writer between its create and its lock).
 */
export const STALE_TEMP_MIN_AGE_MS = 60_000;

const RANDOM_CHARS = 8;
const CHECK_CHARS = 12;
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** The check of a tag: 48 bits of SHA-256 over what it names, so a name made by anyone else matches 1 in 2^48. */
function checkOf(owner: string, pid: string, random: string): string {
  return createHash("sha256").update(`feeder temporary file\0${owner}\0${pid}\0${random}`).digest("hex").slice(0, CHECK_CHARS);
}

/**
 * The part of a temporary file's name that says who made it, for the file named `owner` (its final name's basename):
 * `tag` is `<pid><sep><8 of [0-9a-z]><12 hex: the check>`, which a sweep takes (isTempTag); `unlockedTag` is the
 * same without the check, which no sweep takes (for a writer that could not take its lock: lockNewTemp). `pidNumber`:
 * a seam for the tests (another process's names).
 */
export function newTempTags(owner: string, sep: string, pidNumber = process.pid): { tag: string; unlockedTag: string } {
  const bytes = new Uint8Array(RANDOM_CHARS * 2);
  let random = "";
  while (random.length < RANDOM_CHARS) {
    getRandomValues(bytes);
    for (const b of bytes) if (b < 252 && random.length < RANDOM_CHARS) random += ALPHABET[b % 36]; // unbiased
  }
  const pid = String(pidNumber);
  return { tag: `${pid}${sep}${random}${checkOf(owner, pid, random)}`, unlockedTag: `${pid}${sep}${random}` };
}

/** Whether `text` is a tag newTempTags made for `owner` with `sep`: exactly its shape, and its check right. */
export function isTempTag(owner: string, sep: string, text: string): boolean {
  const i = text.indexOf(sep);
  if (i <= 0 || i > 10) return false;
  const pid = text.slice(0, i);
  const rest = text.slice(i + sep.length);
  if (!/^[1-9]\d*$/.test(pid) || rest.length !== RANDOM_CHARS + CHECK_CHARS || !/^[0-9a-z]+$/.test(rest)) return false;
  return rest.slice(RANDOM_CHARS) === checkOf(owner, pid, rest.slice(0, RANDOM_CHARS));
}

/**
 * Takes the flock on `fd`, the temporary file just created exclusively at `path` (named with a tag a sweep takes).
 * Where it cannot (the filesystem has no locks, ENOLCK, no C library) the file is renamed to `unlockedPath` (its
 * unlockedTag: a name no sweep takes), so a sweep that can lock it, on another host, never removes it while it is
 * written: returns the path the file now has. Should a file hold that name already (another process of the same pid
 * drew the same random part), this one is removed and EEXIST thrown: the caller draws another name. `lock`: a seam
 * for the tests.
 */
export function lockNewTemp(fd: number, path: string, unlockedPath: string, lock: (fd: number) => boolean = tryLockExclusive): string {
  try {
    if (lock(fd)) return path;
  } catch {
    // no locks here (or no C library): named so that no sweep takes it
  }
  let taken = true;
  try {
    lstatSync(unlockedPath);
  } catch {
    taken = false;
  }
  if (!taken) {
    renameSync(path, unlockedPath);
    return unlockedPath;
  }
  closeSync(fd);
  unlinkSync(path);
  throw Object.assign(new Error(`EEXIST: ${unlockedPath} exists`), { code: "EEXIST" });
}

/**
 * Creates `path` exclusively (EEXIST when taken) for reading and writing and locks it (lockNewTemp): the returned
 * descriptor holds the lock until closed; `path` is where the file is (`unlockedPath` where no lock could be taken).
 */
export function createLockedFile(path: string, unlockedPath: string, mode = 0o666, lock?: (fd: number) => boolean): { fd: number; path: string } {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    return { fd, path: lockNewTemp(fd, path, unlockedPath, lock) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      // The rename failed: dropped (the descriptor and the file closed and removed here already for EEXIST).
      for (const drop of [() => closeSync(fd), () => unlinkSync(path)]) {
        try {
          drop();
        } catch {
          // gone already
        }
      }
    }
    throw err;
  }
}

/**
 * Removes the files of `dir` whose name `isTemp` takes that nobody holds the flock of and nobody modified for
 * `minAgeMs` (default STALE_TEMP_MIN_AGE_MS); `onRemoved` is told of each. `fsNowMs`: the filesystem's clock now, read
 * as the modification time of a file the caller has just written there (its own temporary file): the lower of it and
 * the host's clock is taken, so a host clock ahead of a file server's (NFS stamps files with the server's clock) makes
 * no live file look old, nor a clock stepped forward. Without it, `dir`'s mtime stands in (a lower bound of the
 * filesystem's clock, which stamped the directory's last change): until 2026-12-07 the host's clock alone, so one a
 * minute ahead of an NFS server's took a file just made, between its writer's create and lock, for a dead writer's
 * (the instrument cache's start sweep). A dead writer's file made since the directory's last change waits for the
 * next one (a later sweep). A file that cannot be looked at, opened or locked (held, no lock support) is left alone,
 * and so is one replaced under its name meanwhile. Cold: one listing of `dir`.
 */
export function removeStaleTemps(dir: string, isTemp: (name: string) => boolean, o: { fsNowMs?: number; minAgeMs?: number; onRemoved?: (path: string, bytes: number) => void } = {}): void {
  const minAgeMs = o.minAgeMs ?? STALE_TEMP_MIN_AGE_MS;
  let names: string[];
  let fsNowMs: number;
  try {
    fsNowMs = o.fsNowMs ?? statSync(dir).mtimeMs;
    names = readdirSync(dir);
  } catch {
    return; // the caller's own use of the directory says what is wrong with it
  }
  const old = (mtimeMs: number) => Math.min(Date.now(), fsNowMs) - mtimeMs >= minAgeMs;
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
