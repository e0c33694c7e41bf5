/**
 * `feeder listen -f ndjson` whose standard output's reader is slower than the feed: what the reader has not taken is
 * held up to --max-unread-kib, then rows are skipped, counted in the output where it goes on ({"type":"skipped"}),
 * said on stderr, and the command exits 1 (its output is not every update). Before, every row waited in the process
 * (a pipe's writes in Bun wait in memory) without bound: `listen -f ndjson | slow-consumer` grew by the feed's rate
 * until it ran out of memory. Group 239.255.45.6 (this file only), interface 127.0.0.1, TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import type { CommandContext } from "../../src/cli/command.ts";
import { listen } from "../../src/cli/commands/listen.ts";
import type { Logger } from "../../src/core/log.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { until } from "../support/until.ts";
import { stderrReader } from "./stderr-reader.ts";
import { startTickingPublisher } from "./ticking-publisher.ts";
import { uniqueDestination } from "../support/destination.ts";

const ROOT = join(import.meta.dirname, "../..");
const GROUP = "239.255.45.6";
const PORT = uniqueDestination(464).port; // below the ephemeral ports (test/support/destination.ts)
/** Generous bound on each awaited event (rows, a log line, an exit); a hang fails the test. */
const BOUND_MS = 30_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test("in process: rows beyond --max-unread-kib are skipped while the reader is behind, counted where it goes on, exit 1", { timeout: 120_000 }, async () => {
  await startTickingPublisher(GROUP, PORT, 6, cleanups);
  const lines: string[] = [];
  const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => void logged.push({ level: "warn", msg, fields }),
    error: (msg, fields) => void logged.push({ level: "error", msg, fields }),
    child: () => log,
  };
  let pending = 0; // what the reader has not taken, as the entry point counts it for a pipe
  let stop: (sig: string) => void = () => {};
  const ctx: CommandContext = {
    values: { group: [`${GROUP}:${PORT}`], format: "ndjson", "max-unread-kib": "1" },
    positionals: [],
    log,
    out: (t) => void lines.push(t),
    outPendingBytes: () => pending,
    stopSignal: new Promise<string>((resolve) => (stop = resolve)),
  };
  const exit = listen(ctx);
  const updates = () => lines.filter((l) => JSON.parse(l).type === "update").length;
  await until(() => updates() >= 3, "3 updates written", 30_000);

  pending = 1025; // the reader fell behind by more than 1 KiB
  await until(() => logged.some((l) => l.msg.includes("reader is behind")), "the reader behind said on stderr", 30_000);
  const writtenWhenBehind = lines.length;
  pending = 512; // half taken: rows go on, after one line that counts those skipped
  await until(() => lines.slice(writtenWhenBehind).some((l) => JSON.parse(l).type === "update"), "an update after the skipped rows", 30_000);
  stop("SIGTERM");
  expect(await exit).toBe(1);

  const after = lines.slice(writtenWhenBehind).map((l) => JSON.parse(l) as { type: string; rows?: number });
  expect(after[0]!.type).toBe("skipped");
  expect(after[0]!.rows).toBeGreaterThanOrEqual(1);
  expect(after[1]!.type).toBe("update");
  const summary = logged.find((l) => l.level === "error");
  expect(summary?.msg).toMatch(/^\d+ rows skipped: standard output's reader was slower than the feed/);
  expect(summary?.fields?.skippedRows).toBe(after[0]!.rows);
});

test("as a process into a pipe whose reader takes nothing: rows are skipped, not held; SIGTERM then exits 1 saying how many", { timeout: 120_000 }, async () => {
  await startTickingPublisher(GROUP, PORT + 1, 7, cleanups);
  // Standard output: a pipe whose reader (a sleep) never reads; its pid comes first on stderr, to end it afterwards.
  const script = [
    `exec > >(echo "reader $BASHPID" >&2; exec sleep 300 2>/dev/null)`,
    `exec "$0" src/cli/main.ts listen -f ndjson -g ${GROUP}:${PORT + 1} --iface 127.0.0.1 --max-unread-kib 64`,
  ].join("\n");
  const proc = Bun.spawn(["bash", "-c", script, process.execPath], { cwd: ROOT, stdout: "ignore", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "warn" } });
  const err = stderrReader(proc);
  cleanups.push(() => {
    proc.kill("SIGKILL");
    if (err.readerPid !== undefined) process.kill(err.readerPid, "SIGKILL");
  });
  await Promise.race([err.readUntil("rows skipped until it catches up"), Bun.sleep(BOUND_MS)]);
  expect(err.text).toContain("standard output's reader is behind: rows skipped until it catches up");
  proc.kill("SIGTERM");
  expect(await exitCodeWithin(proc, BOUND_MS)).toBe(1);
  await err.readUntil("\u0000"); // to its end
  expect(err.text).toMatch(/"\d+ rows skipped: standard output's reader was slower than the feed/);
});
