/**
 * core/pipe-reader.ts tells a command that has written all its output (an export waiting for its instrument cache
 * write) that nobody is left to read it. It looked at pipes and FIFOs only, but a parent started by Bun.spawn or
 * Node's child_process (`stdout: "pipe"`) hands the child a Unix socket (a socketpair), not a pipe: there its reader
 * going was never seen, and the export waited out the cache lock (up to 30 s) as before. A socket whose peer has
 * closed it both ways (POLLHUP) now counts as a reader gone; one the peer still holds does not.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = join(import.meta.dirname, "../..");
const dir = makeTempDir("feeder-pipe-reader-");

test("standard output a Unix socket (a Bun or Node parent's stdout pipe): held, the reader is there; closed by the parent, it is gone", async () => {
  const script = join(dir, "watch.ts");
  writeFileSync(script, [
    `import { pipeReaderGone } from ${JSON.stringify(join(ROOT, "src/core/pipe-reader.ts"))};`,
    'console.error(pipeReaderGone(1) ? "gone early" : "held");',
    // Bounded: the old code never sees it (it says "never seen" after 3 s).
    'for (let i = 0; i < 300; i++) { if (pipeReaderGone(1)) { console.error("gone"); process.exit(0); } await Bun.sleep(10); }',
    'console.error("never seen");',
    "",
  ].join("\n"));
  const child = spawn(process.execPath, [script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const held = new Promise<void>((resolve) => child.stderr!.on("data", (d: Buffer) => { stderr += String(d); if (stderr.includes("\n")) resolve(); }));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await held;
    expect(stderr).toBe("held\n");
    child.stdout!.destroy(); // the reader goes: this process's end of the socket closed
    expect(await exited).toBe(0);
    expect(stderr).toBe("held\ngone\n");
  } finally {
    child.kill("SIGKILL");
  }
});
