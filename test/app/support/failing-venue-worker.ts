/**
 * The feeder worker (src/app/worker-main.ts), unchanged, except that its Feeder's start of the Binance venue first
 * asks the test over the BroadcastChannel FAILING_VENUE_CHANNEL `{ ask: "binance", worker }` and waits: answered
 * `{ worker, fail: true }` it fails (as a venue whose start throws), answered `{ worker, fail: false }` it starts as
 * usual. The other venues start meanwhile: a test can let one publish, then fail the worker's start.
 */
import { Feeder } from "../../../src/app/feeder.ts";
import "../../../src/app/worker-main.ts";
import type { ToWorker } from "../../../src/app/worker-protocol.ts";

export const FAILING_VENUE_CHANNEL = "feeder-test-failing-venue-worker";

declare const self: Worker;

type StartVenue = (this: Feeder, p: { adapter: { venue: string } }, ...rest: unknown[]) => Promise<void>;
const proto = Feeder.prototype as unknown as { startVenue: StartVenue };
const startVenue = proto.startVenue;
let index = -1;
const channel = new BroadcastChannel(FAILING_VENUE_CHANNEL);

proto.startVenue = async function (this: Feeder, p, ...rest) {
  if (p.adapter.venue === "binance") {
    const fail = await new Promise<boolean>((resolve) => {
      channel.onmessage = (event) => {
        const a = event.data as { worker?: number; fail?: boolean };
        if (a.worker === index && typeof a.fail === "boolean") resolve(a.fail);
      };
      channel.postMessage({ ask: "binance", worker: index });
    });
    if (fail) throw new Error("binance: test: this venue's start fails");
  }
  return startVenue.call(this, p, ...rest);
};

const workerMain = self.onmessage!;
self.onmessage = (event: MessageEvent<ToWorker>) => {
  if (event.data.type === "start") index = event.data.workerIndex;
  return workerMain.call(self, event);
};
