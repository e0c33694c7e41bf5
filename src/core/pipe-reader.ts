/**
 * Whether the reader of a pipe, FIFO or socket we write to has gone (`| head` ended), asked without writing: poll(2)
 * through bun:ffi reports POLLERR on a pipe's write end once no process holds its read end (POLLHUP on some systems),
 * and POLLHUP on a socket its peer has closed both ways (a Bun or Node parent's `stdout: "pipe"` is a socketpair; one
 * only half-closed, its peer still reading, is no reader gone). A
 * command that has written all its output and waits for something else (an export's instrument cache write waiting
 * for another writer's lock) learns so that nobody is left to read it. Cold.
 * @module
 */
import { dlopen, FFIType } from "bun:ffi";
import { fstatSync } from "node:fs";

const POLLOUT = 4;
const POLLERR = 8;
const POLLHUP = 16;

let poll: ((fds: Int16Array, nfds: number, timeoutMs: number) => number) | null | undefined;

/** The C library's poll, or null where none loads (then no reader is ever said to be gone). */
function load(): typeof poll {
  if (poll !== undefined) return poll;
  poll = null;
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const names = process.platform === "darwin" ? ["libSystem.B.dylib"] : ["libc.so.6", `libc.musl-${arch}.so.1`, `ld-musl-${arch}.so.1`];
  for (const name of names) {
    try {
      const { symbols } = dlopen(name, { poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
      poll = (fds, nfds, timeoutMs) => symbols.poll(fds, nfds, timeoutMs) as number;
      break;
    } catch {
      // not this C library
    }
  }
  return poll;
}

/**
 * True when `fd` is a pipe or FIFO whose every reader has closed it, or a socket its peer has closed; false otherwise
 * (also for a file, a terminal). Sockets were left out until 2026-12-06: an export under a Bun or Node parent waited.
 */
export function pipeReaderGone(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) return false;
  } catch {
    return false;
  }
  const p = load();
  if (p === null || p === undefined) return false;
  // struct pollfd { int fd; short events; short revents; }: the int written natively over the first two shorts.
  const fds = new Int16Array(4);
  new Int32Array(fds.buffer, 0, 1)[0] = fd;
  fds[2] = POLLOUT;
  if (p(fds, 1, 0) < 0) return false;
  return (fds[3]! & (POLLERR | POLLHUP)) !== 0;
}

/**
 * Resolves once `fd`'s reader has gone (checked every `everyMs`); `stop()` ends the watch (the promise then never
 * resolves). For a file, a terminal or where poll cannot be loaded, it never resolves.
 */
export function whenPipeReaderGone(fd: number, everyMs = 100): { gone: Promise<void>; stop: () => void } {
  let timer: ReturnType<typeof setInterval> | undefined;
  const gone = new Promise<void>((resolve) => {
    if (pipeReaderGone(fd)) return resolve();
    timer = setInterval(() => {
      if (!pipeReaderGone(fd)) return;
      clearInterval(timer);
      resolve();
    }, everyMs);
  });
  return { gone, stop: () => clearInterval(timer) };
}
