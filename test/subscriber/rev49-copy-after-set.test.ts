/**
 * One instrument on two channels (or the NATS reader handing both channels' copies in turn): the chunks of one
 * snapshot interleave, and one channel's copy completes the set while the other's last chunks are still on their
 * way. Those late chunks are copies of a set applied already (duplicateEvents), not a set abandoned: before, each
 * one after the set completed found no set open and was counted in snapshotsAbandoned ("a chunk of another snapshot
 * whose start was lost"), so a subscriber of two channels saw snapshots "abandoned" at every refresh, with nothing lost.
 */
import { expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function deepBook(): TestBook {
  const b = new TestBook(inst);
  const bids: [number, number][] = [];
  for (let i = 0; i < 30; i++) bids.push([943000 - i, 1 + i]);
  b.load(bids, [[943500, 1]], 1, T0);
  return b;
}

it("the other channel's chunks after its copy completed the set: duplicates, no snapshot abandoned", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const c2 = packer({ channelId: 2, maxBytes: 256 });
  const b = deepBook();
  expect(packBookSnapshot(c1, b, 0, false)).toBeGreaterThan(3);
  packBookSnapshot(c2, b, 0, false);
  const a = take(c1);
  const z = take(c2);
  // c1: 0; c2: 0 (a copy); c1: 1 .. last (the set completes); c2: 1 .. last (copies of the set applied).
  ingestAll(sub, [a[0]!, z[0]!, ...a.slice(1), ...z.slice(1)]);
  const sb = sub.book(inst.instrumentId)!;
  expect(levelsOf(sb)).toEqual(levelsOf(b));
  expect(sb.usable).toBe(true);
  expect(sub.counters.snapshotsAbandoned).toBe(0); // old: one per late chunk of channel 2
  expect(sub.counters.duplicateEvents).toBe(z.length);

  // The refresh of the same book, copies interleaved the same way: still nothing abandoned.
  packBookSnapshot(c1, b, 0, true);
  packBookSnapshot(c2, b, 0, true);
  const a2 = take(c1);
  const z2 = take(c2);
  ingestAll(sub, [a2[0]!, z2[0]!, ...a2.slice(1), ...z2.slice(1)]);
  expect([sb.usable, sb.repairs, sub.counters.snapshotsAbandoned]).toEqual([true, 0, 0]);
});

it("a chunk of a snapshot whose start was lost, no set open, the book not at its instrSeq: still abandoned", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const b = deepBook();
  packBookSnapshot(c1, b, 0, false);
  const a = take(c1);
  ingestAll(sub, a.slice(1)); // chunk 0 lost
  expect(sub.counters.snapshotsAbandoned).toBe(a.length - 1);
  expect(sub.book(inst.instrumentId)?.valid ?? false).toBe(false);
});
