/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that at its start it asks the test over the
 * BroadcastChannel HELD_START_CHANNEL `{ ask: "start", worker }` and waits, saying nothing, until answered
 * `{ worker, go: true }`: as a worker whose module is still loading (the window before its first message).
 */
import "../../../src/app/worker-main.ts";
import type { ToWorker } from "../../../src/app/worker-protocol.ts";

export const HELD_START_CHANNEL = "feeder-test-held-start-worker";

declare const self: Worker;

const workerMain = self.onmessage!;
const channel = new BroadcastChannel(HELD_START_CHANNEL);

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  if (event.data.type === "start") {
    const worker = event.data.workerIndex;
    await new Promise<void>((resolve) => {
      channel.onmessage = (answer) => {
        const a = answer.data as { worker?: number; go?: boolean };
        if (a.worker === worker && a.go === true) resolve();
      };
      channel.postMessage({ ask: "start", worker });
    });
    channel.close();
  }
  return workerMain.call(self, event);
};
