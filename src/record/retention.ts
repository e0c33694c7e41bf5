/**
 * Retention for a capture directory: deletes the oldest finished capture files beyond an age (`keepMs`) or a
 * total size (`keepBytes`). Only files named like the writer's (`<prefix>-<UTC stamp>-<n>.fcap`) are touched,
 * files of earlier runs included, and never the file being written. Oldest means created first: by `n`, which the
 * writer counts on from the highest in the directory (capture.ts), not by the stamp, which a wall clock stepped back
 * puts behind files written before the step. How old a file is for `keepMs` is the writer's to say (`ageMs`).
 * @module
 */
import { readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";

export interface RetentionPolicy {
  /** Delete a finished file whose last write is older than this. */
  keepMs?: number;
  /**
   * Delete the oldest finished files while the directory's capture files exceed this, the open file counted at
   * its full size (`reserveBytes`) so the directory stays within keepBytes plus one block.
   */
  keepBytes?: number;
  /** The size the open file may grow to (the writer's rotation size). */
  reserveBytes?: number;
}

export interface Deletion {
  file: string;
  bytes: number;
  reason: "keep-hours" | "keep-bytes";
  /** Set when the file could not be deleted. */
  error?: string;
}

export interface CaptureEntry {
  path: string;
  name: string;
  bytes: number;
  /** Last write, by the wall clock of whoever wrote it. */
  mtimeMs: number;
  /** The UTC start stamp in the name (the wall clock when the file was opened). */
  stamp: string;
  /** The file's number `n` in the name. */
  index: number;
}

/**
 * Captures of `prefix` in `dir`, oldest first: by the number in the name, then the start stamp, then mtime. (Captures
 * written before the writer counted on across runs number each run from 0: among those, a later run's first files
 * sort before an earlier run's later ones; every file written since sorts after all of them.)
 * `stat` false: names only (bytes and mtimeMs 0, whatever the entry is), for a writer without retention, which needs
 * only the numbers: a stat per capture made an hourly listing of 20,000 files hold the event loop 0.5 s.
 */
export function listCaptures(dir: string, prefix: string, stat = true): CaptureEntry[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d{8}T\\d{6}Z)-(\\d+)\\.fcap$`);
  const out: CaptureEntry[] = [];
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    if (!stat) {
      out.push({ path, name, bytes: 0, mtimeMs: 0, stamp: m[1]!, index: Number(m[2]) });
      continue;
    }
    try {
      const st = statSync(path);
      if (st.isFile()) out.push({ path, name, bytes: st.size, mtimeMs: st.mtimeMs, stamp: m[1]!, index: Number(m[2]) });
    } catch {
      // deleted between readdir and stat: nothing to retain
    }
  }
  return out.sort((a, b) => a.index - b.index || (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.mtimeMs - b.mtimeMs));
}

/**
 * Deletes what the policy says among `all` (captures oldest first, as listCaptures gives them; the writer keeps that
 * list, capture-index.ts, rather than listing the directory at every pass), and returns each deletion (failed ones
 * carry `error`). `ageMs` says how long ago a file was last written (compared with `keepMs`). A file already gone
 * (an operator's rm) is no deletion and no error: it is left out of the total and reported in `gone`. `unlink` deletes a
 * file (the writer's runs it as its own change to the directory, capture-index.ts own).
 */
export function applyRetention(all: readonly CaptureEntry[], openFile: string | undefined, policy: RetentionPolicy, ageMs: (e: CaptureEntry) => number, gone: CaptureEntry[] = [], unlink: (path: string) => void = unlinkSync): Deletion[] {
  if (policy.keepMs === undefined && policy.keepBytes === undefined) return [];
  let total = all.reduce((s, e) => s + (e.path === openFile ? Math.max(e.bytes, policy.reserveBytes ?? 0) : e.bytes), 0);
  const deletions: Deletion[] = [];
  for (const e of all) {
    if (e.path === openFile) continue;
    let reason: Deletion["reason"] | undefined;
    if (policy.keepMs !== undefined && ageMs(e) > policy.keepMs) reason = "keep-hours";
    else if (policy.keepBytes !== undefined && total > policy.keepBytes) reason = "keep-bytes";
    if (!reason) continue;
    try {
      unlink(e.path);
      total -= e.bytes;
      deletions.push({ file: e.path, bytes: e.bytes, reason });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        total -= e.bytes;
        gone.push(e);
        continue;
      }
      deletions.push({ file: e.path, bytes: e.bytes, reason, error: (err as Error).message });
    }
  }
  return deletions;
}
