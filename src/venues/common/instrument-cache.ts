/**
 * The disk instrument cache (`venues.<venue>.instrument_cache`), cold: read at start (a restart works while REST is
 * unreachable) and merged into when a symbol resolves while running or a tick/lot changes. One file may have several
 * writers at once: markets answered in the same check, worker threads (each with its own copy of this module) and
 * processes (several instances, one cache). A merge therefore re-reads the file and writes it under a lock file
 * created with O_EXCL (`<cache>.lock`), as a temporary file renamed over the cache (a crash never leaves half a
 * cache). A lock older than CACHE_LOCK_STALE_MS is a writer that died holding it: it is broken (moved aside under a
 * unique name and checked to be the one judged stale, so of two waiters that judged it stale the second does not
 * also break the fresh lock the first then took). Merges of one path in one thread also queue behind each other, so
 * a thread never competes with itself for the lock.
 * @module
 */
import { link, mkdir, open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { InstrumentSpec } from "./instruments.ts";

const CACHE_VERSION = 1;
/**
 * A lock this old is a writer that died holding it (a merge holds it for one read and one write, milliseconds):
 * broken, so one killed process cannot stop every later merge.
 */
export const CACHE_LOCK_STALE_MS = 10_000;
/** A merge waiting longer than this for the lock gives up with an error naming the lock file (the caller logs it). */
export const CACHE_LOCK_WAIT_MS = 30_000;
/** Between two tries for a held lock: a few ms, jittered so waiters do not retry in step. */
const LOCK_POLL_MIN_MS = 2;
const LOCK_POLL_SPREAD_MS = 8;

/**
 * Disk cache: `{"version":1,"venue":"<venue>","savedAt":…,"instruments":{"linear:BTCUSDT":{"tickSize","lotSize"}}}`.
 * A missing file is an empty cache. Throws, naming the file and why, for one this feeder cannot take as `venue`'s:
 * unreadable, not JSON, another version, or another venue's (keys carry no venue: Upbit's and Bithumb's spot:KRW-BTC
 * would resolve each other's books at the wrong tick). The caller logs it; a merge then leaves the file alone.
 */
export async function readInstrumentCache(path: string, venue?: string): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw new Error(`instrument cache ${path}: cannot read it: ${String(err)}`);
  }
  let body: { version?: unknown; venue?: unknown; instruments?: Record<string, InstrumentSpec> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (err) {
    throw new Error(`instrument cache ${path}: not JSON (${String(err)}); left as it is: fix or delete it`);
  }
  if (body === null || typeof body !== "object" || body.version !== CACHE_VERSION) {
    throw new Error(`instrument cache ${path}: version ${String(body?.version)}, this feeder reads version ${CACHE_VERSION}; left as it is`);
  }
  if (venue !== undefined && typeof body.venue === "string" && body.venue !== venue) {
    throw new Error(`instrument cache ${path} holds ${body.venue}'s instruments, not ${venue}'s: give each venue its own instrument_cache`);
  }
  if (typeof body.instruments !== "object" || body.instruments === null) return out;
  for (const [key, spec] of Object.entries(body.instruments)) {
    if (typeof spec?.tickSize === "string" && typeof spec?.lotSize === "string") out.set(key, { tickSize: spec.tickSize, lotSize: spec.lotSize });
  }
  return out;
}

/** A name no other writer (process, worker thread or call) uses at the same time. */
function uniqueSuffix(): string {
  return `${process.pid}.${Math.random().toString(36).slice(2)}`;
}

/**
 * Replaces the whole file atomically (temp file + rename). Only for a writer that owns the file; everyone else
 * merges (mergeIntoInstrumentCache).
 */
export async function writeInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  const instruments: Record<string, InstrumentSpec> = {};
  for (const key of [...entries.keys()].sort()) instruments[key] = entries.get(key)!;
  const text = JSON.stringify({ version: CACHE_VERSION, venue, savedAt: new Date().toISOString(), instruments }, null, 1);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${uniqueSuffix()}.tmp`;
  await writeFile(tmp, text + "\n");
  await rename(tmp, path);
}

/** The merge last queued per cache path in this thread: merges of one file run one after the other. */
const merging = new Map<string, Promise<void>>();
/** Per cache path, the withCacheLock calls of this thread now waiting for a lock another writer holds. */
const lockWaiters = new Map<string, number>();

/**
 * Adds or updates entries of the disk cache (a symbol resolved while running, a changed tick, what REST answered at
 * start), keeping every other entry, whoever wrote it: re-read and written under the cache's lock file, so two
 * writers (markets, worker threads, processes) never drop each other's entries.
 */
export function mergeIntoInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>, o: { onWait?: () => void } = {}): Promise<void> {
  // Queued behind a merge of this thread that is waiting for another writer's lock: this one waits as long.
  if ((lockWaiters.get(path) ?? 0) > 0) o.onWait?.();
  const done = (merging.get(path) ?? Promise.resolve()).then(() => withCacheLock(path, () => mergeNow(path, venue, entries), { onWait: o.onWait }));
  const tail = done.catch(() => undefined);
  merging.set(path, tail);
  void tail.then(() => {
    if (merging.get(path) === tail) merging.delete(path);
  });
  return done;
}

/**
 * Resolves when every merge this thread has queued so far has finished (written, skipped or failed: each logs its
 * own error). For a caller that needs the file complete before others read it (the supervisor, before its workers).
 */
export async function instrumentCacheWritesSettled(): Promise<void> {
  await Promise.all(merging.values());
}

async function mergeNow(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>): Promise<void> {
  // A file that cannot be read as this venue's (not JSON, another version or venue) throws and is left as it is:
  // replacing it with this merge's few entries would drop every other market's (or another venue's).
  const cache = await readInstrumentCache(path, venue);
  let dirty = false;
  for (const [key, spec] of entries) {
    const old = cache.get(key);
    if (old && old.tickSize === spec.tickSize && old.lotSize === spec.lotSize) continue;
    cache.set(key, spec);
    dirty = true;
  }
  if (dirty) await writeInstrumentCache(path, venue, cache);
}

/**
 * Runs `fn` holding `<path>.lock` (created with O_EXCL; see the module comment). Throws naming the lock on timeout.
 * `onWait` is called once if the lock is held by another writer (the caller may stop waiting for the result).
 */
export async function withCacheLock<T>(path: string, fn: () => Promise<T>, o: { staleMs?: number; waitMs?: number; onWait?: () => void } = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const staleMs = o.staleMs ?? CACHE_LOCK_STALE_MS;
  const token = `${uniqueSuffix()} ${Date.now()}\n`;
  const giveUpAt = Date.now() + (o.waitMs ?? CACHE_LOCK_WAIT_MS);
  await mkdir(dirname(path), { recursive: true });
  let waiting = false;
  try {
    for (;;) {
      try {
        const fh = await open(lockPath, "wx");
        try {
          await fh.writeFile(token);
        } finally {
          await fh.close();
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`instrument cache lock ${lockPath}: ${String(err)}`);
      }
      if (!waiting) {
        waiting = true;
        lockWaiters.set(path, (lockWaiters.get(path) ?? 0) + 1);
        o.onWait?.();
      }
      await breakIfStale(lockPath, staleMs);
      if (Date.now() > giveUpAt) throw new Error(`instrument cache lock ${lockPath} held by another writer for more than ${o.waitMs ?? CACHE_LOCK_WAIT_MS} ms; not written`);
      await new Promise((r) => setTimeout(r, LOCK_POLL_MIN_MS + Math.random() * LOCK_POLL_SPREAD_MS));
    }
  } finally {
    if (waiting) {
      const n = (lockWaiters.get(path) ?? 1) - 1;
      if (n > 0) lockWaiters.set(path, n);
      else lockWaiters.delete(path);
    }
  }
  try {
    return await fn();
  } finally {
    // Ours unless it was judged stale and broken meanwhile (then it is a newer writer's: leave it).
    const held = await readFile(lockPath, "utf8").catch(() => "");
    if (held === token) await unlink(lockPath).catch(() => undefined);
  }
}

/**
 * A lock older than `staleMs` is moved aside under a unique name, then removed if it is the lock that was judged
 * stale; if another waiter replaced it in between (a fresh lock was moved), it is put back unless a newer one exists.
 */
async function breakIfStale(lockPath: string, staleMs: number): Promise<void> {
  let judged: string;
  try {
    const st = await stat(lockPath);
    if (Date.now() - st.mtimeMs < staleMs) return;
    judged = await readFile(lockPath, "utf8");
  } catch {
    return; // released meanwhile
  }
  const aside = `${lockPath}.${uniqueSuffix()}.stale`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readFile(aside, "utf8").catch(() => judged);
  if (moved !== judged) await link(aside, lockPath).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}
