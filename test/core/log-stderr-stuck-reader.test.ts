/**
 * Log lines into a stderr whose reader stopped reading for a while (`feeder run 2>&1 | tee x.log`, tee's terminal
 * paused by Ctrl-S; a stalled journald): the lines beyond MAX_PENDING_LOG_BYTES are dropped and counted, and once the
 * reader has taken half of it a warning says how many. Before, every line waited in the process (a pipe's writes
 * in Bun wait in memory): the feeder's memory grew by every log line for as long as the reader was stopped. A real
 * subprocess, its stderr a pipe whose reader takes one byte, then nothing until told to read on.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { until } from "../support/until.ts";

const ROOT = join(import.meta.dirname, "../..");
/** Lines of ~330 B written while the reader takes nothing: ~16 MB, four times what the bound lets wait. */
const LINES = 50_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("a stderr reader that stops: lines beyond the bound are dropped, then counted in a warning (before: all held in memory)", { timeout: 90_000 }, async () => {
  const dir = makeTempDir("feeder-log-stuck-");
  const script = join(dir, "log.ts");
  writeFileSync(
    script,
    [
      `import { writeStderr } from ${JSON.stringify(join(ROOT, "src/core/log.ts"))};`,
      `const line = JSON.stringify({ level: "info", msg: "x".repeat(300) }) + "\\n";`,
      `for (let i = 0; i < ${LINES}; i++) writeStderr(line);`,
      `console.log("written");`,
      // Lines go on (numbered) until the reader has caught up: the first one written then comes after the count.
      `let tick = 0;`,
      `setInterval(() => writeStderr(JSON.stringify({ level: "info", msg: "tick", tick: tick++ }) + "\\n"), 20);`,
      "",
    ].join("\n"),
  );
  const flag = join(dir, "read-on");
  const errFile = join(dir, "stderr.log");
  const harness = `exec 2> >({ dd bs=1 count=1 status=none; while [ ! -e "$1" ]; do sleep 0.05; done; exec cat; } > "$2")\nexec "$0" "$3"`;
  const proc = Bun.spawn(["bash", "-c", harness, process.execPath, flag, errFile, script], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
  cleanups.push(() => proc.kill("SIGKILL")); // its stderr's reader (cat) then ends with the pipe
  const stdout = proc.stdout.getReader();
  let said = "";
  while (!said.includes("written")) {
    const { value, done } = await stdout.read();
    if (done) break;
    said += new TextDecoder().decode(value);
  }
  expect(said).toContain("written");
  writeFileSync(flag, "");
  await until(() => existsSync(errFile) && readFileSync(errFile, "utf8").includes("log lines dropped"), "the dropped lines' warning in the log", 30_000);
  proc.kill("SIGKILL");
  await proc.exited;

  const lines = readFileSync(errFile, "utf8").slice(1).split("\n"); // the first byte went to dd
  const written = lines.filter((l) => l.includes('"x')).length; // the first too, less the byte dd took
  // Ticks written while the reader was behind were dropped with the rest: those before the first one it got.
  const ticksDropped = (JSON.parse(lines.find((l) => l.includes('"tick"'))!) as { tick: number }).tick;
  const warning = JSON.parse(lines.find((l) => l.includes("log lines dropped"))!) as { level: string; msg: string; dropped: number };
  expect(warning).toMatchObject({ level: "warn", msg: "log lines dropped: standard error's reader was behind" });
  expect(warning.dropped).toBeGreaterThan(LINES / 2);
  expect(written + warning.dropped).toBe(LINES + ticksDropped); // every line either reached the reader or is counted
});
