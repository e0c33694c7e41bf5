/**
 * The NATS bridge against a real nats-server (JetStream in a temporary directory) and real loopback multicast:
 * simulator → feeder → multicast A → `ForwardBridge` → NATS (+ JetStream stream) → `ReverseBridge` → multicast B →
 * an unchanged FeedSubscriber. Books at B equal the exchange's; a bridge restart and a NATS server restart lose
 * nothing the subscriber does not recover (the publisher's refresh repairs it); a late consumer reading the
 * stream from its start rebuilds every book.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { allBooksEqual, feederConfig, levelsOfSim, levelsOfView, sameLevels, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));
const PREFIX = "feed";
const STREAM = "FEED";
const BRIDGE_SOURCE_ID = 900;

let sim: BybitSim;
let feeder: Feeder;
let nats: NatsServer;
let forward: ForwardBridge;
let reverse: ReverseBridge;
let remote: FeedSubscriber;
const A = uniqueDestination(51);
const B = uniqueDestination(52);

function startForward(): Promise<void> {
  forward = new ForwardBridge({ groups: [{ ...A, iface: "127.0.0.1" }], servers: nats.url, prefix: PREFIX, jetstream: { stream: STREAM, maxAgeMs: 3_600_000, maxBytes: 64 << 20 }, log: silentLogger });
  return forward.start();
}

const remoteEqual = () => allBooksEqual(remote, sim, TOPICS);

/** Every book valid, at the exchange's sequence, with the exchange's levels. */
function validBooksEqual(sub: FeedSubscriber): boolean {
  return TOPICS.every((t) => {
    const b = sub.books.get(t.id);
    if (!b || !b.valid) return false;
    const s = sim.book(t.market, t.symbol);
    return b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
  });
}

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 17, messagesPerSecond: 0 });
  remote = new FeedSubscriber({ groups: [{ ...B, iface: "127.0.0.1" }] });
  await remote.start();
  await startForward();
  reverse = new ReverseBridge({ servers: nats.url, prefix: PREFIX, group: B.group, port: B.port, iface: "127.0.0.1", ttl: 1, sourceId: BRIDGE_SOURCE_ID, heartbeatIntervalMs: 100 });
  await reverse.start();
  feeder = new Feeder({ config: feederConfig({ sim, markets: MARKETS, ...A, snapshotIntervalMs: 300, heartbeatIntervalMs: 100 }), log: silentLogger });
  await feeder.start();
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await reverse?.stop();
  await forward?.stop();
  await remote?.stop();
  await nats?.stop();
  await sim?.stop();
});

describe.skipIf(missing !== undefined)(`NATS bridge${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("books are identical across multicast → bridge → NATS → bridge → multicast", async () => {
    await waitFor(remoteEqual, "remote books equal the exchange's", 20_000);
    for (let i = 0; i < 10; i++) {
      sim.step(1);
      await waitFor(remoteEqual, `remote books after step ${i}`);
    }
    // The remote site sees an ordinary feed of the reverse bridge's own stream.
    expect(remote.streamInfo().map((s) => s.sourceId)).toEqual([BRIDGE_SOURCE_ID]);
    expect(forward.counters.published).toBeGreaterThan(0);
    expect(forward.counters.rejected).toEqual({});
    expect(reverse.reader!.counters.refused).toEqual({ short: 0, bad_magic: 0, unknown_version: 0, bad_message: 0, old_session: 0, bad_auth: 0, repeated: 0 });
    expect(remote.counters.errors).toBe(0);
  });

  test("a bridge restart loses nothing the subscriber cannot recover", async () => {
    await forward.stop();
    // Nothing arrives from upstream: the reverse bridge stops its heartbeats, so the remote books go stale.
    await waitFor(() => TOPICS.every((t) => !remote.books.get(t.id)!.usable), "remote books unusable while the bridge is down");
    for (let i = 0; i < 3; i++) sim.step(1); // published on A while no bridge listens: lost for the remote site
    await waitFor(() => feeder.books().every((b) => b.venueSeq === sim.book(b.instrument.market, b.instrument.symbol).u), "feeder caught up");
    expect(remoteEqual()).toBe(false);
    await startForward();
    await waitFor(remoteEqual, "remote books recovered after the bridge restart", 20_000, () => sim.step(1));
  });

  test("a NATS server restart loses nothing the subscriber cannot recover", async () => {
    await nats.stop();
    for (let i = 0; i < 3; i++) sim.step(1);
    await waitFor(() => feeder.books().every((b) => b.venueSeq === sim.book(b.instrument.market, b.instrument.symbol).u), "feeder caught up");
    expect(remoteEqual()).toBe(false);
    await nats.restart();
    await waitFor(remoteEqual, "remote books recovered after the NATS restart", 30_000, () => sim.step(1));
  });

  test("a publisher restart reaches the remote site as a new session; its books recover", async () => {
    const restarted: number[] = [];
    remote.on("session", (e) => void (e.kind === "restarted" && restarted.push(e.sourceId)));
    const sessionsBefore = reverse.reader!.counters.sessions;
    await feeder.stop();
    feeder = new Feeder({ config: feederConfig({ sim, markets: MARKETS, ...A, snapshotIntervalMs: 300, heartbeatIntervalMs: 100 }), log: silentLogger });
    await feeder.start();
    await waitFor(remoteEqual, "remote books after the publisher's restart", 20_000, () => sim.step(1));
    expect(reverse.reader!.counters.sessions).toBe(sessionsBefore + 1);
    expect(restarted).toEqual([BRIDGE_SOURCE_ID]);
  });

  test("a late consumer rebuilds every book from the JetStream stream; one reading from now gets nothing", async () => {
    await waitFor(remoteEqual, "remote books current");
    // Nothing new reaches NATS from here on: whatever the late consumers get comes from the stream's history.
    await forward.stop();
    const consumers: { sub: FeedSubscriber; reader?: NatsFeedReader }[] = [];
    try {
      const open = async (from: "all" | "now" | Date) => {
        const c: { sub: FeedSubscriber; reader?: NatsFeedReader } = { sub: new FeedSubscriber({ groups: [] }) };
        consumers.push(c);
        await c.sub.start();
        c.reader = await attachNats(c.sub, { servers: nats.url, prefix: PREFIX, stream: STREAM, from });
        return c;
      };
      const fromNow = await open("now");
      const all = await open("all");
      const sinceStart = await open(new Date(Date.now() - 3_600_000));
      // valid (identical to the publisher's book) rather than usable: history replayed in a burst goes stale after it.
      for (const c of [all, sinceStart]) await waitFor(() => validBooksEqual(c.sub), "every book rebuilt from the stream", 30_000);
      expect(all.reader!.counters.messages).toBeGreaterThan(0);
      expect(fromNow.reader!.counters.messages).toBe(0);
      expect(fromNow.sub.books.size).toBe(0);
    } finally {
      for (const c of consumers) {
        await c.reader?.stop();
        await c.sub.stop();
      }
      await startForward();
    }
  });

  test("garbage on the bridge's subjects is refused and counted; the feed goes on", async () => {
    const { connect } = await import("@nats-io/transport-node");
    const nc = await connect({ servers: nats.url });
    const refusedBefore = { ...reverse.reader!.counters.refused };
    const envelope = new Uint8Array(32 + 16);
    new DataView(envelope.buffer).setUint16(0, 0x4e46, true); // magic
    envelope[2] = 1; // version
    new DataView(envelope.buffer).setUint16(32, 999, true); // message length that is not the payload's
    nc.publish(`${PREFIX}.bybit.linear.JUNK`, new Uint8Array([1, 2, 3]));
    nc.publish(`${PREFIX}.bybit.linear.JUNK`, new Uint8Array(40));
    nc.publish(`${PREFIX}.bybit.linear.JUNK`, envelope);
    await nc.flush();
    await nc.close();
    const refused = () => reverse.reader!.counters.refused;
    await waitFor(() => refused().short > refusedBefore.short && refused().bad_magic > refusedBefore.bad_magic && refused().bad_message > refusedBefore.bad_message, "each garbage message refused under its reason");
    sim.step(1);
    await waitFor(remoteEqual, "remote books still follow the exchange");
    expect(remote.counters.errors).toBe(0);
  });
});
