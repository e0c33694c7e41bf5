/**
 * Loads one source file of the project, from a git revision or from this checkout, as a module of its own, for
 * in-process A/B runs (old and new side by side without a committed copy of the old file). Its relative imports are
 * pointed at this checkout's src/, so only the file itself differs; package imports resolve from node_modules/. Both sides of an A/B should be loaded this way:
 * an A/A run with the current file imported statically on one side showed a 3–6 % bias against it (send-ab).
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `relPath` (e.g. "src/book/book-builder.ts") at git revision `rev`, or as checked out when `rev` is null. */
export async function loadSource<M>(relPath: string, rev: string | null, tag: string): Promise<M> {
  const text = rev === null ? readFileSync(join(ROOT, relPath), "utf8") : execFileSync("git", ["-C", ROOT, "show", `${rev}:${relPath}`], { encoding: "utf8" });
  const srcDir = dirname(join(ROOT, relPath));
  // Under node_modules (ignored by git): the file's package imports (msgpackr …) resolve as from src/.
  const dir = join(ROOT, "node_modules", ".load-source", `${tag}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.on("exit", () => rmSync(dir, { recursive: true, force: true })); // one per process: test/bench-smoke runs http.bench each time
  const file = join(dir, relPath.split("/").pop()!);
  writeFileSync(file, text.replaceAll(`from "../`, `from "${dirname(srcDir)}/`).replaceAll(`from "./`, `from "${srcDir}/`));
  return (await import(file)) as M;
}
