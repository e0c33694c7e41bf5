/**
 * The NATS reader (attachNats; `listen --nats`, `bridge from-nats`) against a server that stops taking it:
 * - restarted requiring credentials, the client closes for good after two authorization errors in a row. The reader
 *   never watched `nc.closed()`: it ran on with no data and no word, for good, even once the server took it again.
 *   Now the close is counted (natsClosed), told (onNatsEvent) and the reader connects again until it can.
 * - refusing the subscription on `<prefix>.>` (permissions), the client hands the refusal to the subscription's
 *   callback and drops it. The reader ignored it: no data, no word, for good. Now it is counted
 *   (subscriptionsRefused), told with the server's text, and the subscription tried again until it is taken.
 * In both the books go unusable meanwhile (the reader stops its heartbeats once nothing comes: the subscriber's
 * stale check). A real nats-server restarted with other configurations; the bridge's datagrams handed in-process.
 */
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { NatsFeedReader as Reader, connectWithin, useNatsModules, type NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const RETRY_MS = 100;

// Deadlines only: under a loaded host (the folder run beside other work) a phase took ~8 s where it takes 0.5 s idle.
async function until(what: string, ok: () => boolean, onTry: () => void = () => {}, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    onTry();
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function rig(prefix: string, stream?: string) {
  const nats = await NatsServer.start();
  stops.push(() => nats.stop());
  const jetstream = stream === undefined ? undefined : { stream, maxAgeMs: 0, maxBytes: -1 };
  const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix, jetstream, reconnectAfterCloseMs: RETRY_MS, log: silentLogger });
  await bridge.start();
  stops.push(() => bridge.stop());
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 400 });
  await sub.start();
  stops.push(() => sub.stop());
  const events: NatsReaderEvent[] = [];
  const from = stream === undefined ? {} : { stream, from: "all" as const };
  const reader: NatsFeedReader = await attachNats(sub, { servers: nats.url, prefix, ...from, reconnectAfterCloseMs: RETRY_MS, onNatsEvent: (e) => events.push(e) });
  stops.push(() => reader.stop());
  const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const x = new TestBook(X);
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  // The publisher's refresh (definition and snapshot): what makes the book usable again after any loss.
  const refresh = () => {
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, true);
    for (const d of take(p, (sendUs += 100_000))) bridge.onDatagram(d);
  };
  const usable = () => sub.book(X.instrumentId)?.usable === true;
  await until("X usable", usable, refresh);
  return { nats, bridge, sub, reader, events, refresh, usable };
}

describe.skipIf(missing !== undefined)("NATS reader: the server stops taking it", () => {
  test("closed for good after authorization errors: counted, told, the books unusable, connected again", async () => {
    const { nats, reader, events, refresh, usable } = await rig("rclosed");
    await nats.stop();
    await nats.restart("authorization { user: someone, password: else }");
    await until("the reader told of the close", () => events.some((e) => e.kind === "closed"));
    expect(reader.counters.natsClosed).toBe(1);
    await until("X unusable (stale: nothing comes)", () => !usable());

    await nats.stop();
    await nats.restart("");
    await until("X usable again through the restored server", usable, refresh);
    expect(events.some((e) => e.kind === "reconnected")).toBe(true);
    expect(reader.counters.natsClosed).toBe(1);
  }, 60_000);

  test("a stream reader closed for good goes on after the last message it read, not from its start again", async () => {
    const { nats, reader, events, refresh, usable } = await rig("rjs", "RJS");
    const auth = "authorization { user: someone, password: else }";
    await nats.stop();
    await nats.restart(auth);
    await until("the reader told of the close", () => events.some((e) => e.kind === "closed"));
    const read = reader.counters.messages;
    await nats.stop();
    await nats.restart("");
    // A refresh published after the reconnect is read after anything the new consumer brings before it.
    await until("a refresh read through the restored server", () => reader.counters.messages > read && usable(), refresh);
    expect(reader.counters.natsClosed).toBe(1);
    // From "all" again, the stream's first envelopes would come again: refused as behind the bridge's numbering.
    expect(reader.counters.refused.repeated).toBe(0);
  }, 60_000);

  test("a refused subscription: counted, told with the server's text, the books unusable, tried again", async () => {
    const { nats, reader, events, refresh, usable } = await rig("rdenied");
    // The server restarted with the reader's user (no_auth_user: the reader has no credentials) denied the prefix.
    await nats.stop();
    await nats.restart(`authorization { users: [ { user: anon, password: x, permissions: { subscribe: { deny: ["rdenied.>"] } } } ] }
no_auth_user: anon`);
    await until("the refusal told", () => events.some((e) => e.kind === "subscription_refused"));
    expect(reader.counters.subscriptionsRefused).toBeGreaterThanOrEqual(1);
    expect(events.find((e) => e.kind === "subscription_refused")!.error).toMatch(/Permissions Violation for Subscription to "rdenied\.>"/);
    await until("X unusable (stale: nothing comes)", () => !usable());

    await nats.stop();
    await nats.restart("");
    await until("X usable again once the subscription is taken", usable, refresh);
    expect(events.some((e) => e.kind === "subscribed")).toBe(true);
  }, 60_000);
});

describe("NATS reader: a close for good while start() fails", () => {
  test("leaves no try again behind the rejection", async () => {
    // A client that closes for good at once, and a JetStream whose stream lookup then fails: start() rejects, and
    // the caller has no reader to stop. Before, the close's try again stayed scheduled: a reader connecting forever.
    const client = { subscribe: () => ({ unsubscribe() {} }), drain: async () => {}, close: async () => {}, closed: () => Promise.resolve(new Error("closed for good")) };
    useNatsModules({
      transport: async () => ({ connect: async () => client }),
      jetstream: async () => ({
        jetstream: () => ({}),
        jetstreamManager: async () => {
          await new Promise((r) => setImmediate(r)); // the close is seen first
          throw new Error("no JetStream");
        },
      }),
    });
    try {
      const events: NatsReaderEvent[] = [];
      const reader = new Reader({ servers: "nats://127.0.0.1:1", stream: "S", reconnectAfterCloseMs: 1, onNatsEvent: (e) => events.push(e) }, () => {});
      await expect(reader.start()).rejects.toThrow(/no JetStream/);
      // A try again already under way (its 1 ms wait may end before the lookup fails: this client closes at once
      // every time) sees the reader stopped and schedules none.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(events[0]!.kind).toBe("closed");
      expect((reader as unknown as { retryTimer: unknown }).retryTimer).toBeUndefined();
    } finally {
      useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") });
    }
  });
});

describe("a connect made again after a close for good (bridge and reader)", () => {
  // One made while the server went down or came up hung past 15 s in the folder run (the forward bridge's, in the
  // first case above: reconnecting, no try scheduled, every datagram dropped as disconnected); before, nothing bounded
  // it and no other try came while it hung.
  test("is given up after its time, and a connection that comes later is closed", async () => {
    let resolveLate!: (nc: { close(): Promise<void> }) => void;
    const hanging = new Promise<{ close(): Promise<void> }>((r) => (resolveLate = r));
    await expect(connectWithin(hanging, 20)).rejects.toThrow(/no answer from NATS within 20 ms/);
    let closed = false;
    resolveLate({ close: async () => void (closed = true) });
    await until("the late connection closed", () => closed);
  });
});
