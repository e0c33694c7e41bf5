/**
 * readRegularFileSync on a regular file another process holds a write lease on (what Samba's oplocks and the NFS
 * server's delegations are): its non-blocking open answers EAGAIN, which refused the file. It now waits for the
 * lease to be broken, as a plain open does, and reads the file.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readRegularFileSync } from "../../src/core/regular-file.ts";

// The holder: takes a write lease (fcntl F_SETLEASE, by FFI) with its break signal set to SIGWINCH (ignored by
// default), then polls F_GETLEASE and lets the lease go once a break has begun (the lease then reads F_RDLCK/F_UNLCK).
const HOLDER = `
import { dlopen, FFIType } from "bun:ffi";
import { openSync } from "node:fs";
const { symbols: c } = dlopen("libc.so.6", { fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
const F_SETSIG = 10, F_SETLEASE = 1024, F_GETLEASE = 1025, F_WRLCK = 1, F_UNLCK = 2, SIGWINCH = 28;
const fd = openSync(process.argv[2], "r+");
if (c.fcntl(fd, F_SETSIG, SIGWINCH) !== 0 || c.fcntl(fd, F_SETLEASE, F_WRLCK) !== 0) { console.log("no-lease"); process.exit(0); }
console.log("leased");
const t = setInterval(() => {
  if (c.fcntl(fd, F_GETLEASE, 0) === F_WRLCK) return;
  c.fcntl(fd, F_SETLEASE, F_UNLCK);
  console.log("released");
  clearInterval(t);
  process.exit(0);
}, 5);
`;

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Starts the holder on `path`; resolves with its first line ("leased" or "no-lease") and a promise of its exit. */
function holdLease(path: string, script: string): Promise<{ first: string; out: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [script, path], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      out += s;
      if (out.includes("\n")) resolve({ first: out.split("\n")[0]!, out: () => out, exited });
    });
    child.on("error", reject);
    void exited.then(() => reject(new Error(`lease holder exited before a line: ${JSON.stringify(out)}`)));
  });
}

describe("readRegularFileSync: a file under another process's write lease", () => {
  it("waits for the lease to be broken and reads the file (before: EAGAIN, refused)", async (ctx) => {
    dir = mkdtempSync(join(tmpdir(), "feeder-lease-"));
    const path = join(dir, "feed.key");
    writeFileSync(path, "00112233445566778899aabbccddeeff\n");
    const script = join(dir, "holder.ts");
    writeFileSync(script, HOLDER);
    const holder = await holdLease(path, script);
    if (holder.first === "no-lease") {
      // Leases off (fs.leases-enable = 0) or not allowed here: reported as skipped, not as passed.
      await holder.exited;
      ctx.skip();
    }
    expect(holder.first).toBe("leased");
    const bytes = readRegularFileSync(path);
    expect(Buffer.from(bytes).toString()).toBe("00112233445566778899aabbccddeeff\n");
    expect(await holder.exited).toBe(0);
    expect(holder.out()).toBe("leased\nreleased\n");
  });
});
