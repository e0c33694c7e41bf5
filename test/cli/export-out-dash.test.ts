/**
 * `feeder export -o -` is standard output, as `-` is for most tools that take an output file: before, it wrote a
 * file named "-" in the working directory and nothing on standard output ("export finished", exit 0).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

const ROOT = resolve(import.meta.dirname, "../..");

test("-o - writes to standard output and creates no file named '-'", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-dash-");
  const { file, frames } = writeXrpCapture(dir);
  const proc = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "export", "-o", "-", file], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [out, err] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
  expect(await exitCodeWithin(proc, 20_000)).toBe(0);
  expect(existsSync(join(dir, "-"))).toBe(false);
  expect(out.trim().split("\n")).toHaveLength(frames.length);
  expect(JSON.parse(err.trim().split("\n").at(-1)!)).toMatchObject({ msg: "export finished", out: "stdout" });
});
