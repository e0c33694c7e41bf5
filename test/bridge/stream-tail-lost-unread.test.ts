/**
 * A JetStream stream that lost its tail under a reader that has read nothing yet (`--from now` on a quiet stream): the
 * reader is positioned only by its start sequence (after the stream's last message when it started). Before, the lost
 * tail was not seen for it: its consumer, asked to start past the stream's end, was placed by the server's version
 * (nats-server 2.9, installed here, starts it at the end; newer servers may keep the asked start, passing over what
 * the stream stores until it outgrows it). Now it is told as for a reader that read (stream-tail-lost.test.ts),
 * with the start's sequence as lastRead, and the reader reads on after the stream's last message.
 * Real parts: nats-server (its store restored from an older copy), ForwardBridge, the reader feeding a FeedSubscriber.
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
const STREAM = "TAILUNREAD";

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

describe.skipIf(missing !== undefined)(`a stream that lost its tail under a reader that read nothing${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 40_000 }, () => {
  test("is told with the start's sequence; the reader reads what the stream stores from then on", async () => {
    const feed = await tailFeed(X, nats.url, "unread", STREAM, 701);
    bridge = feed.bridge;
    const { refresh, delta } = feed;
    refresh();
    await nats.streamAt(STREAM, 2);

    // The store at 2 messages, copied while the server is stopped; then 10 more: the stream at 12.
    const putBack = await nats.copyStore();
    await waitFor(() => bridge.health.natsConnected, "the bridge connected again", 10_000);
    for (let i = 0; i < 10; i++) delta();
    await nats.streamAt(STREAM, 12);

    // A `now` reader: started after sequence 12, nothing read (the stream quiet).
    const events: NatsReaderEvent[] = [];
    sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    await sub.start();
    reader = await attachNats(sub, { servers: nats.url, prefix: "unread", stream: STREAM, reconnectAfterCloseMs: 100, onNatsEvent: (e) => events.push(e) });

    // The store put back as it was: the same stream, ending at sequence 2.
    await putBack();
    await nats.streamAt(STREAM, 2);
    await waitFor(() => events.some((e) => e.kind === "stream_discontinuity"), "the lost tail told", 10_000);
    expect(events.filter((e) => e.kind === "stream_discontinuity")).toEqual([{ kind: "stream_discontinuity", why: "truncated", lastRead: 12, firstSeq: expect.any(Number), lastSeq: 2, unread: true }]);
    expect(lastRead()).toBe(0);

    // What the stream stores from then on (sequences 3 to 5: before, passed over on a server keeping a start past the end) is read.
    await waitFor(() => bridge.health.natsConnected, "the bridge connected again", 10_000);
    refresh();
    delta();
    await waitFor(() => lastRead() === 5, "the reader read sequences 3 to 5", 10_000);
    await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable from its refresh", 10_000);
  });
});
