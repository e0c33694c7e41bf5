/**
 * A stand-in worker (as plain-worker.ts: no pipeline, no sockets) with one live book in its readyz summary. Worker 0
 * answers `readyz` at once; worker 1 asks the test over the BroadcastChannel HELD_READYZ_CHANNEL `{ ask: "readyz" }`
 * and answers once told `{ go: true }`: a slow worker holding up the supervisor's answer.
 */
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";
import type { ReadinessSummary } from "../../../src/app/readiness.ts";

export const HELD_READYZ_CHANNEL = "feeder-test-held-readyz-worker";

declare const self: Worker;

let index = -1;
const channel = new BroadcastChannel(HELD_READYZ_CHANNEL);
const send = (m: FromWorker) => self.postMessage(m);
const summary = (): ReadinessSummary => ({ books: 1, live: 1, notLive: 0, notLiveFirst: [], unresolved: 0, unresolvedFirst: [], connectionsDown: 0, connectionsDownFirst: [], workersDown: [] });

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  if (msg.type === "start") {
    index = msg.workerIndex;
    send({ type: "session", sourceId: 1000 + index, sessionId: 2, sessionStartUs: 1 });
    send({ type: "started", books: 1, sessionId: 2, summaries: [], venues: [] });
  } else if (msg.type === "request" && msg.what === "readyz") {
    const id = msg.id;
    if (index === 0) return send({ type: "response", id, result: summary() });
    channel.onmessage = (answer) => {
      if ((answer.data as { go?: boolean }).go === true) send({ type: "response", id, result: summary() });
    };
    channel.postMessage({ ask: "readyz" });
  } else if (msg.type === "ping") send({ type: "pong" });
  else if (msg.type === "stop") send({ type: "stopped" });
};
