/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that at its start it asks the test over the
 * BroadcastChannel MUTE_CHANNEL `{ ask: "start", worker }` and, answered `{ worker, mute: true }` within ASK_MS,
 * never answers anything (not even pings) and sends nothing: as a worker stuck before its first message.
 */
import "../../../src/app/worker-main.ts";
import type { ToWorker } from "../../../src/app/worker-protocol.ts";

export const MUTE_CHANNEL = "feeder-test-mute-worker";

declare const self: Worker;

const workerMain = self.onmessage!;
const channel = new BroadcastChannel(MUTE_CHANNEL);
let muted = false;
/** The test answers every ask at once; this is only its fallback (no test listening), generous for a loaded machine. */
const ASK_MS = 10_000;

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  if (muted) return;
  if (event.data.type === "start") {
    const worker = event.data.workerIndex;
    muted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ASK_MS);
      channel.onmessage = (answer) => {
        const a = answer.data as { worker?: number; mute?: boolean };
        if (a.worker !== worker || a.mute === undefined) return;
        clearTimeout(timer);
        resolve(a.mute);
      };
      channel.postMessage({ ask: "start", worker });
    });
    if (muted) return;
  }
  return workerMain.call(self, event);
};
