/**
 * Envelopes published straight to a JetStream stream, for the stream reader's tests (stream-reread, stream-tail-*):
 * X's refresh and deltas as version 1 envelopes (no forward number: nothing but the stream's order tells them apart).
 */
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { Instrument } from "../../src/core/types.ts";
import { ENV_VERSION_OFFSET, ENV_VERSION_1, ENVELOPE_BYTES, ENVELOPE_V1_BYTES, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { packer, T0, take } from "../subscriber/feed-harness.ts";
import { TestBook } from "../wire/helpers.ts";

/** X's refresh (definition, snapshot) and deltas as version 1 envelopes (32-byte header, no forward number), one per message. */
export function v1Feed(X: Instrument): { refresh(): Uint8Array[]; delta(): Uint8Array[] } {
  const p = packer({ channelId: 3, sourceId: 7, sessionId: 702, sessionStartUs: T0, heartbeatIntervalMs: 100 });
  const x = new TestBook(X);
  x.load([[943500, 10]], [[943501, 20]], 1, T0);
  let sendUs = T0;
  const envelopes = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (const d of take(p, (sendUs += 10_000))) {
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      let off = PACKET_HEADER_BYTES;
      for (let m = 0; m < dv.getUint16(PKT_MSG_COUNT_OFFSET, true); m++) {
        const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
        const v2 = envelopeOf(d, 100, off, len);
        const v1 = new Uint8Array(ENVELOPE_V1_BYTES + len);
        v1.set(v2.subarray(0, ENVELOPE_V1_BYTES));
        v1.set(v2.subarray(ENVELOPE_BYTES), ENVELOPE_V1_BYTES);
        v1[ENV_VERSION_OFFSET] = ENV_VERSION_1;
        out.push(v1);
        off += len;
      }
    }
    return out;
  };
  return {
    refresh: () => {
      packInstrumentDefinition(p, new EncodedDefinition(X), true);
      packBookSnapshot(p, x, 0, true);
      return envelopes();
    },
    delta: () => {
      const cs = new ChangeSet();
      cs.addBid(943400 - x.venueSeq, 7);
      x.apply(cs, x.venueSeq + 1, T0);
      packBookDelta(p, x, cs);
      return envelopes();
    },
  };
}

/** Publishes `envs` to `subject` in order, all sent before the first ack is awaited (likely stored in one millisecond). */
export async function publish(url: string, subject: string, envs: Uint8Array[]): Promise<void> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstream } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url });
  try {
    const js = jetstream(nc);
    await Promise.all(envs.map((e) => js.publish(subject, e)));
  } finally {
    await nc.close();
  }
}
