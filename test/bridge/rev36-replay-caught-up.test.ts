/**
 * A NATS reader replaying a JetStream stream (from its start or a time) that reaches the stream's live end. s-flake3
 * gave replays alone the rule that a followed bridge silent by the upstream time another one brought is a gap (a
 * live reader's burst after a stall looks the same and lost nothing), but a replay reader kept it for good: once
 * caught up it reads live, and every burst after a stall of its thread was a gap, each book untrusted until its
 * refresh. Now the reader drops the rule at the first message with nothing pending on its consumer.
 * Real parts: nats-server with JetStream, a ForwardBridge keeping the stream, the NatsFeedReader.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { waitFor } from "../e2e/harness.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const PREFIX = "rev36r";
const STREAM = "REV36R";
let nats: NatsServer;
let bridge: ForwardBridge;
let reader: NatsFeedReader | undefined;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
  bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: PREFIX, jetstream: { stream: STREAM, maxAgeMs: 3_600_000, maxBytes: 64 << 20 }, log: silentLogger });
  await bridge.start();
}, 30_000);

afterAll(async () => {
  await reader?.stop();
  await bridge?.stop();
  await nats?.stop();
});

/** The reader's replay flag as the repacker reads it. */
const replayRule = (r: NatsFeedReader) => (r.repacker as unknown as { opts: { replay?: boolean } }).opts.replay === true;

describe.skipIf(missing !== undefined)(`a replay that catches up${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("a reader from the stream's start reads live once nothing is pending: the replay rule no longer applies", async () => {
    const p = packer({ channelId: 3, sourceId: 7, sessionId: 500, sessionStartUs: T0, heartbeatIntervalMs: 100 });
    const x = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    x.load([[943500, 10]], [[943501, 20]], 1, T0);
    packInstrumentDefinition(p, new EncodedDefinition(x.instrument), false);
    packBookSnapshot(p, x, 0, false);
    let sendUs = T0;
    for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    for (let i = 0; i < 30; i++) {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 100_000))) bridge.onDatagram(d);
    }
    const r = (reader = new NatsFeedReader({ servers: nats.url, prefix: PREFIX, stream: STREAM, from: "all" }, () => undefined));
    expect(replayRule(r)).toBe(true); // history first
    await r.start();
    await waitFor(() => r.counters.heartbeats >= 30, "the stream's history read", 20_000);
    // Old: still true, for good.
    await waitFor(() => !replayRule(r), "the replay rule dropped at the live end", 10_000);
    // Live from here: one more envelope is read as any live reader's.
    p.appendHeartbeat(0);
    for (const d of take(p, (sendUs += 100_000))) bridge.onDatagram(d);
    await waitFor(() => r.counters.heartbeats >= 31, "a live envelope", 10_000);
    expect(replayRule(r)).toBe(false);
  });
});
