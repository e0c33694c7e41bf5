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
import {
  MESSAGE_HEADER_BYTES,
  MSG_LENGTH_OFFSET,
  MSG_TEMPLATE_ID_OFFSET,
  PACKET_HEADER_BYTES,
  PKT_MSG_COUNT_OFFSET,
  SNAP_TOTAL_ASK_COUNT_OFFSET,
  SNAP_TOTAL_BID_COUNT_OFFSET,
  TEMPLATE_BOOK_SNAPSHOT,
} from "../../src/wire/layout.ts";
import { resealCrc } from "../wire/helpers.ts";
import { deepBook } from "./cut-books.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

/** Adds `add` to the u16 at root-block offset `field` of snapshot chunk `which` (checksums resealed). */
function bumpChunkField(datagrams: Uint8Array[], which: number, field: number, add: number): void {
  let chunk = 0;
  for (const d of datagrams) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let off = PACKET_HEADER_BYTES;
    for (let i = 0, n = dv.getUint16(PKT_MSG_COUNT_OFFSET, true); i < n; i++) {
      if (dv.getUint16(off + MSG_TEMPLATE_ID_OFFSET, true) === TEMPLATE_BOOK_SNAPSHOT && chunk++ === which) {
        const at = off + MESSAGE_HEADER_BYTES + field;
        dv.setUint16(at, dv.getUint16(at, true) + add, true);
      }
      off += dv.getUint16(off + MSG_LENGTH_OFFSET, true);
    }
    resealCrc(d);
  }
}

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
    bumpChunkField(datagrams, which, field, 1);
    sub = newSubscriber();
    for (const d of datagrams) sub.ingest(d, T0);
    // Old: applied (the last chunk's totals matched the sums), the book valid.
    expect(sub.counters.snapshotsAbandoned).toBeGreaterThan(0); // the set, then each orphaned chunk after it
    expect(sub.book(pub.instrument.instrumentId)?.valid ?? false).toBe(false);
    expect(sub.counters.rejected.bad_message ?? 0).toBe(0); // each chunk is well-formed on its own
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
