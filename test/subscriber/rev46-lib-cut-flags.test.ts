/**
 * decodeDatagram (the library's allocating decoder for tools) returns a snapshot's `cutFlags`, documented as
 * SNAP_CUT_* bits; before, "feeder/subscriber" exported no such names (they were in src/wire/layout.ts only, which
 * the package does not export), so a consumer of the package had to copy the values from the spec. Now the
 * library exports them.
 */
import { expect, it } from "vitest";
import * as lib from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { deepBook } from "./cut-books.ts";
import { packer, take } from "./feed-harness.ts";

it("feeder/subscriber exports the cutFlags bits a decoded snapshot carries", () => {
  const { SNAP_CUT_MARKED, SNAP_CUT_BIDS, SNAP_CUT_ASKS } = lib as unknown as Record<string, number | undefined>;
  // Old: all three undefined.
  expect([SNAP_CUT_MARKED, SNAP_CUT_BIDS, SNAP_CUT_ASKS]).toEqual([0x8000, 0x0001, 0x0002]); // §4.4's table
  const pub = deepBook(6);
  pub.asks.clear(); // no asks: a side sent whole
  (pub as unknown as { dirty: boolean }).dirty = true;
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  packBookSnapshot(p, pub, 3, false);
  const flags: number[] = [];
  for (const d of take(p)) {
    const r = lib.decodeDatagram(d);
    if (!r.ok) throw r.error;
    for (const m of r.packet.messages) if (m.type === "snapshot") flags.push(m.cutFlags);
  }
  expect(flags.map((f) => [(f & SNAP_CUT_MARKED!) !== 0, (f & SNAP_CUT_BIDS!) !== 0, (f & SNAP_CUT_ASKS!) !== 0])).toEqual([[true, true, false]]);
});
