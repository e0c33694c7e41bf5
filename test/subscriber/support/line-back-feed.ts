/**
 * The feed of the numbering-going-back tests (test/subscriber/rdsubc-line-back.test.ts, test/bridge/natsline-line-back.test.ts):
 * two instruments' books, one-bid deltas, X's head and deltas sent at chosen times, and the randomized network
 * (copies, reordering) that delivers them.
 */
import { ChangeSet } from "../../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../../src/wire/encoder.ts";
import { makeInstrument, randInt, TestBook } from "../../wire/helpers.ts";
import { packer, T0, take } from "../feed-harness.ts";

export const X = makeInstrument("bybit", "linear", "XUSDT", 1, 3);
export const Y = makeInstrument("bybit", "linear", "YUSDT", 1, 3);

export function book(inst: typeof X): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500], [943500, 20]], [[943504, 250], [943510, 1]], 1, T0);
  return b;
}

/** One bid of `b` set to `qty` at `px`, applied to `b` as its next venue event. */
export function delta(b: TestBook, px: number, qty: number): ChangeSet {
  const cs = new ChangeSet();
  cs.addBid(px, qty);
  b.apply(cs, b.venueSeq + 1, T0);
  return cs;
}

/** Each book's definition and snapshot packed on `p`, `send()` after each book. */
export function sendHeads(p: ReturnType<typeof packer>, books: TestBook[], send: () => unknown): void {
  for (const b of books) {
    packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
    packBookSnapshot(p, b, 0, false);
    send();
  }
}

/** X's head (definition, snapshot) sent at T0 and `count` deltas of X, one datagram each, sent at the given times. */
export function feed(p: ReturnType<typeof packer>, sendUs: (i: number) => number, count: number): { x: TestBook; head: Uint8Array[]; deltas: Uint8Array[] } {
  const x = book(X);
  packInstrumentDefinition(p, new EncodedDefinition(X), false);
  packBookSnapshot(p, x, 0, false);
  const head = take(p, T0);
  const deltas: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    packBookDelta(p, x, delta(x, 943500 - (i % 7), 10 + i));
    deltas.push(...take(p, sendUs(i)));
  }
  return { x, head, deltas };
}

/**
 * The network's order of `deltas`: each once or twice (a copy up to 3 places later); with `moveFirst`, the first one
 * is moved up to 2 places later too (a gap, then a late datagram).
 */
export function networkArrivals(r: () => number, deltas: Uint8Array[], moveFirst: boolean): Uint8Array[] {
  const arrivals: { at: number; d: Uint8Array }[] = [];
  deltas.forEach((d, i) => {
    arrivals.push({ at: i + (moveFirst && i > 0 && randInt(r, 0, 3) === 0 ? randInt(r, 1, 2) + 0.5 : 0), d });
    if (randInt(r, 0, 3) === 0) arrivals.push({ at: i + randInt(r, 0, 3) + 0.25, d });
  });
  arrivals.sort((a, b) => a.at - b.at);
  return arrivals.map((a) => a.d);
}
