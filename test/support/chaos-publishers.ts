/**
 * The publishing side of a chaos run (test/support/chaos.ts): one in-process Feeder, or a Supervisor running the
 * pipeline on N Bun Workers. Worker threads take only a config (no drop hook crosses the thread boundary), so their
 * datagrams go to a port of their own and a relay in the test process applies the run's datagram faults (loss,
 * holding back for reordering, capture for replay and corruption) and forwards the rest to the subscriber's group.
 * @module
 */
import dgram from "node:dgram";
import type { BookSummary } from "../../src/app/book-json.ts";
import type { Feeder } from "../../src/app/feeder.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { silentLogger } from "../../src/core/log.ts";

export type FeederStats = ReturnType<Feeder["stats"]>;

/** What runChaos needs of a publisher: started and stopped again for each publisher restart. */
export interface ChaosPublisher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Contained apply exceptions, whatever the form (the in-process Feeder's stats, or the workers' /metrics). */
  applyErrors(): Promise<number>;
  stats(): FeederStats | undefined;
  /** The publisher's books (undefined entries: a worker that does not answer). */
  books(): Promise<BookSummary[]>;
  /** The publisher's adapter state, for a failure's message. */
  describe(): Promise<string>;
  /** The in-process Feeder, or the Supervisor when the pipeline runs on workers. */
  readonly feeder?: Feeder;
  readonly supervisor?: Supervisor;
}

export function feederPublisher(feeder: Feeder): ChaosPublisher {
  return {
    feeder,
    start: () => feeder.start(),
    stop: () => feeder.stop(),
    applyErrors: async () => feeder.stats().applyErrors,
    stats: () => feeder.stats(),
    books: async () => feeder.bookSummaries(),
    describe: async () => `feeder: ${JSON.stringify(feeder.stats().venues)}\nadapter topics: ${adapterTopics(feeder)}`,
  };
}

/**
 * `workers` Bun Workers under a Supervisor (what `feeder run` starts for workers > 1), publishing the config's
 * destination. The relay is separate (openRelay): it outlives publisher restarts.
 */
export function workersPublisher(config: FeederConfig): ChaosPublisher {
  const supervisor = new Supervisor(config, silentLogger);
  return {
    supervisor,
    start: () => supervisor.start(),
    stop: () => supervisor.stop(),
    applyErrors: async () =>
      parsePrometheusText(await supervisor.metricsText())
        .samples.filter((s) => s.name === "feeder_book_apply_errors_total")
        .reduce((n, s) => n + s.value, 0),
    stats: () => undefined,
    books: () => supervisor.books(),
    describe: async () => `workers: ${supervisor.workerCount()}, restarts ${supervisor.restarts}`,
  };
}

/**
 * A relay joined to group:fromPort on 127.0.0.1: each datagram goes through `filter` (true = the run took it: lost
 * or held back) and otherwise to `forward`.
 */
export async function openRelay(group: string, fromPort: number, filter: (bytes: Uint8Array) => boolean, forward: (bytes: Uint8Array) => void): Promise<{ close(): void }> {
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
  socket.on("message", (msg) => {
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    if (!filter(bytes)) forward(bytes);
  });
  await new Promise<void>((resolve) => socket.bind(fromPort, () => resolve()));
  socket.addMembership(group, "127.0.0.1");
  return { close: () => socket.close() };
}

/** The adapters' own topic state (private fields, read for a failure's diagnostics only). */
function adapterTopics(feeder: Feeder): string {
  type Topic = Record<string, unknown> & { symbol?: string; topic?: string };
  const pipelines = (feeder as unknown as { pipelines: { adapter: { topics?: Topic[] } }[] }).pipelines;
  const pick = (t: Topic) => ({ topic: t.topic ?? t.symbol, sub: t.sub, book: t.book, resyncDelayed: t.resyncDelayed, fetching: t.fetching, lastSeq: t.lastSeq, silentMs: typeof t.lastMsgMs === "number" ? Date.now() - t.lastMsgMs : undefined, resyncs: t.resyncs });
  return pipelines.flatMap((p) => (p.adapter.topics ?? []).map((t) => JSON.stringify(pick(t)))).join("; ");
}
