/**
 * s-subscr: the subscriber library read as its user. Each test failed on the code before its fix.
 * Datagrams come from the real packer and encoders (feed-harness.ts), fed through ingest().
 */
import { expect, it } from "vitest";
import type { GapEvent, UpdateEvent } from "../../src/subscriber/index.ts";
import { EncodedDefinition, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function liveBook(): TestBook {
  const b = new TestBook(inst);
  b.load([[943503, 1500]], [[943504, 250]], 1, T0);
  return b;
}

it("a listener that removes itself (off) while an event is dispatched: the listeners after it still hear that event", () => {
  const sub = newSubscriber();
  const heard: string[] = [];
  const once = (e: UpdateEvent): void => {
    heard.push(`once:${e.kind}`);
    sub.off("update", once);
  };
  sub.on("update", once);
  sub.on("update", (e) => heard.push(`second:${e.kind}`));
  const gaps: number[] = [];
  const onceGap = (): void => {
    sub.off("gap", onceGap);
  };
  sub.on("gap", onceGap);
  sub.on("gap", (e: GapEvent) => gaps.push(e.lost));

  const p = packer();
  packInstrumentDefinition(p, new EncodedDefinition(inst), false);
  packBookSnapshot(p, liveBook(), 0, false);
  ingestAll(sub, take(p));
  // Old: the array was spliced under the loop, so "second" missed the snapshot its neighbour removed itself on.
  expect(heard).toEqual(["once:snapshot", "second:snapshot"]);

  packBookSnapshot(p, liveBook(), 0, true);
  take(p); // lost: the next datagram is a gap
  packBookSnapshot(p, liveBook(), 0, true);
  ingestAll(sub, take(p));
  expect(gaps).toEqual([1]); // old: [] (the gap listener after the one that removed itself never heard it)
  expect(heard).toEqual(["once:snapshot", "second:snapshot", "second:snapshot"]);
});

it("a listener added while an event is dispatched hears the next event, not the one under way", () => {
  const sub = newSubscriber();
  const heard: string[] = [];
  let added = false;
  sub.on("update", (e) => {
    heard.push(`first:${e.kind}`);
    if (!added) {
      added = true;
      sub.on("update", (e2) => heard.push(`late:${e2.kind}`));
    }
  });
  const p = packer();
  const b = liveBook();
  packBookSnapshot(p, b, 0, false);
  ingestAll(sub, take(p));
  expect(heard).toEqual(["first:snapshot"]); // old: "late" heard it too
  b.load([[943503, 1400]], [[943504, 250]], 2, T0); // the next event (instrSeq 2)
  packBookSnapshot(p, b, 0, false);
  ingestAll(sub, take(p));
  expect(heard).toEqual(["first:snapshot", "first:snapshot", "late:snapshot"]);
});
