/**
 * flock(2) through bun:ffi (Node's fs has no file locks): the kernel lock behind the recorder's claim on its DIR
 * (record/dir-claim.ts) and behind a live writer's temporary files (stale-temps.ts). A lock the kernel holds for an open file goes when the process ends however it ends (SIGKILL, a
 * crash), is seen by every process on the host (another PID namespace, a container sharing DIR), and taking it is
 * one atomic step, which a PID written into a file and judged by another process is not.
 * @module
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { constants } from "node:os";

const LOCK_EX = 2;
const LOCK_NB = 4;

interface Libc {
  flock: (fd: number, op: number) => number;
  errno: () => number;
}

let libc: Libc | null | undefined;

/** The C library's flock and errno, or null where none loads (not Linux or macOS). */
function load(): Libc | null {
  if (libc !== undefined) return libc;
  const candidates =
    process.platform === "darwin"
      ? [["libSystem.B.dylib", "__error"]]
      : [
          ["libc.so.6", "__errno_location"],
          // musl: Alpine's symlink name, then the loader's own name, which every musl system has.
          [`libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "__errno_location"],
          [`ld-musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "__errno_location"],
        ];
  libc = null;
  for (const [name, errnoFn] of candidates) {
    try {
      const { symbols } = dlopen(name!, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        [errnoFn!]: { args: [], returns: FFIType.ptr },
      });
      const where = symbols[errnoFn!] as () => number | null;
      libc = { flock: symbols.flock as (fd: number, op: number) => number, errno: () => read.i32(where()!, 0) };
      break;
    } catch {
      // not this C library
    }
  }
  return libc;
}

/**
 * Takes an exclusive lock on `fd` without waiting: true when taken, false when another open file holds it. Throws
 * for anything else (no lock support on this filesystem: ENOLCK), naming the errno.
 */
export function tryLockExclusive(fd: number): boolean {
  const c = load();
  if (c === null) throw new Error("file locks are not available here (no C library with flock)");
  for (;;) {
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = c.errno();
    if (errno === constants.errno.EWOULDBLOCK || errno === constants.errno.EAGAIN) return false;
    if (errno === constants.errno.EINTR) continue;
    const name = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
    throw Object.assign(new Error(`flock failed: ${name}`), { code: name });
  }
}
