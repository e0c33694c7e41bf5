/**
 * One upstream publisher stream (its own channel and source, one book) fed straight into a ForwardBridge, for the
 * NATS reader's silence tests (rev24-silent-stream, clock-step-nats): `refresh()` sends its definition and snapshot,
 * `heartbeat()` a heartbeat, each datagram 50 ms of send time after the last.
 */
import type { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { type makeInstrument, TestBook } from "../wire/helpers.ts";

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
