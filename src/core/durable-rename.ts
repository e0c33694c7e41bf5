/**
 * A file replaced by a temporary file renamed over it, durably: the temporary file's data stored on disk (fsync)
 * before the rename, the rename stored (fsync of the directory) after it. Without the first, a power loss soon after
 * the rename can leave the file empty or cut short (XFS, and ext4 without its rename heuristic, `noauto_da_alloc`, or
 * with data=writeback: the rename reaches the journal before the data); without the second, the rename itself may be
 * undone (the previous file back). Used by `export --out` and the instrument cache. Cold. That holds on Linux; macOS's
 * fsync leaves the data in the drive's own cache, which may store the rename first (fcntl F_FULLFSYNC, not called
 * here, would empty it): there a power loss soon after can still leave the file empty.
 *
 * A directory that cannot be synced where the platform or file system does not do it (EINVAL, ENOTSUP: some FUSE and
 * network file systems) is no error; any other failure of it is said to the caller, the rename having been made.
 * @module
 */
import { closeSync, constants, fsync, fsyncSync, openSync, rename, renameSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The file system calls made here, looked up at each call: a test wraps them (the real calls on a real file system
 * underneath) to see what is called, in which order.
 */
export const durableFs = {
  fsyncSync: (fd: number): void => fsyncSync(fd),
  fsync: (fd: number): Promise<void> => new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve()))),
  renameSync: (from: string, to: string): void => renameSync(from, to),
  rename: (from: string, to: string): Promise<void> => new Promise((resolve, reject) => rename(from, to, (err) => (err ? reject(err) : resolve()))),
  openSync: (path: string, flags: number): number => openSync(path, flags),
  closeSync: (fd: number): void => closeSync(fd),
};

/** What a directory fsync fails with where the platform or file system does not do it: nothing to store, no error. */
const DIR_SYNC_UNSUPPORTED = new Set(["EINVAL", "ENOTSUP", "EOPNOTSUPP", "EISDIR", "EBADF"]);

const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** The temporary file's data could not be stored on disk: it was not renamed (the target is as it was). */
export class FileSyncError extends Error {}

function notStored(tmp: string, target: string, err: unknown): FileSyncError {
  return new FileSyncError(`${tmp} could not be stored on disk (fsync: ${codeOf(err)}), so it was not renamed over ${target}, which is as it was`);
}

/**
 * Stores the file open on `fd` (written whole at `tmp`), renames it over `target`, and stores the rename. Throws a
 * FileSyncError (nothing renamed) when the file cannot be stored, the rename's error when it fails; returns why the
 * rename could not be stored (the directory's fsync failed: a power loss may undo it), undefined when it was.
 */
export function renameDurablySync(fd: number, tmp: string, target: string): string | undefined {
  try {
    durableFs.fsyncSync(fd);
  } catch (err) {
    throw notStored(tmp, target, err);
  }
  durableFs.renameSync(tmp, target);
  return syncDirSync(dirname(target), target);
}

/** renameDurablySync without blocking the thread on the disk (the instrument cache, written while the feeder runs). */
export async function renameDurably(fd: number, tmp: string, target: string): Promise<string | undefined> {
  try {
    await durableFs.fsync(fd);
  } catch (err) {
    throw notStored(tmp, target, err);
  }
  await durableFs.rename(tmp, target);
  const dir = dirname(target);
  let dirFd: number;
  try {
    dirFd = durableFs.openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    return dirProblem(dir, target, "open", err);
  }
  try {
    await durableFs.fsync(dirFd);
    return undefined;
  } catch (err) {
    return dirProblem(dir, target, "fsync", err);
  } finally {
    closeQuietly(dirFd);
  }
}

/** Stores the directory's entries (a rename made in it), or says why not; undefined also where the platform does not do it. */
function syncDirSync(dir: string, target: string): string | undefined {
  let fd: number;
  try {
    fd = durableFs.openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    return dirProblem(dir, target, "open", err);
  }
  try {
    durableFs.fsyncSync(fd);
    return undefined;
  } catch (err) {
    return dirProblem(dir, target, "fsync", err);
  } finally {
    closeQuietly(fd);
  }
}

function dirProblem(dir: string, target: string, call: string, err: unknown): string | undefined {
  const code = codeOf(err);
  if (call === "fsync" && DIR_SYNC_UNSUPPORTED.has(code)) return undefined;
  return `${target} is in place, but its directory ${dir} could not be stored on disk (${call}: ${code}): a power loss soon after may bring back the previous ${target}`;
}

function closeQuietly(fd: number): void {
  try {
    durableFs.closeSync(fd);
  } catch {
    // released all the same
  }
}
