/**
 * `feeder listen --format ndjson` writes a book's wire time that is 0 ("unknown", wire-protocol §4.2: a venue that
 * sends no matching-engine time, a status of a book no message reached yet) as null, as `export --books` jsonl does,
 * and a known one as its µs. Before, it wrote 0, which scripts comparing the two outputs, or computing a latency
 * from tsEventUs, read as 1970-01-01.
 */
import { afterEach, expect, it } from "vitest";
import { updateRecord } from "../../src/subscriber/format.ts";
import type { FeedSubscriber, UpdateEvent } from "../../src/subscriber/index.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { EncodedDefinition, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  await sub?.stop();
  sub = undefined;
});

it("unknown venue and receive times are null in an update record, known ones their µs", () => {
  const pub = new TestBook(makeInstrument("okx", "spot", "BTC-USDT", 1, 3));
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(pub.instrument), false);
  // A book no message reached yet: its status carries no time at all.
  pub.state = BookState.AWAITING_SNAPSHOT;
  pub.reason = StatusReason.DISCONNECTED;
  packBookStatus(p, pub);
  sub = newSubscriber();
  const records: Record<string, unknown>[] = [];
  sub.on("update", (e: UpdateEvent) => records.push(updateRecord(e, 1)));
  for (const d of take(p)) sub.ingest(d, T0);
  // OKX: a venue time, no matching-engine time.
  pub.load([[970001, 5]], [[970002, 7]], 12, T0);
  pub.tsEventUs = 0;
  pub.state = BookState.LIVE;
  pub.reason = StatusReason.SNAPSHOT_APPLIED;
  packBookSnapshot(p, pub, 10, false);
  for (const d of take(p, T0 + 1)) sub.ingest(d, T0 + 1);
  const times = (r: Record<string, unknown>) => [r.state, r.tsExchangeUs, r.tsEventUs, r.tsRecvUs];
  // Old: [["awaiting_snapshot", 0, 0, 0], ["live", T0, 0, T0 + 250]].
  expect(records.map(times)).toEqual([
    ["awaiting_snapshot", null, null, null],
    ["live", T0, null, T0 + 250],
  ]);
});
