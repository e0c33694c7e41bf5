/**
 * One recorder per capture directory: the recorder holds an exclusive kernel lock (flock) on
 * `DIR/.feeder-record.lock` while it runs. Two recorders in one DIR each took the other's files for theirs, and with
 * --keep-bytes the busier one deleted the quieter one's open file.
 * The lock, not the file's content, says who holds DIR: the kernel drops it when its process ends however it ends
 * (SIGKILL, a crash), every process on the host sees it (a recorder in another PID namespace or container sharing
 * DIR), and taking it is atomic. A PID written into a file and judged by the next starter was none of these: two
 * starters finding one stale claim both took it over (each unlinked what it judged stale, by then the other's new
 * claim), and another namespace's live PID read as no process here. The file holds the holder's PID and start time
 * for the message of a refused start only. A file whose lock is free was left by a recorder that no longer runs:
 * taken over, and said.
 * The claim file deleted under the recorder (an operator's rm) leaves the lock on a file no one can open: check()
 * sees that and writes the claim again, or says which recorder claimed DIR meanwhile.
 * Its content failing to be written (a full disk: ENOSPC) neither fails the start nor ends the recorder: the lock is
 * held all the same (it is what claims DIR), `unwritten` says why, and each check() writes it again until it can.
 * @module
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "../core/flock.ts";

export const CLAIM_FILE = ".feeder-record.lock";
/** Opens of a claim file that its releaser unlinked meanwhile, tried before giving up (each a lost race to a release). */
const MAX_TRIES = 20;

interface Holder {
  pid: number;
  since?: string;
}

/** DIR is another live recorder's: the start-up check fails with this (exit 1). */
export class DirClaimedError extends Error {}

/**
 * What check() found: the claim in place, written again after it was deleted (`unwritten`: its lock is held, its
 * content could not be written, why), or DIR claimed by another recorder.
 */
export type ClaimCheck = { state: "held" } | { state: "renewed"; unwritten?: string } | { state: "lost"; holder: string };

/**
 * Which file: device and inode. The inode alone is unique on one filesystem only: a filesystem mounted over DIR (or
 * DIR made again on another) can hold a file at the claim path with the claim's inode number.
 */
interface FileId {
  readonly dev: number;
  readonly ino: number;
}

function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

type Locked = { fd: number; id: FileId; previous: string } | { holder: string };

export class DirClaim {
  private released = false;
  /**
   * Why the claim's content (PID, start time) could not be written to the locked file, while it could not: a refused
   * starter then says "its PID not written yet". check() writes it again.
   */
  unwritten: string | undefined;
  private constructor(
    readonly path: string,
    private readonly content: string,
    private fd: number,
    private id: FileId,
  ) {}

  /**
   * Claims `dir` (which exists) for this process; throws DirClaimedError naming DIR and the holder's PID when another
   * process holds it. `onStale` hears of a claim file left by a recorder that no longer runs, taken over.
   */
  static take(dir: string, onStale: (holder: string, why: string) => void = () => {}): DirClaim {
    const path = join(dir, CLAIM_FILE);
    const content = JSON.stringify({ pid: process.pid, since: new Date().toISOString() } satisfies Holder) + "\n";
    let got: Locked;
    try {
      got = lockClaimFile(path);
    } catch (err) {
      // E.g. a claim file another user left (EACCES), or a filesystem without locks (ENOLCK): the start fails, saying so.
      throw new Error(`--out: cannot claim directory ${JSON.stringify(dir)} (${path}): ${(err as Error).message}`);
    }
    if ("holder" in got) {
      const h = parse(got.holder);
      const who = h ? `pid ${h.pid}${h.since ? `, since ${h.since}` : ""}` : "its PID not written yet";
      throw new DirClaimedError(`--out: directory ${JSON.stringify(dir)} is being recorded into by another feeder record (${who}; ${path}): give each recorder its own --out DIR`);
    }
    const claim = new DirClaim(path, content, got.fd, got.id);
    claim.unwritten = write(got.fd, content);
    if (got.previous.trim() !== "") onStale(got.previous.trim(), "its recorder no longer runs (the file's lock was free)");
    return claim;
  }

  /**
   * Whether the claim is still at DIR's claim path; written again there when it is gone (the file deleted, or DIR
   * deleted and made again), unless another recorder has claimed DIR since ("lost", naming it).
   */
  check(): ClaimCheck {
    if (this.released) return { state: "held" };
    try {
      if (sameFile(statSync(this.path), this.id)) {
        if (this.unwritten !== undefined) this.unwritten = write(this.fd, this.content);
        return { state: "held" };
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") return { state: "held" }; // unreadable now: judged next time
    }
    let got: Locked;
    try {
      got = lockClaimFile(this.path);
    } catch {
      return { state: "held" }; // DIR gone (made again by the writer's next block): judged next time
    }
    if ("holder" in got) return { state: "lost", holder: got.holder.trim() };
    // The new file is the claim from here, written or not: an error thrown here (ENOSPC) ended the recorder from its
    // timer, and left the new file locked by a descriptor no one held, which the next look took for another recorder.
    const old = this.fd;
    this.fd = got.fd;
    this.id = got.id;
    closeQuietly(old);
    this.unwritten = write(got.fd, this.content);
    return this.unwritten === undefined ? { state: "renewed" } : { state: "renewed", unwritten: this.unwritten };
  }

  /** Writes the claim again (DIR was deleted under the recorder and made again); what check() found. */
  renew(): ClaimCheck {
    return this.check();
  }

  /** Removes the claim file and lets the lock go (idempotent; synchronous, for process exit). */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      // Unlinked while locked: a starter that opened it meanwhile finds, once it has the lock, that it is no longer
      // DIR's claim file, and opens the new one.
      if (sameFile(statSync(this.path), this.id)) unlinkSync(this.path);
    } catch {
      // gone with DIR, or another's now: nothing to remove
    }
    closeQuietly(this.fd);
  }
}

/**
 * Opens (creating) the claim file at `path` and takes its lock: the open file and what it held before (a dead
 * holder's claim, or ""), or the content naming the live holder. Throws when the file cannot be opened or locked.
 */
function lockClaimFile(path: string): Locked {
  for (let tries = 0; ; tries++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    let keep = false;
    try {
      if (!tryLockExclusive(fd)) return { holder: readAll(fd) };
      // Locked, but the file may have been unlinked by its releasing holder after this open: locking a file no one
      // else opens would claim nothing. Then the path's new file is tried.
      const { dev, ino } = fstatSync(fd);
      let current: FileId | undefined;
      try {
        current = statSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      if (current !== undefined && sameFile(current, { dev, ino })) {
        keep = true;
        return { fd, id: { dev, ino }, previous: readAll(fd) };
      }
      if (tries >= MAX_TRIES) throw new Error(`${path}: released and made again ${MAX_TRIES} times while it was being claimed`);
    } finally {
      if (!keep) closeSync(fd);
    }
  }
}

function readAll(fd: number): string {
  const size = Math.min(fstatSync(fd).size, 4096);
  const buf = Buffer.alloc(size);
  const n = size > 0 ? readSync(fd, buf, 0, size, 0) : 0;
  return buf.subarray(0, n).toString("utf8");
}

/** Writes `content` as the whole file: undefined when written, else why not (the file may hold part of it). */
function write(fd: number, content: string): string | undefined {
  const bytes = Buffer.from(content);
  try {
    ftruncateSync(fd, 0);
    for (let done = 0; done < bytes.byteLength; ) {
      const n = writeSync(fd, bytes, done, bytes.byteLength - done, done);
      if (n <= 0) throw new Error(`wrote ${done} of ${bytes.byteLength} bytes`);
      done += n;
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // released all the same (Linux frees the descriptor even when close reports an error)
  }
}

function parse(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isSafeInteger(h?.pid) && h.pid > 0 ? h : undefined;
  } catch {
    return undefined;
  }
}
