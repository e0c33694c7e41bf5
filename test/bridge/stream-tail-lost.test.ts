/**
 * A JetStream stream that lost its tail (2026-12-07): the same stream (same creation time) comes back from a NATS
 * server restart ending below the sequence the reader had read — a file store losing its tail in a crash, or
 * restored from an older copy (done here: the store directory copied while the server was stopped, put back later).
 * Before, the reader asked to go on after its old last sequence, the books shown usable with no gap: past the
 * stream's end, nats-server 2.9 (installed here) starts a consumer at the end; newer servers may keep the asked start,
 * passing over what the stream stores until it outgrows it (the loss seen only then, as a gap). Now it is a gap at
 * once (every book resyncs at its next snapshot), told with both sequences, and the reader reads on from the first
 * message stored after the last one it read.
 * Real parts: nats-server (stopped and restarted on its store), ForwardBridge, the reader (attachNats) feeding an
 * unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { FeedSubscriber, attachNats } from "../../src/subscriber/index.ts";
import type { NatsFeedReader, NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { waitFor } from "../e2e/harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { tailFeed } from "./tail-feed.ts";

const missing = natsServerMissing();
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const STREAM = "TAILLOST";

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
}, 30_000);

afterAll(async () => {
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

const lastRead = () => (reader as unknown as { lastJsMsg?: { info?: { streamSequence?: number } } }).lastJsMsg?.info?.streamSequence ?? 0;

describe.skipIf(missing !== undefined)(`a stream that lost its tail${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 40_000 }, () => {
  test("is a gap at once, told with both sequences; the reader reads what the stream stores from then on", async () => {
    const feed = await tailFeed(X, nats.url, "tail", STREAM, 700);
    bridge = feed.bridge;
    const { refresh, delta } = feed;
    const events: NatsReaderEvent[] = [];
    sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    await sub.start();
    // Idle looks every 100 ms: the reader finds the stream as it is soon after the server is back.
    reader = await attachNats(sub, { servers: nats.url, prefix: "tail", stream: STREAM, from: "all", reconnectAfterCloseMs: 100, onNatsEvent: (e) => events.push(e) });
    refresh();
    await waitFor(() => lastRead() === 2 && sub.book(X.instrumentId)?.usable === true, "X usable from the stream's 2 messages", 10_000);

    // The store as it is now (2 messages), copied while the server is stopped.
    const putBack = await nats.copyStore();
    await waitFor(() => bridge.health.natsConnected, "the bridge connected again", 10_000);
    for (let i = 0; i < 10; i++) delta();
    await waitFor(() => lastRead() === 12, "the reader read the 10 deltas (sequences 3 to 12)", 10_000);
    expect(sub.book(X.instrumentId)!.usable).toBe(true);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([]); // a restart alone is none

    // The store put back as it was: the same stream, ending at sequence 2.
    await putBack();
    await nats.streamAt(STREAM, 2);
    await waitFor(() => bridge.health.natsConnected, "the bridge connected again", 10_000);
    const envelopes = reader.counters.envelopes;
    // Told before anything new is stored. nats-server 2.9 places the client's own consumer, remade after the restart
    // at sequence 13, at the stream's end (3): new messages stored before the reader's look at the stream are read
    // through it, then the last of them again (passed over, not counted) by the consumer replacing it, from its time. Sent
    // before the look (until 2026-12-07), the counts below depended on which came first: 4 or 6 envelopes for 3 in 6
    // of 36 runs beside other files.
    await waitFor(() => events.some((e) => e.kind === "stream_discontinuity"), "the lost tail told", 10_000);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: 1, lastSeq: 2 }]);
    // A gap: X is not shown usable on what was read before (the subscriber cannot know what the lost tail held).
    expect(sub.book(X.instrumentId)!.usable).toBe(false);
    for (let i = 0; i < 3; i++) delta(); // sequences 3 to 5 again, new messages
    // The 3 new messages are read (not the 2 it had read before the tail, nor the stream's sequences again past 12).
    await waitFor(() => lastRead() === 5, "the reader read the new messages at sequences 3 to 5", 10_000);
    expect(reader.counters.envelopes - envelopes).toBe(3);
    expect(reader.counters.refused.repeated).toBe(0);
    refresh();
    await waitFor(() => sub.book(X.instrumentId)!.usable === true, "X usable again at its refresh", 10_000);
  });
});
