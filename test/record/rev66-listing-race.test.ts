/**
 * Another writer's change to DIR while the writer lists it (a readdir and a stat a capture: seconds at 100,000 files)
 * or between two of the writer's own changes (the deletions of one retention pass) was taken for the writer's own by
 * its next own change (the file it opens right after; the pass's last deletion), and so not seen for an hour.
 */
import { expect, test, vi } from "vitest";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";

/** Run once right after the next readdirSync of a directory returns: someone else's change during the listing. */
const hook = vi.hoisted(() => ({ afterReaddir: undefined as (() => void) | undefined, beforeStat: undefined as ((path: string) => void) | undefined }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const readdirSync = ((...args: unknown[]) => {
    const out = (real.readdirSync as (...a: unknown[]) => unknown)(...args);
    const after = hook.afterReaddir;
    hook.afterReaddir = undefined;
    after?.();
    return out;
  }) as typeof real.readdirSync;
  const statSync = ((...args: unknown[]) => {
    hook.beforeStat?.(String(args[0]));
    return (real.statSync as (...a: unknown[]) => unknown)(...args);
  }) as typeof real.statSync;
  return { ...real, default: real, readdirSync, statSync };
});

const { CaptureWriter } = await import("../../src/record/capture.ts");
const { utimesSync, writeFileSync } = await import("node:fs");

test("a file another writer adds while the writer lists DIR is seen at the next pass, not an hour later", () => {
  const dir = makeTempDir("feeder-rev66-listing-race-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepBytes: 1e9 } });
  for (let i = 0; i < 3; i++) w.write(i, "bybit", "linear", "c", "x".repeat(300));
  // Someone else changes DIR (the next rotation lists it again), and adds a file while that listing runs.
  utimesSync(dir, 1_000_000, 1_000_000);
  hook.afterReaddir = () => writeFileSync(join(dir, "feeder-20990101T000000Z-900.fcap"), "FDRCAP01");
  w.write(3, "bybit", "linear", "c", "x".repeat(300)); // rotation: listed, then the writer's own file opened
  expect(hook.afterReaddir).toBeUndefined();
  w.write(4, "bybit", "linear", "c", "x".repeat(300));
  // The next number counts on from the other writer's file (before: 5, the file at 900 unseen).
  expect(w.files.at(-1)).toMatch(/-901\.fcap$/);
  w.close();
});

test("a file another writer adds between two deletions of one retention pass is seen at the next pass, not an hour later", () => {
  const dir = makeTempDir("feeder-rev66-pass-race-");
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepMs: 86_400_000 } });
  for (let i = 0; i < 2; i++) w.write(i, "bybit", "linear", "c", "x".repeat(300));
  // Three files of an earlier run, years old, seen by the next pass (DIR changed): it stats each again and deletes it.
  const old = [0, 1, 2].map((i) => join(dir, `feeder-20200101T000000Z-${i}.fcap`));
  for (const f of old) {
    writeFileSync(f, "FDRCAP01");
    utimesSync(f, 1_600_000_000, 1_600_000_000);
  }
  utimesSync(dir, 1_000_000, 1_000_000);
  // Another writer adds its file after the first deletion, before the second (as the pass stats that one again).
  let stats = 0;
  hook.beforeStat = (path) => {
    // The first stat of it is the listing's; the second the pass's, before deleting it.
    if (path === old[1] && ++stats === 2) writeFileSync(join(dir, "feeder-20990101T000000Z-900.fcap"), "FDRCAP01");
  };
  expect(w.retain().map((d) => d.file)).toEqual(old);
  expect(stats).toBe(2);
  hook.beforeStat = undefined;
  w.write(2, "bybit", "linear", "c", "x".repeat(300)); // the open file is full: a rotation
  // The next number counts on from the other writer's file (before: 2, the file at 900 unseen).
  expect(w.files.at(-1)).toMatch(/-901\.fcap$/);
  w.close();
});
