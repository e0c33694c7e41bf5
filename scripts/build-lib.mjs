// Builds the subscriber library for Node and Bun consumers: dist/lib/**/*.js (ESM) + .d.ts, from src/subscriber and
// what it imports (tsconfig.lib.json: Node types only, so a Bun-only API there fails the build). Runs under Node
// (npm pack's prepack), no Bun needed. `--check` type-checks the library without writing anything.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist", "lib");
const check = process.argv.includes("--check");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

if (!check) rmSync(outDir, { recursive: true, force: true });
const args = [tsc, "-p", join(root, "tsconfig.lib.json"), ...(check ? ["--noEmit"] : [])];
const run = spawnSync(process.execPath, args, { stdio: "inherit" });
if (run.status !== 0) {
  console.error(`build-lib: tsc -p tsconfig.lib.json failed (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
if (check) process.exit(0);

// tsc rewrites the sources' relative "./x.ts" imports to "./x.js" in the .js files but leaves them as "./x.ts" in
// the .d.ts files: TypeScript 5 maps those to the .d.ts, older TypeScript and other readers of declarations look
// for .ts files that are not shipped. Point them at the .js, as for any compiled package.
const TS_SPECIFIER = /(from\s+|import\s*\(\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g;
let files = 0;
for (const entry of readdirSync(outDir, { recursive: true })) {
  const file = join(outDir, String(entry));
  if (!file.endsWith(".d.ts")) continue;
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(TS_SPECIFIER, (_m, lead, q, path) => `${lead}${q}${path}.js${q}`);
  if (fixed !== text) writeFileSync(file, fixed);
  files++;
}
console.log(`build-lib: ${files} declaration files and their modules in dist/lib`);
