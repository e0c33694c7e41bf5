/**
 * `feeder listen -f ndjson | head -2` as real processes: when the reader closes the pipe, listen exits 0 without
 * a stack trace. Group 239.255.45.1 (this file only), interface 127.0.0.1, TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { exitCodeWithin } from "../support/exit-within.ts";
import { startTickingPublisher } from "./ticking-publisher.ts";
import { uniqueDestination } from "../support/destination.ts";

const ROOT = join(import.meta.dirname, "../..");
const GROUP = "239.255.45.1";
const PORT = uniqueDestination(462).port; // below the ephemeral ports (test/support/destination.ts)
/** Generous bound on how long listen may take to exit after the pipe closes; a hang fails the test. */
const EXIT_BOUND_MS = 20_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("listen -f ndjson | head -2: exits 0, promptly, with no stack trace when the pipe closes", { timeout: 60_000 }, async () => {
  await startTickingPublisher(GROUP, PORT, 3, cleanups);

  // bash's exit status is listen's (PIPESTATUS[0]); listen's stderr is bash's stderr.
  const script = `"$0" src/cli/main.ts listen -f ndjson -g ${GROUP}:${PORT} --iface 127.0.0.1 | head -2; exit "\${PIPESTATUS[0]}"`;
  const proc = Bun.spawn(["bash", "-c", script, process.execPath], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "warn" } });
  cleanups.push(() => {
    // On failure, the pipeline's processes (children of this bash, by parent pid) must not outlive the test.
    for (const pid of Bun.spawnSync(["pgrep", "-P", String(proc.pid)]).stdout.toString().split(/\s+/).filter(Boolean)) process.kill(Number(pid), "SIGKILL");
    proc.kill("SIGKILL");
  });
  const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
  if (code === "still running") await cleanups.pop()!(); // kill the pipeline so its pipes close and its output can be shown
  const stdout = await new Response(proc.stdout).text();
  const stderr = await new Response(proc.stderr).text();
  expect(stdout.trim().split("\n").map((l) => JSON.parse(l).type)).toHaveLength(2);
  expect(stderr).not.toMatch(/EPIPE|broken pipe|\n\s+at /);
  expect(code).toBe(0);
});
