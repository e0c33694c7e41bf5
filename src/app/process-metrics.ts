/**
 * The standard `process_*` metrics (names as the official Prometheus clients export them), read at scrape time
 * from the main thread: one set per process, never per worker (a worker shares the process's CPU, RSS and fds).
 * Linux-only values (virtual memory, fds) come from /proc and are left out elsewhere. The open fds are counted as the
 * HTTP descriptor guard counts them (openFdCount: the size of /proc/self/fd on Linux 6.2+, no listing). At the
 * descriptor limit (EMFILE) a value read from a file is left out of that scrape (the fd limit: the last one read).
 * @module
 */
import { readFileSync } from "node:fs";
import { type FdDir, openFdCount, PROC_FD } from "./fd-count.ts";
import type { PromWriter } from "./prometheus.ts";

export interface ProcessSnapshot {
  cpuSeconds: number;
  /** Undefined when it cannot be read (at the descriptor limit: Bun reads it from a file). */
  residentBytes: number | undefined;
  virtualBytes: number | undefined;
  openFds: number | undefined;
  maxFds: number | undefined;
  startTimeSeconds: number;
}

/** A start read now this far from the one shown is a step of the host's clock; less is the two clocks read apart. */
const START_STEP_S = 1;

/** The process's start as the wall clock reads now: now less the uptime (ms resolution). */
function startNowSeconds(wallNowMs: number): number {
  return Math.round((wallNowMs / 1000 - process.uptime()) * 1000) / 1000;
}

/** The start shown (process_start_time_seconds): one value between scrapes, moved by a step of the host's clock. */
let startTimeSeconds = startNowSeconds(Date.now());

/**
 * The process's start in seconds since the epoch, on the wall clock as it reads now: a step of the host's clock (NTP
 * correcting a host that booted with a bad RTC, after the feeder started) moves it by the step, as the official
 * clients' reading of /proc moves with the kernel's boot time, and as docs/operations.md § Clock steps says. Before,
 * it was read once when this module loaded and kept the clock of then: after a step, `time() - process_start_time_seconds`
 * (the dashboard's uptime) was off by the step for the life of the process. Less than START_STEP_S apart is jitter
 * (two clocks read one after the other, a few ms): the value shown is kept, so `changes()` counts restarts only.
 */
function processStartSeconds(wallNowMs: number): number {
  const now = startNowSeconds(wallNowMs);
  if (Math.abs(now - startTimeSeconds) > START_STEP_S) startTimeSeconds = now;
  return startTimeSeconds;
}

/**
 * The soft descriptor limit as last read: at the limit (EMFILE) /proc/self/limits cannot be opened either, and both
 * fd metrics were left out then, just when they matter. The limit seldom changes (prlimit): the last one stands.
 * Read first when this module loads: a process out of descriptors before its first scrape had none to stand.
 */
let lastMaxFds: number | undefined;

const readProcText = (path: string): string => readFileSync(path, "utf8");
readMaxFds(readProcText);

/** `fdDir`: how /proc/self/fd is read; `readText`: how /proc/self/limits is; `wallNowMs`: the wall clock (a test gives its own). */
export function processSnapshot(fdDir: FdDir = PROC_FD, readText: (path: string) => string = readProcText, wallNowMs: () => number = Date.now): ProcessSnapshot {
  const cpu = process.cpuUsage();
  const maxFds = readMaxFds(readText);
  // No descriptor left to list them with (EMFILE): every one is open, so the count is the limit (if known).
  const openFds = openFdCount(maxFds ?? -1, fdDir);
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    residentBytes: tryOr(() => process.memoryUsage.rss(), undefined),
    virtualBytes: readVirtualBytes(),
    openFds: openFds === -1 ? undefined : openFds,
    maxFds,
    startTimeSeconds: processStartSeconds(wallNowMs()),
  };
}

export function writeProcessMetrics(w: PromWriter, p: ProcessSnapshot): void {
  w.family("process_cpu_seconds_total", "counter", "user and system CPU time spent").sample("process_cpu_seconds_total", {}, p.cpuSeconds);
  if (p.residentBytes !== undefined) w.family("process_resident_memory_bytes", "gauge", "resident memory size").sample("process_resident_memory_bytes", {}, p.residentBytes);
  if (p.virtualBytes !== undefined) w.family("process_virtual_memory_bytes", "gauge", "virtual memory size").sample("process_virtual_memory_bytes", {}, p.virtualBytes);
  if (p.openFds !== undefined) w.family("process_open_fds", "gauge", "open file descriptors").sample("process_open_fds", {}, p.openFds);
  if (p.maxFds !== undefined) w.family("process_max_fds", "gauge", "maximum number of open file descriptors").sample("process_max_fds", {}, p.maxFds);
  w.family("process_start_time_seconds", "gauge", "start time of the process since the Unix epoch").sample("process_start_time_seconds", {}, p.startTimeSeconds);
}

/**
 * JS heap in use by this thread; undefined when it cannot be read. Bun's process.memoryUsage() reads RSS from a file
 * as well and throws at the descriptor limit (EMFILE; Bun 1.4.5): that threw the whole /metrics scrape out (500).
 */
export function heapUsedBytes(): number | undefined {
  return tryOr(() => process.memoryUsage().heapUsed, undefined);
}

function readVirtualBytes(): number | undefined {
  return tryOr(() => {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the parenthesised command name (which may hold spaces); vsize is field 23, i.e. index 20 after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const v = Number(fields[20]);
    return Number.isFinite(v) ? v : undefined;
  }, undefined);
}

/** The soft limit (undefined: unlimited, or not Linux); the last one read when the file cannot be (EMFILE). */
function readMaxFds(readText: (path: string) => string): number | undefined {
  let text: string;
  try {
    text = readText("/proc/self/limits");
  } catch {
    return lastMaxFds;
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  lastMaxFds = m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
  return lastMaxFds;
}

function tryOr<T, U>(f: () => T, fallback: U): T | U {
  try {
    return f();
  } catch {
    return fallback;
  }
}
