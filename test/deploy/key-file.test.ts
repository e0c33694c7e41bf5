/**
 * The HMAC key file as docs/operations.md tells an operator to make it, read by the process the unit starts
 * (User=feeder, Group=feeder): the documented commands are run (sudo dropped, /etc/feeder a temp dir, the group
 * feeder standing for nogroup) and the key is then read as user nobody, group nogroup, as `feeder run` reads it.
 * Needs root (to run as another user); skipped, saying why, otherwise.
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const GUIDE = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
const UNIT = readFileSync(join(ROOT, "deploy/systemd/feeder.service"), "utf8");
const isRoot = process.getuid?.() === 0;

/** The shell block of operations.md that writes /etc/feeder/feed.key. */
function keyCommands(): string {
  const blocks = [...GUIDE.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes("/etc/feeder/feed.key"));
  expect(block, "docs/operations.md has a sh block writing /etc/feeder/feed.key").toBeDefined();
  return block!;
}

describe("publish.auth_key_file made as docs/operations.md says", () => {
  test("the unit runs as user and group feeder (what the key file must be readable by)", () => {
    expect(UNIT).toMatch(/^User=feeder$/m);
    expect(UNIT).toMatch(/^Group=feeder$/m);
    expect(UNIT).toMatch(/^ProtectSystem=strict$/m); // /etc stays readable under it
  });

  test.skipIf(!isRoot)("the unit's user reads the key; other users cannot", () => {
    // Under /tmp itself, not $TMPDIR: every directory above the key must be one the other user may pass through.
    const dir = mkdtempSync("/tmp/feeder-key-");
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755); // /etc/feeder: a directory anyone may traverse
    const script = keyCommands()
      .replaceAll("/etc/feeder", dir)
      .replace(/\bsudo\s+/g, "")
      .replace(/(-g|chgrp|chown\s+\S*:)\s*feeder\b/g, "$1 nogroup");
    const run = Bun.spawnSync(["bash", "-euo", "pipefail", "-c", script], { stdout: "pipe", stderr: "pipe" });
    expect(run.stderr.toString()).toBe("");
    expect(run.exitCode).toBe(0);
    const key = join(dir, "feed.key");
    expect(statSync(key).size).toBeGreaterThanOrEqual(16);
    expect(statSync(key).mode & 0o007, "others can read the key").toBe(0);
    const asUnit = Bun.spawnSync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", key], { stdout: "pipe", stderr: "pipe" });
    expect({ code: asUnit.exitCode, err: asUnit.stderr.toString(), bytes: asUnit.stdout.byteLength }).toEqual({ code: 0, err: "", bytes: statSync(key).size });
  });
});
