/**
 * The reader heartbeats only while upstream is alive, so a dead publisher, bridge or NATS link makes the far side's
 * books stale (rev19). "Alive" was: something within 3 × the LARGEST heartbeat interval any envelope ever
 * advertised. One envelope claiming 65 535 ms (corrupted in the field, or forged) kept the reader heartbeating for
 * over 3 minutes after every later outage: books usable while the exchange moved on. Now it is per upstream stream,
 * from the intervals its last two envelopes advertised (the smaller), so even a damaged last envelope cannot
 * stretch it. Real parts: nats-server, the ForwardBridge's own connection (its datagrams handed to onDatagram), the
 * reader (attachNats) feeding an unchanged FeedSubscriber with its default stale check, and a plain NATS client
 * publishing the damaged envelope.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const PREFIX = "rev19l";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
let beat: ReturnType<typeof setInterval> | undefined;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: PREFIX, log: silentLogger });
  await bridge.start();
  sub = new FeedSubscriber({ groups: [] });
  await sub.start();
  reader = await attachNats(sub, { servers: nats.url, prefix: PREFIX, heartbeatIntervalMs: 100 });
}, 30_000);

afterAll(async () => {
  if (beat !== undefined) clearInterval(beat);
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`the reader's liveness${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("one envelope advertising a 65 s heartbeat does not keep the books alive after upstream stops", async () => {
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    let sendUs = T0;
    const x = new TestBook(X);
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packBookSnapshot(p, x, 0, false);
    for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    let sent = 0;
    const heartbeat = () => {
      sent++;
      p.appendHeartbeat(0);
      const d = take(p, (sendUs += 50_000))[0]!;
      bridge.onDatagram(d);
      return d;
    };
    beat = setInterval(heartbeat, 50); // the publisher, alive
    await waitFor(() => sub.book(X.instrumentId)?.usable === true, "X usable while upstream is alive");

    // The publisher dies; the last envelope the reader gets is a copy of its last heartbeat with the interval field
    // damaged (65 535 ms): within a few real intervals the reader stops heartbeating and X goes stale.
    clearInterval(beat);
    beat = undefined;
    const last = heartbeat();
    await waitFor(() => reader.counters.heartbeats >= sent, "every real heartbeat taken in");
    const { connect } = await import("@nats-io/transport-node");
    const nc = await connect({ servers: nats.url });
    nc.publish(`${PREFIX}._hb`, envelopeOf(last, 65_535, 0, 0, undefined, bridge.bridgeId));
    await nc.flush();
    await nc.close();
    await waitFor(() => reader.counters.heartbeats >= sent + 1, "the damaged copy taken in, last");
    await waitFor(() => sub.book(X.instrumentId)!.usable === false, "X stale once upstream stopped", 10_000);
    expect(sub.book(X.instrumentId)!.valid).toBe(true); // stale, not invalid: nothing was lost
  });
});
