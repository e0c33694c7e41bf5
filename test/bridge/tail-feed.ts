/**
 * One book X fed straight into a started ForwardBridge writing to a JetStream stream (checked every 100 ms): refresh()
 * sends X's definition and snapshot, delta() one change; each its own send time (one sent in the µs of the last is a
 * copy the bridge drops). Shared by the stream-tail-lost tests.
 */
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { Instrument } from "../../src/core/types.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { TestBook } from "../wire/helpers.ts";

export interface TailFeed {
  bridge: ForwardBridge;
  refresh(): void;
  delta(): void;
}

export async function tailFeed(X: Instrument, servers: string, prefix: string, stream: string, sessionId: number): Promise<TailFeed> {
  const bridge = new ForwardBridge({ groups: [], servers, prefix, jetstream: { stream, maxAgeMs: 0, maxBytes: 64 << 20, checkIntervalMs: 100 }, log: silentLogger });
  await bridge.start();
  const p = packer({ channelId: 3, sourceId: 7, sessionId, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const x = new TestBook(X);
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  const through = () => {
    for (const d of take(p, (sendUs += 10_000))) bridge.onDatagram(d);
  };
  return {
    bridge,
    refresh: () => {
      packInstrumentDefinition(p, new EncodedDefinition(X), true);
      packBookSnapshot(p, x, 0, true);
      through();
    },
    delta: () => {
      const cs = new ChangeSet();
      cs.addBid(943400 - x.venueSeq, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
      through();
    },
  };
}
