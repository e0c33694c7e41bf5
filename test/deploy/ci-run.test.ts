/**
 * .ci/run on a small stand-in checkout (a package.json whose `npm test` is a shell script the case chooses), with
 * CI=true and no terminal: it runs `npm ci`, then `npm test` (the README's test command) in a network namespace of
 * its own with lo up (or, where `unshare -n` is unavailable, in the host's), exits non-zero on any failure and
 * ends with a `tests: N passed, N failed` line. The OS tools it would install (chromium, nats-server,
 * systemd-analyze) are stubbed and apt-get refuses, so nothing is installed on the test host.
 */
import { describe, expect, test } from "vitest";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const isRoot = process.getuid?.() === 0;

interface CiRun {
  code: number;
  out: string;
  err: string;
  /** The last line of standard output. */
  last: string;
  /** What the test script recorded: its network namespace and `ip link show lo`; undefined when it did not run. */
  ran?: { netns: string; lo: string };
}

function exe(path: string, body: string): void {
  writeFileSync(path, body);
  chmodSync(path, 0o755);
}

/** .ci/run on a checkout whose `npm test` runs `script`; `opts.noUnshare` puts a failing `unshare` first on PATH. */
async function ciRun(script: string, opts: { noUnshare?: boolean; lockOutOfSync?: boolean; tmpMissing?: boolean } = {}): Promise<CiRun> {
  const dir = makeTempDir("feeder-ci-run-");
  const repo = join(dir, "repo");
  const stubs = join(dir, "stubs");
  mkdirSync(join(repo, ".ci"), { recursive: true });
  mkdirSync(stubs);
  cpSync(join(ROOT, ".ci/run"), join(repo, ".ci/run"));
  const pkg = { name: "ci-fake", version: "1.0.0", private: true, scripts: { test: "sh ./t.sh" }, ...(opts.lockOutOfSync ? { dependencies: { "left-pad": "1.3.0" } } : {}) };
  writeFileSync(join(repo, "package.json"), JSON.stringify(pkg));
  const lock = { name: "ci-fake", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "ci-fake", version: "1.0.0" } } };
  writeFileSync(join(repo, "package-lock.json"), JSON.stringify(lock));
  const mark = join(dir, "ran");
  writeFileSync(join(repo, "t.sh"), `{ readlink /proc/self/ns/net; ip -o link show lo; } > "$CI_FAKE_MARK"\n${script}\n`);
  for (const tool of ["nats-server", "systemd-analyze", "chromium"]) exe(join(stubs, tool), "#!/bin/sh\nexit 0\n");
  exe(join(stubs, "apt-get"), "#!/bin/sh\necho 'apt-get must not run in this test' >&2\nexit 1\n");
  if (opts.noUnshare) exe(join(stubs, "unshare"), "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    CI: "true",
    PATH: `${stubs}:${process.env.PATH}`,
    TMPDIR: opts.tmpMissing ? join(dir, "missing") : dir,
    CI_FAKE_MARK: mark,
    npm_config_offline: "true",
    npm_config_cache: join(dir, "npm-cache"), // its logs too: nothing written to $HOME
    npm_config_update_notifier: "false",
  };
  delete env.FEEDER_CI_KEEP;
  // Not spawnSync: the cases run side by side (each is mostly npm starting up).
  const proc = Bun.spawn(["bash", join(repo, ".ci/run")], { cwd: dir, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const [netns, ...lo] = existsSync(mark) ? readFileSync(mark, "utf8").split("\n") : [];
  return { code, out, err, last: out.trimEnd().split("\n").at(-1) ?? "", ran: netns === undefined ? undefined : { netns, lo: lo.join("\n") } };
}

describe.concurrent(".ci/run", { timeout: 120_000 }, () => {
  test("runs the README's test command and ends with the count; as root, in a network namespace of its own, lo up", async () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toMatch(/^npm test\s+# every test/m);
    const r = await ciRun("echo ' Tests  2 passed (2)'");
    expect(r.ran, r.out + r.err).toBeDefined();
    expect({ code: r.code, last: r.last }).toEqual({ code: 0, last: "tests: 2 passed, 0 failed" });
    if (!isRoot) return; // unshare -n needs root: the host-namespace case is below
    expect(r.out).toContain("ci: running the tests in an isolated network namespace (loopback only)");
    expect(r.ran!.netns).not.toBe(readlinkSync("/proc/self/ns/net"));
    expect(r.ran!.lo).toMatch(/<[^>]*\bUP\b[^>]*>/);
  });

  test("unshare unavailable: the tests still run, in the host namespace, and their failure is the exit status", async () => {
    const r = await ciRun("echo ' Tests  1 failed | 3 passed (4)'; exit 1", { noUnshare: true });
    expect(r.out).toContain("running the tests in the host namespace");
    expect(r.ran!.netns).toBe(readlinkSync("/proc/self/ns/net"));
    expect(r.code).not.toBe(0);
    expect(r.last).toBe("tests: 3 passed, 1 failed");
  });

  test("a test command that fails before any summary: non-zero, and still the count as the last line", async () => {
    // The summary's grep found nothing, which under set -e -o pipefail ended the script before its last line.
    const r = await ciRun("echo 'vitest: cannot start' >&2; exit 3");
    expect(r.ran).toBeDefined();
    expect(r.code).not.toBe(0);
    expect(r.last).toBe("tests: 0 passed, 0 failed");
  });

  test("npm ci failing: non-zero, no test run, said", async () => {
    const r = await ciRun("echo ' Tests  2 passed (2)'", { lockOutOfSync: true });
    expect(r.ran).toBeUndefined();
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("ci: npm ci failed: no test ran");
    expect(r.last).toBe("tests: 0 passed, 0 failed");
  });

  test("failing before any test can run (no temporary directory for the copy): non-zero, and still the count as the last line", async () => {
    // mktemp failing under set -e ended the script with mktemp's error alone.
    const r = await ciRun("echo ' Tests  2 passed (2)'", { tmpMissing: true });
    expect(r.ran).toBeUndefined();
    expect(r.code).not.toBe(0);
    expect(r.last).toBe("tests: 0 passed, 0 failed");
  });
});
