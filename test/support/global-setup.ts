/**
 * vitest globalSetup (vitest.config.ts): one temporary directory per test run, given to the test files as
 * inject("runDir") and removed when the run ends. Files that build the same artefact (the compiled binary,
 * test/e2e/binary-build.ts) keep it there, so a run builds it once.
 *
 * It also fails the run when a test wrote the checkout's var/ (what a venue config without `instrument_cache` writes:
 * var/instruments-<venue>.json): a test's files belong in a temporary directory (test/support/temp-dirs.ts), not among
 * a developer's own caches. Until s-leftops two files did so unnoticed (.gitignore hides var/).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    runDir: string;
  }
}

const CHECKOUT_VAR = join(import.meta.dirname, "../../var");

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "feeder-test-run-"));
  project.provide("runDir", dir);
  const before = varEntries();
  return () => {
    rmSync(dir, { recursive: true, force: true });
    const written = [...varEntries()].filter(([name, mtimeMs]) => before.get(name) !== mtimeMs).map(([name]) => name);
    if (written.length === 0) return;
    process.exitCode = 1; // a teardown's throw alone is printed, the run still exits 0
    // Anything writing var/ during the run is seen, a feeder run from this checkout beside the tests too: said so.
    throw new Error(`the checkout's var/ was written during the test run (${written.join(", ")}): by a test, give its venue config an instrument_cache in a temporary directory (test/support/temp-dirs.ts); by another process run from this checkout (a feeder), run the tests again without it`);
  };
}

/** var/'s entries by name with their modification times (none when there is no var/). */
function varEntries(root = CHECKOUT_VAR): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      out.set(name, statSync(join(root, name)).mtimeMs);
    } catch {
      // gone between the listing and the stat: nothing written there now
    }
  }
  return out;
}
