/**
 * The NATS reader packs each message before it judges it (the decoder's check runs on its copy in the packer), so a
 * message refused (bad_message) or dropped as another channel's older copy is taken out again (ChannelPacker.rewind):
 * the datagram it was packed into must go out as if it never came, the good messages before it intact. And the
 * decoder's check comes before the older-copy line is moved: a refused message's instrSeq must not become the line
 * another channel's real messages are judged by. Unit level: EnvelopeRepacker → the subscriber's ingest.
 */
import { describe, expect, test } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { ENVELOPE_BYTES, EnvelopeRepacker } from "../../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { BOOK_DELTA_BLOCK_BYTES, BOOK_INSTR_SEQ_OFFSET, LEVEL_QTY_OFFSET, MESSAGE_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { bidDelta, envelopesOf, newSubscriber, oneLevelBook, packer, T0, take } from "./feed-harness.ts";

const X = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const Y = makeInstrument("bybit", "spot", "ETHUSDT", 2, 4);

const book = oneLevelBook;
const delta = (b: TestBook, px: number, qty: number): ChangeSet => bidDelta(b, [[px, qty]]);

const newRepacker = () => new EnvelopeRepacker({ channelId: 1, sourceId: 65000, heartbeatIntervalMs: 200 });

describe("the NATS reader takes a message it packed out again", () => {
  test("refused after good messages in the open datagram: that datagram goes out with the good ones only", () => {
    const p = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const x = book(X, 943500);
    const y = book(Y, 3000);
    packInstrumentDefinition(p, new EncodedDefinition(X), false);
    packInstrumentDefinition(p, new EncodedDefinition(Y), false);
    packBookSnapshot(p, x, 0, false);
    packBookSnapshot(p, y, 0, false);
    const other = book(Y, 3000); // y itself stays at its snapshot
    packBookDelta(p, other, delta(other, 2999, 5)); // spoilt below
    const envs = envelopesOf(take(p), 1, 7);
    expect(envs).toHaveLength(5);
    new DataView(envs[4]!.buffer).setInt32(ENVELOPE_BYTES + MESSAGE_HEADER_BYTES + BOOK_DELTA_BLOCK_BYTES + LEVEL_QTY_OFFSET + 4, -1, true);

    const rep = newRepacker();
    const sub = newSubscriber();
    for (const e of envs.slice(0, 4)) expect(rep.add(e, 0)).toBe("ok");
    expect(rep.add(envs[4]!, 0)).toBe("bad_message"); // packed into the datagram holding the four, then taken out
    const datagrams = take(rep.packer);
    expect(datagrams).toHaveLength(1);
    // Seen failing (5: the refused message still in it) with rewind() not restoring the open datagram's message count
    // and length (test/subscriber/nats-bad-message-alone.test.ts, its datagram empty at the refusal, passed).
    expect(new DataView(datagrams[0]!.buffer).getUint16(PKT_MSG_COUNT_OFFSET, true)).toBe(4);
    for (const d of datagrams) sub.ingest(d, T0);
    expect(sub.counters.errors).toBe(0);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
    expect(levelsOf(sub.book(Y.instrumentId)!)).toEqual(levelsOf(y));
    expect(sub.book(Y.instrumentId)!.instrSeq).toBe(y.instrSeq);
    rep.carryGap(); // the refusal's gap, carried by a heartbeat when no message follows
    for (const d of take(rep.packer)) sub.ingest(d, T0);
    expect(sub.counters.gaps).toBe(1);
    expect(sub.book(Y.instrumentId)?.usable).toBe(false);
  });

  test("another channel's older copy after a good message in the open datagram: dropped, the good one intact", () => {
    // The publisher routes X to channels 1 and 2 (one session): channel 2's copy of a delta channel 1 already brought,
    // behind channel 1's next one, is an older copy (EnvelopeRepacker.olderCopy).
    const c1 = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const c2 = packer({ channelId: 2, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const x = book(X, 943500);
    for (const c of [c1, c2]) {
      packInstrumentDefinition(c, new EncodedDefinition(X), false);
      packBookSnapshot(c, x, 0, false);
    }
    for (const px of [943499, 943498]) {
      const cs = delta(x, px, 7);
      packBookDelta(c1, x, cs);
      packBookDelta(c2, x, cs);
    }
    const ch1 = envelopesOf(take(c1), 1, 7);
    const ch2 = envelopesOf(take(c2), 1, 7);

    const rep = newRepacker();
    const sub = newSubscriber();
    for (const e of ch1) expect(rep.add(e, 0)).toBe("ok");
    expect(rep.add(ch2[2]!, 0)).toBe("ok"); // the first delta again, from channel 2
    expect(rep.counters.olderCopies).toBe(1);
    expect(rep.counters.messages).toBe(4);
    const datagrams = take(rep.packer);
    // Seen failing (5: the copy still in it) with the older copy's rewind() removed.
    expect(new DataView(datagrams[0]!.buffer).getUint16(PKT_MSG_COUNT_OFFSET, true)).toBe(4);
    for (const d of datagrams) sub.ingest(d, T0);
    expect(sub.counters.errors).toBe(0);
    expect(sub.counters.instrSeqBackwards).toBe(0);
    expect(sub.book(X.instrumentId)?.usable).toBe(true);
    expect(levelsOf(sub.book(X.instrumentId)!)).toEqual(levelsOf(x));
  });

  test("a refused message's instrSeq beyond 2^53 does not make another channel's next message an older copy", () => {
    const c1 = packer({ channelId: 1, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const c2 = packer({ channelId: 2, sourceId: 0, sessionId: 5, sessionStartUs: T0 });
    const x = book(X, 943500);
    for (const c of [c1, c2]) {
      packInstrumentDefinition(c, new EncodedDefinition(X), false);
      packBookSnapshot(c, x, 0, false);
    }
    const cs = delta(x, 943499, 7);
    packBookDelta(c1, x, cs);
    packBookDelta(c2, x, cs);
    const ch1 = envelopesOf(take(c1), 1, 7);
    const ch2 = envelopesOf(take(c2), 1, 7);
    // Channel 1's delta with instrSeq 2^54: the decoder's UNSAFE_INTEGER.
    new DataView(ch1[2]!.buffer).setUint32(ENVELOPE_BYTES + MESSAGE_HEADER_BYTES + BOOK_INSTR_SEQ_OFFSET + 4, 0x0040_0000, true);

    const rep = newRepacker();
    for (const e of ch1.slice(0, 2)) expect(rep.add(e, 0)).toBe("ok");
    expect(rep.add(ch1[2]!, 0)).toBe("bad_message");
    // Channel 2's delta, the real next event: packed. Seen failing (dropped as an older copy, olderCopies 1) with the
    // older-copy check back before the decoder's check.
    expect(rep.add(ch2[2]!, 0)).toBe("ok");
    expect(rep.counters.olderCopies).toBe(0);
    expect(rep.counters.messages).toBe(3);
  });
});
