/**
 * Entry point of one feeder worker (a Bun Worker): it owns its venue connections, builders and publisher
 * socket (source id = publish.source_id + worker index + 1) for its share of the subscriptions, and shares nothing mutable with
 * the main thread; it only answers requests for books and metrics.
 * @module
 */
import { createLogger } from "../core/log.ts";
import { Feeder, inWorkerShare } from "./feeder.ts";
import type { FromWorker, ToWorker } from "./worker-protocol.ts";

declare const self: Worker;

let feeder: Feeder | undefined;
let workerIndex = 0;
let stopping = false;

function send(msg: FromWorker): void {
  self.postMessage(msg);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "start": {
      workerIndex = msg.workerIndex;
      const log = createLogger({ level: msg.config.log.level, format: msg.config.log.format, base: { worker: workerIndex } });
      feeder = new Feeder({
        config: msg.config,
        log,
        sourceOffset: workerIndex + 1, // the publisher sends as publish.source_id + this (publish-guard.ts workerSourceId)
        subscriptionFilter: (venue, sub) => inWorkerShare(venue, sub, workerIndex, msg.workerCount),
        connectBudgetShare: 1 / msg.workerCount, // one IP: the workers split the venue's connection-rate budget
        partOfLargerConfig: true,
      });
      send({ type: "session", sourceId: feeder.publisher.sourceId, sessionId: feeder.publisher.sessionId });
      try {
        await feeder.start();
        if (stopping) return; // stopped during start-up: nothing started, the supervisor is ending this worker
        send({ type: "started", books: feeder.books().length, sessionId: feeder.publisher.sessionId, summaries: feeder.bookSummaries() });
      } catch (err) {
        send({ type: "start-failed", error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    case "request": {
      if (!feeder) return send({ type: "response", id: msg.id, result: undefined });
      if (msg.what === "books") return send({ type: "response", id: msg.id, result: feeder.bookSummaries() });
      if (msg.what === "book") return send({ type: "response", id: msg.id, result: feeder.bookLevels(msg.venue, msg.market, msg.symbol, msg.depth) ?? null });
      if (msg.what === "readiness") return send({ type: "response", id: msg.id, result: feeder.readinessInput() });
      if (msg.what === "latency") return send({ type: "response", id: msg.id, result: feeder.latencySnapshot() });
      return send({ type: "response", id: msg.id, result: feeder.metricsSnapshot({ worker: String(workerIndex) }) });
    }
    case "ping":
      return send({ type: "pong" });
    case "stop": {
      stopping = true;
      await feeder?.stop(); // during start-up too: its venue REST requests end at once
      send({ type: "stopped" });
      return;
    }
  }
};
