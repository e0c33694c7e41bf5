/**
 * `feeder export -o FILE` wrote FILE in place through Bun's FileSink, which (Bun 1.4) opens without truncating: an
 * existing FILE longer than the new output kept its old tail after the new rows (a CSV or JSONL file with stale
 * lines at its end, "export finished", exit 0). The export now writes FILE.tmp-<pid> beside it and renames it over
 * FILE once written whole; a failure (instruments that resolve nowhere, a full disk) removes it, FILE left as it
 * was: nothing of the old output is lost before the new one is known to be written.
 *
 * The temporary file was FILE.tmp-<pid>, created exclusively: one left by an export killed with the same pid (a
 * container's PID 1 at every run) refused every later export to FILE, exit 2 (EEXIST), until removed by hand. Its
 * name now takes a random part too, and a name taken is passed over. A FIFO as -o is written in place, opened
 * without waiting for a reader: none there was refused as "cannot be written (ENXIO)"; now it says what that means.
 *
 * An export stopped by a signal renamed its partial output over FILE (exit 1), replacing a good earlier export with a
 * part of a new one; now it removes its temporary file, leaves FILE as it was and exits 128 + the signal's number.
 * The same signal again before the export has acted on the first met the signal's default action: the process died
 * with its temporary file left for good. The temporary file is now removed first, then the process ends by the
 * signal as before. A --books export waited for its venues' instrument REST in turn (up to 10 s each) before it acted
 * on a stop at all, then failed (exit 1): the stop now ends those requests at once, exit 128 + N.
 *
 * An export killed with SIGKILL left its temporary file for good; an export now holds a flock on it while it writes,
 * and the next export to FILE removes those nobody holds and nobody modified for a minute. A FILE with a hard link
 * lost the link to the rename (the other name kept the old rows): refused, exit 2. A --books export whose instrument
 * cache merge waited for another writer's lock exited before writing it: it now waits for the merge.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test, vi } from "vitest";
import { exportCommand } from "../../src/cli/commands/export.ts";
import { main } from "../../src/cli/main.ts";
import { createLogger, silentLogger } from "../../src/core/log.ts";
import { newTempTags } from "../../src/core/stale-temps.ts";
import { tryLockExclusive } from "../../src/core/flock.ts";
import { BybitAdapter } from "../../src/venues/bybit/adapter.ts";
import { loopbackDestinationToml } from "../support/config-toml.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { expectXrpCached, holdCacheLock, startXrpCacheRig, writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";

async function run(args: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await main(args, { out: () => undefined, err: (t) => err.push(t) });
  return { code, err };
}

test("a --books export whose instruments resolve nowhere exits 1 and leaves an existing -o FILE as it was, no temporary file left", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-kept-");
  const { file } = writeXrpCapture(dir);
  // XRPUSDT without overrides, no instrument cache, REST at 127.0.0.1:9 (nothing answers): it resolves nowhere.
  const config = join(dir, "unresolved.toml");
  writeFileSync(config, ["http = { enabled = false }", "[publish]", ...loopbackDestinationToml(uniqueDestination(391)), "[venues.bybit]", 'ws_url = "ws://127.0.0.1:9/v5/public"', 'rest_url = "http://127.0.0.1:9"', `instrument_cache = "${join(dir, "instruments.json")}"`, "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', ""].join("\n"));
  const out = join(dir, "books.csv");
  writeFileSync(out, "yesterday's books\n");
  const r = await run(["export", "--books", "-c", config, "--format", "csv", "-o", out, file]);
  expect(r.code).toBe(1);
  expect(readFileSync(out, "utf8")).toBe("yesterday's books\n");
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("a successful export replaces a longer -o FILE whole (before: its old tail stayed after the new rows), keeping its permission bits", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-replaced-");
  const { file } = writeXrpCapture(dir);
  const config = writeXrpConfig(dir, uniqueDestination(392));
  const out = join(dir, "books.csv");
  writeFileSync(out, "yesterday's row\n".repeat(20_000)); // 320 KB: longer than the new output
  chmodSync(out, 0o640);
  const r = await run(["export", "--books", "-c", config, "--format", "csv", "--depth", "1", "-o", out, file]);
  expect(r.code).toBe(0);
  const text = readFileSync(out, "utf8");
  expect(text).not.toContain("yesterday");
  const lines = text.trim().split("\n");
  expect(lines[0]).toMatch(/^ts_us,ts_exchange_us,/);
  expect(lines.length).toBeGreaterThan(1);
  expect(statSync(out).mode & 0o777).toBe(0o640);
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("-o through a symlink to a file replaces the file and keeps the symlink", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-link-");
  const { file, frames } = writeXrpCapture(dir);
  const real = join(dir, "frames.jsonl");
  writeFileSync(real, "old\n".repeat(100_000));
  const link = join(dir, "latest.jsonl");
  symlinkSync(real, link);
  const r = await run(["export", "-o", link, file]);
  expect(r.code).toBe(0);
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(readFileSync(real, "utf8").trim().split("\n")).toHaveLength(frames.length);
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("a temporary file of an earlier export with the same pid (a container's PID 1) is passed over and left alone, not a refusal", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-stale-tmp-");
  const { file, frames } = writeXrpCapture(dir);
  const out = join(dir, "frames.jsonl");
  writeFileSync(out, "old\n");
  const stale = `frames.jsonl.tmp-${process.pid}`; // what an export of this pid killed with SIGKILL left before
  writeFileSync(join(dir, stale), "half an export\n");
  const r = await run(["export", "-o", out, file]);
  expect(r).toEqual({ code: 0, err: [] });
  expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(frames.length);
  expect(readFileSync(join(dir, stale), "utf8")).toBe("half an export\n");
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([stale]);
});

test("-o naming a FIFO no process reads exits 2 saying so (before: only 'ENXIO'), nothing left beside it", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-fifo-");
  const { file } = writeXrpCapture(dir);
  const fifo = join(dir, "rows.jsonl");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const r = await run(["export", "-o", fifo, file]);
  expect(r).toEqual({ code: 2, err: [`feeder export: --out ${fifo}: a FIFO no process has open for reading (ENXIO): start its reader first (see feeder export --help)`] });
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("an export a signal stops leaves -o FILE as it was (absent if it was), no temporary file, exit 128 + the signal's number (before: partial output renamed over FILE, exit 1)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-signal-");
  const { file } = writeXrpCapture(dir);
  const out = join(dir, "frames.csv");
  // Two captures (a copy: one file named twice is refused, s-cli8).
  const copy = join(dir, "copy.fcap");
  copyFileSync(file, copy);
  // The command as main runs it, its stop signal already come: it stops before the first block, the csv header written.
  const stopped = (to: string, signal: string) => exportCommand.run({ values: { format: "csv", out: to }, positionals: [file, copy], log: silentLogger, out: () => undefined, stopSignal: Promise.resolve(signal) });
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    writeFileSync(out, "yesterday's frames\n");
    expect(await stopped(out, signal), signal).toBe(code);
    expect(readFileSync(out, "utf8"), signal).toBe("yesterday's frames\n");
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-")), signal).toEqual([]);
  }
  const fresh = join(dir, "fresh.csv");
  expect(await stopped(fresh, "SIGINT")).toBe(130);
  expect(readdirSync(dir).filter((f) => f.startsWith("fresh.csv"))).toEqual([]);
  // Written in place (as standard output is): what it got stays, the status is the signal's all the same.
  expect(await stopped("/dev/null", "SIGTERM")).toBe(143);
});

/** Bybit's instrument REST on loopback: it takes the query and never answers; `aborted` once the client ends it. */
/** A tag of the exact shape whose check is wrong (its last character changed). */
const wrongCheck = (tag: string) => tag.slice(0, -1) + (tag.endsWith("0") ? "1" : "0");

function hangingRest(): { port: number; asked: () => boolean; aborted: () => boolean; stop: () => Promise<void> } {
  let asked = false;
  let aborted = false;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      asked = true;
      req.signal.addEventListener("abort", () => (aborted = true));
      return new Promise<Response>(() => {});
    },
  });
  return { port: server.port!, asked: () => asked, aborted: () => aborted, stop: () => server.stop(true) };
}

function hangingRestConfig(dir: string, restPort: number, group: number): string {
  const config = join(dir, "books.toml");
  writeFileSync(config, ["http = { enabled = false }", "[publish]", ...loopbackDestinationToml(uniqueDestination(group)), "[venues.bybit]", 'ws_url = "ws://127.0.0.1:9/v5/public"', `rest_url = "http://127.0.0.1:${restPort}"`, "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', ""].join("\n"));
  return config;
}

test("a stop while a --books export waits for its instrument REST ends the request at once: -o FILE as it was, no temporary file, exit 130 (before: the REST's 10 s timeout, then 'export failed', exit 1)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-stop-rest-");
  const { file } = writeXrpCapture(dir);
  const rest = hangingRest();
  try {
    const config = hangingRestConfig(dir, rest.port, 394);
    const out = join(dir, "books.csv");
    writeFileSync(out, "yesterday's books\n");
    // The stop comes once the query is under way (as a Ctrl-C while the export waits for it).
    const stopSignal = (async () => {
      await waitFor(() => rest.asked(), "the instrument query", 20_000);
      return "SIGINT";
    })();
    const stops = vi.spyOn(BybitAdapter.prototype, "stop");
    const code = await exportCommand.run({ values: { books: true, config, format: "csv", out }, positionals: [file], log: silentLogger, out: () => undefined, stopSignal });
    const stopCalls = stops.mock.calls.length;
    stops.mockRestore();
    expect(code).toBe(130);
    expect(stopCalls).toBe(1); // by the stop, which the export's end waits for (before: again by the end)
    await waitFor(() => rest.aborted(), "the instrument query ended by the client", 20_000); // no socket left open
    expect(readFileSync(out, "utf8")).toBe("yesterday's books\n");
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  } finally {
    vi.restoreAllMocks();
    await rest.stop();
  }
});

test("the same signal again while a --books export cannot act on the first: the temporary file removed, -o FILE as it was, ended by the signal (before: left for good)", { timeout: 60_000 }, async () => {
  const dir = makeTempDir("feeder-export-second-signal-");
  const { file } = writeXrpCapture(dir);
  // A stop ends the instrument REST at once: what holds the export here is a fetch (preloaded) that never settles,
  // whatever its signal (a stop that cannot come through: a request Bun could not abort). It sends nothing: no server.
  const preload = join(dir, "held-fetch.ts");
  writeFileSync(preload, 'globalThis.fetch = () => (process.stderr.write("held-fetch: a request held\\n"), new Promise(() => {}));\n');
  const config = hangingRestConfig(dir, 9, 393);
  const out = join(dir, "books.csv");
  writeFileSync(out, "yesterday's books\n");
  const proc = Bun.spawn([process.execPath, "--preload", preload, "src/cli/main.ts", "export", "--books", "-c", config, "--format", "csv", "-o", out, file], { cwd: resolve(import.meta.dirname, "../.."), stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
  let stderr = "";
  const pump = (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  try {
    await waitFor(() => stderr.includes("held-fetch: a request held"), "the instrument query", 30_000);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toHaveLength(1); // the export's, made before the query
    proc.kill("SIGINT");
    await waitFor(() => stderr.includes("export stopping on a signal"), "the stop acknowledged", 30_000);
    proc.kill("SIGINT");
    expect(await exitCodeWithin(proc, 30_000)).not.toBe("still running");
    expect(proc.signalCode ?? proc.exitCode).toBe("SIGINT");
    await pump;
    expect(readFileSync(out, "utf8")).toBe("yesterday's books\n");
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  } finally {
    proc.kill("SIGKILL");
  }
});

test("a temporary file an export killed with SIGKILL left beside -o FILE is removed by the next export to FILE; a live export's (locked), a fresh one and every file no export to FILE made are kept (before: left for good; a user's FILE.tmp-2024-dec taken)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-reap-");
  const { file, frames } = writeXrpCapture(dir);
  const out = join(dir, "frames.jsonl");
  const minuteAgo = new Date(Date.now() - 2 * 60_000);
  const make = (name: string, old = true) => {
    writeFileSync(join(dir, name), "half an export\n");
    if (old) utimesSync(join(dir, name), minuteAgo, minuteAgo);
    return name;
  };
  const tag = (pid: number) => newTempTags("frames.jsonl", "-", pid);
  make(`frames.jsonl.tmp-${tag(4242).tag}`); // its writer gone: nobody holds its lock
  const live = make(`frames.jsonl.tmp-${tag(4243).tag}`); // an export still writing (quiet for minutes): holds its lock
  const fresh = make(`frames.jsonl.tmp-${tag(4244).tag}`, false); // just made: maybe a writer between its create and its lock
  const kept = [
    make(`other.jsonl.tmp-${newTempTags("other.jsonl", "-", 4245).tag}`), // another output's
    // Unlocked and old, none made by an export to frames.jsonl: until 2026-12-06 any `-<digits>-<letters>` was taken.
    make("frames.jsonl.tmp-2024-dec"), // a user's
    make("frames.jsonl.tmp-4242-k1lled"),
    make(`frames.jsonl.tmp-${tag(4246).unlockedTag}`), // an export whose lock failed (ENOLCK): never taken
    make(`frames.jsonl.tmp-${wrongCheck(tag(4247).tag)}`), // of the exact shape, its check wrong
    make(`frames.jsonl.tmp-${newTempTags("frames.csv", "-", 4248).tag}`), // made for another output
  ];
  const liveFd = openSync(join(dir, live), "r");
  try {
    expect(tryLockExclusive(liveFd)).toBe(true);
    const r = await run(["export", "-o", out, file]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(frames.length);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-")).sort()).toEqual([live, fresh, ...kept].sort());
  } finally {
    closeSync(liveFd);
  }
});

test("the sweep of stale temporary files ages them on the filesystem's clock where the host's is ahead (an NFS server's behind it): a file just made, unlocked, is kept (before: taken as a minute old)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-reap-skew-");
  const { file, frames } = writeXrpCapture(dir);
  const out = join(dir, "frames.jsonl");
  // Just made by the filesystem's clock: a writer between its create and its lock, or an unlocked older feeder's.
  const fresh = `frames.jsonl.tmp-${newTempTags("frames.jsonl", "-", 4246).tag}`;
  writeFileSync(join(dir, fresh), "an export just begun\n");
  // One the filesystem's clock says is ten minutes old: still removed.
  const killed = `frames.jsonl.tmp-${newTempTags("frames.jsonl", "-", 4247).tag}`;
  writeFileSync(join(dir, killed), "half an export\n");
  const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
  utimesSync(join(dir, killed), tenMinutesAgo, tenMinutesAgo);
  const realNow = Date.now.bind(Date);
  const ahead = vi.spyOn(Date, "now").mockImplementation(() => realNow() + 5 * 60_000); // the host's clock 5 min ahead
  try {
    const r = await run(["export", "-o", out, file]);
    expect(r.code).toBe(0);
  } finally {
    ahead.mockRestore();
  }
  expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(frames.length);
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([fresh]);
});

test("-o FILE that has another name (a hard link) exits 2 naming it, both names as they were (before: renamed over, the other name kept the old rows)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-hardlink-");
  const { file } = writeXrpCapture(dir);
  const out = join(dir, "frames.jsonl");
  writeFileSync(out, "yesterday's frames\n");
  linkSync(out, join(dir, "latest.jsonl"));
  const r = await run(["export", "-o", out, file]);
  expect(r).toEqual({ code: 2, err: [`feeder export: --out ${out}: the file has 2 names (hard links): the export replaces it by a rename, which would leave the other names with the old content; remove the other links or export to another name (see feeder export --help)`] });
  expect(readFileSync(out, "utf8")).toBe("yesterday's frames\n");
  expect(statSync(out).ino).toBe(statSync(join(dir, "latest.jsonl")).ino);
  expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
});

test("a --books export whose instrument cache write waits for another writer's lock writes it before it exits (before: exited first, the cache never written)", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("feeder-export-cache-");
  const { file } = writeXrpCapture(dir);
  const { sim, cache, config } = await startXrpCacheRig(dir, uniqueDestination(395), { seed: 3, configName: "books.toml" });
  // Another writer (a feeder merging into the same cache) holds its lock until a while after the export has finished.
  const { release, held } = await holdCacheLock(cache);
  try {
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (line) => void lines.push(line) });
    // Released once the export says it waits for the cache write, its output in place (before, it exited then: the
    // lock was still held and the cache never written).
    const out = join(dir, "books.csv");
    const poll = setInterval(() => {
      if (!existsSync(out) || !lines.some((l) => l.includes("waiting for the instrument cache write"))) return;
      clearInterval(poll);
      release();
    }, 5);
    const code = await exportCommand.run({ values: { books: true, config, format: "csv", depth: "1", out }, positionals: [file], log, out: () => undefined, stopSignal: new Promise(() => {}) });
    clearInterval(poll);
    expect(code, lines.join("\n")).toBe(0);
    expectXrpCached(cache);
  } finally {
    release();
    await held;
    await sim.stop();
  }
});

test("a stop signal while a --books export waits for its instrument cache write ends the wait: the output kept, exit 0, the cache left unwritten (not held up to 30 s)", { timeout: 15_000 }, async () => {
  const dir = makeTempDir("feeder-export-cache-stop-");
  const { file } = writeXrpCapture(dir);
  const { sim, cache, config } = await startXrpCacheRig(dir, uniqueDestination(397), { seed: 3, configName: "books.toml" });
  // Held past the test's timeout, unless the export stops waiting.
  const { release, held } = await holdCacheLock(cache);
  try {
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (line) => void lines.push(line) });
    const out = join(dir, "books.csv");
    // The Ctrl-C comes once the output is in place (the export then waits for the cache).
    const stopSignal = (async () => {
      await waitFor(() => existsSync(out), "the output in place", 10_000);
      return "SIGINT";
    })();
    const code = await exportCommand.run({ values: { books: true, config, format: "csv", depth: "1", out }, positionals: [file], log, out: () => undefined, stopSignal });
    expect(code, lines.join("\n")).toBe(0);
    expect(readFileSync(out, "utf8")).toMatch(/^ts_us,/);
    expect(lines.some((l) => l.includes("instrument cache write left unfinished: stopped by a signal"))).toBe(true);
  } finally {
    release();
    await held;
    await sim.stop();
  }
});

test("a --books export whose output's reader is gone (| head) ends at once, exit 0, while its instrument cache write still waits for another writer's lock (before: up to 30 s)", { timeout: 60_000 }, async () => {
  const dir = makeTempDir("feeder-export-epipe-cache-");
  const { file } = writeXrpCapture(dir);
  const { sim, cache, config } = await startXrpCacheRig(dir, uniqueDestination(396), { seed: 3, configName: "books.toml" });
  // Another writer holds the cache's lock until the export has ended (or this test gives up on it).
  const { release, held } = await holdCacheLock(cache);
  // `| true`: the reader ends at once, so the export's first write meets EPIPE; pipefail gives the export's exit code.
  const command = [process.execPath, "src/cli/main.ts", "export", "--books", "-c", config, "--format", "csv", "--depth", "1", file].map((a) => `'${a}'`).join(" ");
  const proc = Bun.spawn(["bash", "-c", `set -o pipefail; ${command} | true`], { cwd: resolve(import.meta.dirname, "../.."), stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
  try {
    // Well under the merge's own 30 s wait for the lock, which the lock outlasts: the old code was still waiting.
    const code = await exitCodeWithin(proc, 20_000);
    const stderr = await new Response(proc.stderr).text();
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("instrument cache write left unfinished: the output's reader is gone");
    expect(existsSync(cache)).toBe(false); // the lock was held throughout: not written
  } finally {
    proc.kill("SIGKILL");
    release();
    await held;
    await sim.stop();
  }
});
