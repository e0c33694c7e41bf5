/**
 * A JetStream stream that lost its tail under a reader that has read nothing yet (`--from now` on a quiet stream): the
 * reader is positioned only by its start sequence (after the stream's last message when it started). Before, the lost
 * tail was not seen for it: its consumer, asked to start past the stream's end, was placed by the server's version
 * (nats-server 2.9, installed here, starts it at the end; newer servers may keep the asked start, passing over what
 * the stream stores until it outgrows it). Now it is told as for a reader that read (stream-tail-lost.test.ts),
 * with the start's sequence as lastRead, and the reader reads on after the stream's last message.
 * Real parts: nats-server (its store restored from an older copy), ForwardBridge, the reader feeding a FeedSubscriber.
 */
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { FeedSubscriber, attachNats } from "../../src/subscriber/index.ts";
import type { NatsFeedReader, NatsReaderEvent } from "../../src/subscriber/nats-source.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

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
    bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "unread", jetstream: { stream: STREAM, maxAgeMs: 0, maxBytes: 64 << 20, checkIntervalMs: 100 }, log: silentLogger });
    await bridge.start();
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 701, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    let sendUs = T0;
    const through = () => {
      for (const d of take(p, (sendUs += 10_000))) bridge.onDatagram(d);
    };
    const refresh = () => {
      packInstrumentDefinition(p, new EncodedDefinition(X), true);
      packBookSnapshot(p, x, 0, true);
      through();
    };
    const delta = () => {
      const cs = new ChangeSet();
      cs.addBid(943400 - x.venueSeq, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
      through();
    };
    refresh();
    await nats.streamAt(STREAM, 2);

    // The store at 2 messages, copied while the server is stopped; then 10 more: the stream at 12.
    const store = join(nats.storeDir, "jetstream");
    const copy = join(nats.storeDir, "copy");
    await nats.stop();
    cpSync(store, copy, { recursive: true });
    await nats.restart();
    await waitFor(() => bridge.health.natsConnected, "the bridge connected again", 10_000);
    for (let i = 0; i < 10; i++) delta();
    await nats.streamAt(STREAM, 12);

    // A `now` reader: started after sequence 12, nothing read (the stream quiet).
    const events: NatsReaderEvent[] = [];
    sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
    await sub.start();
    reader = await attachNats(sub, { servers: nats.url, prefix: "unread", stream: STREAM, reconnectAfterCloseMs: 100, onNatsEvent: (e) => events.push(e) });

    // The store put back as it was: the same stream, ending at sequence 2.
    await nats.stop();
    rmSync(store, { recursive: true, force: true });
    cpSync(copy, store, { recursive: true });
    rmSync(copy, { recursive: true, force: true });
    await nats.restart();
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
