/**
 * venueId and marketId are append-only tables: an id this subscriber does not know must be tolerated and shown as its
 * number (docs/wire-protocol.md §4.8). The subscriber named every such venue and market "unknown": two venues it does
 * not know read alike, and a definition moving an instrument from one to the other was no change (no `definition`
 * event, the book still named by the old one). They are `venue<id>` and `market<id>` now, as the NATS bridge's subjects
 * name them.
 */
import { expect, test } from "vitest";
import { EncodedDefinition, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { DEF_MARKET_ID_OFFSET, DEF_VENUE_ID_OFFSET, MESSAGE_HEADER_BYTES, PACKET_HEADER_BYTES } from "../../src/wire/layout.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";
import { makeInstrument, resealCrc } from "../wire/helpers.ts";

const DEF_AT = PACKET_HEADER_BYTES + MESSAGE_HEADER_BYTES;

test("a definition's venue and market ids unknown to the subscriber name the book by their numbers", () => {
  const instrument = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
  const p = packer();
  const sub = newSubscriber();
  const seen: string[] = [];
  sub.on("definition", (b) => seen.push(`${b.instrument.venue}/${b.instrument.market}/${b.instrument.symbol}`));
  for (const [venueId, marketId] of [
    [99, 42],
    [98, 42],
  ]) {
    packInstrumentDefinition(p, new EncodedDefinition(instrument), false);
    const [d] = take(p);
    const dv = new DataView(d!.buffer);
    dv.setUint16(DEF_AT + DEF_VENUE_ID_OFFSET, venueId!, true);
    dv.setUint16(DEF_AT + DEF_MARKET_ID_OFFSET, marketId!, true);
    sub.ingest(resealCrc(d!), T0 + 50);
  }
  expect(sub.counters.errors).toBe(0);
  expect(seen).toEqual(["venue99/market42/BTCUSDT", "venue98/market42/BTCUSDT"]);
});
