/**
 * Experiment A/B (docs/performance.md §10, "The ladder in WebAssembly: an upper bound"), in one process:
 * `bun bench/experiments/wasm-ladder/ab.ts` (ROUNDS=15 ROUND_MS=150 by default; AB_ORDER=proto-first builds and runs
 * the prototype before today's path). Per recording (177 spot / 764 USD-M real diffs), in interleaved rounds, each
 * sample a whole pass over the diffs starting from the 4 REST snapshots (re-applied before every sample, untimed),
 * as bench/binance.bench.ts measures:
 *   - today:  BinanceScanner.scan → applyDelta → packBookDelta → seal → clear (bench/binance.bench.ts's OursPath);
 *   - proto:  the frame copied into the module's memory, the stream looked up, one "binbook" call, native CRC;
 *   - floor:  the frame copied (utf8Write) + the native CRC of a datagram of the length that frame's delta has;
 *   - ccxt and tardis-dev as bench/binance.bench.ts runs them.
 * Printed: medians over rounds of each contender's mean and p50 per frame, and the per-round ratios (p50), median
 * and range. The prototype's datagrams are first checked equal to today's (verify.ts does it in full).
 * @module
 */
import { Buffer } from "node:buffer";
import { cpus, loadavg } from "node:os";
import { datagramCrc32Zeroed } from "../../../src/wire/crc32.ts";
import { ExactViews } from "../../../src/wire/exact-views.ts";
import { type Contender, measureRounds, median, printTable } from "../../harness.ts";
import {
  type CcxtBook,
  CcxtOrderBook,
  ccxtDiff,
  ccxtSnapshot,
  load,
  OursPath,
  type Rec,
  TardisOrderBook,
  tardisDiff,
  tardisSnapshot,
} from "./current-path.ts";
import { WasmLadderPath } from "./prototype.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const ROUND_MS = Number(process.env.ROUND_MS ?? 150);
const PROTO_FIRST = process.env.AB_ORDER === "proto-first";

interface Utf8Writer {
  utf8Write(s: string, offset: number): number;
}

const stamp = () => `${new Date().toISOString().slice(11, 19)} UTC, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`;

function run(rec: Rec, label: string): void {
  const n = rec.diffs.length;
  const frames = rec.diffs;
  const bodies = [...rec.symbols.values()].map((e) => e.body);
  const syms = [...rec.symbols.keys()];
  let ours!: OursPath;
  let proto!: WasmLadderPath;
  if (PROTO_FIRST) {
    proto = new WasmLadderPath(rec);
    ours = new OursPath(rec);
  } else {
    ours = new OursPath(rec);
    proto = new WasmLadderPath(rec);
  }
  const resetOurs = () => bodies.forEach((b, i) => ours.onSnapshot(i, b));
  const resetProto = () => bodies.forEach((b, i) => proto.onSnapshot(i, b));
  // Check the prototype against today's path on one pass (lengths kept for the floor), and nothing declined.
  resetOurs();
  resetProto();
  const capture = new Uint8Array(1400);
  ours.capture = capture;
  const lengths = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    ours.onDiff(frames[k]!);
    proto.onDiff(frames[k]!);
    const d = proto.datagram();
    if (d.length !== ours.lastLength || d.some((x, i) => x !== capture[i])) throw new Error(`${label} frame ${k}: the prototype's datagram differs`);
    lengths[k] = d.length;
  }
  ours.capture = null;
  // The floor: copy + CRC of a datagram of each frame's real length (a datagram-sized buffer, zeroed checksum).
  const copyBuf = Buffer.alloc(16384);
  const dgram = new Uint8Array(1400);
  for (let i = 0; i < dgram.length; i++) dgram[i] = (i * 131) & 0xff;
  dgram.fill(0, 44, 48);
  const exact = new ExactViews(dgram);
  let sink = 0;
  const ccxt = new Map<string, CcxtBook>();
  const tardis = new Map<string, TardisOrderBook>();
  const resetCcxt = () =>
    syms.forEach((s, i) => {
      const c = ccxt.get(s) ?? (new CcxtOrderBook({}, undefined) as CcxtBook);
      ccxtSnapshot(c, bodies[i]!);
      ccxt.set(s, c);
    });
  const resetTardis = () =>
    syms.forEach((s, i) => {
      const t = tardis.get(s) ?? new TardisOrderBook();
      tardisSnapshot(t, bodies[i]!);
      tardis.set(s, t);
    });
  resetCcxt();
  resetTardis();
  const opts = { inner: 1, opsPerCall: n };
  const today: Contender = { name: "today: scan → applyDelta → packBookDelta → seal → clear", fn: () => { for (let i = 0; i < n; i++) ours.onDiff(frames[i]!); }, opts: { ...opts, setup: resetOurs } };
  const wasm: Contender = { name: "proto: copy → binbook (read, apply, write) → CRC", fn: () => { for (let i = 0; i < n; i++) proto.onDiff(frames[i]!); }, opts: { ...opts, setup: resetProto } };
  const contenders: Contender[] = [
    ...(PROTO_FIRST ? [wasm, today] : [today, wasm]),
    { name: "floor: utf8Write + native CRC of the datagram", fn: () => { for (let i = 0; i < n; i++) sink += (copyBuf as unknown as Utf8Writer).utf8Write(frames[i]!, 0) + datagramCrc32Zeroed(exact.of(lengths[i]!)); }, opts },
    { name: "ccxt: JSON.parse → parseFloat → storeArray", fn: () => { for (let i = 0; i < n; i++) ccxtDiff(ccxt, frames[i]!); }, opts: { ...opts, setup: resetCcxt } },
    { name: "tardis: JSON.parse → {price,amount} → update", fn: () => { for (let i = 0; i < n; i++) tardisDiff(tardis, frames[i]!); }, opts: { ...opts, setup: resetTardis } },
  ];
  const declinedBefore = proto.declined;
  const t0 = stamp();
  const { rows, perRound } = measureRounds(contenders, { rounds: ROUNDS, roundMs: ROUND_MS });
  const t1 = stamp();
  if (proto.declined !== declinedBefore) throw new Error(`${label}: the prototype declined ${proto.declined - declinedBefore} frames`);
  const at = (name: string) => contenders.findIndex((c) => c.name.startsWith(name));
  const [iT, iP, iF, iC, iD] = [at("today"), at("proto"), at("floor"), at("ccxt"), at("tardis")];
  const ratio = (f: (r: (typeof perRound)[number]) => number) => {
    const xs = perRound.map(f);
    return `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
  };
  const peer = (r: (typeof perRound)[number]) => Math.min(r[iC]!.p50Ns, r[iD]!.p50Ns);
  console.log(`\n== ${label}: ${n} real diffs, ${ROUNDS} rounds of ${ROUND_MS} ms, ${PROTO_FIRST ? "prototype first" : "today's path first"}; ${t0} → ${t1} ==`);
  printTable(rows);
  printTable([
    { "per-round p50 ratio (median, range)": "proto / today", value: ratio((r) => r[iP]!.p50Ns / r[iT]!.p50Ns) },
    { "per-round p50 ratio (median, range)": "floor / today", value: ratio((r) => r[iF]!.p50Ns / r[iT]!.p50Ns) },
    { "per-round p50 ratio (median, range)": "faster peer / today", value: ratio((r) => peer(r) / r[iT]!.p50Ns) },
    { "per-round p50 ratio (median, range)": "faster peer / proto", value: ratio((r) => peer(r) / r[iP]!.p50Ns) },
    { "per-round p50 ratio (median, range)": "faster peer / floor", value: ratio((r) => peer(r) / r[iF]!.p50Ns) },
  ]);
  console.log(`(sink ${sink > 0 ? "ok" : "?"}, today's bytes ${ours.bytesOut}, proto's ${proto.bytesOut})`);
}

console.log(`wasm-ladder A/B — Bun ${Bun.version}, ${cpus().length} CPUs (${cpus()[0]?.model}); start ${stamp()}`);
run(load("BINANCE", "spot"), "spot diffs");
run(load("BINANCE_FUTURES", "linear"), "USD-M diffs");
console.log(`\nend ${stamp()}`);
