/** Test harness for the subscriber: real packers and encoders per (channel, session) feeding FeedSubscriber.ingest(). */
import { FeedSubscriber, type FeedSubscriberOptions } from "../../src/subscriber/index.ts";
import type { DatagramAuth } from "../../src/wire/auth.ts";
import { envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";

export const T0 = 1_764_000_000_000_000;

export interface PackerSpec {
  channelId?: number;
  sourceId?: number;
  sessionId?: number;
  sessionStartUs?: number;
  heartbeatIntervalMs?: number;
  maxBytes?: number;
  auth?: DatagramAuth;
}

export function packer(spec: PackerSpec = {}): ChannelPacker {
  return new ChannelPacker(spec.maxBytes ?? 1400, spec.channelId ?? 1, spec.sourceId ?? 0, spec.sessionId ?? 11, {
    sessionStartUs: spec.sessionStartUs ?? T0,
    heartbeatIntervalMs: spec.heartbeatIntervalMs ?? 1000,
    auth: spec.auth,
  });
}

/** Seals the packer's pending datagrams and returns copies of them (the packer is cleared). */
export function take(p: ChannelPacker, sendTimeUs = T0): Uint8Array[] {
  p.seal(sendTimeUs);
  const out: Uint8Array[] = [];
  for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
  p.clear();
  return out;
}

export function newSubscriber(opts: Partial<FeedSubscriberOptions> = {}): FeedSubscriber {
  return new FeedSubscriber({ groups: [], staleAfterMs: 0, ...opts });
}

export function ingestAll(sub: FeedSubscriber, datagrams: Uint8Array[]): void {
  for (const d of datagrams) sub.ingest(d, T0 + 50);
}

/** A NATS envelope per message of the datagrams (as a bridge forwards them), numbered from `firstSeq` by bridge `bridgeId`. */
export function envelopesOf(datagrams: Uint8Array[], firstSeq: number, bridgeId: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const d of datagrams) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let off = PACKET_HEADER_BYTES;
    for (let m = 0; m < dv.getUint16(PKT_MSG_COUNT_OFFSET, true); m++) {
      const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      out.push(envelopeOf(d, 1000, off, len, firstSeq + out.length, bridgeId));
      off += len;
    }
  }
  return out;
}
