/**
 * The disk instrument cache (`venues.<venue>.instrument_cache`), cold: read at start (a restart works while REST is
 * unreachable) and merged into when a symbol resolves while running or a tick/lot changes. One file may have several
 * writers at once: markets answered in the same check, worker threads (each with its own copy of this module) and
 * processes (several instances, one cache). A merge therefore re-reads the file and writes it under a lock file
 * (`<cache>.lock`, holding a unique token; created whole, as a temporary file hard-linked to that name, which fails
 * while it exists), as a temporary file renamed over the cache (a crash never leaves half a cache). A holder touches
 * its lock while it holds it. A waiter breaks a lock it has itself seen unchanged (token and time) for long enough,
 * by its own monotonic clock: CACHE_LOCK_STALE_MS less the lock's age, at least LOCK_CONFIRM_MS (a wall clock
 * stepped forward makes a live lock look old; a step back makes a dead one look new, and it is still broken within
 * CACHE_LOCK_STALE_MS). Removing a lock (a holder's release, a waiter's break) goes through a tombstone, a hard link
 * to it named after its token: only one writer at a time can make it, and the token read through it says whether the
 * path still holds that lock, so nobody ever removes a lock other than the one it meant (two waiters breaking the
 * same dead lock, a release after a break). Merges of one path in one thread also queue behind each other, so a
 * thread never competes with itself for the lock. The cache's directory must allow hard links. Both temporary files
 * (the cache's `<cache>.<pid>.<random><check>.tmp`, the lock's `<cache>.lock.<pid>.<random><check>.new`) are held with
 * an flock while written: each merge (written or not) and each start (sweepInstrumentCacheTemps) removes those a killed
 * writer left, and no other file (core/stale-temps.ts). A broken lock is logged (`o.log`), naming its holder's tag.
 * @module
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, readFile, stat, unlink, utimes, type FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { renameDurably } from "../../core/durable-rename.ts";
import { sameStep } from "../../core/fixed.ts";
import { kindOf } from "../../core/regular-file.ts";
import { isTempTag, lockNewTemp, newTempTags, removeStaleTemps } from "../../core/stale-temps.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { Logger } from "../../core/log.ts";
import type { InstrumentSpec } from "./instruments.ts";

const CACHE_VERSION = 1;
/**
 * A lock seen unchanged this long is a writer that died holding it (a merge holds it for one read and one write,
 * milliseconds, and touches it while it holds it): broken, so one killed process cannot stop every later merge.
 */
export const CACHE_LOCK_STALE_MS = 10_000;
/** A merge waiting longer than this for the lock gives up with an error naming the lock file (the caller logs it). */
export const CACHE_LOCK_WAIT_MS = 30_000;
/**
 * The least time a waiter must see a lock unchanged before it breaks it, however old its time says it is (a clock
 * stepped forward). A live holder touches its lock more often than this.
 */
export const LOCK_CONFIRM_MS = 2_000;
/**
 * An entry whose listed expiry (`expiresMs`) is past by more than this is dropped when the file is written: a
 * delivered future or exercised option is never listed again, and before s-binmisc every one a cache had seen stayed
 * in it for ever. Kept that long first so a restart soon after the expiry still finds it (closed at once, never
 * subscribed). One the writer's configuration still names is kept however old (configuredCacheKeys): with REST down
 * its book is closed at once as before, not `symbol_unresolved` (until s-rd13c it was dropped too). Another
 * instance's configuration is not known here: instances with different symbol lists sharing one file may drop each
 * other's such entries, so each is given its own file (docs/operations.md, "The instrument cache with several writers").
 */
export const CACHE_EXPIRED_KEEP_MS = 7 * 86_400_000;
/** Between two tries for a held lock: a few ms, jittered so waiters do not retry in step. */
const LOCK_POLL_MIN_MS = 2;
const LOCK_POLL_SPREAD_MS = 8;

/**
 * Disk cache: `{"version":1,"venue":"<venue>","savedAt":…,"instruments":{"linear:BTCUSDT":{"tickSize","lotSize"}}}`,
 * an entry with the expiry its listing gave where it gave one (`"expiresMs"`, ms since the epoch: an option or dated
 * future resolved from the cache while REST is unreachable is still closed at its expiry). The field is optional
 * within version 1, so files written before it load (their entries' expiry unknown: none kept) and a feeder before
 * it still reads (and merges) this one, dropping the expiries it rewrites (unknown again, never wrong).
 * A missing file is an empty cache. Throws, naming the file and why, for one this feeder cannot take as `venue`'s:
 * unreadable, not JSON, another version, or another venue's (keys carry no venue: Upbit's and Bithumb's spot:KRW-BTC
 * would resolve each other's books at the wrong tick), or not a regular file. The caller logs it; a merge then
 * leaves the file alone.
 */
export async function readInstrumentCache(path: string, venue?: string): Promise<Map<string, InstrumentSpec>> {
  const out = new Map<string, InstrumentSpec>();
  let text: string;
  try {
    text = await readCacheText(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw new Error(`instrument cache ${path}: cannot read it: ${err instanceof NotRegularCache ? err.message : String(err)}`);
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
    if (typeof spec?.tickSize !== "string" || typeof spec?.lotSize !== "string") continue;
    // An expiry that is no positive number is unknown (the watch judges whether a number is a time in ms).
    const at = spec.expiresMs;
    out.set(key, typeof at === "number" && Number.isFinite(at) && at > 0 ? { tickSize: spec.tickSize, lotSize: spec.lotSize, expiresMs: at } : { tickSize: spec.tickSize, lotSize: spec.lotSize });
  }
  return out;
}

/**
 * Whether a cache entry already says what `spec` says: tick and lot as values ("0.10" is "0.1"; as texts until
 * 2026-12-07, so a padded listing rewrote the cache for nothing), and expiry (none and unknown alike).
 */
export function sameCachedSpec(old: InstrumentSpec | undefined, spec: InstrumentSpec): boolean {
  return old !== undefined && sameStep(old.tickSize, spec.tickSize) && sameStep(old.lotSize, spec.lotSize) && old.expiresMs === spec.expiresMs;
}

class NotRegularCache extends Error {}

/**
 * The cache's text, opened without waiting: a FIFO there (a `mkfifo` path, or one given by mistake) held the read's
 * open(2) for good, and with it the venue's start (its instruments never resolved, nothing logged) or a merge holding
 * the cache's lock, which every other writer then waited on. A FIFO, device, directory or socket is refused by what
 * it is: the cache is read again and again and replaced by rename, so no FIFO can be one. A regular file another
 * process holds a write lease on answers EAGAIN and is opened plainly (the open waits for the lease's break).
 */
async function readCacheText(path: string): Promise<string> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === "EAGAIN" || code === "EWOULDBLOCK") && (await stat(path)).isFile()) file = await open(path, "r");
    else if (code === "ENXIO" && (await stat(path)).isSocket()) throw new NotRegularCache("not a regular file but a socket");
    else throw err;
  }
  try {
    const kind = kindOf(await file.stat());
    if (kind !== undefined) throw new NotRegularCache(`not a regular file but ${kind}; left as it is: the cache must be a file (remove it or give another path)`);
    return await file.readFile("utf8");
  } finally {
    await file.close();
  }
}

/**
 * A name no other writer (process, worker thread or call) uses at the same time, for a temporary file of the cache at
 * `path` (core/stale-temps.ts newTempTags): `tag` a sweep takes once its writer is gone, `unlockedTag` none does.
 */
function uniqueTags(path: string): { tag: string; unlockedTag: string } {
  return newTempTags(basename(path), ".");
}

/** Whether a cache entry's listed expiry is past by more than CACHE_EXPIRED_KEEP_MS at `nowMs` (wall clock, ms). */
export function expiredLongAgo(spec: InstrumentSpec, nowMs: number): boolean {
  return spec.expiresMs !== undefined && spec.expiresMs < nowMs - CACHE_EXPIRED_KEEP_MS;
}

/**
 * The cache keys (`market:SYMBOL`) of every symbol the venue's configuration names, all shards' and workers' (a
 * `SYMBOL@depth` is SYMBOL's): a write keeps these whatever their expiry. Cold: built per write.
 */
export function configuredCacheKeys(config: Pick<VenueConfig, "markets">): Set<string> {
  const keys = new Set<string>();
  for (const m of config.markets) {
    for (const symbol of m.symbols) {
      const at = symbol.indexOf("@");
      keys.add(`${m.market}:${at > 0 ? symbol.slice(0, at) : symbol}`);
    }
  }
  return keys;
}

/** What a write is given besides the entries: the wall clock (tests inject one), the keys kept whatever their expiry. */
export interface CacheWriteOptions {
  nowMs?: () => number;
  /** Keys a configured book still needs (configuredCacheKeys): never dropped as expired long ago. */
  keep?: ReadonlySet<string>;
}

/**
 * Replaces the whole file atomically (temp file + rename, the file stored on disk before the rename and the rename
 * after it: core/durable-rename.ts), less the entries expired long ago (expiredLongAgo) that `o.keep` does not name.
 * Only for a writer that owns the file; everyone else merges (mergeIntoInstrumentCache).
 */
export async function writeInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>, o: CacheWriteOptions = {}): Promise<void> {
  const nowMs = (o.nowMs ?? Date.now)();
  const instruments: Record<string, InstrumentSpec> = {};
  for (const key of [...entries.keys()].sort()) {
    const spec = entries.get(key)!;
    if (!expiredLongAgo(spec, nowMs) || o.keep?.has(key) === true) instruments[key] = spec;
  }
  const text = JSON.stringify({ version: CACHE_VERSION, venue, savedAt: new Date().toISOString(), instruments }, null, 1);
  await mkdir(dirname(path), { recursive: true });
  const tags = uniqueTags(path);
  const { file, path: tmp } = await openLocked(`${path}.${tags.tag}.tmp`, `${path}.${tags.unlockedTag}.tmp`);
  try {
    removeStaleCacheTemps(path, basename(tmp), (await file.stat()).mtimeMs);
    await file.writeFile(text + "\n");
    // Stored before the rename and the rename after it: a power loss never leaves an empty or cut cache behind.
    const unstored = await renameDurably(file.fd, tmp, path);
    if (unstored !== undefined) throw new Error(`instrument cache written, but not stored: ${unstored}`);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    await file.close(); // the lock goes with it
  }
}

/**
 * `path` created exclusively and held with an flock until closed (core/stale-temps.ts lockNewTemp): a process killed
 * while it writes one of the cache's temporary files leaves it unlocked, for removeStaleCacheTemps. Where no lock can
 * be taken (ENOLCK) it is renamed to `unlockedPath`, which no sweep takes: returns where the file is.
 */
async function openLocked(path: string, unlockedPath: string): Promise<{ file: FileHandle; path: string }> {
  const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
  try {
    return { file, path: lockNewTemp(file.fd, path, unlockedPath) };
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
}

/**
 * Removes the temporary files killed writers left beside the cache at `path` (removeStaleCacheTemps), aged by the
 * directory's mtime where the host's clock is ahead of it (NFS: a file's times are the server's): at start, where nothing may be written (a cache REST agrees with is never rewritten, and before s-leftops2
 * such a cache kept a killed writer's files for good). Cold: one listing of the directory.
 */
export function sweepInstrumentCacheTemps(path: string): void {
  removeStaleCacheTemps(path, "", undefined);
}

/**
 * Removes the cache's temporary files a killed writer left (`<cache>.<pid>.<random><check>.tmp`, `<cache>.lock.<pid>.<random><check>.new`):
 * those nobody holds the flock of (openLocked: a live writer holds it until its rename or unlink) and nobody modified
 * for a minute (STALE_TEMP_MIN_AGE_MS; `fsNowMs`, the mtime of the caller's own file just made, is the filesystem's
 * clock). Before, each write killed midway (SIGKILL, the OOM killer, an exit that ended a merge) left one for good.
 */
function removeStaleCacheTemps(path: string, ownTemp: string, fsNowMs: number | undefined): void {
  const base = basename(path);
  // Exactly the names uniqueTags makes, their check right for this cache (no other file beside it is taken).
  const isTemp = (name: string) => {
    if (name === ownTemp || !name.startsWith(`${base}.`)) return false;
    const rest = name.slice(base.length + 1);
    if (rest.endsWith(".tmp")) return isTempTag(base, ".", rest.slice(0, -".tmp".length));
    return rest.startsWith("lock.") && rest.endsWith(".new") && isTempTag(base, ".", rest.slice("lock.".length, -".new".length));
  };
  removeStaleTemps(dirname(path), isTemp, { fsNowMs });
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
export function mergeIntoInstrumentCache(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>, o: CacheWriteOptions & { onWait?: () => void; log?: Logger } = {}): Promise<void> {
  // Queued behind a merge of this thread that is waiting for another writer's lock: this one waits as long.
  if ((lockWaiters.get(path) ?? 0) > 0) o.onWait?.();
  const done = (merging.get(path) ?? Promise.resolve()).then(() => withCacheLock(path, () => mergeNow(path, venue, entries, o), { onWait: o.onWait, log: o.log }));
  const tail = done.catch(() => undefined);
  merging.set(path, tail);
  void tail.then(() => {
    if (merging.get(path) === tail) merging.delete(path);
  });
  return done;
}

/**
 * Resolves when every merge this thread has queued so far has finished (written, skipped or failed: each logs its
 * own error). For a caller that needs the file complete before others read it (tests, tools).
 */
export async function instrumentCacheWritesSettled(): Promise<void> {
  await Promise.all(merging.values());
}

async function mergeNow(path: string, venue: string, entries: ReadonlyMap<string, InstrumentSpec>, o: CacheWriteOptions): Promise<void> {
  // A file that cannot be read as this venue's (not JSON, another version or venue) throws and is left as it is:
  // replacing it with this merge's few entries would drop every other market's (or another venue's).
  const cache = await readInstrumentCache(path, venue);
  let dirty = false;
  for (const [key, spec] of entries) {
    if (sameCachedSpec(cache.get(key), spec)) continue;
    cache.set(key, spec);
    dirty = true;
  }
  // Written only when something changed; then the entries expired long ago go too (writeInstrumentCache), and the
  // temporary files killed writers left. Unchanged, those are swept all the same, by the filesystem's clock: the
  // mtime of the lock this merge has just made.
  if (dirty) await writeInstrumentCache(path, venue, cache, { nowMs: o.nowMs, keep: o.keep });
  else {
    const lock = await stat(`${path}.lock`).catch(() => undefined);
    if (lock !== undefined) removeStaleCacheTemps(path, "", lock.mtimeMs);
  }
}

/**
 * Runs `fn` holding `<path>.lock` (see the module comment). Throws naming the lock on timeout.
 * `onWait` is called once if the lock is held by another writer (the caller may stop waiting for the result); `log`
 * is told of a stale lock this writer broke (a writer died holding it).
 */
export async function withCacheLock<T>(path: string, fn: () => Promise<T>, o: { staleMs?: number; waitMs?: number; onWait?: () => void; log?: Logger } = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const staleMs = o.staleMs ?? CACHE_LOCK_STALE_MS;
  const waitMs = o.waitMs ?? CACHE_LOCK_WAIT_MS;
  const tags = uniqueTags(path);
  const token = `${tags.tag} ${Date.now()}\n`;
  // Monotonic: a step of the wall clock neither cuts the wait short nor stretches it.
  const giveUpAt = performance.now() + waitMs;
  await mkdir(dirname(path), { recursive: true });
  let waiting = false;
  let seen: Seen | undefined;
  try {
    for (;;) {
      if (await tryLock(lockPath, `${lockPath}.${tags.tag}.new`, `${lockPath}.${tags.unlockedTag}.new`, token)) break;
      if (!waiting) {
        waiting = true;
        lockWaiters.set(path, (lockWaiters.get(path) ?? 0) + 1);
        o.onWait?.();
      }
      seen = await breakIfStale(lockPath, staleMs, seen, o.log);
      if (performance.now() > giveUpAt) throw new Error(`instrument cache lock ${lockPath} held by another writer for more than ${waitMs} ms; not written`);
      await new Promise((r) => setTimeout(r, LOCK_POLL_MIN_MS + Math.random() * LOCK_POLL_SPREAD_MS));
    }
  } finally {
    if (waiting) {
      const n = (lockWaiters.get(path) ?? 1) - 1;
      if (n > 0) lockWaiters.set(path, n);
      else lockWaiters.delete(path);
    }
  }
  // While held, the lock's time is touched now and then: a waiter breaks only a lock it saw unchanged for a while.
  const refreshMs = Math.max(5, Math.min(staleMs, LOCK_CONFIRM_MS) / 4);
  const refresh = setInterval(() => void utimes(lockPath, new Date(), new Date()).catch(() => undefined), refreshMs);
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    await removeLock(lockPath, token);
  }
}

/** Creates the lock whole (a temporary file with the token, hard-linked to the lock path: fails if it exists). */
async function tryLock(lockPath: string, tmpPath: string, unlockedPath: string, token: string): Promise<boolean> {
  let file: FileHandle;
  let tmp: string;
  try {
    ({ file, path: tmp } = await openLocked(tmpPath, unlockedPath)); // flock held until closed: a sweep never takes a live writer's
  } catch (err) {
    throw new Error(`instrument cache lock ${lockPath}: ${String(err)}`); // EEXIST here is no held lock
  }
  try {
    await file.writeFile(token);
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new Error(`instrument cache lock ${lockPath}: ${String(err)}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
    await file.close().catch(() => undefined);
  }
}

/**
 * The lock as one waiter sees it: its content and time (`key`), since when (performance.now()) it has seen it
 * unchanged, for how long it must before judging it stale, and since when its break was refused by a tombstone.
 */
interface Seen {
  readonly key: string;
  readonly token: string;
  readonly sinceMs: number;
  readonly needMs: number;
  busySinceMs?: number;
}

/**
 * Breaks the lock if this waiter has seen it unchanged (token and modification time) for long enough: staleMs less
 * its age by the wall clock, but never less than LOCK_CONFIRM_MS (a clock stepped forward makes a fresh lock look
 * old) nor more than staleMs (a clock stepped back makes a dead lock look new). Returns what it saw.
 */
async function breakIfStale(lockPath: string, staleMs: number, seen: Seen | undefined, log: Logger | undefined): Promise<Seen | undefined> {
  let token: string;
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(lockPath)).mtimeMs;
    token = await readFile(lockPath, "utf8");
  } catch {
    return undefined; // released meanwhile
  }
  const key = `${mtimeMs} ${token}`;
  const nowMs = performance.now();
  if (seen?.key !== key) {
    const ageMs = Date.now() - mtimeMs;
    return { key, token, sinceMs: nowMs, needMs: Math.min(staleMs, Math.max(Math.min(LOCK_CONFIRM_MS, staleMs), staleMs - ageMs)) };
  }
  if (nowMs - seen.sinceMs < seen.needMs) return seen;
  const removed = await removeLock(lockPath, token);
  if (removed === "removed") {
    // Its holder's tag starts with its pid: which process died holding it.
    log?.warn("instrument cache lock broken: its writer died holding it", { lock: lockPath, holder: token.trim().slice(0, 200), unchangedMs: Math.round(nowMs - seen.sinceMs) });
  }
  if (removed !== "busy") return undefined;
  // Another waiter's tombstone: it is breaking this lock now. One left that long is a breaker that died in between.
  seen.busySinceMs ??= nowMs;
  if (nowMs - seen.busySinceMs >= staleMs) await unlink(tombstoneOf(lockPath, token)).catch(() => undefined);
  return seen;
}

/** The tombstone name for a lock holding `token`: one name per lock, so only one writer at a time may remove it. */
function tombstoneOf(lockPath: string, token: string): string {
  return `${lockPath}.${createHash("sha1").update(token).digest("hex").slice(0, 16)}.break`;
}

/**
 * Removes the lock at `lockPath` if, and only if, it holds `token` (a holder releasing its own, or a waiter breaking
 * the dead one it judged). First a hard link to it under the token's tombstone name: that fails while another writer
 * removes the same lock, and once made, the path can change only through its holder (dead, or this writer), so the
 * token read through the link says whether the path still holds that lock. A different lock there is left alone.
 * "removed" when this writer removed it; "other" when that lock is gone already or the path holds another;
 * "busy" when another writer's tombstone stood in the way.
 */
async function removeLock(lockPath: string, token: string): Promise<"removed" | "other" | "busy"> {
  const tomb = tombstoneOf(lockPath, token);
  try {
    await link(lockPath, tomb);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EEXIST" ? "busy" : "other";
  }
  try {
    if ((await readFile(tomb, "utf8")) !== token) return "other";
    await unlink(lockPath);
    return "removed";
  } finally {
    await unlink(tomb).catch(() => undefined);
  }
}
