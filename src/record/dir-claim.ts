/**
 * One recorder per capture directory: `DIR/.feeder-record.lock` names the recorder that holds DIR. Two recorders in
 * one DIR each took the other's files for theirs, and with --keep-bytes the busier one deleted the quieter one's
 * open file. The file is created with O_EXCL and holds the holder's PID, its start time (/proc/PID/stat) and the
 * boot it ran in, so a PID reused after a crash or a reboot (a container's PID 1 again) is not taken for the holder.
 * A claim whose holder no longer runs (a crash, SIGKILL) is stale: taken over, and said.
 * The check is this host's: a DIR shared by two hosts (NFS) is not guarded.
 * @module
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export const CLAIM_FILE = ".feeder-record.lock";

interface Holder {
  pid: number;
  /** /proc/PID/stat's starttime (clock ticks since boot); undefined without /proc. */
  start?: string;
  boot?: string;
  since?: string;
}

/** DIR is another live recorder's: the start-up check fails with this (exit 1). */
export class DirClaimedError extends Error {}

export class DirClaim {
  private released = false;
  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /**
   * Claims `dir` (which exists) for this process; throws DirClaimedError naming DIR and the holder's PID when another
   * live process holds it. `onStale` hears of a dead holder's claim taken over.
   */
  static take(dir: string, onStale: (holder: string, why: string) => void = () => {}): DirClaim {
    const path = join(dir, CLAIM_FILE);
    const me: Holder = { pid: process.pid, start: startTicks(process.pid), boot: bootId(), since: new Date().toISOString() };
    const content = JSON.stringify(me) + "\n";
    for (let tries = 0; ; tries++) {
      try {
        createExclusive(path, content);
        return new DirClaim(path, content);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || tries >= 3) throw err;
      }
      let text: string;
      let ino: number | bigint;
      try {
        ino = statSync(path).ino;
        text = readFileSync(path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile: try again
        throw err;
      }
      const why = staleWhy(text);
      if (why === undefined) {
        const h = parse(text)!;
        throw new DirClaimedError(`--out: directory ${JSON.stringify(dir)} is being recorded into by another feeder record (pid ${h.pid}${h.since ? `, since ${h.since}` : ""}; ${path}): give each recorder its own --out DIR`);
      }
      // Only the file judged stale goes (another starter may have taken it over since: its claim stays).
      try {
        if (statSync(path).ino === ino) unlinkSync(path);
      } catch {
        // gone already: the next try creates it
      }
      onStale(text.trim(), why);
    }
  }

  /** Writes the claim again (DIR was deleted under the recorder and made again). */
  renew(): void {
    if (this.released) return;
    try {
      createExclusive(this.path, this.content);
    } catch {
      // there already (ours or, taken meanwhile, another's) or DIR unwritable: nothing better to do here
    }
  }

  /** Removes the claim if it is still this one's (idempotent; synchronous, for process exit). */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (readFileSync(this.path, "utf8") === this.content) unlinkSync(this.path);
    } catch {
      // gone with DIR, or unreadable: nothing to release
    }
  }
}

function createExclusive(path: string, content: string): void {
  const fd = openSync(path, "wx", 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
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

/** Why a claim's holder is not running (undefined: it is). */
function staleWhy(text: string): string | undefined {
  const h = parse(text);
  if (h === undefined) return "not a feeder record claim (unreadable)";
  const boot = bootId();
  if (h.boot !== undefined && boot !== undefined && h.boot !== boot) return "written before the host last booted";
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return `no process ${h.pid}`;
    // EPERM: alive, another user's
  }
  const start = startTicks(h.pid);
  if (h.start !== undefined && start !== undefined && h.start !== start) return `pid ${h.pid} is another process now`;
  return undefined;
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name (in parentheses, which may hold spaces): state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}
