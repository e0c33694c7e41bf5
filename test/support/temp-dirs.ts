/**
 * Temporary directories for tests, made inside the run's directory (inject("runDir"), test/support/global-setup.ts),
 * which the run removes when it ends. Until 2026-12-08 this module removed them in an afterAll it registered when first
 * imported: with files sharing a process (vitest.config.ts, project "shared") a module runs once per process, so only
 * the first file there had the hook, and the others' directories were left in the system's temporary directory.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(inject("runDir"), prefix));
}
