/**
 * The memory this process may take: the host's (os.totalmem()) or, smaller, its cgroup's limit. A container or a
 * systemd unit with MemoryMax= sees the host's whole memory in os.totalmem(), so the rings' check (load.ts
 * checkRingTotal) passed rings the kernel then killed the process for (until 2026-12-07). cgroup v2 `memory.max`
 * ("max": none) and v1 `memory.limit_in_bytes` (no limit reads as a huge number) are read for the process's own
 * cgroup and each one above it (a parent slice's limit binds too), and at the mount's root (a container's own
 * cgroup, when /proc/self/cgroup names a path of the host's). Cold code, read once per config load.
 * @module
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/** A file's text, or undefined when it cannot be read (absent: no such cgroup version or controller here). */
export type ReadText = (path: string) => string | undefined;

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * A cgroup memory limit file's bytes: a decimal integer. "max" (v2's none), an empty or other text: undefined (no
 * limit read from it; a file we cannot make sense of must not shrink the check to nothing).
 */
export function parseCgroupLimit(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined; // v1's "none", 2^63 rounded down to a page, stays above any host's
}

/**
 * "/a/b" → ["/a/b", "/a", "/"]: a cgroup and every one above it. A path that climbs above the root ("/../x": the
 * process's cgroup is outside the cgroup namespace the mount shows, as after a move out of it) names no directory of
 * the mount: only "/" (until s-rd19d its ".." were dropped, "/../x" read as "/x", another cgroup's limit).
 */
function selfAndAncestors(path: string): string[] {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p !== "..") parts.push(p);
    else if (parts.pop() === undefined) return ["/"];
  }
  const out: string[] = [];
  for (let n = parts.length; n > 0; n--) out.push("/" + parts.slice(0, n).join("/"));
  out.push("/");
  return out;
}

/** A cgroup memory limit: its bytes and the file that set it. */
export interface CgroupLimit {
  readonly bytes: number;
  readonly file: string;
}

/**
 * The smallest cgroup memory limit of this process (v2 and v1, its cgroup and those above it) and the file that set
 * it (named in the rings' refusal), or undefined when none is set or readable. `read` is the file reader (tests give
 * strings; the real one reads /proc and /sys).
 */
export function cgroupMemoryLimit(read: ReadText = readOrUndefined): CgroupLimit | undefined {
  // /proc/self/cgroup: "0::/path" (v2), "N:controllers:/path" (v1; the memory one lists "memory").
  let v2Path = "/";
  let v1Path = "/";
  for (const line of (read("/proc/self/cgroup") ?? "").split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (m === null) continue;
    if (m[1] === "") v2Path = m[2]!;
    else if (m[1]!.split(",").includes("memory")) v1Path = m[2]!;
  }
  const files = [
    ...selfAndAncestors(v2Path).map((d) => `/sys/fs/cgroup${d === "/" ? "" : d}/memory.max`),
    ...selfAndAncestors(v1Path).map((d) => `/sys/fs/cgroup/memory${d === "/" ? "" : d}/memory.limit_in_bytes`),
  ];
  let least: CgroupLimit | undefined;
  for (const file of files) {
    const text = read(file);
    const bytes = text === undefined ? undefined : parseCgroupLimit(text);
    if (bytes !== undefined && (least === undefined || bytes < least.bytes)) least = { bytes, file };
  }
  return least;
}

/** The memory the rings may take, and what bounds it, as the refusal names it. */
export interface UsableMemory {
  readonly bytes: number;
  /** "this host's memory", or the cgroup limit and its file. */
  readonly what: string;
}

/** The smaller of the host's memory and this process's cgroup limit, and which it is. */
export function usableMemory(read: ReadText = readOrUndefined, hostBytes = totalmem()): UsableMemory {
  const limit = cgroupMemoryLimit(read);
  if (limit === undefined || limit.bytes >= hostBytes) return { bytes: hostBytes, what: "this host's memory" };
  return { bytes: limit.bytes, what: `the cgroup memory limit ${limit.file}` };
}
