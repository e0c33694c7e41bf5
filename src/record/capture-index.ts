/**
 * The capture writer's list of its directory's captures (oldest first, as listCaptures gives them), for retention and
 * the next file's number. Listing reads the directory and stats every capture in it: done at every rotation and
 * retention pass, a month of one-minute files (43,000) made that quadratic, and a directory of 100,000 files took
 * seconds per pass. Now it is listed when the writer starts, kept up to date from the writer's own changes (a file
 * opened, closed at its size, deleted), and listed again only when the directory changed otherwise: its mtime (or
 * inode) is not what it was after the writer's last own change (another writer, an operator's rm, the directory
 * recreated) or after the last listing (changed while being listed), or RELIST_MS passed (a change within the mtime's granularity of the writer's own, or a file of another
 * writer that grew without changing the directory). Without retention nothing reads sizes or mtimes: a listing reads
 * names only (the hourly one stat'ed every capture: 0.5 s of the event loop at 20,000 files).
 * @module
 */
import { statSync } from "node:fs";
import { listCaptures, type CaptureEntry } from "./retention.ts";

/** The longest the list goes without a listing of the directory (monotonic). */
export const RELIST_MS = 3_600_000;

export class CaptureIndex {
  /** Listings of the directory so far (readdir, and a stat per capture each when withStats). */
  listings = 0;
  private list: CaptureEntry[] = [];
  /** The directory's inode and mtime after the last listing or own change; "" = list again. */
  private stamp = "";
  private listedMonoMs = 0;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly monoNow: () => number,
    /** Whether anything reads sizes and mtimes (retention): without, a listing reads names only (no stat per file). */
    private readonly withStats = true,
  ) {}

  /** The captures, oldest first; lists the directory first when it changed otherwise. Throws when it cannot be read. */
  entries(): CaptureEntry[] {
    const stamp = dirStamp(this.dir);
    if (stamp === "" || stamp !== this.stamp || this.monoNow() - this.listedMonoMs >= RELIST_MS) {
      this.list = listCaptures(this.dir, this.prefix, this.withStats);
      this.listings++;
      this.listedMonoMs = this.monoNow();
      // A change while it ran (another writer's file, in seconds of listing a large DIR) would be taken for the
      // writer's own by its next own change (own), and go unseen for RELIST_MS: the next call lists again.
      this.stamp = dirStamp(this.dir) === stamp ? stamp : "";
    }
    return this.list;
  }

  /**
   * Runs one of the writer's own changes to the directory (a file created or deleted; the caller brings the list up
   * to date): the directory's stamp after it is its stamp with no one else's change. Someone else's change since the
   * last look is seen first (stat'ed before), so the next entries() lists; one in the microseconds of the call itself
   * is seen at the next relist at the latest. Before, the stamp was taken only after a retention pass's deletions:
   * another writer's file made between two of them was taken for the writer's own.
   */
  own<T>(change: () => T): T {
    if (this.stamp !== "" && dirStamp(this.dir) !== this.stamp) this.stamp = "";
    try {
      return change();
    } finally {
      if (this.stamp !== "") this.stamp = dirStamp(this.dir);
    }
  }

  /** A file this writer created (its number the highest so far, or not: kept in order). */
  added(e: CaptureEntry): void {
    const last = this.list.at(-1);
    const i = last === undefined || last.index <= e.index ? -1 : this.list.findIndex((x) => x.index > e.index);
    if (i < 0) this.list.push(e);
    else this.list.splice(i, 0, e);
  }

  /** A file's size now (this writer's open file, or the one it closed: the last or near it, looked for from there). */
  resized(path: string, bytes: number): void {
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (this.list[i]!.path !== path) continue;
      this.list[i]!.bytes = bytes;
      return;
    }
  }

  removed(paths: readonly string[]): void {
    if (paths.length === 0) return;
    const gone = new Set(paths);
    this.list = this.list.filter((e) => !gone.has(e.path));
  }

  /** Forget what was listed: the next entries() lists the directory (it was recreated; a file changed unseen). */
  invalidate(): void {
    this.stamp = "";
  }
}

function dirStamp(dir: string): string {
  try {
    const st = statSync(dir, { bigint: true });
    return `${st.dev}:${st.ino}:${st.mtimeNs}`;
  } catch {
    return "";
  }
}
