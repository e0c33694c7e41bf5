/**
 * The feeder worker (src/app/worker-main.ts), unchanged, that also reports each supervisor ping it receives on the
 * BroadcastChannel PING_CHANNEL as `{ worker }`, so a test can wait for the supervisor's hang check to have run.
 */
import "../../../src/app/worker-main.ts";
import type { ToWorker } from "../../../src/app/worker-protocol.ts";

export const PING_CHANNEL = "feeder-test-ping-counting-worker";

declare const self: Worker;

const workerMain = self.onmessage!;
const pings = new BroadcastChannel(PING_CHANNEL);
let index = -1;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  if (event.data.type === "start") index = event.data.workerIndex;
  if (event.data.type === "ping") pings.postMessage({ worker: index });
  return workerMain.call(self, event);
};
