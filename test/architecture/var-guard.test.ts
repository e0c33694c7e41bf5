/**
 * The run's guard on the checkout's var/ (test/support/global-setup.ts), on a temporary directory: a file written or
 * changed at any depth and an entry removed (a test deleting a developer's cache) are each named; nothing changed is
 * no error. Until 2026-12-07 it looked at var/'s top level only and never at what was removed.
 */
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { varGuard } from "../support/global-setup.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("names what was written or changed at any depth and what was removed; nothing changed says nothing", () => {
  const root = makeTempDir("feeder-var-guard-");
  mkdirSync(join(root, "cache", "okx"), { recursive: true });
  for (const f of ["kept.json", "cache/okx/instruments.json", "gone.json", "cache/old.json"]) writeFileSync(join(root, f), "{}");
  const unchanged = varGuard(root);
  expect(unchanged()).toBeUndefined();
  const check = varGuard(root);
  // A nested file rewritten (its time moved on: the test does not wait for the clock), one added in a new directory.
  utimesSync(join(root, "cache/okx/instruments.json"), new Date(), new Date(Date.now() + 60_000));
  mkdirSync(join(root, "new"));
  writeFileSync(join(root, "new", "instruments-bybit.json"), "{}");
  rmSync(join(root, "gone.json"));
  rmSync(join(root, "cache/old.json"));
  const problem = check();
  expect(problem).toMatch(/written: cache\/okx\/instruments\.json, new, new\/instruments-bybit\.json;/);
  expect(problem).toMatch(/removed: cache\/old\.json, gone\.json$/);
  expect(problem).not.toMatch(/kept\.json/);
});
