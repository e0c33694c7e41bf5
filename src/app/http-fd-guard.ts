/**
 * Keeps HTTP clients from taking the process's last file descriptors. Bun.serve has no connection cap and no hook
 * per connection: every accepted socket is a descriptor until a timeout closes it (a connection that sends no
 * request: 10-13 s; an idle keep-alive one: `http.idle_timeout_s`). A client opening connections faster than that
 * (5,000 a second from one local process) reached the process's RLIMIT_NOFILE; then no venue connection, capture or
 * cache file could be opened, and Bun's accept loop spun at 20-30 % of the pipeline's core (measured, Bun 1.4.5).
 * So the open descriptors are counted every second (cold: openFdCount, a stat of /proc/self/fd, whose size is the
 * count on Linux 6.2+; a listing of it before), and at FD_STOP_SHARE of the limit the HTTP server stops accepting
 * (new connections are refused by the kernel; those open are answered and close by their timeouts); below
 * FD_RESUME_SHARE it listens again.
 * @module
 */
import { readFileSync } from "node:fs";
import { openFdCount } from "./fd-count.ts";

/** Share of RLIMIT_NOFILE at which HTTP stops accepting connections: the rest is the pipeline's. */
export const FD_STOP_SHARE = 0.75;
/** Share below which it accepts again. */
export const FD_RESUME_SHARE = 0.5;
export const FD_CHECK_EVERY_MS = 1000;

export interface FdGuardOptions {
  /** Open descriptors of the process; `atLeast` when they cannot be counted for want of a descriptor. */
  readonly openFds?: (atLeast: number) => number;
  /** The process's RLIMIT_NOFILE (soft). */
  readonly fdLimit?: number;
  readonly checkEveryMs?: number;
}

/** The soft "Max open files" of this process (/proc/self/limits); undefined when unknown or unlimited. */
export function fdSoftLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `stopAccepting` when the open descriptors reach FD_STOP_SHARE of the limit and `accept` once they are below
 * FD_RESUME_SHARE (asked again at each check until `accept` says it does); returns the function that ends the checks. Does nothing where the count or limit is unknown.
 */
export function guardFds(o: FdGuardOptions, on: { stopAccepting(open: number, limit: number): void; accept(open: number, limit: number): boolean }): () => void {
  const limit = o.fdLimit ?? fdSoftLimit();
  const count = o.openFds ?? ((atLeast: number) => openFdCount(atLeast) ?? 0);
  // (Never throws: a failing count in this timer would end the process.)
  if (limit === undefined || (o.openFds === undefined && openFdCount(1) === undefined)) return () => {};
  const stopAt = Math.floor(limit * FD_STOP_SHARE);
  const resumeBelow = Math.floor(limit * FD_RESUME_SHARE);
  let accepting = true;
  const timer = setInterval(() => {
    const open = count(stopAt);
    if (accepting && open >= stopAt) {
      accepting = false;
      on.stopAccepting(open, limit);
    } else if (!accepting && open < resumeBelow) {
      accepting = on.accept(open, limit);
    }
  }, o.checkEveryMs ?? FD_CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
