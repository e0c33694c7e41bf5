/**
 * Which file a path names, so two names of one file are told from two files.
 * @module
 */
import { realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * A key equal for two paths of one file: its device and inode where it exists (a symlink, a hard link, a bind mount
 * name the same file), else the real path of its nearest existing directory and the rest (a file not written yet,
 * named through a symlinked directory or not). Until 2026-12-07 paths were compared resolved only: a link got through.
 */
export function fileIdentity(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `inode ${st.dev}:${st.ino}`;
  } catch {
    return `path ${realPathOfMissing(resolve(path))}`;
  }
}

/** `abs` with its nearest existing directory's real path (a symlink along it followed); `abs` when none resolves. */
function realPathOfMissing(abs: string): string {
  const rest = [basename(abs)];
  for (let dir = dirname(abs); ; dir = dirname(dir)) {
    try {
      return join(realpathSync(dir), ...rest);
    } catch {
      if (dirname(dir) === dir) return abs;
      rest.unshift(basename(dir));
    }
  }
}
