/**
 * A FIFO given where a file is read once at start (`-c/--config`, `--auth-key-file`, a subscriber's authKeyFile)
 * with no process writing to it held the start in open(2) for good, deaf to SIGINT and SIGTERM. The shared reader
 * now waits for a writer at most its FIFO wait (1 s; set small here), then refuses the path by name; a writer that
 * has opened it is read however slowly. Each read runs in a child the test kills if it does not answer: the old
 * code's blocked open(2) cannot hold the test's own thread.
 *
 * The configuration had no size cap either: a huge file (a log given as -c) or a FIFO fed without end (`-c <(yes)`)
 * was read whole into memory, at start and on every SIGHUP. It is refused past MAX_CONFIG_BYTES (16 MiB), naming it
 * (a FIFO through the same capped read as a NATS credential file's: test/bridge/nats-credential-flags.test.ts).
 * An HMAC key file likewise: one over 1 MiB (a file given by mistake) was read whole and taken as a key of its bytes.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, ftruncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { loadConfigFile } from "../../src/config/load.ts";
import { readAuthKeyFile } from "../../src/core/auth-key.ts";
import { ConfigError } from "../../src/core/errors.ts";
import * as regular from "../../src/core/regular-file.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = join(import.meta.dirname, "../..");
/** Far above the child's 200 ms wait plus its start; the old code never answers. */
const BOUND_MS = 10_000;
const dir = makeTempDir("feeder-fifo-wait-");

/** The reader's FIFO wait (a seam the old code lacks: there the call does nothing, and this file still loads). */
const setWait = (ms: number): void => (regular as { setFifoWriterWaitMs?: (ms: number) => void }).setFifoWriterWaitMs?.(ms);

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  setWait(regular.FIFO_WRITER_WAIT_MS);
  while (cleanups.length > 0) cleanups.pop()!();
});

function fifo(name: string): string {
  const path = join(dir, name);
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  return path;
}

/** `body` (statements using `path`) in a child whose FIFO wait is 200 ms: what it printed, or "no answer". */
async function inChild(name: string, path: string, imports: string[], body: string): Promise<string> {
  const script = join(dir, `${name}.ts`);
  writeFileSync(script, [
    `import * as regular from ${JSON.stringify(join(ROOT, "src/core/regular-file.ts"))};`,
    ...imports,
    // The old code has no wait to set: the call is skipped there, and its open blocks.
    `(regular as { setFifoWriterWaitMs?: (ms: number) => void }).setFifoWriterWaitMs?.(200);`,
    `const path = ${JSON.stringify(path)};`,
    `try { ${body} } catch (err) { console.log(String((err as { problems?: string[] }).problems ?? (err as Error).message)); }`,
    "",
  ].join("\n"));
  const proc = Bun.spawn([process.execPath, script], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  cleanups.push(() => proc.kill("SIGKILL"));
  if ((await exitCodeWithin(proc, BOUND_MS)) === "still running") return "no answer";
  return (await new Response(proc.stdout).text()).trim();
}

test("-c/--config naming a FIFO no process writes to is refused by name after the wait, not waited for for good", { timeout: 30_000 }, async () => {
  const path = fifo("unwritten.toml");
  const got = await inChild("config", path, [`import { loadConfigFile } from ${JSON.stringify(join(ROOT, "src/config/load.ts"))};`], "loadConfigFile(path);");
  expect(got).toBe(`${path}: not a regular file but a FIFO (named pipe), and no process opened it to write within 0.2 s: the configuration must be a regular file, or a FIFO with a writer (-c <(render-config))`);
});

test("--auth-key-file (a subscriber's authKeyFile) naming a FIFO no process writes to is refused by name after the wait", { timeout: 30_000 }, async () => {
  const path = fifo("unwritten.key");
  const got = await inChild("key", path, [`import { readAuthKeyFile } from ${JSON.stringify(join(ROOT, "src/core/auth-key.ts"))};`], 'readAuthKeyFile(path, "--auth-key-file", { fifo: true });');
  expect(got).toBe(`--auth-key-file: cannot read key file ${JSON.stringify(path)}: not a regular file but a FIFO (named pipe), and no process opened it to write within 0.2 s`);
});

test("a configuration FIFO whose writer comes within the wait, or opens at once and writes late, is read whole", () => {
  setWait(300);
  const late = fifo("late.toml");
  const slow = fifo("slow.toml");
  const text = ["[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', ""].join("\n");
  const writers = [
    spawn("sh", ["-c", `sleep 0.1; printf '%s' '${text}' > '${late}'`], { stdio: "ignore" }),
    // Open at once, written after the wait (`-c <(pass show …)` waiting for a passphrase).
    spawn("sh", ["-c", `exec 3> '${slow}'; sleep 0.6; printf '%s' '${text}' >&3`], { stdio: "ignore" }),
  ];
  cleanups.push(() => writers.forEach((w) => w.kill("SIGKILL")));
  expect(loadConfigFile(late, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] }).venues[0]?.venue).toBe("bybit");
  expect(loadConfigFile(slow, { localAddresses: [{ name: "lo", address: "127.0.0.1" }] }).venues[0]?.venue).toBe("bybit");
});

test("-c <(render-config) whose command wrote nothing (it failed) is refused naming the empty pipe, at once (before: after the wait, as a FIFO no process opened to write; or, its writer still running, read as an empty configuration)", { timeout: 30_000 }, async () => {
  const script = join(dir, "empty-pipe.ts");
  writeFileSync(script, [
    `import { loadConfigFile } from ${JSON.stringify(join(ROOT, "src/config/load.ts"))};`,
    // A minute's wait: the old code answers only after it (or reads the pipe as an empty file).
    `(await import(${JSON.stringify(join(ROOT, "src/core/regular-file.ts"))}) as { setFifoWriterWaitMs?: (ms: number) => void }).setFifoWriterWaitMs?.(60_000);`,
    `try { loadConfigFile(process.argv[2]!); console.log("loaded"); } catch (err) { console.log(String((err as { problems?: string[] }).problems ?? (err as Error).message)); }`,
    "",
  ].join("\n"));
  // The writer already gone when it is read (exit 3), and one still running that writes nothing (sleep).
  const got = await Promise.all(["exit 3", "sleep 0.3"].map(async (cmd) => {
    const proc = Bun.spawn(["bash", "-c", `exec "$0" "$1" <(${cmd})`, process.execPath, script], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
    cleanups.push(() => proc.kill("SIGKILL"));
    if ((await exitCodeWithin(proc, BOUND_MS)) === "still running") return "no answer";
    return (await new Response(proc.stdout).text()).trim();
  }));
  for (const g of got) expect(g).toMatch(/^\/dev\/fd\/\d+: a pipe whose writer closed it without writing anything \(did the command writing it fail\?\)$/);
});

/** The ConfigError's problems of loading `path`, or "loaded". */
function loadProblems(path: string, reread = false): readonly string[] | "loaded" {
  try {
    loadConfigFile(path, { reread, localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    return "loaded";
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test("a configuration larger than 16 MiB is refused naming it, at start and on the SIGHUP re-read (before: read whole)", () => {
  const MAX = 16 * 1024 * 1024; // MAX_CONFIG_BYTES
  const refusal = (path: string) => [`${path}: larger than 16 MiB: not a feeder configuration (a log or data file given as the config?)`];
  // A sparse file one byte over: nothing is written to disk, and the fix refuses it by its size without reading it.
  const big = join(dir, "huge.toml");
  const fd = openSync(big, "w");
  ftruncateSync(fd, MAX + 1);
  closeSync(fd);
  expect(loadProblems(big)).toEqual(refusal(big));
  expect(loadProblems(big, true)).toEqual(refusal(big));
});

test("an HMAC key file larger than 1 MiB is refused naming it (before: read whole and taken as a 1 MiB key)", () => {
  const big = join(dir, "huge.key");
  const fd = openSync(big, "w");
  ftruncateSync(fd, 1024 * 1024 + 1); // sparse: nothing written to disk
  closeSync(fd);
  for (const fifo of [false, true]) {
    expect(() => readAuthKeyFile(big, "publish.auth_key_file", { fifo })).toThrow(`publish.auth_key_file: key file ${JSON.stringify(big)} is larger than 1 MiB: not an HMAC key file`);
  }
});

test("one FIFO named by two read-once options is read ahead once: its bytes stay kept for the first reader (before: the second read ahead, finding no writer, replaced them with its refusal)", async () => {
  const path = fifo("twice.toml");
  const writer = spawn("sh", ["-c", `printf '%s' 'workers = 1' > '${path}'`], { stdio: "ignore" });
  cleanups.push(() => writer.kill("SIGKILL"));
  setWait(5_000);
  await regular.readFifoAhead(path, 1024); // `-c F`
  setWait(100); // the writer is gone: a second read of F waits for one 0.1 s, then refuses it
  await regular.readFifoAhead(path, 1024); // `--auth-key-file F`
  expect(new TextDecoder().decode(regular.readRegularFileSync(path, { fifo: true }))).toBe("workers = 1");
});
