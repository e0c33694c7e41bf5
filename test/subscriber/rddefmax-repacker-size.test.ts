/**
 * The NATS reader's repacker publishes what it takes in as datagrams of its own stream (onto multicast in
 * `bridge from-nats`): its datagram maximum must hold every message a publisher sends whole, as the publisher's must
 * (publish.max_datagram_bytes ≥ 856, docs/wire-protocol.md §2). Before, a programmatic maxDatagramBytes of 256–855
 * was taken, and the longest instrument definitions were refused as `bad_message` (a well-formed message counted as
 * bad input, the book never named downstream).
 */
import { describe, expect, it } from "vitest";
import { EnvelopeRepacker, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MIN_PUBLISH_DATAGRAM_BYTES, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { packer, T0, take } from "./feed-harness.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
const LONGEST = { ...makeInstrument("bybit", "spot", "S".repeat(255), 7, 2), tickSize: "0.1".padEnd(255, "0"), lotSize: "0.01".padEnd(255, "0") };

/** The longest definition as a signed envelope, as a bridge with the key forwards it. */
function longestDefinitionEnvelope(): Uint8Array {
  const auth = new DatagramAuth(KEY);
  const p = packer({ maxBytes: MIN_PUBLISH_DATAGRAM_BYTES, auth });
  packInstrumentDefinition(p, new EncodedDefinition(LONGEST), false);
  const [d] = take(p);
  return envelopeOf(d!, 1000, PACKET_HEADER_BYTES, d!.length - PACKET_HEADER_BYTES - 16, undefined, 0, auth);
}

describe("EnvelopeRepacker: its datagram maximum", () => {
  it("below the one every definition fits is refused by name; at it, signed, the longest definition is repacked whole", () => {
    const opts = { channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200, authKey: KEY };
    // Before: built, and the envelope below refused as bad_message.
    expect(() => new EnvelopeRepacker({ ...opts, maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES - 1 })).toThrow(
      "maxDatagramBytes 855 is below 856, the smallest datagram that holds every instrument definition",
    );
    const r = new EnvelopeRepacker({ ...opts, maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES });
    expect(r.add(longestDefinitionEnvelope(), 1)).toBe("ok");
    const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, authKey: KEY, maxDatagramBytes: MIN_PUBLISH_DATAGRAM_BYTES });
    for (const d of take(r.packer, T0)) sub.ingest(d, T0);
    expect(sub.counters.errors).toBe(0);
    expect(sub.books.get(LONGEST.instrumentId)?.definition).toEqual(LONGEST);
  });
});
