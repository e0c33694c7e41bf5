/**
 * rev54: the reader's undoing of one forged far-ahead forward number (s-netsec: `forwardJumpsReverted`, docs/nats.md
 * cites it) had no test. A wide (46-bit) line: a message numbered far ahead is a gap and moves the line; the real
 * envelopes after it, behind the new next, would all be refused as copies for good. Two of them continuing the line
 * from before the jump undo it: the first is refused (`repeated`), the second taken with a gap, and the line goes
 * on from there; a copy of an envelope already taken is still refused. Since s-rd21b the undo starts a new session of
 * the reader's (what the forged envelope began is dropped by subscribers: below).
 */
import { describe, expect, test } from "vitest";
import { EnvelopeRepacker, envelopeOf } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { bidDelta, deepBook, envelopesOf, ingestAll, newSubscriber, packer, take, wideBidDelta } from "./feed-harness.ts";

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
    expect(r.add(envelope(START + 3), 1000)).toBe("new_session"); // the second undoes the jump (s-rd21b: in a new session of ours)
    expect(r.counters.forwardJumpsReverted).toBe(1);
    expect(r.counters.sessions).toBe(2);
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

/**
 * s-rd21b: what the forged envelope brought, as seen by a subscriber of the reader's feed. The jump's undo was only a
 * gap of the reader's stream, which the subscriber's own sequence took as a real jump (the reader's numbers go on
 * from it): an assembly the forged envelope began there (a split delta's part 0, a snapshot's chunk 0, at an instrSeq
 * forged far ahead) stayed, and kept the real ones out as an older event's or set's (every real split delta of the
 * book lost for good; the next real refresh lost). The multicast path untrusts such assemblies when it undoes a jump
 * (review-sequence.test.ts); the reader now starts a new session of its own at the undo, whose supersede drops them.
 */
describe("reader: what one forged forward number far ahead began is dropped at the undo", () => {
  const Y = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);
  const SMALL = 256; // a 30-level book takes several chunks, a 30-level delta several parts

  function rig(forge: (forger: ChannelPacker, fake: TestBook) => number) {
    const r = new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });
    const sub = newSubscriber();
    /** As the reader's flush: a new session's replaced packer first. */
    const add = (envs: Uint8Array[]) => {
      for (const env of envs) {
        expect(r.add(env, 1000)).toMatch(/^(ok|new_session|repeated)$/);
        if (r.pendingOld !== undefined) ingestAll(sub, take(r.pendingOld));
        r.pendingOld = undefined;
        r.carryGap();
        ingestAll(sub, take(r.packer));
      }
    };
    const up = packer({ channelId: 2, sourceId: 9, sessionId: 77, maxBytes: SMALL });
    let n = START;
    const send = () => {
      const envs = envelopesOf(take(up), n, BRIDGE);
      n += envs.length;
      add(envs);
    };
    const b = deepBook(Y);
    packInstrumentDefinition(up, new EncodedDefinition(Y), false);
    packBookSnapshot(up, b, 0, false);
    send();
    for (let i = 0; i < 2; i++) {
      packBookDelta(up, b, bidDelta(b, [[943000, 50 + i]]));
      send();
    }
    const sb = sub.book(Y.instrumentId)!;
    expect(sb.usable).toBe(true);
    const forger = packer({ channelId: 2, sourceId: 9, sessionId: 77, maxBytes: SMALL });
    const fake = deepBook(Y);
    fake.instrSeq = b.instrSeq + 1_000_000;
    expect(forge(forger, fake)).toBeGreaterThan(1);
    add(envelopesOf(take(forger), n + 1_000_000, BRIDGE).slice(0, 1)); // its chunk 0 or part 0 only
    for (let i = 0; i < 2; i++) {
      packBookDelta(up, b, bidDelta(b, [[943000, 60 + i]]));
      send(); // the first is refused (repeated), the second undoes the jump
    }
    expect(r.counters.forwardJumpsReverted).toBe(1);
    return { sub, up, b, sb, send };
  }

  test("a split delta: the real split deltas after the next refresh are applied", () => {
    const { up, b, sb, send } = rig((forger, fake) => packBookDelta(forger, fake, wideBidDelta(fake, 900)));
    packBookSnapshot(up, b, 0, true);
    send();
    expect(sb.usable).toBe(true);
    expect(packBookDelta(up, b, wideBidDelta(b, 70))).toBeGreaterThan(1);
    send();
    expect(levelsOf(sb)).toEqual(levelsOf(b)); // old: the real split delta's parts dropped as an older event's
    expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
  });

  test("a chunk set: the next real refresh loads the book", () => {
    const { up, b, sb, send } = rig((forger, fake) => packBookSnapshot(forger, fake, 0, false));
    expect(packBookSnapshot(up, b, 0, true)).toBeGreaterThan(1);
    send();
    expect(levelsOf(sb)).toEqual(levelsOf(b)); // old: the refresh's chunk 0 kept out as an older set's
    expect([sb.instrSeq, sb.usable]).toEqual([b.instrSeq, true]);
  });
});
