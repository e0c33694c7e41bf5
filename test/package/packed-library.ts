/**
 * The subscriber package exactly as `npm pack` makes it (its prepack builds dist/lib: `npm run build:lib`), made once
 * per test run into the run's directory (test/support/global-setup.ts): node-package.test.ts installs the tarball,
 * wire/node-compat.test.ts runs its dist/lib under Node. Each built it before (a pack, and a tsc of the same library):
 * one compile of the library per run since. npm pack writes the checkout's dist/lib, so one file packs (a lock
 * directory) and the other waits for its tarball.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { inject } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
/** How long a file waits for the other's pack (npm pack compiles the library: minutes under heavy load). */
const PACK_WAIT_MS = 300_000;
const PACK_POLL_MS = 250;

/** A `node` on the PATH that is Node itself (under `bun --bun` the first one may be Bun's shim), or undefined. */
export function realNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "node");
    if (!dir || !existsSync(candidate)) continue;
    const r = spawnSync(candidate, ["-p", "process.versions.bun ? 'bun' : process.versions.node"], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "bun") return candidate;
  }
  return undefined;
}

/** The environment for npm and node children: Node first on the PATH, none of the npm_* of `npm test`. */
export function childEnv(node: string, npmCache: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
  env.PATH = `${dirname(node)}${delimiter}${env.PATH ?? ""}`;
  env.npm_config_cache = npmCache;
  env.npm_config_update_notifier = "false";
  env.npm_config_fund = "false";
  env.npm_config_audit = "false";
  return env;
}

export function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 240_000 }); // npm pack builds the library (tsc): SIGTERM at 60 s once under load ~35
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}) in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack` of the checkout into a fresh directory under `parent` (its own empty npm cache): the tarball's path. */
function pack(node: string, parent: string): string {
  const dir = mkdtempSync(join(parent, "pack-"));
  run("npm", ["pack", "--pack-destination", dir], REPO, childEnv(node, join(dir, "npm-cache")));
  const tgz = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
  if (tgz.length !== 1) throw new Error(`npm pack left ${tgz.length} tarballs in ${dir}: ${tgz.join(", ")}`);
  return join(dir, tgz[0]!);
}

/** The run's tarball of the package: packed by the first file that asks, waited for by the others. */
export async function sharedPack(node: string): Promise<string> {
  const runDir = inject("runDir");
  if (runDir === undefined) return pack(node, tmpdir()); // run without vitest.config.ts's globalSetup
  const tarball = join(runDir, "feeder-package.tgz");
  const lock = join(runDir, "feeder-package.lock");
  const deadline = performance.now() + PACK_WAIT_MS;
  for (;;) {
    if (existsSync(tarball)) return tarball;
    try {
      mkdirSync(lock);
    } catch {
      // another file packs: its tarball comes, or its lock goes (its pack failed: this file tries itself)
      if (performance.now() > deadline) throw new Error(`no package tarball in ${runDir} after ${PACK_WAIT_MS} ms of another file's npm pack`);
      await Bun.sleep(PACK_POLL_MS);
      continue;
    }
    try {
      renameSync(pack(node, runDir), tarball); // atomic: a waiter finds the whole tarball or none
      return tarball;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
