/**
 * Log lines into a stderr on a disk that fills and then has room again (`feeder run 2>> feeder.log`, the disk full
 * for a while): the lines written while it was full are lost, the ones after it are in the log. Before, the first
 * error of stderr (ENOSPC) dropped every later line of the thread for good, as if its reader had gone away
 * (EPIPE): the log stayed silent until a restart. A real subprocess with its stderr on a 64 KiB tmpfs, in a mount
 * namespace of its own (skipped where one cannot be made: not root).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
const BOUND_MS = 30_000;

function canMountTmpfs(): boolean {
  const dir = makeTempDir("feeder-log-mount-probe-");
  return spawnSync("unshare", ["-m", "bash", "-c", `mount -t tmpfs -o size=64k tmpfs "${dir}"`]).status === 0;
}

describe("stderr on a disk that fills, then has room", { timeout: 60_000 }, () => {
  test.skipIf(!canMountTmpfs())("log lines after the disk has room again are written (before: none, for good)", async () => {
    const dir = makeTempDir("feeder-log-full-disk-");
    const script = join(dir, "log.ts");
    // Fills the disk with log lines, waits until stderr has reported ENOSPC (its own listener, beside writeStderr's),
    // then, once the harness has made room, writes one more line.
    writeFileSync(
      script,
      [
        `import { existsSync, writeFileSync } from "node:fs";`,
        `import { writeStderr } from ${JSON.stringify(join(ROOT, "src/core/log.ts"))};`,
        `let full = false;`,
        `process.stderr.on("error", (e) => { if (e.code === "ENOSPC") full = true; });`,
        `for (let i = 0; i < 100 && !full; i++) {`,
        `  writeStderr("before " + i + " " + "z".repeat(1000) + "\\n");`,
        `  await new Promise((r) => setTimeout(r, 1));`,
        `}`,
        `while (!full) await new Promise((r) => setTimeout(r, 10));`,
        `writeFileSync(${JSON.stringify(join(dir, "full"))}, "");`,
        `while (!existsSync(${JSON.stringify(join(dir, "room"))})) await new Promise((r) => setTimeout(r, 10));`,
        `writeStderr("after the disk had room again\\n");`,
        "",
      ].join("\n"),
    );
    const harness = [
      `set -e; mount -t tmpfs -o size=64k tmpfs "$1/mnt"; head -c 40000 /dev/zero > "$1/mnt/filler"`,
      `"$0" "$1/log.ts" 2>> "$1/mnt/feeder.log" & pid=$!`,
      `for i in $(seq 300); do [ -e "$1/full" ] && break; sleep 0.1; done`,
      `rm "$1/mnt/filler"; touch "$1/room"; wait $pid; code=$?`,
      `cp "$1/mnt/feeder.log" "$1/feeder.log"; exit $code`,
    ].join("\n");
    spawnSync("mkdir", [join(dir, "mnt")]);
    const proc = Bun.spawn(["unshare", "-m", "bash", "-c", harness, process.execPath, dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const code = await exitCodeWithin(proc, BOUND_MS);
    if (code === "still running") proc.kill("SIGKILL");
    expect(code, await new Response(proc.stderr).text()).toBe(0);
    const log = readFileSync(join(dir, "feeder.log"), "utf8");
    expect(log).toMatch(/^before 0 z/);
    expect(log).toContain("after the disk had room again\n");
  });
});
