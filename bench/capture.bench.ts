/**
 * Capture compression (feeder record --compress): size ratio (bytes on disk / MessagePack bytes) and CPU cost of
 * each codec and level, through the real CaptureWriter, on two inputs:
 *   - real: the genuine Bybit XRPUSDT recording (test/fixtures/bybit, 50 frames, 80 KB of JSON), written in blocks
 *     of the sizes the writer produces at a given feed rate (a block every 200 ms, or 1 MiB);
 *   - sim: frames recorded from the simulator (demo's symbols and depths) through a Feeder's raw-frame tap, as
 *     `feeder record` sees them, for RECORD_SECONDS at SIM_RATE messages/s; its raw MB/min is printed too.
 * Cost is compress time per MB of MessagePack input (ms/MB), and the read side (readCapture) per MB.
 * Multicast from the recording Feeder stays on loopback (127.0.0.1, TTL 1, a per-run group: e2e-common loopbackDestination).
 *   npx bun bench/capture.bench.ts        (BENCH_QUICK=1: shorter recording, fewer repeats)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Feeder } from "../src/app/feeder.ts";
import { validateConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState } from "../src/core/types.ts";
import { CaptureWriter, readCapture } from "../src/record/capture.ts";
import type { CompressionName } from "../src/record/codec.ts";
import { startBybitSimulator } from "../src/sim/bybit-sim.ts";
import { loopbackDestination } from "./e2e-common.ts";
import { printTable, QUICK, SMOKE, waitBoundMs } from "./harness.ts";

const RECORD_SECONDS = SMOKE ? 0.5 : QUICK ? 5 : 20;
const SIM_RATE = 2000;
const REPEATS = SMOKE ? 1 : QUICK ? 5 : 21;
const CODECS: { name: CompressionName; level?: number }[] = [
  { name: "none" },
  { name: "zstd", level: 1 },
  { name: "zstd", level: 3 },
  { name: "zstd", level: 9 },
  { name: "gzip", level: 1 },
  { name: "gzip", level: 6 },
];

interface Frame {
  tsRecvUs: number;
  market: string;
  connection: string;
  frame: string;
}

const tmp = mkdtempSync(join(tmpdir(), "feeder-capture-bench-"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Writes `frames` through a CaptureWriter with blocks of ~blockBytes; ratio, compress and read cost (medians). */
function measureCodec(label: string, frames: readonly Frame[], blockBytes: number, codec: (typeof CODECS)[number]): Record<string, unknown> {
  const compressMsPerMb: number[] = [];
  const readMsPerMb: number[] = [];
  let ratio = 0;
  let blocks = 0;
  let rawBytes = 0;
  for (let rep = 0; rep < REPEATS; rep++) {
    const dir = mkdtempSync(join(tmp, "w-"));
    const w = new CaptureWriter({ dir, flushBytes: blockBytes, flushIntervalMs: 3_600_000, compression: codec.name, compressionLevel: codec.level });
    for (const f of frames) w.write(f.tsRecvUs, "bybit", f.market, f.connection, f.frame);
    w.close();
    const s = w.stats();
    ratio = s.writtenBytes / s.rawBytes;
    blocks = s.blocks;
    rawBytes = s.rawBytes;
    compressMsPerMb.push(s.compressNs / 1e6 / (s.rawBytes / 1e6));
    const t0 = Bun.nanoseconds();
    const n = readCapture(w.files[0]!).records.length;
    readMsPerMb.push((Bun.nanoseconds() - t0) / 1e6 / (s.rawBytes / 1e6));
    if (n !== frames.length) throw new Error(`read back ${n} of ${frames.length} frames`);
    rmSync(dir, { recursive: true });
  }
  return {
    input: label,
    codec: codec.level === undefined ? codec.name : `${codec.name} ${codec.level}`,
    blockKB: Math.round(rawBytes / blocks / 1024),
    ratio,
    compressMsPerMB: median(compressMsPerMb),
    readMsPerMB: median(readMsPerMb),
  };
}

// --- real Bybit frames ---------------------------------------------------------------------------------------
const real: Frame[] = readFileSync(join(import.meta.dirname, "../test/fixtures/bybit/linear-XRPUSDT-ob500-2024-12-01.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((frame, i) => ({ tsRecvUs: 1_733_011_200_000_000 + i * 100_000, market: "linear", connection: "linear-0", frame }));

// --- simulator frames as `feeder record` sees them ------------------------------------------------------------
const MARKETS = [
  { market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] },
  { market: "spot" as const, depth: 200, symbols: ["BTCUSDT", "ETHUSDT"] },
];
const sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), messagesPerSecond: SIM_RATE, seed: 7 });
const bybit: Record<string, unknown> = { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tmp, "instruments.json") };
for (const m of MARKETS) bybit[m.market] = { depth: m.depth, symbols: m.symbols };
const config = validateConfig({
  log: { level: "warn", format: "json" },
  http: { enabled: false },
  publish: { destinations: [{ name: "bench", ...loopbackDestination(9), interface: "127.0.0.1", ttl: 1, channel: 1 }] },
  venues: { bybit },
});
const simFrames: Frame[] = [];
let recording = false;
const feeder = new Feeder({
  config,
  log: silentLogger,
  onRawFrame: (_v, market, connection, frame, tsRecvUs) => {
    if (recording) simFrames.push({ tsRecvUs, market, connection, frame });
  },
});
await feeder.start();
const liveBy = Date.now() + waitBoundMs(15_000);
while (feeder.books().some((b) => b.state !== BookState.LIVE)) {
  if (Date.now() > liveBy) throw new Error(`books not live within ${waitBoundMs(15_000) / 1000} s`);
  await Bun.sleep(10);
}
recording = true;
const t0 = performance.now();
await Bun.sleep(RECORD_SECONDS * 1000);
recording = false;
const seconds = (performance.now() - t0) / 1000;
await feeder.stop();
await sim.stop();
const simTextBytes = simFrames.reduce((s, f) => s + f.frame.length, 0);

console.log(`Bun ${Bun.version}; real: ${real.length} frames, ${real.reduce((s, f) => s + f.frame.length, 0)} B of JSON`);
console.log(
  `sim: ${simFrames.length} frames in ${seconds.toFixed(1)} s (${Math.round(simFrames.length / seconds)}/s), ` +
    `${((simTextBytes / seconds) * 60 / 1e6).toFixed(1)} MB/min of frame text`,
);
const rows: Record<string, unknown>[] = [];
// At the recorded rate a 200 ms block holds this much frame text; 1 MiB is the writer's size cap.
const simBlock = Math.max(1024, Math.round((simTextBytes / seconds) * 0.2));
for (const c of CODECS) rows.push(measureCodec("sim, 200 ms blocks", simFrames, simBlock, c));
for (const c of CODECS) rows.push(measureCodec("sim, 1 MiB blocks", simFrames, 1024 * 1024, c));
for (const c of CODECS) rows.push(measureCodec("real, 16 KB blocks", real, 16 * 1024, c));
for (const c of CODECS) rows.push(measureCodec("real, one 80 KB block", real, 1024 * 1024, c));
printTable(rows);
const rawPerMin = (simFrames.reduce((s, f) => s + f.frame.length + 40, 0) / seconds) * 60;
console.log(`at this rate: ~${(rawPerMin / 1e6).toFixed(1)} MB/min before compression; one core spends compressMsPerMB × that per minute`);
rmSync(tmp, { recursive: true, force: true });

