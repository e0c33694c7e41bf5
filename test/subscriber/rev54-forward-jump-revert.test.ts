/**
 * rev54: the reader's undoing of one forged far-ahead forward number (s-netsec: `forwardJumpsReverted`, docs/nats.md
 * cites it) had no test. A wide (46-bit) line: a message numbered far ahead is a gap and moves the line; the real
 * envelopes after it, behind the new next, would all be refused as copies for good. Two of them continuing the line
 * from before the jump undo it: the first is refused (`repeated`), the second taken with a gap, and the line goes
 * on from there; a copy of an envelope already taken is still refused.
 */
import { describe, expect, test } from "vitest";
import { EnvelopeRepacker, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { makeInstrument } from "../wire/helpers.ts";
import { packer, take } from "./feed-harness.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const BRIDGE = 0x1234;
const START = 3 * 2 ** 40 + 5; // above 2^15 and 2^31: all 46 bits matter

/** An envelope of X's definition numbered n by bridge BRIDGE. */
function envelope(n: number): Uint8Array {
  const p = packer({ channelId: 2, sourceId: 9, sessionId: 77 });
  packInstrumentDefinition(p, new EncodedDefinition(X), false);
  const d = take(p)[0]!;
  const len = new DataView(d.buffer, d.byteOffset).getUint16(PACKET_HEADER_BYTES + MSG_LENGTH_OFFSET, true);
  return envelopeOf(d, 1000, PACKET_HEADER_BYTES, len, n, BRIDGE);
}

describe("reader: one forged forward number far ahead", () => {
  test("two envelopes continuing the line before it undo the jump; copies stay refused", () => {
    const r = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    expect(r.add(envelope(START), 1000)).toBe("ok");
    expect(r.add(envelope(START + 1), 1000)).toBe("ok");
    const gaps = r.counters.upstreamGaps;
    expect(r.add(envelope(START + 1_000_000), 1000)).toBe("ok"); // forged far ahead: a gap, taken
    expect(r.counters.upstreamGaps).toBe(gaps + 1);
    expect(r.add(envelope(START + 2), 1000)).toBe("repeated"); // the real line: one is not enough
    expect(r.add(envelope(START + 3), 1000)).toBe("ok"); // the second undoes the jump
    expect(r.counters.forwardJumpsReverted).toBe(1);
    expect(r.counters.upstreamGaps).toBe(gaps + 2);
    expect(r.add(envelope(START + 4), 1000)).toBe("ok"); // the line goes on, no gap
    expect(r.add(envelope(START + 5), 1000)).toBe("ok");
    expect(r.counters.upstreamGaps).toBe(gaps + 2);
    expect(r.add(envelope(START + 3), 1000)).toBe("repeated"); // a copy
    expect(r.add(envelope(START + 1_000_001), 1000)).toBe("ok"); // the forged line's next: a jump again, a gap
    expect(r.counters.upstreamGaps).toBe(gaps + 3);
    expect(r.counters.refused.repeated).toBe(2);
  });

  test("a real jump (envelopes lost) is kept: the line after it goes on", () => {
    const r = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    expect(r.add(envelope(START), 1000)).toBe("ok");
    expect(r.add(envelope(START + 40_000), 1000)).toBe("ok"); // 39,999 lost: a gap
    expect(r.add(envelope(START + 40_001), 1000)).toBe("ok");
    expect(r.add(envelope(START + 1), 1000)).toBe("repeated"); // late: behind the line, which is no longer pending
    expect(r.add(envelope(START + 2), 1000)).toBe("repeated");
    expect(r.counters.forwardJumpsReverted).toBe(0);
    expect(r.add(envelope(START + 40_002), 1000)).toBe("ok");
    expect(r.counters.upstreamGaps).toBe(1);
  });
});
