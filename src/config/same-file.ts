/**
 * Which file a path names, so two names of one file are told from two files.
 * @module
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** Symbolic links followed to a file not written yet, at most (Linux's own bound, ELOOP beyond). */
const MAX_LINK_HOPS = 40;

/**
 * A key equal for two paths of one file: its device and inode where it exists (a symlink, a hard link, a bind mount
 * name the same file), else the real path of its nearest existing directory and the rest (a file not written yet,
 * named through a symlinked directory or not), a symlink to it followed. Until 2026-12-07 paths were compared
 * resolved only: a link got through.
 */
export function fileIdentity(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `inode ${st.dev}:${st.ino}`;
  } catch {
    return `path ${realPathOfMissing(resolve(path), 0)}`;
  }
}

/**
 * `abs` with its nearest existing directory's real path (a symlink along it followed), a symlink there to what is not
 * made yet followed too (a read through it gets what is made there); `abs` when no directory resolves.
 */
function realPathOfMissing(abs: string, hops: number): string {
  const rest = [basename(abs)];
  for (let dir = dirname(abs); ; dir = dirname(dir)) {
    let realDir: string;
    try {
      realDir = realpathSync(dir);
    } catch {
      if (dirname(dir) === dir) return abs;
      rest.unshift(basename(dir));
      continue;
    }
    const target = hops < MAX_LINK_HOPS ? symlinkTarget(join(realDir, rest[0]!)) : undefined;
    return target === undefined ? join(realDir, ...rest) : realPathOfMissing(join(resolve(realDir, target), ...rest.slice(1)), hops + 1);
  }
}

/** What the symlink at `path` holds; undefined when `path` is no symlink (or cannot be read). */
function symlinkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
