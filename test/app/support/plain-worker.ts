/**
 * A stand-in worker that does what a healthy one says and nothing else: at "start" a session and a "started" of no
 * books, a pong for each ping, "stopped" at "stop". No pipeline, no sockets: a thread start costs milliseconds.
 */
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const send = (m: FromWorker) => self.postMessage(m);
  if (msg.type === "start") {
    send({ type: "session", sourceId: 1000 + msg.workerIndex, sessionId: 2, sessionStartUs: 1 });
    send({ type: "started", books: 0, sessionId: 2, summaries: [], venues: [] });
  } else if (msg.type === "ping") send({ type: "pong" });
  else if (msg.type === "stop") send({ type: "stopped" });
};
