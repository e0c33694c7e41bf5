/**
 * SIGHUP's re-check (config-reload.ts) reads the configuration file, and the HMAC key file it names, again on the
 * thread that runs the feed. A path that was no longer a regular file held that thread: a FIFO waited for a writer
 * for good (the books unpublished, SIGTERM unanswered), /dev/zero's read grew until memory ran out. Such a path is
 * now refused by what it is, the process running on. At load, a device or a directory is refused the same way (a
 * FIFO is read once there: `-c <(render-config)`); publish.auth_key_file, read more than once at start, never may
 * be a FIFO, while a key read once (listen's and the bridge's --auth-key-file) may.
 * The re-check runs in a child process, which the test kills if it does not answer: the old code's blocked read
 * cannot hold the test's own thread.
 */
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { loadConfigFile } from "../../src/config/load.ts";
import { readAuthKeyFile } from "../../src/core/auth-key.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = join(import.meta.dirname, "../..");
const BOUND_MS = 20_000;
const KEY = "00112233445566778899aabbccddeeff";

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function setup(): { dir: string; path: string; keyPath: string } {
  const dir = makeTempDir("feeder-reload-not-regular-");
  const keyPath = join(dir, "feed.key");
  writeFileSync(keyPath, KEY + "\n");
  const path = join(dir, "run.toml");
  writeFileSync(path, ["[publish]", `auth_key_file = "${keyPath}"`, "[venues.bybit]", `instrument_cache = "${join(dir, "instruments.json")}"`, "[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', ""].join("\n"));
  return { dir, path, keyPath };
}

/** A path replaced by something that is not a regular file (as `mv` or a symlink would), the original kept aside. */
function replaceWith(path: string, what: "fifo" | "/dev/zero" | "directory"): void {
  renameSync(path, path + ".was");
  if (what === "fifo") expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  else if (what === "directory") mkdirSync(path);
  else symlinkSync("/dev/zero", path);
}

/** checkReload in a child process: its result, or "no answer" when it did not end within BOUND_MS (killed then). */
async function reloadInChild(dir: string, path: string, running: string): Promise<unknown> {
  const script = join(dir, "reload.ts");
  writeFileSync(script, [
    `import { checkReload, keyDigest } from ${JSON.stringify(join(ROOT, "src/cli/config-reload.ts"))};`,
    `import { loadConfigFile } from ${JSON.stringify(join(ROOT, "src/config/load.ts"))};`,
    `const running = loadConfigFile(${JSON.stringify(running)});`,
    `console.log(JSON.stringify(checkReload(${JSON.stringify(path)}, running, keyDigest(running))));`,
    "",
  ].join("\n"));
  const proc = Bun.spawn([process.execPath, script], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  cleanups.push(() => proc.kill("SIGKILL"));
  const code = await exitCodeWithin(proc, BOUND_MS);
  if (code === "still running") return "no answer";
  return JSON.parse(await new Response(proc.stdout).text()) as unknown;
}

test("SIGHUP's re-check of a configuration path that became a FIFO refuses it by name instead of waiting for a writer", { timeout: 60_000 }, async () => {
  const { dir, path } = setup();
  writeFileSync(join(dir, "running.toml"), await Bun.file(path).text());
  replaceWith(path, "fifo");
  expect(await reloadInChild(dir, path, join(dir, "running.toml"))).toEqual({
    problems: [`${path}: not a regular file but a FIFO (named pipe): the configuration must be a regular file`],
  });
});

test("SIGHUP's re-check of a key file that became a FIFO refuses it by name instead of waiting for a writer", { timeout: 60_000 }, async () => {
  const { dir, path, keyPath } = setup();
  const running = join(dir, "running.key");
  writeFileSync(running, KEY + "\n");
  // The running configuration names a regular copy of the key; the re-checked file names the FIFO.
  writeFileSync(join(dir, "running.toml"), (await Bun.file(path).text()).replace(keyPath, running));
  replaceWith(keyPath, "fifo");
  expect(await reloadInChild(dir, path, join(dir, "running.toml"))).toEqual({
    problems: [`publish.auth_key_file: cannot read key file ${JSON.stringify(keyPath)}: not a regular file but a FIFO (named pipe)`],
  });
});

test("SIGHUP's re-check of a configuration path that became /dev/zero or a directory refuses it by name", { timeout: 60_000 }, async () => {
  for (const what of ["/dev/zero", "directory"] as const) {
    const { dir, path } = setup();
    writeFileSync(join(dir, "running.toml"), await Bun.file(path).text());
    replaceWith(path, what);
    const kind = what === "directory" ? "a directory" : "a character device";
    expect(await reloadInChild(dir, path, join(dir, "running.toml"))).toEqual({ problems: [`${path}: not a regular file but ${kind}: the configuration must be a regular file`] });
  }
});

test("at load: a configuration or key path that is a device or a directory is a configuration error naming what it is", () => {
  const problems = (fn: () => unknown): readonly string[] => {
    try {
      fn();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };
  const { dir, path, keyPath } = setup();
  expect(problems(() => loadConfigFile("/dev/zero"))).toEqual(["/dev/zero: not a regular file but a character device: the configuration must be a regular file"]);
  expect(problems(() => loadConfigFile(dir))).toEqual([`${dir}: not a regular file but a directory: the configuration must be a regular file`]);
  replaceWith(keyPath, "/dev/zero");
  expect(problems(() => loadConfigFile(path))).toContain(`publish.auth_key_file: cannot read key file ${JSON.stringify(keyPath)}: not a regular file but a character device`);
});

test("a key read once (listen, bridge: --auth-key-file <(pass show feed-key)) may still be a FIFO; a device may not", { timeout: 60_000 }, async () => {
  const { dir } = setup();
  const fifo = join(dir, "once.key");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  // The writer is another process: this thread's read waits for it and ends at its close.
  const writer = Bun.spawn(["sh", "-c", `printf '%s' ${KEY} > "$1"`, "sh", fifo], { stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  cleanups.push(() => writer.kill("SIGKILL"));
  expect(Buffer.from(readAuthKeyFile(fifo, "--auth-key-file", { fifo: true })).toString("hex")).toBe(KEY);
  expect(await writer.exited).toBe(0);
  expect(() => readAuthKeyFile("/dev/zero", "--auth-key-file", { fifo: true })).toThrow('--auth-key-file: cannot read key file "/dev/zero": not a regular file but a character device');
});
