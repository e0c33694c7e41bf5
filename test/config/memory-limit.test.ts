/**
 * The rings' memory check sees a cgroup's limit, not only os.totalmem() (until 2026-12-07 a container or a unit with
 * MemoryMax= passed rings the kernel then killed it for). Parsed from strings: no real /proc or /sys file is read.
 */
import { expect, test } from "vitest";
import { cgroupMemoryLimit, parseCgroupLimit, usableMemory, type ReadText } from "../../src/config/memory-limit.ts";
import { rng } from "../support/mulberry32.ts";

const GIB = 2 ** 30;
const filesOf = (files: Record<string, string>): ReadText => (path) => files[path];

test("a limit file's text: bytes, or none for max, v1's unlimited stays above any host, other text is no limit", () => {
  expect(parseCgroupLimit("2147483648\n")).toBe(2 * GIB);
  expect(parseCgroupLimit("max\n")).toBeUndefined();
  expect(parseCgroupLimit("9223372036854771712\n")).toBeGreaterThan(2 ** 62);
  for (const text of ["", "\n", "-1", "1.5G", "2G", "0x10"]) expect(parseCgroupLimit(text), text).toBeUndefined();
});

test("the smaller of the host's memory and the cgroup limits (v2, v1, the process's cgroup and those above it)", () => {
  const host = 64 * GIB;
  // None readable (not Linux, no cgroup fs): the host's memory, as before.
  expect(usableMemory(filesOf({}), host).bytes).toBe(host);
  // A container (cgroup namespace: "0::/"): its memory.max at the mount's root.
  expect(usableMemory(filesOf({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "4294967296\n" }), host).bytes).toBe(4 * GIB);
  expect(usableMemory(filesOf({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n" }), host).bytes).toBe(host);
  // A systemd unit with MemoryMax=, under a slice with a smaller one: the slice's binds.
  const unit = {
    "/proc/self/cgroup": "0::/system.slice/feeder.service\n",
    "/sys/fs/cgroup/system.slice/feeder.service/memory.max": String(8 * GIB),
    "/sys/fs/cgroup/system.slice/memory.max": String(6 * GIB),
  };
  expect(cgroupMemoryLimit(filesOf(unit))?.bytes).toBe(6 * GIB);
  // cgroup v1: the memory controller's line names the path; v1's "unlimited" leaves the host's memory.
  const v1 = (limit: string) => ({ "/proc/self/cgroup": "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n", "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": limit });
  expect(usableMemory(filesOf(v1("2147483648")), host).bytes).toBe(2 * GIB);
  expect(usableMemory(filesOf(v1("9223372036854771712")), host).bytes).toBe(host);
  // Both versions present (hybrid): the smaller.
  expect(usableMemory(filesOf({ ...v1(String(3 * GIB)), "/sys/fs/cgroup/memory.max": String(5 * GIB) }), host).bytes).toBe(3 * GIB);
  // No /proc/self/cgroup: the mount roots alone.
  expect(usableMemory(filesOf({ "/sys/fs/cgroup/memory/memory.limit_in_bytes": String(GIB) }), host).bytes).toBe(GIB);
});

test("which bounds it is named: the cgroup limit's file when it is the smaller, else this host's memory", () => {
  // The rings' refusal (load.ts checkRingTotal) says what it was held to: until s-rd19d "this host's memory" either way.
  const unit = { "/proc/self/cgroup": "0::/system.slice/feeder.service\n", "/sys/fs/cgroup/system.slice/memory.max": String(6 * GIB) };
  expect(usableMemory(filesOf(unit), 64 * GIB)).toEqual({ bytes: 6 * GIB, what: "the cgroup memory limit /sys/fs/cgroup/system.slice/memory.max" });
  expect(usableMemory(filesOf(unit), 4 * GIB)).toEqual({ bytes: 4 * GIB, what: "this host's memory" });
  expect(usableMemory(filesOf({}), 4 * GIB)).toEqual({ bytes: 4 * GIB, what: "this host's memory" });
});

test("a cgroup path climbing above the mount's root names none of its directories: only the root's limit is read", () => {
  // "0::/../../other/x": the process's cgroup is outside the namespace the mount shows (moved out of it after the
  // namespace was made). Until s-rd19d its ".." were dropped and /sys/fs/cgroup/other/x, another cgroup, was read.
  const host = 64 * GIB;
  const files = { "/proc/self/cgroup": "0::/../../other/x\n", "/sys/fs/cgroup/other/x/memory.max": String(GIB), "/sys/fs/cgroup/other/memory.max": String(GIB) };
  expect(usableMemory(filesOf(files), host).bytes).toBe(host);
  expect(usableMemory(filesOf({ ...files, "/sys/fs/cgroup/memory.max": String(8 * GIB) }), host).bytes).toBe(8 * GIB);
  // v1 alike; a ".." that stays inside resolves ("/a/../b" is /b).
  expect(usableMemory(filesOf({ "/proc/self/cgroup": "4:memory:/../x\n", "/sys/fs/cgroup/memory/x/memory.limit_in_bytes": String(GIB) }), host).bytes).toBe(host);
  expect(usableMemory(filesOf({ "/proc/self/cgroup": "0::/a/../b\n", "/sys/fs/cgroup/a/b/memory.max": String(GIB), "/sys/fs/cgroup/b/memory.max": String(2 * GIB) }), host).bytes).toBe(2 * GIB);
});

test("random cgroup trees against the rule: the least limit set on the process's cgroup, its ancestors or a root", () => {
  const rand = rng(23);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < 200; i++) {
    const depth = Math.floor(rand() * 4);
    const path = "/" + Array.from({ length: depth }, (_, k) => `c${k}`).join("/");
    const dirs = Array.from({ length: depth + 1 }, (_, n) => (n === 0 ? "" : "/" + path.split("/").filter(Boolean).slice(0, n).join("/")));
    const files: Record<string, string> = { "/proc/self/cgroup": pick([`0::${path}\n`, `3:memory:${path}\n`, `0::${path}\n3:memory:${path}\n`]) };
    const limits: number[] = [];
    for (const d of dirs) {
      for (const file of [`/sys/fs/cgroup${d}/memory.max`, `/sys/fs/cgroup/memory${d}/memory.limit_in_bytes`]) {
        const r = rand();
        if (r < 0.4) continue; // absent
        if (r < 0.55) files[file] = "max\n";
        else {
          const bytes = Math.floor(GIB * 2 ** (rand() * 8));
          files[file] = `${bytes}\n`;
          const v2 = file.endsWith("memory.max");
          // Read only where /proc/self/cgroup leads: v2's files for a "0::" line, v1's for a memory line (or the roots).
          const cg = files["/proc/self/cgroup"]!;
          const followed = d === "" || (v2 ? cg.includes("0::") : cg.includes(":memory:"));
          if (followed) limits.push(bytes);
        }
      }
    }
    // A sibling's limit (not an ancestor) is no limit of this process.
    files["/sys/fs/cgroup/other/memory.max"] = "1\n";
    const host = Math.floor(GIB * 2 ** (rand() * 8));
    const want = Math.min(host, ...limits);
    expect(usableMemory(filesOf(files), host).bytes, JSON.stringify(files)).toBe(want);
  }
});
