/**
 * Second read of the NATS path (rev14), end to end: one datagram with a session start in the future (forged on the
 * network, or damaged with a matching CRC) passes the bridge's checks like any datagram. The reader ordered
 * upstream sessions per source and refused every message of an older one for good, so from then on every NATS
 * reader dropped the real publisher's whole feed (`refused.old_session`) and its subscribers kept the bogus
 * snapshot usable. On multicast a subscriber undoes such a session after two datagrams of the real one
 * (docs/wire-protocol.md §6.4); the reader now does too. Real parts: nats-server, the ForwardBridge on a loopback
 * multicast group (TTL 1), the reader (attachNats) feeding an unchanged FeedSubscriber.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FeedSubscriber, NatsFeedReader } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { packer, T0 } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { natsServerMissing } from "./nats-server.ts";
import { ReaderRig } from "./reader-rig.ts";

const missing = natsServerMissing();
const PREFIX = "rev14";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const G = uniqueDestination(141);

const rig = new ReaderRig({ prefix: PREFIX, groups: [G] });
let sub: FeedSubscriber;
let reader: NatsFeedReader;
/** Seals the packer's datagrams (a send time of their own) and sends them to the group in order. */
const send = (p: ChannelPacker) => rig.send(p, G, 1000);

beforeAll(async () => {
  if (missing) return;
  await rig.start();
  ({ sub, reader } = rig);
}, 30_000);

afterAll(() => rig.stop());

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
