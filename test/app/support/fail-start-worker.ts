/**
 * A stand-in worker as plain-worker.ts, except that its start fails (`start-failed`) while the file its config names
 * under FAIL_START_IF exists (a test's marker, not a feeder setting): the test decides which starts fail.
 */
import { existsSync } from "node:fs";
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";

export const FAIL_START_IF = "testFailStartIf";

declare const self: Worker;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const send = (m: FromWorker) => self.postMessage(m);
  if (msg.type === "start") {
    const marker = (msg.config as unknown as Record<string, unknown>)[FAIL_START_IF];
    if (typeof marker === "string" && existsSync(marker)) return send({ type: "start-failed", error: "test: this start fails" });
    send({ type: "session", sourceId: 1000 + msg.workerIndex, sessionId: 2 });
    send({ type: "started", books: 0, sessionId: 2, summaries: [], venues: [] });
  } else if (msg.type === "ping") send({ type: "pong" });
  else if (msg.type === "stop") send({ type: "stopped" });
};
