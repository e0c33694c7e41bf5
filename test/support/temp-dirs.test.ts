import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { expect, inject, test } from "vitest";
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
