/**
 * One upstream publisher stream (its own channel and source, one book) fed straight into a ForwardBridge, for the
 * NATS reader's silence tests (rev24-silent-stream, clock-step-nats): `refresh()` sends its definition and snapshot,
 * `heartbeat()` a heartbeat, each datagram 50 ms of send time after the last.
 */
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { FeedSubscriber, attachNats, type NatsFeedReader } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { type makeInstrument, TestBook } from "../wire/helpers.ts";
import { waitFor } from "../e2e/harness.ts";
import { NatsServer } from "./nats-server.ts";

export function upstreamStream(bridge: () => ForwardBridge, channelId: number, sourceId: number, sessionId: number, instrument: ReturnType<typeof makeInstrument>) {
  const p: ChannelPacker = packer({ channelId, sourceId, sessionId, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const book = new TestBook(instrument);
  book.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  const through = () => {
    for (const d of take(p, (sendUs += 50_000))) bridge().onDatagram(d);
  };
  return {
    refresh(): void {
      packInstrumentDefinition(p, new EncodedDefinition(instrument), true);
      packBookSnapshot(p, book, 0, true);
      through();
    },
    heartbeat(): void {
      p.appendHeartbeat(0);
      through();
    },
  };
}

export interface SilenceParts {
  nats: NatsServer;
  bridge: ForwardBridge;
  sub: FeedSubscriber;
  reader: NatsFeedReader;
}

/**
 * The silence tests' parts: nats-server, a ForwardBridge on no group (upstream streams handed to its onDatagram), an
 * unchanged FeedSubscriber (default stale check) and the reader (attachNats, heartbeat 100 ms) feeding it. Each part
 * is set in `into` as it is made, so the caller's teardown stops whatever started if a later one fails.
 */
export async function startSilenceParts(prefix: string, into: Partial<SilenceParts>): Promise<void> {
  const nats = (into.nats = await NatsServer.start());
  const bridge = (into.bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix, log: silentLogger }));
  await bridge.start();
  const sub = (into.sub = new FeedSubscriber({ groups: [] }));
  await sub.start();
  into.reader = await attachNats(sub, { servers: nats.url, prefix, heartbeatIntervalMs: 100 });
}

type Stream = ReturnType<typeof upstreamStream>;

/** Heartbeats both streams every 50 ms (the intervals pushed to `beats`) and waits, refreshing both, until x and y are usable. */
export async function bothLive(sub: FeedSubscriber, s1: Stream, s2: Stream, x: number, y: number, beats: ReturnType<typeof setInterval>[], what: string) {
  const b1 = setInterval(() => s1.heartbeat(), 50);
  const b2 = setInterval(() => s2.heartbeat(), 50);
  beats.push(b1, b2);
  await waitFor(
    () => sub.book(x)?.usable === true && sub.book(y)?.usable === true,
    what,
    20_000,
    () => {
      s1.refresh();
      s2.refresh();
    },
  );
  return { b1, b2 };
}
