/**
 * The stale-temp sweep's names and locks (src/core/stale-temps.ts). A sweep took any file of the right shape
 * (`FILE.tmp-<digits>-<letters>`) that was unlocked and a minute old, a user's `out.csv.tmp-2024-dec` too; a name now
 * carries a check of the pid and random part keyed to the file it stands for, which only its writer makes. And a
 * writer that could not take its lock (ENOLCK: an NFS mount's lock service down) left its live file unlocked under
 * a name the sweep takes, for a sweep on another host, where locks work, to remove while it was written: such a
 * file is now renamed to a name no sweep takes.
 */
import { closeSync, existsSync, readdirSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { createLockedFile, isTempTag, newTempTags, removeStaleTemps } from "../../src/core/stale-temps.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** The sweep of `export -o out.csv` (src/cli/commands/export.ts removeStaleExportTemps) over `dir`. */
function sweepExportTemps(dir: string): string[] {
  const removed: string[] = [];
  removeStaleTemps(dir, (name) => name.startsWith("out.csv.tmp-") && isTempTag("out.csv", "-", name.slice("out.csv.tmp-".length)), { onRemoved: (p) => removed.push(p) });
  return removed;
}

function ageTwoMinutes(path: string): void {
  const then = new Date(Date.now() - 2 * 60_000);
  utimesSync(path, then, then);
}

test("a writer that cannot take its lock (ENOLCK) is renamed to a name no sweep takes: a sweep that can lock it leaves it, however old", () => {
  const dir = makeTempDir("feeder-stale-temps-nolock-");
  const { tag, unlockedTag } = newTempTags("out.csv", "-");
  const enolck = () => {
    throw Object.assign(new Error("flock failed: ENOLCK"), { code: "ENOLCK" });
  };
  const { fd, path } = createLockedFile(join(dir, `out.csv.tmp-${tag}`), join(dir, `out.csv.tmp-${unlockedTag}`), 0o666, enolck);
  try {
    expect(path).toBe(join(dir, `out.csv.tmp-${unlockedTag}`));
    writeSync(fd, "rows being written\n");
    ageTwoMinutes(path); // quiet for two minutes (a --books export waiting for a lock), unlocked
    expect(sweepExportTemps(dir)).toEqual([]);
    expect(existsSync(path)).toBe(true);
  } finally {
    closeSync(fd);
  }
  // A writer that took its lock and died: its file is taken.
  const killed = newTempTags("out.csv", "-", 4242).tag;
  writeFileSync(join(dir, `out.csv.tmp-${killed}`), "half an export\n");
  ageTwoMinutes(join(dir, `out.csv.tmp-${killed}`));
  expect(sweepExportTemps(dir)).toEqual([join(dir, `out.csv.tmp-${killed}`)]);
  expect(readdirSync(dir)).toEqual([`out.csv.tmp-${unlockedTag}`]);
});

test("randomized: only a tag made for that file by its writer is taken; a user's names of the old shape, a wrong check, another file's tag are not", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = (n: number, chars = ALPHABET) => Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join("");
  for (const name of ["2024-dec", "2024-december", "1-abcdef", "4242-k1lled", "0-abcdefgh0123456789ab", "-abcdefgh0123456789ab"]) expect(isTempTag("out.csv", "-", name), name).toBe(false);
  for (let i = 0; i < 500; i++) {
    const pid = 1 + Math.floor(rand() * 4_194_304);
    const { tag, unlockedTag } = newTempTags("out.csv", "-", pid);
    expect(isTempTag("out.csv", "-", tag)).toBe(true);
    expect(isTempTag("out.csv", ".", tag)).toBe(false);
    expect(isTempTag("out.jsonl", "-", tag)).toBe(false);
    expect(isTempTag("out.csv", "-", unlockedTag)).toBe(false);
    // Any other text of the exact shape (pid, 8 random, 12 check characters): the reference model says no.
    const forged = `${pid}-${pick(8)}${pick(12, "0123456789abcdef")}`;
    expect(isTempTag("out.csv", "-", forged)).toBe(forged === tag);
    // One character of the tag changed.
    const at = String(pid).length + 1 + Math.floor(rand() * 20);
    const changed = tag.slice(0, at) + (tag[at] === "a" ? "b" : "a") + tag.slice(at + 1);
    expect(isTempTag("out.csv", "-", changed)).toBe(false);
  }
});
