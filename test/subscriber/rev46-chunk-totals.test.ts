/**
 * Every chunk of one snapshot carries the same totals (totalBidCount, totalAskCount) and cutFlags
 * (docs/wire-protocol.md §4.4: totals or cutFlags that differ between chunks make the assembly invalid, the
 * subscriber must not apply it). Before, only cutFlags were compared chunk by chunk; the totals only at the last
 * chunk, against that chunk's own, so a set whose first chunk announced other totals was applied as one snapshot
 * (and chunk 0's totals alone had been checked against maxLevelsPerSide). Now such a set is abandoned, counted.
 */
import { afterEach, expect, it } from "vitest";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { BOOK_PRICE_EXP_OFFSET, SNAP_TOTAL_ASK_COUNT_OFFSET, SNAP_TOTAL_BID_COUNT_OFFSET } from "../../src/wire/layout.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";
import { rewriteSnapshotU16 } from "./snapshot-fields.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

for (const [name, which, field] of [
  ["the first chunk announces one bid more than the rest", 0, SNAP_TOTAL_BID_COUNT_OFFSET],
  ["a middle chunk announces one ask more than the rest", 1, SNAP_TOTAL_ASK_COUNT_OFFSET],
] as const) {
  it(`${name}: the set is abandoned, never applied`, () => {
    const pub = deepBook(20);
    const p = packer({ maxBytes: 320 });
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 0, false);
    const datagrams = take(p);
    expect(datagrams.length).toBeGreaterThan(3); // 4 chunks of 12 levels or fewer (320-byte datagrams)
    rewriteSnapshotU16(datagrams, field, (v, chunk) => (chunk === which ? v + 1 : v));
    sub = newSubscriber();
    for (const d of datagrams) sub.ingest(d, T0);
    // Old: applied (the last chunk's totals matched the sums), the book valid.
    expect(sub.counters.snapshotsAbandoned).toBeGreaterThan(0); // the set, then each orphaned chunk after it
    expect(sub.book(pub.instrument.instrumentId)?.valid ?? false).toBe(false);
    expect(sub.counters.rejected.bad_message ?? 0).toBe(0); // each chunk is well-formed on its own
  });
}

// Exponents (s-subrd): the chunks of one snapshot carry its instrSeq, so its exponents too (an exponent change takes
// a new instrSeq, §5.8). A set whose last chunk (valid CRC) said other exponents than chunk 0 was loaded valid and
// usable: chunk 0's mantissas shown under the last chunk's exponents (prices 10 times too small here).
for (const [name, which] of [
  ["the last chunk says priceExp + 1", -1],
  ["a middle chunk says priceExp + 1", 1],
] as const) {
  it(`${name}: the set is abandoned, never loaded in mixed units`, () => {
    const pub = deepBook(20);
    const p = packer({ maxBytes: 320 });
    packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
    packBookSnapshot(p, pub, 0, false);
    const datagrams = take(p);
    let chunks = 0;
    rewriteSnapshotU16(datagrams, BOOK_PRICE_EXP_OFFSET, (v, chunk) => ((chunks = chunk + 1), v)); // counts them
    expect(chunks).toBeGreaterThan(3); // 12 levels or fewer a chunk (320-byte datagrams)
    const at = which < 0 ? chunks - 1 : which;
    // The u16 at the exponents' offset: priceExp the low byte, qtyExp the high one.
    rewriteSnapshotU16(datagrams, BOOK_PRICE_EXP_OFFSET, (v, chunk) => (chunk === at ? (v & 0xff00) | ((v + 1) & 0xff) : v));
    sub = newSubscriber();
    for (const d of datagrams) sub.ingest(d, T0);
    expect(sub.counters.rejected.bad_message ?? 0).toBe(0); // each chunk is well-formed on its own
    const book = sub.book(pub.instrument.instrumentId)!;
    // Old: valid (usable), its levels chunk 0's mantissas at priceExp 3 where they were sent at 2.
    expect(book.valid).toBe(false);
    expect(book.usable).toBe(false);
    expect(sub.counters.snapshotsAbandoned).toBeGreaterThan(0);
    // The next snapshot (all chunks alike) loads it in the publisher's units.
    packBookSnapshot(p, pub, 0, true);
    for (const d of take(p)) sub.ingest(d, T0);
    expect(book.usable).toBe(true);
    expect(book.instrument.priceExp).toBe(pub.instrument.priceExp);
  });
}

it("the same snapshot unmodified is applied (the totals agree in every chunk)", () => {
  const pub = deepBook(20);
  const p = packer({ maxBytes: 320 });
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 0, false);
  sub = newSubscriber();
  for (const d of take(p)) sub.ingest(d, T0);
  expect(sub.counters.snapshotsAbandoned).toBe(0);
  expect(sub.book(pub.instrument.instrumentId)!.usable).toBe(true);
});
