/**
 * The publishing side of a chaos run (test/support/chaos.ts): one in-process Feeder, a Supervisor running the
 * pipeline on N Bun Workers, or several such Supervisors each taking one shard (`shard = "k/n"`, each its own
 * publish.source_id range) as feeder processes on the hosts of a scale-out would. Worker threads take only a config (no drop hook crosses the thread boundary), so their
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
  /** The in-process Feeder, or the Supervisor when the pipeline runs on workers (the first shard's when sharded). */
  readonly feeder?: Feeder;
  readonly supervisor?: Supervisor;
  /** Sharded: each shard's Supervisor now (a shard restart replaces its entry). */
  readonly shards?: Supervisor[];
  /** Sharded: stops shard k and starts a fresh one in its place while the others keep publishing. */
  restartShard?(k: number): Promise<void>;
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
    books: async () => (await supervisor.readiness()).books,
    describe: async () => `workers: ${supervisor.workerCount()}, restarts ${supervisor.restarts}`,
  };
}

/**
 * Several shards, each a Supervisor of its own config (`make(k)`: shard k/n, its own source ids and request
 * servers), started and stopped together; restartShard replaces one.
 */
export function shardedPublisher(count: number, make: (k: number) => FeederConfig): ChaosPublisher {
  const parts = Array.from({ length: count }, (_, k) => workersPublisher(make(k)));
  const shards = parts.map((p) => p.supervisor!);
  const all = <T>(f: (p: ChaosPublisher) => Promise<T>) => Promise.all(parts.map(f));
  return {
    get supervisor() {
      return shards[0];
    },
    shards,
    start: () => all((p) => p.start()).then(() => undefined),
    stop: () => all((p) => p.stop()).then(() => undefined),
    applyErrors: async () => (await all((p) => p.applyErrors())).reduce((a, b) => a + b, 0),
    stats: () => undefined,
    books: async () => (await all((p) => p.books())).flat(),
    describe: async () => (await all((p) => p.describe())).map((d, k) => `shard ${k}/${count}: ${d}`).join("; "),
    restartShard: async (k) => {
      await parts[k]!.stop();
      parts[k] = workersPublisher(make(k));
      shards[k] = parts[k].supervisor!;
      await parts[k].start();
    },
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
