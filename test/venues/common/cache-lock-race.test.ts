/**
 * The instrument cache's lock (src/venues/common/instrument-cache.ts withCacheLock) under the race its stale-lock
 * takeover must survive: a writer died holding `<cache>.lock`; two waiters B and C judge that lock stale at the same
 * time; B breaks it and takes the lock; only then does C act on the lock it judged; a third writer D tries to take
 * the lock (O_EXCL) after each of C's file operations, as another process would. Whatever C does, nobody else may
 * hold the lock while B does. Before, C moved B's fresh lock aside (its break was a rename of whatever the path held
 * then); D took the free path while B was still writing, and C, its restore refused, deleted B's lock.
 *
 * The schedule is forced, not timed: the module's node:fs/promises is wrapped so each waiter's first operation on
 * the lock file itself (a rename, link or unlink of `<cache>.lock`) waits until both waiters reached theirs; the
 * waiters are told apart by an AsyncLocalStorage context.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { expect, test, vi } from "vitest";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { until } from "../../support/until.ts";

/** The wrapped file operations report to these (set by the test): before each one (awaited) and after it. */
const hooks = vi.hoisted(() => ({
  before: async (_op: string, _args: unknown[]): Promise<void> => {},
  after: async (_op: string, _args: unknown[]): Promise<void> => {},
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const wrap =
    <A extends unknown[], R>(op: string, f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await hooks.before(op, args);
      try {
        return await f(...args);
      } finally {
        await hooks.after(op, args);
      }
    };
  return {
    ...real,
    default: real,
    open: wrap("open", real.open),
    rename: wrap("rename", real.rename),
    link: wrap("link", real.link),
    unlink: wrap("unlink", real.unlink),
    writeFile: wrap("writeFile", real.writeFile),
    readFile: wrap("readFile", real.readFile),
    stat: wrap("stat", real.stat),
    utimes: wrap("utimes", real.utimes),
  };
});

const { withCacheLock, CACHE_LOCK_STALE_MS } = await import("../../../src/venues/common/instrument-cache.ts");

const who = new AsyncLocalStorage<string>();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("two waiters breaking the same dead lock at once, a third writer taking any free moment: never two holders", { timeout: 60_000 }, async () => {
  const dir = makeTempDir("cache-lock-race-");
  const path = join(dir, "instruments.json");
  const lockPath = `${path}.lock`;
  writeFileSync(lockPath, "4242.dead 0\n"); // a writer that died holding it, long ago
  const past = (Date.now() - CACHE_LOCK_STALE_MS - 5_000) / 1000;
  utimesSync(lockPath, past, past);

  const holders = new Set<string>();
  const violations: string[] = [];
  const enter = (name: string) => {
    if (holders.size > 0) violations.push(`${name} took the lock while ${[...holders].join(", ")} held it`);
    holders.add(name);
  };
  // Each waiter's first operation on the lock file itself waits until both waiters have reached theirs.
  const reached = new Set<string>();
  const gates = { B: deferred(), C: deferred() } as Record<string, { promise: Promise<void>; resolve: () => void }>;
  let adversary = false;
  let cAttempts = 0;
  hooks.before = async (op, args) => {
    const name = who.getStore();
    if (name !== "B" && name !== "C") return;
    if (op === "open" && args[0] === lockPath && adversary && name === "C") cAttempts++;
    if (op === "link" && args[1] === lockPath && adversary && name === "C") cAttempts++;
    const onLock = (op === "rename" || op === "link" || op === "unlink") && args[0] === lockPath;
    if (!onLock || reached.has(name)) return;
    reached.add(name);
    await gates[name]!.promise;
  };
  // D: after each of C's operations, another process tries to take the lock (O_EXCL), and lets it go at once.
  hooks.after = async () => {
    if (!adversary || who.getStore() !== "C") return;
    let fd: number;
    try {
      fd = openSync(lockPath, "wx");
    } catch {
      return; // held: D waits its turn, as it should
    }
    writeSync(fd, "D.other-process 0\n");
    closeSync(fd);
    enter("D");
    holders.delete("D");
    if (readFileSync(lockPath, "utf8") === "D.other-process 0\n") unlinkSync(lockPath);
  };

  const bIn = deferred();
  const bOut = deferred();
  const b = who.run("B", () =>
    withCacheLock(path, async () => {
      enter("B");
      bIn.resolve();
      await bOut.promise;
      holders.delete("B");
    }),
  );
  const c = who.run("C", () =>
    withCacheLock(path, async () => {
      enter("C");
      holders.delete("C");
    }),
  );
  await until(() => reached.size === 2, "both waiters about to act on the dead lock they judged stale", 20_000);
  gates.B!.resolve();
  await bIn.promise; // B broke the dead lock and holds a fresh one
  adversary = true;
  gates.C!.resolve();
  await until(() => cAttempts > 0, "C back to taking the lock the ordinary way", 20_000);
  bOut.resolve();
  await Promise.all([b, c]);

  expect(violations).toEqual([]);
  expect(existsSync(lockPath)).toBe(false);
  expect(readdirSync(dir).filter((f) => f !== "instruments.json")).toEqual([]); // no tomb, temporary or aside left
});

test("the wall clock stepped forward while a writer holds the lock: a waiter does not take it from the live holder", { timeout: 60_000 }, async () => {
  hooks.before = async () => {};
  hooks.after = async () => {};
  const path = join(makeTempDir("cache-lock-step-"), "instruments.json");
  const lockPath = `${path}.lock`;
  const holders = new Set<string>();
  const violations: string[] = [];
  const enter = (name: string) => {
    if (holders.size > 0) violations.push(`${name} took the lock while ${[...holders].join(", ")} held it`);
    holders.add(name);
  };
  // The holder's touches of its lock (the time a waiter judges it by).
  let refreshes = 0;
  hooks.before = async (op, args) => {
    if (op === "utimes" && args[0] === lockPath && who.getStore() === "B") refreshes++;
  };
  const bIn = deferred();
  const bOut = deferred();
  const b = who.run("B", () =>
    withCacheLock(path, async () => {
      enter("B");
      bIn.resolve();
      await bOut.promise;
      holders.delete("B");
    }),
  );
  await bIn.promise;
  // The clock steps an hour forward: the live holder's lock now looks an hour old.
  const past = (Date.now() - 3_600_000) / 1000;
  utimesSync(lockPath, past, past);
  const before = refreshes;
  const c = withCacheLock(path, async () => {
    enter("C");
    holders.delete("C");
  });
  // Long enough for a waiter to judge a lock it saw unchanged (LOCK_CONFIRM_MS): the holder touched it 5 times since.
  await until(() => violations.length > 0 || refreshes >= before + 5, "the holder to touch its lock five times while the other waits", 20_000);
  expect(violations).toEqual([]);
  bOut.resolve();
  await Promise.all([b, c]);
  expect(violations).toEqual([]);
  expect(existsSync(lockPath)).toBe(false);
});

test("the wall clock stepped back: a dead writer's lock, its time now in the future, is still broken", { timeout: 60_000 }, async () => {
  hooks.before = async () => {};
  hooks.after = async () => {};
  const path = join(makeTempDir("cache-lock-back-"), "instruments.json");
  writeFileSync(`${path}.lock`, "4242.dead 0\n");
  const future = (Date.now() + 3_600_000) / 1000;
  utimesSync(`${path}.lock`, future, future);
  let ran = false;
  await withCacheLock(path, async () => void (ran = true), { staleMs: 200, waitMs: 5_000 });
  expect(ran).toBe(true);
  expect(existsSync(`${path}.lock`)).toBe(false);
});
