import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { expect, inject, test } from "vitest";
import type { TestProject } from "vitest/node";
import setup from "./global-setup.ts";
import { makeTempDir } from "./temp-dirs.ts";

// Files sharing a process import this module once: a cleanup registered on import would run for the first of them
// only. Inside the run's directory, every file's directories go when the run ends (test/support/global-setup.ts).
test("makeTempDir makes a new directory inside the run's directory, named by its prefix", () => {
  const a = makeTempDir("temp-dirs-test-");
  const b = makeTempDir("temp-dirs-test-");
  expect(dirname(a)).toBe(inject("runDir"));
  expect(a).toMatch(/\/temp-dirs-test-[^/]+$/);
  expect(b).not.toBe(a);
  expect(existsSync(a) && existsSync(b)).toBe(true);
});

// vitest runs the globalSetup once per project and then once for the root project; a project's files get the root's
// provided values overlaid with the project's own (TestProject.getProvidedContext). Until 2026-12-08 each project
// provided a directory of its own, so the compiled binary was built once per project (test/bridge/bridge-cli.test.ts
// is "isolated", the binary e2e files "shared") where it was meant to be built once per run.
test("every project's files get the one run directory: the root project's", () => {
  type Fake = { root: boolean; provided: Record<string, string>; provide: (k: string, v: string) => void; isRootProject: () => boolean };
  const fake = (root: boolean): Fake => {
    const p: Fake = { root, provided: {}, provide: (k, v) => void (p.provided[k] = v), isRootProject: () => root };
    return p;
  };
  const rootProject = fake(true);
  const projects = [fake(false), fake(false), fake(false)];
  const varRoot = makeTempDir("temp-dirs-test-var-");
  const teardowns = [...projects, rootProject].map((p) => setup(p as unknown as TestProject, varRoot));
  const runDir = rootProject.provided.runDir!;
  try {
    expect(existsSync(runDir)).toBe(true);
    for (const p of projects) expect({ ...rootProject.provided, ...p.provided }.runDir).toBe(runDir);
  } finally {
    for (const teardown of teardowns.reverse()) teardown?.();
  }
  expect(existsSync(runDir)).toBe(false);
});
