/**
 * A JetStream stream that lost its tail, where the reader's look at the stream did not see it (2026-12-07 night):
 * - busy: the look after the client made its consumer again ended before that consumer's sequence went back (the
 *   stream already grown to the last read sequence, the stored message there not looked at). Messages kept coming,
 *   and a consumer reading is never looked at while idle: the loss was never told, the books usable. Now the first
 *   sequence gone back makes a look of its own.
 * - grown past: no sequence goes back. nats-server 2.9 (installed here) starts the client's consumer, made again
 *   after the last read sequence once the stream has grown past it, there: the new messages below it passed over,
 *   nothing told (so for a reader stopped and started again on it). Now the look (and the start) finds the message
 *   at the last read sequence stored at another time: a lost tail.
 * - healthy: that message found as read, or dropped by the stream's limits while fetched, is no loss.
 * Real parts: nats-server (its store put back as it was), the NATS client, the reader; envelopes published straight.
 * Seams (useNatsModules): the reader's stream info requests held, its STREAM.MSG.GET failed or held, the messages its
 * consumer hands out held, the client's making of its consumer held: each where the test needs the race to fall.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NatsFeedReader, useNatsModules, type NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { waitFor } from "../e2e/harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { publish as publishTo, v1Feed } from "./v1-feed.ts";

const missing = natsServerMissing();
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

let nats: NatsServer;
const readers: NatsFeedReader[] = [];
/** Held while set, each counted: the reader's stream info requests, its consumers' messages, the client's consumer makes. */
let holdLooks: Promise<void> | undefined;
let heldLooks = 0;
let holdMessages: Promise<void> | undefined;
let holdMakes: Promise<void> | undefined;
let heldMakes = 0;
/** While set, the reader's STREAM.MSG.GET fails (as for a reader whose permissions refuse it). */
let failGets = false;
let failedGets = 0;
/** The reader's STREAM.MSG.GET held while set (each counted); those answered with a message, counted. */
let holdGets: Promise<void> | undefined;
let heldGets = 0;
let foundGets = 0;

const held = () => {
  let release!: () => void;
  const p = new Promise<void>((r) => (release = r));
  return { p, release };
};

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  useNatsModules({
    transport: () => import("@nats-io/transport-node"),
    jetstream: async () => {
      const mod = await import("@nats-io/jetstream");
      const jetstreamManager: typeof mod.jetstreamManager = async (...args) => {
        const jsm = await mod.jetstreamManager(...args);
        const info = jsm.streams.info.bind(jsm.streams);
        jsm.streams.info = async (...a: Parameters<typeof info>) => {
          const h = holdLooks;
          if (h !== undefined) {
            heldLooks++;
            await h;
          }
          return info(...a);
        };
        const get = jsm.streams.getMessage.bind(jsm.streams);
        jsm.streams.getMessage = async (...a: Parameters<typeof get>) => {
          const h = holdGets;
          if (h !== undefined) {
            heldGets++;
            await h;
          }
          if (!failGets) {
            const stored = await get(...a);
            if (stored !== null) foundGets++;
            return stored;
          }
          failedGets++;
          throw new Error("STREAM.MSG.GET refused (the test's)");
        };
        return jsm;
      };
      const jetstream: typeof mod.jetstream = (...args) => {
        const js = mod.jetstream(...args);
        const internal = js as unknown as { consumerAPI: { add(...a: unknown[]): Promise<unknown> } };
        const add = internal.consumerAPI.add.bind(internal.consumerAPI);
        internal.consumerAPI.add = async (...a: unknown[]) => {
          const h = holdMakes;
          if (h !== undefined) {
            heldMakes++;
            await h;
          }
          return add(...a);
        };
        const get = js.consumers.get.bind(js.consumers);
        js.consumers.get = (async (...a: Parameters<typeof get>) => {
          const consumer = await get(...a);
          const consume = consumer.consume.bind(consumer);
          consumer.consume = (async (...c: Parameters<typeof consume>) => {
            const real = await consume(...c);
            return {
              stop: () => real.stop(),
              status: () => real.status(),
              async *[Symbol.asyncIterator]() {
                for await (const m of real) {
                  while (holdMessages !== undefined) await holdMessages;
                  yield m;
                }
              },
            };
          }) as unknown as typeof consume;
          return consumer;
        }) as typeof get;
        return js;
      };
      return { ...mod, jetstream, jetstreamManager };
    },
  });
}, 30_000);

afterAll(async () => {
  for (const r of readers) await r.stop();
  useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") });
  await nats?.stop();
});

const lastRead = (r: NatsFeedReader) => (r as unknown as { lastJsMsg?: { info?: { streamSequence?: number } } }).lastJsMsg?.info?.streamSequence ?? 0;

const told = (events: NatsReaderEvent[]) => events.filter((e) => e.kind === "stream_discontinuity");

/** A stream of `prefix`'s X: 2 messages in the store copy put back later, 12 read by a started reader (no idle looks). */
async function readTwelve(prefix: string, stream: string, events: NatsReaderEvent[]) {
  const subject = `${prefix}.bybit.linear.BTCUSDT`;
  await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] }));
  const feed = v1Feed(X);
  const publish = (envs: Uint8Array[]) => publishTo(nats.url, subject, envs);
  const deltas = (n: number) => Array.from({ length: n }, () => feed.delta()).flat();
  await publish(feed.refresh());
  const putBack = await nats.copyStore(); // the store at 2 messages
  await publish(deltas(10));
  await nats.streamAt(stream, 12);
  // Looks only where the test makes them: idle ones (and a failed one made again) a minute apart.
  const reader = new NatsFeedReader({ servers: nats.url, prefix, stream, from: "all", reconnectAfterCloseMs: 60_000, onNatsEvent: (e) => events.push(e) }, () => {});
  readers.push(reader);
  await reader.start();
  await waitFor(() => lastRead(reader) === 12, "the reader read the 12 messages", 10_000);
  expect(told(events)).toEqual([]);
  return { reader, putBack, publish, deltas };
}

describe.skipIf(missing !== undefined)(`a lost tail the reader's look did not see${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 40_000 }, () => {
  test("busy: the first sequence gone back after the look is looked at, the loss told", async () => {
    const events: NatsReaderEvent[] = [];
    const { reader, putBack, publish, deltas } = await readTwelve("busy", "TAILBUSY", events);
    // The store put back (ending at 2): the client makes its consumer again, at the stream's end (2.9), and its look
    // at the stream is held; 11 new messages stored meanwhile (3 to 13), the consumer's held from the reader.
    const looks = held();
    const messages = held();
    holdLooks = looks.p;
    holdMessages = messages.p;
    failGets = true; // the stored message at 12 not looked at: as before that check, or a reader not allowed it
    try {
      await putBack();
      await waitFor(() => heldLooks > 0, "the client made its consumer again (its look held)", 15_000);
      await publish(deltas(11));
      await nats.streamAt("TAILBUSY", 13);
      // The look ends finding the stream at 13, past the 12 read: nothing told.
      const gets = failedGets;
      holdLooks = undefined;
      looks.release();
      await waitFor(() => failedGets > gets, "the look ended", 10_000);
      expect(told(events)).toEqual([]);
      // The consumer's messages go on: sequence 3 after 12, gone back.
      holdMessages = undefined;
      messages.release();
      // Before, never told (the consumer reading, no look made again): the books usable on a stream that lost its tail.
      await waitFor(() => told(events).length > 0, "the lost tail told", 10_000);
    } finally {
      holdLooks = undefined;
      holdMessages = undefined;
      failGets = false;
      looks.release();
      messages.release();
    }
    expect(told(events)).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 13 }]);
    await publish(deltas(1));
    await waitFor(() => lastRead(reader) === 14, "the reader read sequence 14", 10_000);
  });

  test("grown past: the message at the last read sequence stored at another time is a lost tail", async () => {
    const events: NatsReaderEvent[] = [];
    const { reader, putBack, publish, deltas } = await readTwelve("grown", "TAILGROWN", events);
    // The store put back (ending at 2), the client's making of its consumer held until 11 new messages are stored
    // (3 to 13): asked to start at 13, 2.9 starts it there, and no sequence goes back.
    const makes = held();
    holdMakes = makes.p;
    try {
      await putBack();
      await waitFor(() => heldMakes > 0, "the client makes its consumer again (held)", 15_000);
      await publish(deltas(11));
      await nats.streamAt("TAILGROWN", 13);
    } finally {
      holdMakes = undefined;
      makes.release();
    }
    // Before, never told: the stream past the 12 read, 3 to 12 passed over with nothing said.
    await waitFor(() => told(events).length > 0, "the lost tail told", 10_000);
    expect(told(events)).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 13 }]);
    await publish(deltas(1));
    await waitFor(() => lastRead(reader) === 14, "the reader read sequence 14", 10_000);
  });

  test("grown past, the reader started again: its consumer is made on from the loss, told", async () => {
    const events: NatsReaderEvent[] = [];
    const { reader, putBack, publish, deltas } = await readTwelve("again", "TAILAGAIN", events);
    await reader.stop();
    await putBack();
    await publish(deltas(11)); // 3 to 13: the stream past the 12 read
    await nats.streamAt("TAILAGAIN", 13);
    await reader.start();
    // Told as the consumer is made (before, it was made at 13, 3 to 12 passed over with nothing said).
    expect(told(events)).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 13 }]);
    await publish(deltas(1));
    await waitFor(() => lastRead(reader) === 14, "the reader read sequence 14", 10_000);
  });

  test("healthy: the last read message found as read, or dropped below the stream's first while asked for, is no loss", async () => {
    const events: NatsReaderEvent[] = [];
    const stream = "TAILHEALTHY";
    await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: ["healthy.>"] }));
    const feed = v1Feed(X);
    const publish = (envs: Uint8Array[]) => publishTo(nats.url, "healthy.bybit.linear.BTCUSDT", envs);
    await publish(feed.refresh());
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "healthy", stream, from: "all", reconnectAfterCloseMs: 60_000, onNatsEvent: (e) => events.push(e) }, () => {});
    readers.push(reader);
    await reader.start();
    await waitFor(() => lastRead(reader) === 2, "the reader read sequences 1 and 2", 10_000);
    // Started again: the message at 2 fetched, stored at the time read (its RFC 3339 time against the read's ns).
    await reader.stop();
    const found = foundGets;
    await reader.start();
    expect(foundGets).toBe(found + 1);
    expect(told(events)).toEqual([]);
    // Started again, the fetch held while the stream drops its messages (as by its max age or max bytes; a purge
    // here, the same for the server: the message at 2 below its first sequence now). Before, the fetch's "no
    // message" was a lost tail: told `truncated`, a gap, on a stream that lost nothing.
    await reader.stop();
    const gets = held();
    holdGets = gets.p;
    let starting: Promise<void> | undefined;
    try {
      const before = heldGets;
      starting = reader.start();
      await waitFor(() => heldGets > before, "the reader's fetch of the message at 2 (held)", 10_000);
      await nats.withJsm((jsm) => jsm.streams.purge(stream));
    } finally {
      holdGets = undefined;
      gets.release();
    }
    await starting;
    expect(told(events)).toEqual([]);
    await publish(feed.delta());
    await waitFor(() => lastRead(reader) === 3, "the reader read sequence 3", 10_000);
    expect(told(events)).toEqual([]);
  });
});
