/**
 * vitest globalSetup (vitest.config.ts): one temporary directory per test run, given to the test files as
 * inject("runDir") and removed when the run ends. Files that build the same artefact (the compiled binary,
 * test/e2e/binary-build.ts) keep it there, so a run builds it once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    runDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "feeder-test-run-"));
  project.provide("runDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
