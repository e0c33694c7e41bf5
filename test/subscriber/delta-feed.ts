/**
 * One book's stream for the subscriber's retransmission tests: its definition and snapshot (`head`), then `count`
 * random deltas, one datagram each, from rng(seed); and a datagram's copy flagged RETRANSMIT (no auth).
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import type { Instrument } from "../../src/core/types.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import { randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { packer, take, T0, type PackerSpec } from "./feed-harness.ts";

export function deltaFeed(inst: Instrument, seed: number, count: number, spec: PackerSpec = {}): { book: TestBook; head: Uint8Array[]; deltas: Uint8Array[]; p: ChannelPacker } {
  const p = packer(spec);
  const book = new TestBook(inst);
  const r = rng(seed);
  const s = randomBookSides(r, 40, 300_000);
  book.load(s.bids, s.asks, 1, T0);
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);
  packBookSnapshot(p, book, 0, false);
  const head = take(p);
  const cs = new ChangeSet();
  const deltas: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    randomChanges(r, book, cs, 5, 300_000);
    book.apply(cs, 2 + i, T0 + i);
    packBookDelta(p, book, cs);
    deltas.push(...take(p));
  }
  return { book, head, deltas, p };
}

/** A copy of `d` flagged RETRANSMIT (its CRC recomputed, no auth). */
export function flagged(d: Uint8Array): Uint8Array {
  const c = d.slice();
  markRetransmit(c, c.length, undefined);
  return c;
}
