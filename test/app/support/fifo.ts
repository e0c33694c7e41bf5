/**
 * Releasing a thread blocked outside JavaScript in a FIFO's open(2) to read (support/fail-start-worker.ts, the faulty
 * worker's "block" fault): the tests open the FIFO to write until one open finds it.
 */
import { closeSync, constants, openSync, readdirSync, readFileSync } from "node:fs";

/**
 * Opens `fifo` to write without waiting, and closes it: true, a thread blocked opening it to read has it now (and
 * then its end); false (ENXIO) while no thread is in that open. One blocked there after terminate() is in it only
 * now and then: JSC signals it (SIGPWR) every millisecond or so to end it, each signal takes it out of open(2) and
 * back in, and the FIFO has no reader in between. Opened once, that open failed in about 1 full run in 8 under load:
 * a test tries until a deadline.
 */
export function openedToWrite(fifo: string): boolean {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENXIO") return false;
    throw err;
  }
}

/**
 * Waits, blocking this thread, until one of this process's threads sleeps in a FIFO's open(2) (Linux names that sleep
 * `wait_for_partner` in /proc/self/task/<tid>/wchan): true once one does, false after `timeoutMs`. For a test that
 * must hold back a terminate() until the thread it ends is inside that open: a terminate() landing first ends the
 * thread cleanly (JavaScript is checked for it before open(2) is entered), and the blocked thread under test is not
 * there. Blocking on purpose: it is called where the terminate() would follow at once (the supervisor's log call).
 */
export function waitBlockedInFifoOpen(timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const task of readdirSync("/proc/self/task")) {
      try {
        if (readFileSync(`/proc/self/task/${task}/wchan`, "utf8") === "wait_for_partner") return true;
      } catch {
        // The thread ended while read.
      }
    }
    if (performance.now() >= deadline) return false;
    Bun.sleepSync(1);
  }
}
