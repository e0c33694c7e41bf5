/**
 * `feeder listen` whose standard output fails otherwise than by its reader going away (a full disk: /dev/full) stops
 * and exits 1, saying why on stderr; before, it said why and exited 0, as if the listen had been a success. A reader
 * gone (`| head`, EPIPE) still exits 0 (test/cli/listen-pipe). Group 239.255.45.3 (this file only), interface
 * 127.0.0.1, TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { startTickingPublisher } from "./ticking-publisher.ts";
import { uniqueDestination } from "../support/destination.ts";

const ROOT = join(import.meta.dirname, "../..");
const GROUP = "239.255.45.3";
const PORT = uniqueDestination(461).port; // below the ephemeral ports (test/support/destination.ts)
/** Generous bound on how long listen may take to stop once its output failed; a hang fails the test. */
const EXIT_BOUND_MS = 20_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("listen -f ndjson > /dev/full: stops, names ENOSPC, exits 1", { timeout: 60_000 }, async () => {
  await startTickingPublisher(GROUP, PORT, 5, cleanups);

  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "listen", "-f", "ndjson", "-g", `${GROUP}:${PORT}`, "--iface", "127.0.0.1"], {
    cwd: ROOT,
    stdout: Bun.file("/dev/full"),
    stderr: "pipe",
    env: { ...process.env, FEEDER_LOG_LEVEL: "warn" },
  });
  cleanups.push(() => proc.kill("SIGKILL"));
  const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
  const stderr = await new Response(proc.stderr).text();
  expect(stderr).toContain("standard output failed (ENOSPC)");
  expect(code).toBe(1);
});

test("in process: an output that failed (not EPIPE) makes a command that returned 0 exit 1; a reader gone stays 0", async () => {
  const args = ["listen", "-f", "ndjson", "-g", `239.255.45.4:${PORT + 1}`, "--duration", "600"];
  expect(await main(args, { out: () => {}, err: () => {}, outClosed: Promise.resolve("ENOSPC"), outFailure: () => "ENOSPC" })).toBe(1);
  expect(await main(args, { out: () => {}, err: () => {}, outClosed: Promise.resolve("EPIPE"), outFailure: () => undefined })).toBe(0);
});

test("one-shot output to a full disk: check-config and --help exit 1 naming ENOSPC (before: exit 0, the error reported after the exit code was decided, if at all)", { timeout: 60_000 }, async () => {
  const config = join(ROOT, "config", "feeder.example.toml");
  for (const args of [["check-config", "--config", config], ["--help"]]) {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdout: Bun.file("/dev/full"), stderr: "pipe" });
    const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
    expect(await new Response(proc.stderr).text(), args[0]).toContain("standard output failed (ENOSPC)");
    expect(code, args[0]).toBe(1);
  }
});
