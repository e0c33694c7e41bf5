/**
 * Reads a configuration or key file that may be read again while the process runs (SIGHUP's re-check). A path
 * that is not a regular file would hold or spin the thread reading it: /dev/zero never ends (the read grows
 * until memory runs out), a FIFO waits for a writer, a directory is no file. Such a path is refused by what it is.
 * Cold path. Plain Node API (the subscriber reads keys under Node 20 too).
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync, readSync, statSync, type Stats } from "node:fs";

/** What a path is, when it is not a regular file (`not a regular file but <this>`). */
export function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** A path that is not a regular file: `message` names what it is. */
export class NotRegularFileError extends Error {
  constructor(readonly kind: string) {
    super(`not a regular file but ${kind}`);
  }
}

/** A file longer than the reader's `maxBytes`. */
export class FileTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
  }
}

/** A FIFO no process opened to write to within the reader's wait. */
export class FifoWithoutWriterError extends Error {
  constructor(readonly waitMs: number) {
    super(`not a regular file but a FIFO (named pipe), and no process opened it to write within ${waitMs / 1000} s`);
  }
}

/**
 * A FIFO or pipe read to its end without a byte: its writer closed it having written nothing (`-c <(render-config)`
 * whose command failed). Until 2026-12-06 a pipe of `<(cmd)` already closed was waited on for the FIFO wait and then
 * refused as one "no process opened to write", which `<(cmd)` had, and one closed later was read as an empty file.
 */
export class EmptyPipeError extends Error {
  constructor() {
    super("a pipe whose writer closed it without writing anything (did the command writing it fail?)");
  }
}

/**
 * How long a FIFO read once at start (`-c <(render-config)`, `--auth-key-file <(pass show feed-key)`, a NATS
 * credential file) may go without a writer: a `mkfifo` path nothing writes to held the start in open(2) for good,
 * SIGINT and SIGTERM unheard. `<(cmd)` has its writer at once, and so has `render > fifo &` started before the
 * command (its open waits for a reader, counted as a writer meanwhile); the wait covers a writer started alongside.
 * It was 5 s until 2026-12-06: a path given by mistake took that long to be refused, Ctrl-C unheard meanwhile (the
 * wait holds the thread).
 */
export const FIFO_WRITER_WAIT_MS = 1000;

/** The wait for a FIFO's writer where the caller gives none (a seam for the tests). */
let defaultFifoWriterWaitMs = FIFO_WRITER_WAIT_MS;
export function setFifoWriterWaitMs(ms: number): void {
  defaultFifoWriterWaitMs = ms;
}

/**
 * The file's bytes; a path that is not a regular file throws NotRegularFileError, other failures the errno error.
 * `fifo: true` reads a FIFO once to its end (a start's one read of `-c <(render-config)`): only where it is read once.
 * `maxBytes`: a longer file or FIFO throws FileTooLargeError, having read at most one chunk more (a FIFO fed without
 * end, `<(yes)`, or a log file given by mistake is not read into memory whole). A FIFO no process opens to write
 * to is given up after `fifoWriterWaitMs` (default FIFO_WRITER_WAIT_MS) with FifoWithoutWriterError: a blocking
 * open would wait for a writer for good, deaf to SIGINT and SIGTERM (only SIGKILL ends a thread in open(2)).
 */
export function readRegularFileSync(path: string, opts: { readonly fifo?: boolean; readonly maxBytes?: number; readonly fifoWriterWaitMs?: number } = {}): Uint8Array {
  // stat first for a FIFO: opening one, even without blocking, lets its writer in before the read that waits for it.
  if (opts.fifo === true) {
    const ahead = takeReadAhead(path, opts.maxBytes);
    if (ahead !== undefined) return ahead;
    if (statSync(path).isFIFO()) return readFifoWithin(path, opts.fifoWriterWaitMs ?? defaultFifoWriterWaitMs, opts.maxBytes ?? Infinity);
  }
  const fd = openNonBlocking(path);
  try {
    const st = fstatSync(fd);
    const kind = kindOf(st);
    if (kind !== undefined) throw new NotRegularFileError(kind);
    if (opts.maxBytes === undefined) return readFileSync(fd);
    if (st.size > opts.maxBytes) throw new FileTooLargeError(opts.maxBytes);
    return readAtMost(fd, opts.maxBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * A FIFO read to its end without blocking on it: its open does not wait for a writer, and while none has come (a
 * read gives 0 then) it is polled for up to `writerWaitMs`. Once one has (data, or EAGAIN: open, nothing yet), it
 * is read to its end however long that takes: `<(pass show nats)` may wait for a passphrase typed. Nothing read by
 * its end is EmptyPipeError; at once for a pipe of `<(cmd)` (anonymous: nobody else can open it later, so a first
 * read at its end means its writer is done). This thread waits meanwhile: the CLI reads its FIFOs ahead, without
 * holding it (readFifoAhead), so that a signal is heard.
 */
function readFifoWithin(path: string, writerWaitMs: number, maxBytes: number): Uint8Array {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const steps = fifoSteps(path, writerWaitMs, maxBytes);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    Atomics.wait(pause, 0, 0, FIFO_POLL_MS);
  }
}

/** Between two non-blocking reads of a FIFO that had nothing. */
const FIFO_POLL_MS = 10;

/**
 * readFifoWithin's reads, as a generator that yields where it waits FIFO_POLL_MS (nothing there yet) and returns the
 * bytes: the synchronous reader blocks the thread for each wait, readFifoAhead awaits a timer. Its descriptor is
 * closed however it ends (also `return()`: a read ahead abandoned).
 */
function* fifoSteps(path: string, writerWaitMs: number, maxBytes: number): Generator<void, Uint8Array> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const anonymous = isAnonymousPipe(fd);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let writer = false;
    const deadlineMs = performance.now() + writerWaitMs;
    for (;;) {
      const chunk = new Uint8Array(64 * 1024);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
        writer = true;
        yield;
        continue;
      }
      if (n > 0) {
        writer = true;
        total += n;
        if (total > maxBytes) throw new FileTooLargeError(maxBytes);
        chunks.push(chunk.subarray(0, n));
        continue;
      }
      if (writer) break; // its end
      if (anonymous) throw new EmptyPipeError();
      if (performance.now() >= deadlineMs) throw new FifoWithoutWriterError(writerWaitMs);
      yield;
    }
    if (total === 0) throw new EmptyPipeError();
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** FIFOs the CLI read ahead (readFifoAhead), by path: what the next readRegularFileSync of it returns, or throws. */
const readAhead = new Map<string, { readonly bytes?: Uint8Array; readonly error?: unknown; readonly maxBytes: number }>();

/**
 * Reads the FIFO at `path` as readRegularFileSync with `fifo: true` would (the same writer wait, EmptyPipeError,
 * at most `maxBytes`), without holding the thread: between reads it awaits a timer, so SIGINT and SIGTERM are heard
 * meanwhile (a start reading `-c <(render-config)` from a slow writer, or waiting for a FIFO's writer, was deaf to
 * them until 2026-12-06). The outcome is kept for the next readRegularFileSync of that path with `fifo: true`, which
 * returns it (or throws its error) instead of reading: a FIFO is read once. A path that is no FIFO is left alone.
 * `abort`: when it has fired, the read is given up (its descriptor closed) and nothing is kept. Cold: once at start.
 * A path already kept (one FIFO named by two options) is not read again: the second read, its writer gone, would
 * replace the bytes with its refusal; the first reader takes them, the second reads the FIFO itself, as before.
 */
export async function readFifoAhead(path: string, maxBytes: number, abort?: AbortSignal): Promise<void> {
  if (readAhead.has(path)) return;
  try {
    if (!statSync(path).isFIFO()) return;
  } catch {
    return; // the reader's own open says what is wrong
  }
  const steps = fifoSteps(path, defaultFifoWriterWaitMs, maxBytes);
  try {
    for (;;) {
      const step = steps.next();
      if (step.done) {
        readAhead.set(path, { bytes: step.value, maxBytes });
        return;
      }
      await new Promise((r) => setTimeout(r, FIFO_POLL_MS));
      if (abort?.aborted) {
        steps.return(new Uint8Array(0));
        return;
      }
    }
  } catch (error) {
    readAhead.set(path, { error, maxBytes });
  }
}

/** What readFifoAhead kept for `path` (taken: a FIFO is read once), as readRegularFileSync returns it. */
function takeReadAhead(path: string, maxBytes: number | undefined): Uint8Array | undefined {
  const kept = readAhead.get(path);
  if (kept === undefined) return undefined;
  readAhead.delete(path);
  if (kept.error instanceof FileTooLargeError) throw new FileTooLargeError(Math.min(maxBytes ?? Infinity, kept.maxBytes));
  if (kept.error !== undefined) throw kept.error;
  if (maxBytes !== undefined && kept.bytes!.byteLength > maxBytes) throw new FileTooLargeError(maxBytes);
  return kept.bytes!;
}

/** Whether `fd` is an anonymous pipe (`<(cmd)`'s /dev/fd/N, a shell's pipe), not a named FIFO: Linux's /proc says. */
function isAnonymousPipe(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).startsWith("pipe:");
  } catch {
    return false; // no /proc (macOS): waited for as a named FIFO
  }
}

/** `fd` read to its end, or FileTooLargeError past `maxBytes`. */
function readAtMost(fd: number, maxBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(64 * 1024);
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw new FileTooLargeError(maxBytes);
    chunks.push(chunk.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}

/**
 * O_NONBLOCK: opening a FIFO does not wait for a writer; a regular file is read no differently. But a regular file
 * another process holds a write lease on (Samba's oplocks, the NFS server's delegations, fcntl F_SETLEASE) answers a
 * non-blocking open with EAGAIN (open(2)) where a plain open waits for the lease to be broken (at most
 * /proc/sys/fs/lease-break-time, 45 s by default): before, such a file was refused. A path still a regular file
 * after EAGAIN is opened plainly (the caller's fstat checks what was opened).
 */
function openNonBlocking(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === "EAGAIN" || code === "EWOULDBLOCK") && statSync(path).isFile()) return openSync(path, constants.O_RDONLY);
    // A Unix socket cannot be opened (ENXIO): named by what it is, as a FIFO or a device is, not by the errno.
    if (code === "ENXIO" && statSync(path).isSocket()) throw new NotRegularFileError("a socket");
    throw err;
  }
}
