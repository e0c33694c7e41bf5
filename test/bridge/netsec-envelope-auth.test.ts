/**
 * Envelopes on NATS were unauthenticated: the bridge checked each datagram's HMAC (--auth-key-file) and then
 * published its messages bare, so anyone allowed to publish on `<prefix>.>` could put a book of their own making
 * into every reader. A client that subscribes learns the bridge id and the next forward number from any envelope;
 * a snapshot forged with them, a higher instrSeq and made-up levels was repacked like the bridge's own, and the
 * far side's subscriber showed it usable. Now a keyed bridge signs every envelope (version 3: a 16-byte HMAC
 * trailer) and a keyed reader refuses any envelope without a valid one (`refused.bad_auth`); the key thus covers
 * the feed end to end, and a keyed reader signs the datagrams it repacks, for keyed subscribers behind it.
 * Real parts: nats-server, the ForwardBridge's own connection (datagrams handed to onDatagram), a keyed reader
 * feeding two unchanged FeedSubscribers (one keyed), a reader without the key, and a plain NATS client as the forger.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, NatsFeedReader, attachNats } from "../../src/subscriber/index.ts";
import { ENV_BRIDGE_ID_OFFSET, ENV_FORWARD_SEQ_HIGH_OFFSET, ENV_FORWARD_SEQ_OFFSET, FORWARD_SEQ_MASK, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";
import { RecordedBridge } from "./recorded-bridge.ts";

const missing = natsServerMissing();
const PREFIX = "netsec";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const KEY = new Uint8Array(32).fill(7);

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let keyedSub: FeedSubscriber;
let plainSub: FeedSubscriber;
let reader: NatsFeedReader;
let plainReader: NatsFeedReader;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: PREFIX, authKey: KEY, log: silentLogger });
  await bridge.start();
  // A keyed reader feeding a subscriber without the key and one with it, and a reader without the key (it reads
  // signed envelopes, unverified, as before).
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  keyedSub = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY });
  await sub.start();
  await keyedSub.start();
  reader = new NatsFeedReader({ servers: nats.url, prefix: PREFIX, authKey: KEY }, (d) => {
    sub.ingest(d);
    keyedSub.ingest(d);
  });
  await reader.start();
  plainSub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
  await plainSub.start();
  plainReader = await attachNats(plainSub, { servers: nats.url, prefix: PREFIX });
}, 30_000);

afterAll(async () => {
  await reader?.stop();
  await plainReader?.stop();
  await sub?.stop();
  await keyedSub?.stop();
  await plainSub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`envelopes signed end to end${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("a snapshot forged on the subject (right bridge id and number) never reaches a keyed reader's books", async () => {
    const { connect } = await import("@nats-io/transport-node");
    const forger = await connect({ servers: nats.url });
    let last: Uint8Array | undefined;
    forger.subscribe(`${PREFIX}.>`, { callback: (_err, msg) => void (last = msg.data.slice()) });
    await forger.flush();

    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, auth: new DatagramAuth(KEY) });
    let sendUs = T0;
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    p.appendHeartbeat(0);
    for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    await waitFor(() => sub.book(X.instrumentId)?.usable === true && plainSub.book(X.instrumentId)?.usable === true, "X usable through both readers");
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    await waitFor(() => last !== undefined && last.length <= 56, "the forger heard the bridge's heartbeat");

    // What the forger read: the bridge id and the next number (a heartbeat carries it).
    const dv = new DataView(last!.buffer, last!.byteOffset, last!.byteLength);
    const high = dv.getUint32(ENV_FORWARD_SEQ_HIGH_OFFSET, true) & 0x7fff_ffff; // 0 from a bridge before the field
    const nextForward = high * (FORWARD_SEQ_MASK + 1) + (dv.getUint16(ENV_FORWARD_SEQ_OFFSET, true) & FORWARD_SEQ_MASK);
    const bridgeId = dv.getUint32(ENV_BRIDGE_ID_OFFSET, true);
    const fake = new TestBook(X);
    fake.load([[100, 1]], [[101, 1]], 5, T0);
    const f = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0 });
    packBookSnapshot(f, fake, 0, false);
    const d = take(f, (sendUs += 1000))[0]!;
    const msgLen = new DataView(d.buffer).getUint16(PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET, true);
    const refusedBefore = reader.counters.refused.bad_auth ?? 0;
    const messagesBefore = reader.counters.messages;
    forger.publish(`${PREFIX}.bybit.linear.BTCUSDT`, envelopeOf(d, 1000, PACKET_HEADER_BYTES, msgLen, nextForward, bridgeId));
    await forger.flush();
    await forger.close();
    await waitFor(() => (reader.counters.refused.bad_auth ?? 0) > refusedBefore || reader.counters.messages > messagesBefore, "the forged envelope reached the keyed reader");

    // The real feed goes on: its next heartbeat is taken in after the forgery.
    const beats = reader.counters.heartbeats;
    p.appendHeartbeat(0);
    for (const dg of take(p, (sendUs += 1000))) bridge.onDatagram(dg);
    await waitFor(() => reader.counters.heartbeats > beats, "the real heartbeat after the forgery");
    const book = sub.book(X.instrumentId)!;
    expect(levelsOf(book)).toEqual(levelsOf(x)); // before: the forged levels, instrSeq 5, usable
    expect(book.instrSeq).toBe(1);
    expect(book.usable).toBe(true);
    expect(reader.counters.refused.bad_auth).toBe(refusedBefore + 1);
    expect(reader.counters.messages).toBe(messagesBefore);
  });

  test("a keyed subscriber behind the keyed reader takes its datagrams (signed with the key)", async () => {
    await waitFor(() => keyedSub.book(X.instrumentId)?.usable === true, "X usable at the keyed subscriber");
    expect(levelsOf(keyedSub.book(X.instrumentId)!)).toEqual(levelsOf(sub.book(X.instrumentId)!));
    expect(keyedSub.counters.rejected.bad_auth ?? 0).toBe(0);
  });
});

describe("a bridge without the key given signed datagrams", () => {
  // The publisher signs, to-nats was given no key (a --group command line, a -c file without the key): it forwards
  // unchecked and publishes unsigned envelopes, so keyless readers downstream cannot tell. Before, nothing said so.
  test("warns once that it forwards them unverified; unsigned datagrams say nothing", async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg), child: () => log };
    const b = new RecordedBridge({ groups: [], servers: "nats://127.0.0.1:1", prefix: PREFIX, log });
    await b.start();
    const heartbeat = (auth?: DatagramAuth) => {
      const p = packer({ auth });
      p.appendHeartbeat(0);
      return take(p)[0]!;
    };
    b.onDatagram(heartbeat());
    expect(warnings).toEqual([]);
    b.onDatagram(heartbeat(new DatagramAuth(KEY)));
    b.onDatagram(heartbeat(new DatagramAuth(KEY)));
    expect(b.counters.datagrams).toBe(3);
    expect(warnings.length, JSON.stringify(warnings)).toBe(1);
    expect(warnings[0]).toMatch(/signed but this bridge has no key/);
    await b.stop();
  });
});
