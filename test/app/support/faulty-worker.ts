/**
 * The feeder worker (src/app/worker-main.ts) with faults a test orders over the BroadcastChannel FAULT_CHANNEL (one
 * process's threads; a worker does not see env changes made after the process started):
 * - `{ worker, fault: "hang" }`: that worker's thread spins forever, as a bug in a handler would (it answers nothing
 *   and sends nothing again), having told the test `{ worker, spinning: true }`;
 * - `{ worker, fault: "block", fifo }`: that worker's thread blocks outside JavaScript, in a read of the FIFO `fifo`
 *   that waits for a writer (as a synchronous call stuck in the kernel would), which terminate() cannot interrupt:
 *   the thread ends only once the test opens the FIFO to write; it tells the test `{ worker, blocking: fifo }` first;
 * - at its start a worker asks `{ ask: "start", worker }` and, answered `{ worker, failStart: true }` within a
 *   second, answers the supervisor `start-failed` instead of starting, as when its publisher socket cannot open;
 *   answered `{ worker, hangAtStart: true }`, it begins its start (the supervisor hears its session) and spins.
 */
import { readFileSync } from "node:fs";
import "../../../src/app/worker-main.ts";
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";

export const FAULT_CHANNEL = "feeder-test-faulty-worker";

declare const self: Worker;

const workerMain = self.onmessage!;
let index = -1;
let answer: ((start: { fail: boolean; hang: boolean }) => void) | undefined;
const faults = new BroadcastChannel(FAULT_CHANNEL);
faults.onmessage = (event) => {
  const order = event.data as { worker: number; fault?: string; fifo?: string; failStart?: boolean; hangAtStart?: boolean };
  if (order.worker !== index) return;
  if (order.failStart !== undefined) answer?.({ fail: order.failStart, hang: order.hangAtStart === true });
  if (order.fault === "block" && order.fifo !== undefined) {
    // Told first, as for the spin: the test waits for it, so a thread judged hung before it took the order (under
    // load) is not mistaken for one blocked in the FIFO.
    faults.postMessage({ worker: index, blocking: order.fifo });
    readFileSync(order.fifo); // open(2) waits for a writer
  }
  if (order.fault !== "hang") return;
  faults.postMessage({ worker: index, spinning: true }); // sent before the spin: the test knows requests go unanswered now
  for (;;) {
    // spin: the thread never returns to its event loop
  }
};

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  if (event.data.type === "start") {
    index = event.data.workerIndex;
    const start = await new Promise<{ fail: boolean; hang: boolean }>((resolve) => {
      const timer = setTimeout(() => resolve({ fail: false, hang: false }), 1000);
      answer = (how) => {
        clearTimeout(timer);
        resolve(how);
      };
      faults.postMessage({ ask: "start", worker: index });
    });
    if (start.hang) {
      void workerMain.call(self, event); // sends its session at once, then awaits the pipeline's start
      for (;;) {
        // spin
      }
    }
    if (start.fail) {
      self.postMessage({ type: "start-failed", error: "test: this start fails" } satisfies FromWorker);
      return;
    }
  }
  return workerMain.call(self, event);
};
