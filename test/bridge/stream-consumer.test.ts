/**
 * A consumer of the bridge's JetStream stream (attachNats with `stream`, an ordered consumer) across a NATS server
 * restart: simulator → feeder → multicast → ForwardBridge → nats-server (stream on disk) → attachNats → FeedSubscriber.
 * Found by the NATS chaos run (test/e2e/chaos-nats.test.ts, seed 902): after the restart the client recreated its
 * ordered consumer, but the first pull went unanswered and, with the client's 30 s pull, the reader received
 * nothing more, for good, while the stream kept growing (src/subscriber/nats-source.ts PULL_EXPIRES_MS).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { allBooksEqual, feederConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));
const A = uniqueDestination(53);

let sim: BybitSim;
let feeder: Feeder;
let nats: NatsServer;
let forward: ForwardBridge;
let consumer: FeedSubscriber;
let reader: NatsFeedReader;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 23, messagesPerSecond: 0 });
  forward = new ForwardBridge({ groups: [{ ...A, iface: "127.0.0.1" }], servers: nats.url, prefix: "sc", jetstream: { stream: "SC", maxAgeMs: 600_000, maxBytes: 64 << 20 }, log: silentLogger });
  await forward.start();
  consumer = new FeedSubscriber({ groups: [] });
  await consumer.start();
  reader = await attachNats(consumer, { servers: nats.url, prefix: "sc", stream: "SC", from: "now" });
  feeder = new Feeder({ config: feederConfig({ sim, markets: MARKETS, ...A, snapshotIntervalMs: 300, heartbeatIntervalMs: 100 }), log: silentLogger });
  await feeder.start();
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await reader?.stop();
  await consumer?.stop();
  await forward?.stop();
  await nats?.stop();
  await sim?.stop();
});

describe.skipIf(missing !== undefined)(`JetStream consumer of the bridge's stream${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("keeps receiving after a NATS server restart: its books follow the exchange again", async () => {
    const equal = () => allBooksEqual(consumer, sim, TOPICS);
    await waitFor(equal, "books from the stream", 20_000, () => sim.step(1));
    await nats.stop();
    for (let i = 0; i < 3; i++) sim.step(1); // published while NATS is down: lost for the consumer
    await nats.restart();
    const before = reader.counters.messages;
    // The refresh repairs what was lost, once messages flow again (before the fix: never).
    await waitFor(equal, "books from the stream after the NATS restart", 20_000, () => sim.step(1));
    expect(reader.counters.messages).toBeGreaterThan(before);
    for (let i = 0; i < 5; i++) {
      sim.step(1);
      await waitFor(equal, `books after step ${i}`);
    }
  });
});
