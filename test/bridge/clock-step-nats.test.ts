/**
 * The NATS reader's silence rules on a wall clock stepped back (an NTP step, a resumed VM). The reader timed
 * upstream envelopes, its silence checks and its own heartbeats with Date.now(): stepped back an hour, every stream's
 * last envelope lay an hour in the future, so one that died then was never silent (no gap) and its books stayed usable
 * at the far side for the hour while another stream kept the reader's stream alive. Now it uses the monotonic clock.
 * Real parts as in rev24-silent-stream.test.ts: nats-server, the ForwardBridge, the reader feeding a FeedSubscriber;
 * Date.now is stubbed to run an hour behind from the step on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import type { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { FeedSubscriber, NatsFeedReader } from "../../src/subscriber/index.ts";
import { waitFor } from "../e2e/harness.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { type NatsServer, natsServerMissing } from "./nats-server.ts";
import { bothLive, startSilenceParts, type SilenceParts, upstreamStream } from "./upstream-stream.ts";

const missing = natsServerMissing();
const PREFIX = "clockstep";
const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "linear", "ETHUSDT", 2, 4);

let nats: NatsServer;
let bridge: ForwardBridge;
let sub: FeedSubscriber;
let reader: NatsFeedReader;
const beats: ReturnType<typeof setInterval>[] = [];

beforeAll(async () => {
  if (missing) return;
  const parts: Partial<SilenceParts> = {};
  try {
    await startSilenceParts(PREFIX, parts);
  } finally {
    ({ nats, bridge, sub, reader } = parts as SilenceParts); // whatever started, for afterAll
  }
}, 30_000);

afterEach(() => vi.restoreAllMocks());

afterAll(async () => {
  for (const b of beats) clearInterval(b);
  await reader?.stop();
  await sub?.stop();
  await bridge?.stop();
  await nats?.stop();
});

const upstream = (channelId: number, sourceId: number, instrument: typeof X) => upstreamStream(() => bridge, channelId, sourceId, 700 + sourceId, instrument);

describe.skipIf(missing !== undefined)(`the NATS reader on a clock stepped back${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("an hour's step back: a stream that then goes silent is still a gap, its books not usable, the other's are", async () => {
    const s1 = upstream(3, 7, X);
    const s2 = upstream(4, 8, Y);
    const { b1 } = await bothLive(sub, s1, s2, X.instrumentId, Y.instrumentId, beats, "X and Y usable while both publishers are alive");
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000);
    clearInterval(b1); // X's publisher dies just after the step; Y's goes on
    await waitFor(
      () => sub.book(X.instrumentId)!.usable === false && sub.book(Y.instrumentId)!.usable === true,
      "X not usable (its stream silent), Y usable (refreshed), within 10 s of the step",
      10_000,
      () => s2.refresh(),
    );
    expect(reader.counters.streamsSilent).toBe(1);
  });
});
