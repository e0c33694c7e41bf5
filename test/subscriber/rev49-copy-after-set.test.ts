/**
 * One instrument on two channels (or the NATS reader handing both channels' copies in turn): the chunks of one
 * snapshot interleave, and one channel's copy completes the set while the other's last chunks are still on their
 * way. Those late chunks are copies of a set applied already (duplicateEvents), not a set abandoned: before, each
 * one after the set completed found no set open and was counted in snapshotsAbandoned ("a chunk of another snapshot
 * whose start was lost"), so a subscriber of two channels saw snapshots "abandoned" at every refresh, with nothing lost.
 * A lagging channel's older snapshot interleaved with a newer set: its chunk 0 once replaced the newer set, whose
 * next chunk ended it in turn (neither loaded); now it is dropped while the newer set is alive (§6.6 item 2).
 */
import { expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { STALE_ASSEMBLY_MS } from "../../src/subscriber/instrument-books.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { deepBook, ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

it("the other channel's chunks after its copy completed the set: duplicates, no snapshot abandoned", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const c2 = packer({ channelId: 2, maxBytes: 256 });
  const b = deepBook(inst, [943500, 1]);
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
  const b = deepBook(inst, [943500, 1]);
  packBookSnapshot(c1, b, 0, false);
  const a = take(c1);
  ingestAll(sub, a.slice(1)); // chunk 0 lost
  expect(sub.counters.snapshotsAbandoned).toBe(a.length - 1);
  expect(sub.book(inst.instrumentId)?.valid ?? false).toBe(false);
});

/** The deep book one event later (instrSeq 2, one bid's quantity changed). */
function newerBook(): TestBook {
  const b = deepBook(inst, [943500, 1]);
  const cs = new ChangeSet();
  cs.addBid(943000, 99);
  b.apply(cs, 2, T0);
  return b;
}

it("an older snapshot's chunks (a lagging channel) interleaved with a newer set: ignored, the newer set completes", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const c2 = packer({ channelId: 2, maxBytes: 256 });
  const older = deepBook(inst, [943500, 1]);
  const newer = newerBook();
  packBookSnapshot(c1, newer, 0, false);
  expect(packBookSnapshot(c2, older, 0, false)).toBeGreaterThan(3);
  const n = take(c1);
  const o = take(c2);
  const both: Uint8Array[] = [];
  for (let i = 0; i < Math.max(n.length, o.length); i++) both.push(...(n[i] ? [n[i]!] : []), ...(o[i] ? [o[i]!] : []));
  ingestAll(sub, both);
  const sb = sub.book(inst.instrumentId)!;
  // Old: the older chunk 0 replaced the newer set, whose chunk 1 then ended the older one: neither loaded.
  expect(sb.usable).toBe(true);
  expect(levelsOf(sb)).toEqual(levelsOf(newer));
  expect(sb.instrSeq).toBe(newer.instrSeq);
  expect(sub.counters.snapshotsAbandoned).toBe(o.length); // the older chunk 0, then each of its chunks after it
});

it("an older snapshot after a set untouched for STALE_ASSEMBLY_MS (dead, e.g. a forged chunk 0 far ahead): it loads", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const older = deepBook(inst, [943500, 1]);
  packBookSnapshot(c1, newerBook(), 0, false);
  sub.ingest(take(c1)[0]!, T0); // the newer set's chunk 0, its others never coming
  packBookSnapshot(c1, older, 0, true);
  for (const d of take(c1)) sub.ingest(d, T0 + STALE_ASSEMBLY_MS * 1000);
  const sb = sub.book(inst.instrumentId)!;
  expect(sb.usable).toBe(true);
  expect(levelsOf(sb)).toEqual(levelsOf(older));
});

it("a lagging channel's copy of the set just completed, interleaved with the next set: duplicates, no snapshot abandoned", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const c1 = packer({ channelId: 1, maxBytes: 256 });
  const c2 = packer({ channelId: 2, maxBytes: 256 });
  const older = deepBook(inst, [943500, 1]);
  const newer = newerBook();
  packBookSnapshot(c1, older, 0, false);
  packBookSnapshot(c2, older, 0, false);
  const a = take(c1);
  const z = take(c2); // channel 2's copy, a set behind channel 1
  packBookSnapshot(c1, newer, 0, false);
  const n = take(c1);
  // c1: the older set (complete), the newer set's chunk 0; c2: its copy of the older set; c1: the newer set's rest.
  ingestAll(sub, [...a, n[0]!, ...z, ...n.slice(1)]);
  const sb = sub.book(inst.instrumentId)!;
  expect(sb.usable).toBe(true);
  expect(levelsOf(sb)).toEqual(levelsOf(newer));
  // Nothing was lost: channel 2's chunks are copies of a set applied already. Before, with the newer set under way,
  // each of them was counted as a set abandoned (z.length at every refresh a lagging channel interleaved so).
  expect(sub.counters.snapshotsAbandoned).toBe(0);
  expect(sub.counters.duplicateEvents).toBe(z.length);
});

it("a forged chunk 0 far ahead (no key), sent again every 9 s, keeps out only the next real snapshot each time", () => {
  const sub = newSubscriber({ maxDatagramBytes: 256 });
  const real = packer({ channelId: 1, maxBytes: 256 });
  const forged = packer({ channelId: 9, maxBytes: 256 }); // a stream of its own, the real session's header
  const fake = deepBook(inst, [943500, 1]);
  fake.instrSeq = 1_000_000_000;
  const b = deepBook(inst, [943500, 1]);
  const cs = new ChangeSet();
  const behindAt: number[] = [];
  for (let s = 0; s < 30; s++) {
    const nowUs = T0 + s * 1_000_000;
    if (s % 9 === 0) {
      packBookSnapshot(forged, fake, 0, false);
      sub.ingest(take(forged, nowUs)[0]!, nowUs); // its chunk 0 alone: the set stays under way
    }
    // A real snapshot each second, each of a newer instrSeq.
    cs.clear();
    cs.addBid(943000, 100 + s);
    b.apply(cs, s + 2, nowUs);
    packBookSnapshot(real, b, 0, false);
    for (const d of take(real, nowUs + 1000)) sub.ingest(d, nowUs + 1000);
    if (sub.book(inst.instrumentId)?.instrSeq !== b.instrSeq) behindAt.push(s);
  }
  // Before: every real snapshot within 10 s of the last forged chunk 0 was dropped, so none ever loaded.
  expect(behindAt).toEqual([0, 9, 18, 27]);
  expect(sub.book(inst.instrumentId)?.usable).toBe(true);
});
