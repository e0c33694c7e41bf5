/**
 * The packer's datagram buffers are made as a turn first needs them, then reused: a new packer is cheap (the NATS
 * reader makes one per upstream session), and a flush no larger than an earlier one allocates nothing. Allocation is
 * counted by bench/alloc-meter.ts (new heap cells), not timed.
 */
import { expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { ChannelPacker } from "../../src/wire/packer.ts";

const T0 = 1_764_000_000_000_000;

/** Kept in a module variable so the JIT cannot drop the packer made in a step. */
let kept: ChannelPacker | undefined;
const newPacker = (i: number) => void (kept = new ChannelPacker(1400, 1, 0, i + 1, { sessionStartUs: T0 }));

it("a new packer makes one datagram buffer, not 16: a few heap cells each", () => {
  for (let i = 0; i < 50; i++) newPacker(i);
  const a = measureAllocation(0, 200, newPacker, { chunkSteps: 100 });
  expect(allocationControl(2_000).cellsPerStep).toBeGreaterThan(0.9);
  expect(a.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  // Before: 16 buffers × (ArrayBuffer, Uint8Array, ExactViews and its array, DataView, Int32Array, Float64Array).
  expect(a.cellsPerStep, a.types).toBeLessThan(20);
  expect(kept!.bytes).toHaveLength(1);
});

it("buffers are added as a turn first needs them and reused by the turns after; the datagrams decode", () => {
  const p = new ChannelPacker(1400, 1, 0, 7, { sessionStartUs: T0 });
  const turn = (datagrams: number) => {
    for (let i = 0; i < datagrams; i++) {
      p.appendHeartbeat(0);
      p.nextSeq++;
    }
    p.seal(T0 + 1);
  };
  turn(3);
  expect(p.bytes).toHaveLength(3);
  const first = [...p.bytes];
  p.clear();
  turn(2);
  p.clear();
  turn(3);
  expect(p.bytes).toEqual(first);
  p.bytes.forEach((b, i) => expect(b).toBe(first[i])); // the same objects: nothing made for them again
  p.clear();
  const seq0 = p.nextSeq;
  turn(20); // past the 16 slots `lengths` starts with
  expect(p.bytes).toHaveLength(20);
  expect(p.count).toBe(20);
  for (let i = 0; i < 20; i++) {
    const res = decodeDatagram(p.exactView(i));
    expect(res.ok && res.packet.seqNum).toBe(seq0 + i);
  }
});
