/**
 * The stale check measures silence on the monotonic clock, as the stall rule does (core/late-rounds.ts): a step of
 * the host's wall clock (NTP stepping it back, a VM resumed, `date -s`) is neither silence nor hides one. Before, the
 * check read Date.now(): stepped back by an hour, a stream that went silent stayed not stale, and its books usable,
 * for that hour. The step is Date.now() stubbed in this process; the check's own timer runs (start() with no groups
 * opens no socket), and the test waits for its 'stale' event with a deadline.
 */
import { afterEach, expect, it, vi } from "vitest";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { packer, take, T0 } from "./feed-harness.ts";
import { until } from "../support/until.ts";

let sub: FeedSubscriber | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await sub?.stop();
  sub = undefined;
});

it("a stream silent after the wall clock stepped back an hour goes stale within its bound", async () => {
  const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
  const book = new TestBook(inst);
  book.load([[943503, 1500]], [[943504, 250]], 1, T0);
  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);
  packBookSnapshot(p, book, 0, false);
  sub = new FeedSubscriber({ groups: [], staleAfterMs: 200 });
  await sub.start();
  for (const d of take(p)) sub.ingest(d, T0);
  const sb = sub.book(inst.instrumentId)!;
  expect(sb.usable).toBe(true);
  const stale: number[] = [];
  sub.on("stale", (e) => stale.push(e.books));
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000); // the host's clock stepped back an hour
  await until(() => stale.length > 0, "the silent stream's stale event", 10_000);
  expect(sb.stale).toBe(true);
  expect(sb.usable).toBe(false);
});
