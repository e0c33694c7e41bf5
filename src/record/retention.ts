/**
 * Retention for a capture directory: deletes the oldest finished capture files beyond an age (`keepMs`) or a
 * total size (`keepBytes`). Only files named like the writer's (`<prefix>-<UTC stamp>-<n>.fcap`) are touched,
 * files of earlier runs included, and never the file being written.
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

interface Entry {
  path: string;
  name: string;
  bytes: number;
  mtimeMs: number;
  stampIndex: [string, number];
}

/** Captures of `prefix` in `dir`, oldest first (by start stamp and file index in the name, then mtime). */
export function listCaptures(dir: string, prefix: string): Entry[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d{8}T\\d{6}Z)-(\\d+)\\.fcap$`);
  const out: Entry[] = [];
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isFile()) out.push({ path, name, bytes: st.size, mtimeMs: st.mtimeMs, stampIndex: [m[1]!, Number(m[2])] });
    } catch {
      // deleted between readdir and stat: nothing to retain
    }
  }
  return out.sort((a, b) => (a.stampIndex[0] < b.stampIndex[0] ? -1 : a.stampIndex[0] > b.stampIndex[0] ? 1 : a.stampIndex[1] - b.stampIndex[1] || a.mtimeMs - b.mtimeMs));
}

/** Deletes what the policy says, oldest first, and returns each deletion (failed ones carry `error`). */
export function applyRetention(dir: string, prefix: string, openFile: string | undefined, policy: RetentionPolicy, nowMs: number): Deletion[] {
  if (policy.keepMs === undefined && policy.keepBytes === undefined) return [];
  const all = listCaptures(dir, prefix);
  let total = all.reduce((s, e) => s + (e.path === openFile ? Math.max(e.bytes, policy.reserveBytes ?? 0) : e.bytes), 0);
  const deletions: Deletion[] = [];
  for (const e of all) {
    if (e.path === openFile) continue;
    let reason: Deletion["reason"] | undefined;
    if (policy.keepMs !== undefined && nowMs - e.mtimeMs > policy.keepMs) reason = "keep-hours";
    else if (policy.keepBytes !== undefined && total > policy.keepBytes) reason = "keep-bytes";
    if (!reason) continue;
    try {
      unlinkSync(e.path);
      total -= e.bytes;
      deletions.push({ file: e.path, bytes: e.bytes, reason });
    } catch (err) {
      deletions.push({ file: e.path, bytes: e.bytes, reason, error: (err as Error).message });
    }
  }
  return deletions;
}
