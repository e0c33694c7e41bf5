/**
 * What stall-timers.test.ts and stall-node-entry.ts (its subscriber under plain Node) both need: the stall itself and
 * one book's datagrams, built the same way in both processes (seeded, fixed send times: byte for byte equal).
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "./feed-harness.ts";

/**
 * The stall: longer than the stale limit (3 × HEARTBEAT_MS) and than the retransmission timeout, each by a margin a
 * loaded machine's timer lateness stays well inside. Halved from 2 s / 400 ms / 1 s (same ratios): the same verdicts,
 * half the busy wait.
 */
export const STALL_MS = 1_000;
/** Advertised by the heartbeat stream: the stale limit is 3 × this. */
export const HEARTBEAT_MS = 200;
/** The subscriber's retransmission timeout: the stall outlasts it. */
export const RETX_TIMEOUT_MS = STALL_MS / 2;
/** The book's stream (the heartbeats are on channel 1). */
export const BOOK_CHANNEL = 2;
export const STALL_INSTRUMENT = makeInstrument("bybit", "linear", "ETHUSDT", 2, 3);

export { stallThread } from "../support/stall-thread.ts";

/** Definition and snapshot, then 4 one-datagram deltas of STALL_INSTRUMENT on BOOK_CHANNEL. */
export function bookFeed(): { head: Uint8Array[]; deltas: Uint8Array[] } {
  const p = packer({ channelId: BOOK_CHANNEL });
  const book = new TestBook(STALL_INSTRUMENT);
  const r = rng(5);
  const s = randomBookSides(r, 20, 300_000);
  book.load(s.bids, s.asks, 1, T0);
  packInstrumentDefinition(p, new EncodedDefinition(STALL_INSTRUMENT), false);
  packBookSnapshot(p, book, 0, false);
  const head = take(p);
  const cs = new ChangeSet();
  const deltas: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    randomChanges(r, book, cs, 5, 300_000);
    book.apply(cs, 2 + i, T0 + i);
    packBookDelta(p, book, cs);
    deltas.push(...take(p));
  }
  return { head, deltas };
}
