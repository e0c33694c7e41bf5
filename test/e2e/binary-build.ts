/**
 * The compiled executable for the end-to-end tests: exactly `npm run build` (package.json's script), with the output
 * in a temp dir instead of dist/feeder (test files run in parallel; none overwrites another's binary or dist/).
 * The first test file of a run that needs it builds it (sharedBinary, in its beforeAll); the others of the same run
 * take that build from the run's directory (test/support/global-setup.ts).
 */
import { existsSync, mkdtempSync, renameSync } from "node:fs";
import { expect, inject } from "vitest";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { tempDir } from "./harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** Builds the binary into `dir` (a fresh temp dir when omitted) and returns its path. */
export function buildBinary(dir: string = tempDir("feeder-bin-")): string {
  const binary = join(dir, "feeder");
  const script = pkg.scripts.build.split(" ");
  expect(script.slice(0, 2)).toEqual(["bun", "build"]);
  const args = script.slice(1).map((a) => (a === "dist/feeder" ? binary : a));
  expect(args).toContain(binary);
  const build = Bun.spawnSync([process.execPath, ...args], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  return binary;
}

/**
 * The run's binary: built once per test run into its run directory. Two files asking at once may both build; each
 * build goes to its own directory and is renamed into place (atomic), so either finds a whole binary.
 */
export function sharedBinary(): string {
  const runDir = inject("runDir");
  if (runDir === undefined) return buildBinary(); // run without vitest.config.ts's globalSetup
  const binary = join(runDir, "feeder");
  if (existsSync(binary)) return binary;
  renameSync(buildBinary(mkdtempSync(join(runDir, "build-"))), binary);
  return binary;
}

/** The binary running `feeder run --config FILE`, its stderr collected (for failure messages). */
export function spawnFeeder(binary: string, configPath: string): { proc: ReturnType<typeof Bun.spawn>; stderr: () => string } {
  const proc = Bun.spawn([binary, "run", "--config", configPath], { stdout: "pipe", stderr: "pipe" });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  return { proc, stderr: () => err };
}
