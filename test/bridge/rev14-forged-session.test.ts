/**
 * Second read of the NATS path (rev14), end to end: one datagram with a session start in the future (forged on the
 * network, or damaged with a matching CRC) passes the bridge's checks like any datagram. The reader ordered
 * upstream sessions per source and refused every message of an older one for good, so from then on every NATS
 * reader dropped the real publisher's whole feed (`refused.old_session`) and its subscribers kept the bogus
 * snapshot usable. On multicast a subscriber undoes such a session after two datagrams of the real one
 * (docs/wire-protocol.md §6.4); the reader now does too. Real parts: nats-server, the ForwardBridge on a loopback
 * multicast group (TTL 1), the reader (attachNats) feeding an unchanged FeedSubscriber.
 */
import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const PREFIX = "rev14";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const G = uniqueDestination(141);

let nats: NatsServer;
let forward: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
let sender: dgram.Socket;
let sendUs = T0;

/** Seals the packer's datagrams (a send time of their own) and sends them to the group in order. */
function send(p: ChannelPacker): Promise<void> {
  const ds = take(p, (sendUs += 1000));
  return ds.reduce((prev, d) => prev.then(() => new Promise<void>((resolve, reject) => sender.send(d, G.port, G.group, (err) => (err ? reject(err) : resolve())))), Promise.resolve());
}

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  forward = new ForwardBridge({ groups: [{ ...G, iface: "127.0.0.1" }], servers: nats.url, prefix: PREFIX, log: silentLogger });
  await forward.start();
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  await sub.start();
  reader = await attachNats(sub, { servers: nats.url, prefix: PREFIX });
  sender = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", () => resolve()));
  sender.setMulticastInterface("127.0.0.1");
  sender.setMulticastTTL(1);
}, 30_000);

afterAll(async () => {
  sender?.close();
  await reader?.stop();
  await sub?.stop();
  await forward?.stop();
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`NATS reader and one bogus upstream session${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("the real publisher's feed goes on through NATS after one datagram of a future session", async () => {
    const real = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0 });
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(real, new EncodedDefinition(X), false);
    packBookSnapshot(real, x, 0, false);
    await send(real);
    real.appendHeartbeat(0);
    await send(real);
    await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable");

    // One datagram of the same source claiming a session started an hour later, with made-up levels.
    const forger = packer({ channelId: 3, sourceId: 7, sessionId: 1, sessionStartUs: T0 + 3_600_000_000 });
    const fake = new TestBook(X);
    fake.load([[100, 1]], [[101, 1]], 1, T0);
    packBookSnapshot(forger, fake, 0, false);
    await send(forger);
    await waitFor(() => reader.counters.sessions >= 2, "the reader took the bogus session in");

    // The real publisher goes on: its refreshes must reach the subscriber again.
    for (let i = 0; i < 3; i++) {
      x.load([[943600 + i, 10]], [[943700, 20]], 2 + i, T0);
      packInstrumentDefinition(real, new EncodedDefinition(X), true);
      packBookSnapshot(real, x, 0, true);
      await send(real);
    }
    await waitFor(() => reader.counters.messages + reader.counters.refused.old_session >= 2 + 1 + 6, "the real refreshes reached the reader");
    await waitFor(() => sub.book(X.instrumentId)!.usable && sub.book(X.instrumentId)!.instrSeq === x.instrSeq, "X usable at the real publisher's last refresh", 5000);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    expect(reader.counters.sessionsReverted).toBe(1);
  });
});
