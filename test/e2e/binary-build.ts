/**
 * The compiled executable for the end-to-end tests: exactly `npm run build` (package.json's script), with the output
 * in a temp dir instead of dist/feeder (test files run in parallel; none overwrites another's binary or dist/).
 * Each test file that needs the binary builds it once, in its beforeAll.
 */
import { expect } from "vitest";
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

/** The binary running `feeder run --config FILE`, its stderr collected (for failure messages). */
export function spawnFeeder(binary: string, configPath: string): { proc: ReturnType<typeof Bun.spawn>; stderr: () => string } {
  const proc = Bun.spawn([binary, "run", "--config", configPath], { stdout: "pipe", stderr: "pipe" });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  return { proc, stderr: () => err };
}
