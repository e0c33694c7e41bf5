/**
 * What the JetStream reader reads again, and tells again, on a stream that lost messages (2026-12-07):
 * - after a lost tail it reads on from the last read message's stored time, floored to the millisecond, so what that
 *   millisecond stored up to it comes again. Before, unnumbered envelopes (version 1: a bridge without forward
 *   numbers) of it were read twice, repacked again as new and counted twice; now passed over, not counted.
 * - a lost tail is told when the client's consumer, made again at the stream's end, read new messages (a sequence
 *   gone back) before the reader's look; before, a look after them (made again, or at a start again) was not told.
 * - a discard past the last read (a purge) is told once per position; before, the position was the sequence alone,
 *   and on a stream made again (numbered from 1 again), or after a lost tail (its sequences used again), a discard
 *   past the same sequence was not told.
 * Real parts: nats-server (its store put back as it was, for the lost tail), the reader; envelopes published straight.
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
/** While set, the readers' stream info requests wait for it (useNatsModules below): a look held where the test wants it. */
let hold: Promise<void> | undefined;
let heldLooks = 0;
/** While set, the readers' stream info requests fail (as one to a server whose JetStream is not up yet): looked at again later. */
let failLooks = false;
let failedLooks = 0;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  const transport = () => import("@nats-io/transport-node");
  useNatsModules({
    transport,
    jetstream: async () => {
      const mod = await import("@nats-io/jetstream");
      const jetstreamManager: typeof mod.jetstreamManager = async (...args) => {
        const jsm = await mod.jetstreamManager(...args);
        const info = jsm.streams.info.bind(jsm.streams);
        jsm.streams.info = async (...a: Parameters<typeof info>) => {
          if (failLooks) {
            failedLooks++;
            throw new Error("stream info failed (the test's)");
          }
          const h = hold;
          if (h !== undefined) {
            heldLooks++;
            await h;
          }
          return info(...a);
        };
        return jsm;
      };
      return { ...mod, jetstreamManager };
    },
  });
}, 30_000);

afterAll(async () => {
  for (const r of readers) await r.stop();
  useNatsModules({ transport: () => import("@nats-io/transport-node"), jetstream: () => import("@nats-io/jetstream") });
  await nats?.stop();
});

const feedOf = () => v1Feed(X);
const publish = (subject: string, envs: Uint8Array[]) => publishTo(nats.url, subject, envs);

const lastRead = (r: NatsFeedReader) => (r as unknown as { lastJsMsg?: { info?: { streamSequence?: number } } }).lastJsMsg?.info?.streamSequence ?? 0;

describe.skipIf(missing !== undefined)(`what a stream reader reads and tells again${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 40_000 }, () => {
  test("after a lost tail, version 1 envelopes of the last read one's millisecond are not read again", async () => {
    const stream = "REREADV1";
    const subject = "v1tail.bybit.linear.BTCUSDT";
    await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: ["v1tail.>"] }));
    const feed = feedOf();
    await publish(subject, feed.refresh());
    // The store at 2 messages, copied while the server is stopped; then 10 more: the stream at 12.
    const putBack = await nats.copyStore();
    await publish(subject, Array.from({ length: 10 }, () => feed.delta()).flat());
    await nats.streamAt(stream, 12);

    const events: NatsReaderEvent[] = [];
    // No idle looks (a minute apart): the one look here is the one the client's consumer made again asks for.
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "v1tail", stream, from: "all", reconnectAfterCloseMs: 60_000, onNatsEvent: (e) => events.push(e) }, () => {});
    readers.push(reader);
    await reader.start();
    await waitFor(() => lastRead(reader) === 12, "the reader read the 12 messages", 10_000);

    // The store put back (the stream ends at 2), the reader's look at it held: the client's own consumer, made again
    // once the server is back, is placed at the stream's end by nats-server 2.9 and reads what is stored there first.
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    await putBack();
    await waitFor(() => heldLooks > 0, "the client made its consumer again (its look held)", 15_000);
    const envelopes = reader.counters.envelopes;
    const messages = reader.repacker.counters.messages;
    await publish(subject, [feed.delta(), feed.delta(), feed.delta()].flat()); // sequences 3 to 5
    await waitFor(() => lastRead(reader) === 5, "the client's consumer read sequences 3 to 5", 10_000);
    hold = undefined;
    release();
    // The look finds the tail lost: read on from sequence 5's millisecond, so 5 (and what that millisecond stored
    // before it) comes again; then sequence 6, new.
    await waitFor(() => events.some((e) => e.kind === "stream_discontinuity"), "the lost tail told", 10_000);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 5 }]);
    await publish(subject, feed.delta());
    await waitFor(() => lastRead(reader) === 6, "the reader read sequence 6", 10_000);
    // Each of the 4 messages read, repacked and counted once (before: sequence 5 at least twice).
    expect(reader.counters.envelopes - envelopes).toBe(4);
    expect(reader.repacker.counters.messages - messages).toBe(4);
  });

  // The reader's look at the stream comes after the client's consumer made again read new messages: its failed look
  // made again, or the reader stopped and started again (its consumer made where the last read message says).
  test.each([
    ["its look made again", false],
    ["the reader started again", true],
  ] as const)("a lost tail is told when the client's consumer made again read new messages first: %s", async (_, restart) => {
    const prefix = restart ? "late1" : "late0";
    const stream = restart ? "REREADLATE1" : "REREADLATE0";
    const subject = `${prefix}.bybit.linear.BTCUSDT`;
    await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] }));
    const feed = feedOf();
    await publish(subject, feed.refresh());
    const putBack = await nats.copyStore(); // the store at 2 messages
    await publish(subject, Array.from({ length: 10 }, () => feed.delta()).flat());
    await nats.streamAt(stream, 12);

    const events: NatsReaderEvent[] = [];
    // A look that failed is made again 100 ms later (as are idle looks).
    const reader = new NatsFeedReader({ servers: nats.url, prefix, stream, from: "all", reconnectAfterCloseMs: 100, onNatsEvent: (e) => events.push(e) }, () => {});
    readers.push(reader);
    await reader.start();
    await waitFor(() => lastRead(reader) === 12, "the reader read the 12 messages", 10_000);

    // The store put back (the stream ends at 2) and every look at the stream failing: the client's own consumer, made
    // again at the stream's end (nats-server 2.9), reads the new sequences 3 to 5 before any look is answered.
    let remade = 0;
    const status = (reader as unknown as { iter: { status(): AsyncIterable<{ type: string }> } }).iter.status();
    void (async () => {
      for await (const e of status) if (e.type === "ordered_consumer_recreated") remade++;
    })();
    const failed = failedLooks;
    failLooks = true;
    const envelopes = reader.counters.envelopes;
    try {
      await putBack();
      await waitFor(() => remade > 0 && failedLooks > failed, "the client made its consumer again (its look failed)", 15_000);
      await publish(subject, [feed.delta(), feed.delta(), feed.delta()].flat());
      await waitFor(() => lastRead(reader) === 5, "the client's consumer read sequences 3 to 5", 10_000);
      if (restart) await reader.stop();
    } finally {
      failLooks = false;
    }
    if (restart) {
      await reader.start();
      // Told as the consumer is made (before, not at all there; the next idle look, if the stream was quiet, told it).
      expect(events.filter((e) => e.kind === "stream_discontinuity")).toHaveLength(1);
    }
    // The look finds the stream ending at 5, the last read: before, that was all it compared (the loss never told,
    // the books usable); the sequence that went back from 12 to 3 is the lost tail.
    await waitFor(() => events.some((e) => e.kind === "stream_discontinuity"), "the lost tail told", 10_000);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 5 }]);
    await publish(subject, feed.delta());
    await waitFor(() => lastRead(reader) === 6, "the reader read sequence 6", 10_000);
    expect(reader.counters.envelopes - envelopes).toBe(4); // 3 to 6, each once
  });

  test("a discard past the last read is told again on the stream made again, at the same sequence", async () => {
    const stream = "REREADDISC";
    const subject = "disc.bybit.linear.BTCUSDT";
    const events: NatsReaderEvent[] = [];
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "disc", stream, from: "all", reconnectAfterCloseMs: 60_000, onNatsEvent: (e) => events.push(e) }, () => {});
    readers.push(reader);
    const discarded = () => events.filter((e) => e.kind === "stream_discontinuity");
    // Read 1 and 2; stopped, 3 to 5 stored and purged; started again: it finds the stream starting at 6.
    const round = async () => {
      const feed = feedOf();
      await publish(subject, feed.refresh());
      await reader.start();
      await waitFor(() => lastRead(reader) === 2, "the reader read sequences 1 and 2", 10_000);
      await reader.stop();
      await publish(subject, [feed.delta(), feed.delta(), feed.delta()].flat());
      await nats.withJsm((jsm) => jsm.streams.purge(stream));
      await reader.start();
      await reader.stop();
    };
    await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: ["disc.>"] }));
    await round();
    expect(discarded()).toEqual([{ kind: "stream_discontinuity", why: "discarded", lastRead: 2, firstSeq: 6, lastSeq: 5 }]);
    // The stream made again (another creation time, numbered from 1): the same round, the same sequences.
    await nats.withJsm(async (jsm) => {
      await jsm.streams.delete(stream);
      await jsm.streams.add({ name: stream, subjects: ["disc.>"] });
    });
    await round();
    expect(discarded()).toHaveLength(2);
    expect(discarded()[1]).toEqual({ kind: "stream_discontinuity", why: "discarded", lastRead: 2, firstSeq: 6, lastSeq: 5 });
  });

  test("a discard past the last read is told again after a lost tail, at the same sequence", async () => {
    const stream = "REREADDISCTAIL";
    const subject = "disctail.bybit.linear.BTCUSDT";
    const events: NatsReaderEvent[] = [];
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "disctail", stream, from: "all", reconnectAfterCloseMs: 60_000, onNatsEvent: (e) => events.push(e) }, () => {});
    readers.push(reader);
    const told = () => events.filter((e) => e.kind === "stream_discontinuity");
    const feed = feedOf();
    const deltas = (n: number) => Array.from({ length: n }, () => feed.delta()).flat();
    await nats.withJsm((jsm) => jsm.streams.add({ name: stream, subjects: ["disctail.>"] }));
    await publish(subject, feed.refresh());
    const putBack = await nats.copyStore(); // the store at 2 messages
    // Read to 4; stopped, 5 to 7 stored and purged; started again: the discard past 4 told. Then 8 read.
    const readToFourThenPurge = async () => {
      await publish(subject, deltas(2));
      await reader.start();
      await waitFor(() => lastRead(reader) === 4, "the reader read to sequence 4", 10_000);
      await reader.stop();
      await publish(subject, deltas(3));
      await nats.withJsm((jsm) => jsm.streams.purge(stream));
      await reader.start();
    };
    await readToFourThenPurge();
    await publish(subject, deltas(1));
    await waitFor(() => lastRead(reader) === 8, "the reader read sequence 8", 10_000);
    await reader.stop();
    // The store put back (the same stream, ending at 2): the lost tail told as the reader starts again, read on by time.
    await putBack();
    await readToFourThenPurge(); // sequences 3 and 4 again, new; 5 to 7 again, purged
    await reader.stop();
    expect(told()).toEqual([
      { kind: "stream_discontinuity", why: "discarded", lastRead: 4, firstSeq: 8, lastSeq: 7 },
      { kind: "stream_discontinuity", why: "truncated", lastRead: 8, firstSeq: 1, lastSeq: 4 }, // 3 and 4 stored before the start
      // Before, not told: the discard past 4 was told before the lost tail, the stream (its creation time) the same.
      { kind: "stream_discontinuity", why: "discarded", lastRead: 4, firstSeq: 8, lastSeq: 7 },
    ]);
  });
});
