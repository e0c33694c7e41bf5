/**
 * vitest globalSetup (vitest.config.ts): one temporary directory per test run, given to the test files as
 * inject("runDir") and removed when the run ends. Files that build the same artefact (the compiled binary,
 * test/e2e/binary-build.ts) keep it there, so a run builds it once.
 *
 * It also fails the run when a test wrote the checkout's var/ (what a venue config without `instrument_cache` writes:
 * var/instruments-<venue>.json) or removed anything there, at any depth: a test's files belong in a temporary
 * directory (test/support/temp-dirs.ts), not among a developer's own caches. Until s-leftops two files did so
 * unnoticed (.gitignore hides var/); until 2026-12-07 only var/'s top level was looked at, and nothing removed.
 */
import { lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    runDir: string;
  }
}

const CHECKOUT_VAR = join(import.meta.dirname, "../../var");

export default function setup(project: TestProject, varRoot: string = CHECKOUT_VAR): (() => void) | undefined {
  // vitest runs this for each project, then for the root (always run, torn down after every test), and gives a
  // project's files the root's values where the project provides none: the root's alone makes the directory, so every
  // project shares one (until 2026-12-08 each made its own, and a project's files built the binary again), and guards
  // var/, so its error prints once.
  if (!project.isRootProject()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "feeder-test-run-"));
  project.provide("runDir", dir);
  const check = varGuard(varRoot);
  return () => {
    rmSync(dir, { recursive: true, force: true });
    const changed = check();
    if (changed === undefined) return;
    process.exitCode = 1; // a teardown's throw alone is printed, the run still exits 0
    // Anything writing var/ during the run is seen, a feeder run from this checkout beside the tests too: said so.
    throw new Error(`the checkout's var/ was changed during the test run (${changed}): by a test, give its venue config an instrument_cache in a temporary directory (test/support/temp-dirs.ts); by another process run from this checkout (a feeder), run the tests again without it`);
  };
}

/** Names listed per kind in the error; the rest counted. */
const NAMES_SHOWN = 20;

/**
 * Takes `root`'s entries now; the function returned names what was written or changed since (a file's time or size,
 * an entry that is new) and what was removed, or undefined when nothing was.
 */
export function varGuard(root: string): () => string | undefined {
  const before = varEntries(root);
  return () => {
    const after = varEntries(root);
    const written = [...after].filter(([path, stamp]) => before.get(path) !== stamp).map(([path]) => path);
    const removed = [...before.keys()].filter((path) => !after.has(path));
    if (written.length === 0 && removed.length === 0) return undefined;
    const list = (what: string, paths: string[]) => {
      const shown = paths.sort().slice(0, NAMES_SHOWN).join(", ");
      return paths.length === 0 ? [] : [`${what}: ${shown}${paths.length > NAMES_SHOWN ? ` and ${paths.length - NAMES_SHOWN} more` : ""}`];
    };
    return [...list("written", written), ...list("removed", removed)].join("; ");
  };
}

/**
 * Every entry under `root` by its path there: a file's modification time and size, a directory's kind alone (its time
 * moves with what it holds, named on its own). Symbolic links are not followed. None when there is no `root`.
 */
function varEntries(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(rel === "" ? root : join(root, rel));
    } catch {
      return; // no var/, or gone while being read: nothing there now
    }
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      try {
        const st = lstatSync(join(root, path));
        out.set(path, st.isDirectory() ? "dir" : `${st.mtimeMs}:${st.size}`);
        if (st.isDirectory()) walk(path);
      } catch {
        // gone between the listing and the stat: nothing written there now
      }
    }
  };
  walk("");
  return out;
}
