/**
 * bench/alloc-meter.ts against allocations of known kinds, the ones a hot path could make: each must read ~1 cell a
 * step, of its type, even when the step drops it at once (the count walks cells not yet collected). And its limit:
 * a step whose allocations set off GCs inside the chunk reads far fewer cells than it made, so an allocation test
 * must check `gcDuring` as well as the count. A `beforeChunk` hook (a replay's books reset before each pass) is not
 * counted.
 */
import { expect, test } from "vitest";
import { measureAllocation } from "../../bench/alloc-meter.ts";

const buf = new Uint8Array(1024);
const text = "abcdefghijklmnopqrstuvwxyz".repeat(8);
let sink = 0;
export let kept: unknown; // a module variable: the JIT cannot drop what is stored here

const KNOWN: [string, string, (i: number) => void][] = [
  ["subarray", "Uint8Array", (i) => void (sink += buf.subarray(0, 8 + (i & 7)).length)],
  ["closure", "Function", (i) => {
    const f = () => i + 1;
    sink += f();
  }],
  ["string slice", "string", (i) => void (sink += text.slice(i & 7, 40 + (i & 7)).charCodeAt(3))],
  ["template string", "string", (i) => void (sink += `conn${i & 7}.linear`.length)],
  ["DataView", "DataView", (i) => void (sink += new DataView(buf.buffer, 0, 16 + (i & 7)).getUint8(1))],
  ["array literal (kept)", "Array", (i) => void (kept = [i, i + 1])],
];

test("a dropped subarray, closure, string slice, DataView and a kept array literal each read 1 cell a step, by type", () => {
  for (const [name, type, step] of KNOWN) {
    for (let i = 0; i < 5_000; i++) step(i); // compiled as a hot path would be
    const a = measureAllocation(0, 5_000, step);
    expect(a.gcDuring, name).toBe(false);
    expect(a.cellsPerStep, `${name}: ${a.types}`).toBeGreaterThan(0.9);
    expect(a.types, name).toContain(type);
  }
  expect(sink).toBeGreaterThan(0);
});

test("a step that sets off GCs reads almost no cells: only gcDuring tells (allocation tests assert it)", () => {
  // One 80 KB array a step: GCs inside each chunk collect what came before, the count keeps only the tail.
  const a = measureAllocation(0, 4_000, (i) => void (kept = new Array(10_000).fill(i)));
  expect(a.gcDuring).toBe(true);
  expect(a.cellsPerStep).toBeLessThan(0.5); // 1 made a step: the count alone could pass a "< 0.05" assertion
});

test("beforeChunk restores state before each chunk of chunkSteps, and what it allocates is not counted", () => {
  // A replay's steady state (bench/binance.bench.ts): the books reset before each pass, the pass alone counted.
  const froms: number[] = [];
  let objects: { i: number }[] = [];
  const reset = (from: number) => {
    froms.push(from);
    objects = Array.from({ length: 500 }, (_, i) => ({ i })); // 500 cells kept, the last chunk's dropped
  };
  const a = measureAllocation(0, 1_000, (i) => void (sink += objects[i % 250]!.i), { chunkSteps: 250, beforeChunk: reset });
  expect(froms).toEqual([0, 250, 500, 750]);
  expect(a.gcDuring).toBe(false);
  expect(a.cellsPerStep, a.types).toBeLessThan(0.01); // counted, the resets would read 2 cells a step
  // The same steps allocating one object each still read it.
  const b = measureAllocation(0, 1_000, (i) => void (kept = { i }), { chunkSteps: 250, beforeChunk: reset });
  expect(b.cellsPerStep, b.types).toBeGreaterThan(0.9);
});
