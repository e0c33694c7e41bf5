/**
 * The benches' (and the allocation tests') allocation meter: what a step allocates, counted, not guessed.
 *
 * Until 2026-12-06 the benches read `heapStats().heapSize` or `memoryUsage().heapUsed` before and after a loop. Both
 * are what the last GC marked: without a GC in between they stay put whatever the loop allocates, so every
 * "0 B per frame" they printed was unmeasured. This meter reads two things, a full GC before each chunk of steps and
 * none inside it:
 * - **cells**: `heapStats().objectTypeCounts` after the chunk minus before. It walks every cell not yet collected,
 *   the chunk's new ones included, so it counts each object, array, string, typed-array view or closure a step made
 *   and names its type. Exact while no GC runs in the chunk; `heapSize` less the memory outside the heap (what the
 *   last GC marked) moves only when one does, which the result says (`gcDuring`: the counts are then a lower bound,
 *   and can be far below: one 80 KB array a step reads ~0.01 cells a step, test/bench-smoke/alloc-meter.test.ts; an
 *   allocation test asserts `gcDuring` false as well as the count).
 * - **bytes**: the heap's capacity (`heapCapacity`, as `memoryUsage().heapTotal`) growth, which also sees what is not a cell (an array's
 *   storage). It grows by whole blocks once the free cells left by the GC are used up, so it reads a little low
 *   (~29 B for a 32 B object over 10k steps) and 0 for a chunk that allocates less than the free space.
 * Neither sees memory outside the JS heap (a large typed array's store, native buffers); a view on one is a cell.
 * It counts what the compiled code still allocates: an object or array literal that never escapes the step can read
 * below 1 once the optimizing JIT sinks it (so does the hot path, once compiled the same way); a subarray, DataView,
 * string slice or closure reads 1 (checked by test/bench-smoke/alloc-meter.test.ts).
 * `allocationControl` runs the same meter on a step that makes one 32 B object: a bench prints it as its control row,
 * and a test asserts it, so a meter gone blind fails instead of reading 0.
 * @module
 */
import { heapStats } from "bun:jsc";

export interface Allocation {
  steps: number;
  /** Heap capacity growth per step (bytes, low by the free space the GC left). */
  bytesPerStep: number;
  /** New JS heap cells per step (exact while `gcDuring` is false). */
  cellsPerStep: number;
  /** The types of the new cells, most first, per step: "Uint8Array 1, Object 0.5". Empty when none. */
  types: string;
  /** A GC ran inside a chunk: its cells were partly collected, so the counts are a lower bound. */
  gcDuring: boolean;
}

/** Steps per chunk: 10k × a few dozen bytes stays below the young generation's size, so no GC runs inside. */
const CHUNK_STEPS = 10_000;

/** Cells and bytes heapStats() itself leaves per chunk, measured on an empty step once. */
let overhead: { cells: Record<string, number>; bytes: number } | undefined;

/** How `measureAllocation` cuts the steps into chunks. */
export interface AllocationOptions {
  /** Steps per chunk (a full GC before each); default CHUNK_STEPS. */
  chunkSteps?: number;
  /**
   * Runs before each chunk, before its GC, not counted: restores what the steps consume (a replay's books back to
   * their snapshots), so a chunk holds the steady state only. Its garbage is collected; what it keeps is there before
   * and after the chunk alike.
   */
  beforeChunk?: (from: number) => void;
}

function chunk(from: number, to: number, step: (i: number) => void, cells: Record<string, number>, beforeChunk?: (from: number) => void): { bytes: number; gc: boolean } {
  beforeChunk?.(from);
  Bun.gc(true);
  const before = heapStats();
  for (let i = from; i < to; i++) step(i);
  const after = heapStats();
  for (const type in after.objectTypeCounts) {
    const d = after.objectTypeCounts[type]! - (before.objectTypeCounts[type] ?? 0);
    if (d !== 0) cells[type] = (cells[type] ?? 0) + d;
  }
  // heapSize less the memory outside the heap is what the last GC marked: it moves only when a GC runs.
  const gc = after.heapSize - after.extraMemorySize !== before.heapSize - before.extraMemorySize;
  return { bytes: after.heapCapacity - before.heapCapacity, gc };
}

/** Runs `step(i)` for i in [from, to) in chunks (a full GC before each) and reports what it allocated per step. */
export function measureAllocation(from: number, to: number, step: (i: number) => void, opts: AllocationOptions = {}): Allocation {
  const chunkSteps = opts.chunkSteps ?? CHUNK_STEPS;
  if (overhead === undefined) {
    chunk(0, 1, () => {}, {}); // the first heapStats() call makes cells of its own once
    const cells = {};
    overhead = { cells, bytes: chunk(0, 1, () => {}, cells).bytes };
  }
  const sum: Record<string, number> = {};
  let bytes = 0;
  let chunks = 0;
  let gcDuring = false;
  for (let i = from; i < to; i += chunkSteps) {
    const r = chunk(i, Math.min(to, i + chunkSteps), step, sum, opts.beforeChunk);
    bytes += r.bytes - overhead.bytes;
    gcDuring ||= r.gc;
    chunks++;
  }
  const steps = to - from;
  let cells = 0;
  const types: [string, number][] = [];
  for (const type in sum) {
    const n = sum[type]! - (overhead.cells[type] ?? 0) * chunks;
    if (n <= 0) continue;
    cells += n;
    types.push([type, n / steps]);
  }
  types.sort((a, b) => b[1] - a[1]);
  const shown = types.filter(([, perStep]) => perStep >= 0.001);
  return {
    steps,
    bytesPerStep: Math.max(0, bytes / steps),
    cellsPerStep: cells / steps,
    types: shown.map(([t, perStep]) => `${t} ${+perStep.toFixed(3)}`).join(", "),
    gcDuring,
  };
}

/** Kept in a module variable so the JIT cannot drop the control's object. */
export let controlKept: { a: number; b: number } | undefined;

/** The control: one 32 B object per step. It must read ~1 cell and ~30 B a step, or the meter is blind. */
export function allocationControl(steps: number): Allocation {
  for (let i = 0; i < 1000; i++) controlKept = { a: i, b: i };
  return measureAllocation(0, steps, (i) => void (controlKept = { a: i, b: i }));
}

/** A table row for printTable: the case, its steps, bytes and cells per step, and what they were. */
export function allocationRow(name: string, a: Allocation, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    case: name,
    steps: a.steps,
    bytesPerStep: a.bytesPerStep.toFixed(2),
    cellsPerStep: a.cellsPerStep.toFixed(3),
    ...extra,
    newCells: (a.gcDuring ? "(a GC ran: at least) " : "") + (a.types || "none"),
  };
}
