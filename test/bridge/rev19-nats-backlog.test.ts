/**
 * The forward bridge when NATS cannot take the feed (rev19). Before: while the client was disconnected the bridge
 * kept publishing into its buffer, which the client discards at each connect attempt, and counted it all as
 * published; while the server (or the link) was slower than the feed the client's buffer and its socket's grew
 * without bound (a paused server: tens of MB for a few seconds of a busy feed); a message the client refused (over
 * the server's max_payload) threw out of the socket's message handler, which ends the process. Now such datagrams
 * are dropped and counted by reason, each skipping a forward number so every reader sees the loss as a gap, and
 * the client never holds more than maxPendingBytes unwritten.
 * Real parts: nats-server (paused with SIGSTOP, stopped, or with a small max_payload), the ForwardBridge's own
 * connection (its datagrams handed to onDatagram), the reader (attachNats) feeding an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ARENA_CHUNK_BYTES } from "../../src/bridge/payload-arena.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const PREFIX = "rev19b";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const MAX_PENDING = 1 << 20;

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
const x = new TestBook(X);
let sendUs = T0;

/** The client's state, read as the bridge reads it (the client has no public API for it). */
interface ClientInternals {
  protocol: { connected: boolean; outbound: { size(): number }; transport: { socket?: { writableLength: number } } };
}
const client = () => (bridge as unknown as { nc: ClientInternals }).nc.protocol;
const clientPendingBytes = () => client().outbound.size() + (client().transport.socket?.writableLength ?? 0);

function through(): void {
  for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
}

function change(px: number): void {
  const cs = new ChangeSet();
  cs.addBid(px, 7);
  x.apply(cs, x.venueSeq + 1, T0);
  packBookDelta(p, x, cs);
}

/**
 * Publisher heartbeats through the bridge until the reader has heard more than the bridge had published before: one
 * of these, so both connections are up and subscribed and the reader has taken everything published before it. (One
 * more than the reader had heard could be an earlier call's, still in flight: sent as the server was paused, it came
 * before the flood the server then delivered, and the wait ended with the flood not yet read.)
 */
async function readerHears(): Promise<void> {
  const published = bridge.counters.heartbeats;
  await waitFor(() => reader.counters.heartbeats > published, "the reader hears the bridge", 20_000, () => {
    p.appendHeartbeat(0);
    through();
  });
}

/**
 * X untrusted: the reader took the skipped numbers for a gap, which its next datagram carries (a heartbeat of its own
 * while upstream is alive). Publisher heartbeats meanwhile keep upstream alive: with none, a reader's timer held up
 * past upstream's silence (3 × 200 ms; a load of 20) sent no heartbeat, the gap stayed unsent and X usable for good
 * (staleAfterMs 0 here: a subscriber with the stale check sees it stale instead).
 */
async function untrusted(): Promise<void> {
  await waitFor(() => !sub.book(X.instrumentId)!.usable, "X untrusted: the reader saw the numbers skipped", 10_000, () => {
    p.appendHeartbeat(0);
    through();
  });
}

/** A refresh through the bridge: X usable again at the publisher's book. */
async function refreshed(): Promise<void> {
  packBookSnapshot(p, x, 0, true);
  through();
  await waitFor(() => sub.book(X.instrumentId)!.usable && sub.book(X.instrumentId)!.instrSeq === x.instrSeq, "X usable at the refresh");
  expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
}

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: PREFIX, maxPendingBytes: MAX_PENDING, log: silentLogger });
  await bridge.start();
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  await sub.start();
  reader = await attachNats(sub, { servers: nats.url, prefix: PREFIX });
  // The one snapshot goes through as soon as attachNats returned: it resolves once nats-server has the reader's SUB.
  // Before (the reader did not wait for that), the snapshot could get there first and "X usable" never came (CI).
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  packInstrumentDefinition(p, new EncodedDefinition(X), false);
  packBookSnapshot(p, x, 0, false);
  through();
  await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable through the bridge");
}, 30_000);

afterAll(async () => {
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`the forward bridge when NATS cannot take the feed${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 60_000 }, () => {
  test("NATS down: what the bridge cannot publish is dropped and counted, and readers see the loss", async () => {
    const published = bridge.counters.published;
    await nats.stop();
    await waitFor(() => !client().connected, "the bridge's client sees the server gone");
    for (let i = 0; i < 20; i++) {
      change(943490 - i);
      through();
    }
    expect(bridge.counters.droppedDisconnected).toBe(20);
    expect(bridge.counters.published).toBe(published);
    await nats.restart();
    await readerHears();
    await untrusted();
    await refreshed();
  });

  test("NATS slower than the feed: the client's backlog stays under maxPendingBytes, the rest dropped and counted", async () => {
    await readerHears();
    // Datagrams of ~1400 bytes (a snapshot of many levels, again and again: each a datagram of its own, since the
    // bridge drops a copy of one it forwarded), while the server reads nothing.
    const big = new TestBook(X);
    big.load(
      Array.from({ length: 200 }, (_, i): [number, number] => [943000 - i, 5]),
      Array.from({ length: 200 }, (_, i): [number, number] => [944000 + i, 5]),
      x.venueSeq,
      T0,
    );
    packBookSnapshot(p, big, 0, true);
    const datagram = take(p, (sendUs += 1000))[0]!;
    expect(datagram.length).toBeGreaterThan(1000);
    // The bridge's own memory beside the client's backlog: the payload arena's chunks (payload-arena.ts), each seen
    // once, must be collected once the client let go of their ranges, whatever the feed sent meanwhile.
    const arena = (bridge as unknown as { payloads: { chunk: Uint8Array } }).payloads;
    const chunks: WeakRef<Uint8Array>[] = [];
    nats.pause();
    try {
      for (let i = 0; i < 30_000; i++) {
        packBookSnapshot(p, big, 0, true);
        for (const d of take(p, (sendUs += 1))) bridge.onDatagram(d); // ~40 MB in all
        if (arena.chunk !== chunks[chunks.length - 1]?.deref()) chunks.push(new WeakRef(arena.chunk));
        if (i % 1000 === 999) await Bun.sleep(0); // the client writes what it holds (its socket keeps the rest)
      }
      expect(clientPendingBytes()).toBeLessThanOrEqual(MAX_PENDING + 2 * datagram.length);
      expect(bridge.counters.droppedBacklog).toBeGreaterThan(0);
      await Bun.sleep(0); // a WeakRef holds its target until the job that made or read it ends
      Bun.gc(true);
      const retainedBytes = chunks.reduce((n, w) => n + (w.deref()?.byteLength ?? 0), 0);
      expect(chunks.length * ARENA_CHUNK_BYTES, "the arena went through the flood").toBeGreaterThan(4 * MAX_PENDING);
      expect(retainedBytes, "the arena's chunks retained: at most the client's backlog and the current chunk").toBeLessThanOrEqual(clientPendingBytes() + 2 * ARENA_CHUNK_BYTES);
    } finally {
      nats.resume();
    }
    await waitFor(() => clientPendingBytes() === 0, "the backlog written once the server reads again", 30_000);
    await readerHears();
    await untrusted();
    await refreshed();
  });
});

describe.skipIf(missing !== undefined)(`a message over the server's max_payload${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("is counted and skipped; the bridge goes on", async () => {
    const small = await NatsServer.start("max_payload: 512");
    const b = new ForwardBridge({ groups: [], servers: small.url, prefix: PREFIX, log: silentLogger });
    try {
      await b.start();
      const q = packer({ channelId: 4, sourceId: 7, sessionId: 501, sessionStartUs: T0 });
      const y = new TestBook(X);
      y.load(
        Array.from({ length: 60 }, (_, i): [number, number] => [943000 - i, 5]),
        Array.from({ length: 60 }, (_, i): [number, number] => [944000 + i, 5]),
        1,
        T0,
      );
      packInstrumentDefinition(q, new EncodedDefinition(X), false);
      packBookSnapshot(q, y, 0, false); // one message of ~1 KB: over max_payload
      for (const d of take(q)) expect(() => b.onDatagram(d)).not.toThrow();
      expect(b.counters.publishErrors).toBeGreaterThan(0);
      const published = b.counters.published;
      q.appendHeartbeat(0);
      for (const d of take(q)) b.onDatagram(d);
      const cs = new ChangeSet();
      cs.addBid(942000, 1);
      y.apply(cs, 2, T0);
      packBookDelta(q, y, cs);
      for (const d of take(q)) b.onDatagram(d);
      expect(b.counters.published).toBe(published + 1);
    } finally {
      await b.stop();
      await small.stop();
    }
  });

  test("is judged by the server connected now: a reconnect to a smaller max_payload refuses it, a larger one takes it", async () => {
    // The bridge writes its own PUB frames (pub-frames.ts): one over the server's limit is not refused by the client
    // but by the server, which answers -ERR 'Maximum Payload Violation' and closes the connection (everything the
    // client held lost). So the limit must be the INFO of the connection now, read again after each reconnect.
    const server = await NatsServer.start();
    const b = new ForwardBridge({ groups: [], servers: server.url, prefix: PREFIX, log: silentLogger });
    const q = packer({ channelId: 6, sourceId: 7, sessionId: 503, sessionStartUs: T0 });
    const y = new TestBook(X);
    y.load(
      Array.from({ length: 40 }, (_, i): [number, number] => [943000 - i, 5]),
      Array.from({ length: 40 }, (_, i): [number, number] => [944000 + i, 5]),
      1,
      T0,
    );
    let sendUs = T0;
    const snapshot = () => {
      packBookSnapshot(q, y, 0, true);
      const datagrams = take(q, (sendUs += 1000));
      expect(datagrams.length).toBe(1); // one message: its envelope over 1024 bytes, under 4096
      expect(datagrams[0]!.length).toBeGreaterThan(1024);
      b.onDatagram(datagrams[0]!);
    };
    const reconnectTo = async (config: string) => {
      const reconnects = b.counters.natsReconnects;
      await server.stop();
      await server.restart(config);
      await waitFor(() => b.counters.natsReconnects > reconnects && b.health.natsConnected, "the bridge reconnected");
    };
    try {
      await b.start();
      packInstrumentDefinition(q, new EncodedDefinition(X), false);
      for (const d of take(q, (sendUs += 1000))) b.onDatagram(d);
      snapshot();
      expect(b.counters).toMatchObject({ published: 2, publishErrors: 0 });
      await reconnectTo("max_payload: 1024");
      snapshot();
      expect(b.counters).toMatchObject({ published: 2, publishErrors: 1 });
      await reconnectTo("max_payload: 4096");
      snapshot();
      expect(b.counters).toMatchObject({ published: 3, publishErrors: 1 });
    } finally {
      await b.stop();
      await server.stop();
    }
  });

  test("a heartbeat the client refuses is counted neither as published nor as a dropped wire message", async () => {
    // Every envelope over max_payload, a heartbeat's (40 bytes) too. Before, a refused heartbeat was counted
    // as published (before the publish) and as a wire message dropped (publish_error).
    const tiny = await NatsServer.start("max_payload: 16");
    const b = new ForwardBridge({ groups: [], servers: tiny.url, prefix: PREFIX, log: silentLogger });
    try {
      await b.start();
      const q = packer({ channelId: 5, sourceId: 7, sessionId: 502, sessionStartUs: T0 });
      const y = new TestBook(X);
      y.load([[943000, 5]], [[944000, 5]], 1, T0);
      packInstrumentDefinition(q, new EncodedDefinition(X), false);
      packBookSnapshot(q, y, 0, false);
      for (const d of take(q)) b.onDatagram(d); // two wire messages, both refused
      for (let i = 0; i < 3; i++) {
        q.appendHeartbeat(0);
        for (const d of take(q)) b.onDatagram(d);
      }
      expect(b.counters).toMatchObject({ heartbeats: 0, published: 0, publishErrors: 2, publishedBytes: 0 });
    } finally {
      await b.stop();
      await tiny.stop();
    }
  });
});
