/**
 * Counting this process's open file descriptors, shared by the HTTP descriptor guard (each second) and the
 * `process_open_fds` metric (each scrape): both run on the thread that also runs the pipeline (workers = 1).
 * @module
 */
import { readdirSync, statSync } from "node:fs";

/** How the descriptor directory is read (the real /proc here; a test gives its own). */
export interface FdDir {
  /** The directory's st_size: the count of open descriptors on Linux 6.2 and later, 0 before. */
  size(path: string): number;
  /** Its entries, listed. */
  count(path: string): number;
}

export const PROC_FD: FdDir = {
  size: (path) => statSync(path).size,
  // Bun's opendirSync reads the whole directory at the first read anyway: one readdir, a string per descriptor.
  count: (path) => readdirSync(path).length,
};

/**
 * Open descriptors of this process (at least `atLeast` when listing the directory fails for want of a descriptor:
 * EMFILE is the count being at the limit); undefined without /proc. The directory's size where the kernel gives it
 * (Linux 6.2+): a stat, no descriptor opened, nothing allocated per descriptor. Listing it made a string per
 * descriptor on the thread that also runs the pipeline (workers = 1): 0.7 ms at 200 descriptors, 5.5 ms at 2,000,
 * 48-94 ms at 15,000 (stat: 0.005-0.015 ms; one process, a loaded VM).
 */
export function openFdCount(atLeast: number, dir: FdDir = PROC_FD): number | undefined {
  try {
    const size = dir.size("/proc/self/fd");
    return size > 0 ? size : dir.count("/proc/self/fd");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE" ? atLeast : undefined;
  }
}
