/**
 * `feeder listen --format ndjson` of a book whose definition has not come yet (a late joiner's, until the next
 * refresh): venue, market and symbol are null in its update and event records (bookRef), its instrumentId given;
 * once the definition arrives, its names. Until 2026-12-07 they were the placeholder's "unknown", "unknown" and
 * "#<id>", which a script took for names the feed had sent.
 */
import { afterEach, expect, it } from "vitest";
import { bookRef, updateRecord } from "../../src/subscriber/format.ts";
import type { FeedSubscriber, UpdateEvent } from "../../src/subscriber/index.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

it("a book before its definition has null names in update and event records; its names once the definition comes", () => {
  const pub = new TestBook(makeInstrument("okx", "spot", "BTC-USDT", 1, 3));
  pub.load([[970001, 5]], [[970002, 7]], 12, T0);
  pub.state = BookState.LIVE;
  pub.reason = StatusReason.SNAPSHOT_APPLIED;
  const p = packer();
  sub = newSubscriber();
  const names: unknown[] = [];
  sub.on("update", (e: UpdateEvent) => {
    const r = updateRecord(e, 1);
    names.push([r.venue, r.market, r.symbol, r.instrumentId], bookRef(e.book));
  });
  packBookSnapshot(p, pub, 10, false); // the snapshot first: a late joiner's book, no definition yet
  for (const d of take(p)) sub.ingest(d, T0);
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  pub.instrSeq++;
  pub.load([[970001, 6]], [[970002, 7]], 13, T0 + 1);
  packBookSnapshot(p, pub, 10, false);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  const id = pub.instrument.instrumentId;
  // Old: ["unknown", "unknown", `#${id}`, id] for the first.
  expect(names).toEqual([
    [null, null, null, id],
    { venue: null, market: null, symbol: null, instrumentId: id },
    ["okx", "spot", "BTC-USDT", id],
    { venue: "okx", market: "spot", symbol: "BTC-USDT", instrumentId: id },
  ]);
});
