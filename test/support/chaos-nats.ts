/**
 * The NATS path of a chaos run (test/support/chaos.ts, option `nats`): a ForwardBridge joins the feed's group and
 * republishes it into NATS with a JetStream stream; the checked subscriber reads that stream (attachNats, an ordered
 * consumer from "now": a late consumer of the stream) instead of the group. Faults: the bridge restarts, the NATS
 * server restarts (down for a while, the schedule going on meanwhile; the stream is on disk and survives).
 * @module
 */
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { attachNats, type FeedSubscriber, type NatsFeedReader } from "../../src/subscriber/index.ts";
import type { ChaosFault } from "./chaos.ts";

/** A nats-server the test started (test/bridge/nats-server.ts): restart keeps its port and store. */
export interface ChaosNatsServer {
  readonly url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface NatsPath {
  /** Feeds the subscriber from the stream (the previous reader, if any, is stopped first). */
  attach(sub: FeedSubscriber): Promise<void>;
  faults: ChaosFault[];
  /** False while the NATS server is down. */
  ready(): boolean;
  describe(): string;
  close(): Promise<void>;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The reader's failover to a restarted bridge after this much silence of the old one, not the 5 s default: each
 * bridgeRestart cost a 5 s wait (three of seed 901's 19 s). Above 3 upstream heartbeats (the feed's 200 ms), so the
 * hysteresis is still there: a bridge held up briefly keeps the stream.
 */
const FAILOVER_MIN_MS = 1000;

export async function openNatsPath(server: ChaosNatsServer, group: string, port: number, seed: number): Promise<NatsPath> {
  const prefix = `chaos${seed}`;
  const stream = `CHAOS${seed}`;
  const newBridge = () =>
    new ForwardBridge({ groups: [{ group, port, iface: "127.0.0.1" }], servers: server.url, prefix, jetstream: { stream, maxAgeMs: 600_000, maxBytes: 256 << 20 }, log: silentLogger });
  let bridge = newBridge();
  await bridge.start();
  let reader: NatsFeedReader | undefined;
  /** Resolves when the server is up again (a restart in progress), else at once. */
  let up: Promise<void> = Promise.resolve();
  let down = false;
  let restarts = { bridge: 0, nats: 0 };
  return {
    async attach(sub) {
      await up;
      await reader?.stop();
      reader = await attachNats(sub, { servers: server.url, prefix, stream, from: "now", failoverMinMs: FAILOVER_MIN_MS });
    },
    faults: [
      {
        name: "bridgeRestart",
        weight: 0.5,
        inject: async (r) => {
          await up; // the bridge creates its stream at start: it needs the server
          await bridge.stop();
          await delay(r.int(0, 300));
          bridge = newBridge();
          await bridge.start();
          restarts.bridge++;
        },
      },
      {
        name: "natsRestart",
        weight: 0.4,
        inject: async (r) => {
          if (down) return;
          down = true;
          await server.stop();
          const downMs = r.int(50, 1500);
          up = delay(downMs).then(async () => {
            await server.restart();
            down = false;
            restarts.nats++;
          });
        },
      },
    ],
    ready: () => !down,
    describe: () => `nats: bridge ${JSON.stringify(bridge.counters)}; reader ${JSON.stringify(reader?.counters)}; restarts ${JSON.stringify(restarts)}${down ? "; server down" : ""}`,
    async close() {
      await up.catch(() => undefined);
      await reader?.stop();
      await bridge.stop();
      restarts = { bridge: 0, nats: 0 };
    },
  };
}
