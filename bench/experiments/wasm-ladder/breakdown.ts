/**
 * Experiment breakdown (docs/performance.md §10, "The ladder in WebAssembly: an upper bound"): where the prototype's
 * time per frame goes, in interleaved rounds in one process (`bun bench/experiments/wasm-ladder/breakdown.ts`,
 * ROUNDS=11 ROUND_MS=150 by default): the whole prototype, the same without the CRC, the prototype on the same
 * frames with empty sides (its fixed part), the frame copy alone, the CRC alone (each frame's real datagram length)
 * and today's scan alone (the copy and bindiff's read, the levels left in the module's arrays) for comparison. Every
 * contender that changes books starts each sample from the snapshots. Last, what the prototype allocates per diff
 * over 200,000 diffs (bench/alloc-meter.ts, with its control row; 0 cells expected).
 * @module
 */
import { Buffer } from "node:buffer";
import { loadavg } from "node:os";
import { datagramCrc32Zeroed } from "../../../src/wire/crc32.ts";
import { ExactViews } from "../../../src/wire/exact-views.ts";
import { allocationControl, allocationRow, measureAllocation } from "../../alloc-meter.ts";
import { type Contender, measureRounds, printTable } from "../../harness.ts";
import { load, OursPath, type Rec } from "./current-path.ts";
import { WasmLadderPath } from "./prototype.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 11);
const ROUND_MS = Number(process.env.ROUND_MS ?? 150);
interface Utf8Writer {
  utf8Write(s: string, offset: number): number;
}
const stamp = () => `${new Date().toISOString().slice(11, 19)} UTC, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`;

function run(rec: Rec, label: string): void {
  const n = rec.diffs.length;
  const frames = rec.diffs;
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const proto = new WasmLadderPath(rec);
  const ours = new OursPath(rec);
  const resetProto = () => bodies.forEach((b, i) => proto.onSnapshot(i, b));
  resetProto();
  const lengths = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    proto.onDiff(frames[k]!);
    lengths[k] = proto.lastLength;
  }
  const copyBuf = Buffer.alloc(16384);
  const dgram = new Uint8Array(1400).map((_, i) => (i * 131) & 0xff);
  dgram.fill(0, 44, 48);
  const exact = new ExactViews(dgram);
  const u = ours.update;
  // The same frames with empty sides: the fixed part (copy, head, ids, sequence rule, headers, CRC of a 0-level delta).
  const empty = frames.map((f) => f.replace(/"b":\[.*\],"a":\[.*\]\}\}$/, '"b":[],"a":[]}}'));
  let sink = 0;
  const fresh = { inner: 1, opsPerCall: n, setup: resetProto };
  const opts = { opsPerCall: n };
  const contenders: Contender[] = [
    { name: "proto: copy → binbook → CRC", fn: () => { for (let i = 0; i < n; i++) proto.onDiff(frames[i]!); }, opts: fresh },
    { name: "proto without the CRC: copy → binbook", fn: () => { for (let i = 0; i < n; i++) proto.onDiffNoCrc(frames[i]!); }, opts: fresh },
    { name: "proto, sides emptied (fixed part)", fn: () => { for (let i = 0; i < n; i++) proto.onDiff(empty[i]!); }, opts: fresh },
    { name: "copy alone: utf8Write", fn: () => { for (let i = 0; i < n; i++) sink += (copyBuf as unknown as Utf8Writer).utf8Write(frames[i]!, 0); }, opts },
    { name: "CRC alone: native, each frame's datagram length", fn: () => { for (let i = 0; i < n; i++) sink += datagramCrc32Zeroed(exact.of(lengths[i]!)); }, opts },
    { name: "today's scan alone (copy + bindiff read, shared sides)", fn: () => { for (let i = 0; i < n; i++) sink += ours.scanner.scan(frames[i]!, ours.table, u); }, opts },
  ];
  const before = proto.declined;
  const t0 = stamp();
  const { rows } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS });
  console.log(`\n== ${label}: ${n} real diffs, ${ROUNDS} rounds of ${ROUND_MS} ms; ${t0} → ${stamp()} (sink ${sink > 0 ? "ok" : "?"}) ==`);
  printTable(rows);
  if (proto.declined !== before) throw new Error(`${label}: ${proto.declined - before} frames declined`);
}

run(load("BINANCE", "spot"), "spot diffs");
run(load("BINANCE_FUTURES", "linear"), "USD-M diffs");

// Allocation in steady state (as bench/binance.bench.ts measures today's path, with bench/alloc-meter.ts): new heap
// cells per diff over 200,000 real USD-M diffs through the prototype, with the meter's control. Until 2026-12-06 this
// read heapStats().heapSize around the loop, which moves only at a GC: its "0 B" was not a measurement.
{
  const rec = load("BINANCE_FUTURES", "linear");
  const proto = new WasmLadderPath(rec);
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const pass = (frames: number) => {
    for (let i = 0, k = 0; i < frames; i++) {
      if (k === 0) bodies.forEach((b, j) => proto.onSnapshot(j, b));
      proto.onDiff(rec.diffs[k]!);
      k = k + 1 === rec.diffs.length ? 0 : k + 1;
    }
  };
  pass(50_000);
  const diffs = rec.diffs;
  const diff = measureAllocation(0, 200_000, (i) => proto.onDiff(diffs[i % diffs.length]!));
  console.log("\nallocation per diff (bench/alloc-meter.ts: new heap cells counted, heap capacity growth; a full GC every 10k; no snapshots in between)");
  printTable([allocationRow("proto: copy → binbook → CRC, real USD-M diffs", diff), allocationRow("control: a 32 B object per step", allocationControl(200_000))]);
}
