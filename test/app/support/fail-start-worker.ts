/**
 * A stand-in worker as plain-worker.ts, except that its start fails (`start-failed`) while the file its config names
 * under FAIL_START_IF exists (a test's marker, not a feeder setting): the test decides which starts fail. With a FIFO
 * named under BLOCK_AFTER_FAIL_IN, a failed start's thread then blocks outside JavaScript, opening that FIFO to read
 * (open(2) waits for a writer), which terminate() cannot interrupt: it ends once the test opens the FIFO to write.
 */
import { existsSync, readFileSync } from "node:fs";
import type { FromWorker, ToWorker } from "../../../src/app/worker-protocol.ts";

export const FAIL_START_IF = "testFailStartIf";
export const BLOCK_AFTER_FAIL_IN = "testBlockAfterFailIn";

declare const self: Worker;

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const send = (m: FromWorker) => self.postMessage(m);
  if (msg.type === "start") {
    const config = msg.config as unknown as Record<string, unknown>;
    const marker = config[FAIL_START_IF];
    if (typeof marker === "string" && existsSync(marker)) {
      send({ type: "start-failed", error: "test: this start fails" });
      const fifo = config[BLOCK_AFTER_FAIL_IN];
      if (typeof fifo === "string") readFileSync(fifo);
      return;
    }
    send({ type: "session", sourceId: 1000 + msg.workerIndex, sessionId: 2, sessionStartUs: 1 });
    send({ type: "started", books: 0, sessionId: 2, summaries: [], venues: [] });
  } else if (msg.type === "ping") send({ type: "pong" });
  else if (msg.type === "stop") send({ type: "stopped" });
};
