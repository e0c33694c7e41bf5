/**
 * Subscriber receive path (datagram → verify CRC → decode → sequence → apply), driven through FeedSubscriber.ingest()
 * (the socket path does the same copy into the reused buffer), and allocation in steady state (bench/alloc-meter.ts:
 * new heap cells counted by type, and the heap's capacity). Until 2026-12-06 this read heapStats().heapSize, the bytes
 * marked at the last GC: it stays put whatever is allocated until the next one, so it read 0 for everything (the NATS
 * case allocated ~65 B an envelope). The control row allocates a 32-byte object per step: the meter must show it. Cases: one 7-level delta per datagram; the same with a refresh
 * snapshot (50/side, compared with the book at the same instrSeq) every 100 deltas; split deltas (200 levels in
 * 256-byte datagrams, assembled per instrument); the NATS reader's path (one envelope per message, numbered as a
 * bridge numbers them → EnvelopeRepacker → seal every 8 envelopes → ingest), per envelope, no server.
 * After the warm-up, the first half of each case is metered for allocation, the second half timed in samples of
 * SAMPLE datagrams (envelopes) each (mean, and p50 of their means; one Bun.nanoseconds(), ~40 ns, per sample).
 *   npx bun bench/subscriber.bench.ts        (BENCH_QUICK=1 for a short run)
 */
import { ChangeSet } from "../src/core/change-set.ts";
import { BookState, type Instrument } from "../src/core/types.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { LadderBook } from "../src/book/ladder-book.ts";
import { FeedSubscriber } from "../src/subscriber/index.ts";
import { EnvelopeRepacker, envelopeOf } from "../src/subscriber/nats-envelope.ts";
import { MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../src/wire/layout.ts";
import { packBookDelta, packBookSnapshot } from "../src/wire/encoder.ts";
import { ChannelPacker } from "../src/wire/packer.ts";
import { type Allocation, allocationControl, allocationRow, measureAllocation } from "./alloc-meter.ts";
import { printTable, QUICK, SMOKE } from "./harness.ts";

const T0 = 1_764_000_000_000_000;
const instrument: Instrument = {
  instrumentId: instrumentIdOf("bybit", "linear", "BTCUSDT"),
  venue: "bybit",
  market: "linear",
  symbol: "BTCUSDT",
  priceExp: 1,
  qtyExp: 3,
  tickSize: "0.1",
  lotSize: "0.001",
};

/** The publisher's book: a LadderBook with the BookView header fields. */
class PubBook extends LadderBook {
  readonly instrument = instrument;
  state: BookState = BookState.LIVE;
  reason = 11 as const;
  instrSeq = 0;
  venueSeq = 0;
  tsExchangeUs = T0;
  tsEventUs = T0;
  tsRecvUs = T0;
}

let x = 12345;
function rnd(n: number): number {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x % n;
}

/** A stream of datagrams: a snapshot, then `deltas` events of `levels` levels, a refresh every `refreshEvery`. */
function stream(deltas: number, levels: number, refreshEvery: number, maxBytes: number): Uint8Array[] {
  const p = new ChannelPacker(maxBytes, 1, 0, 77, { sessionStartUs: T0, heartbeatIntervalMs: 1000 });
  const b = new PubBook();
  for (let i = 0; i < 50; i++) {
    b.bids.set(300_000 - i * 2, 1000 + i);
    b.asks.set(300_001 + i * 2, 1000 + i);
  }
  b.instrSeq = 1;
  const out: Uint8Array[] = [];
  const flush = () => {
    p.seal(T0);
    for (let i = 0; i < p.count; i++) out.push(p.bytes[i]!.slice(0, p.lengths[i]));
    p.clear();
  };
  packBookSnapshot(p, b, 0, false);
  flush();
  const cs = new ChangeSet();
  for (let e = 0; e < deltas; e++) {
    cs.clear();
    for (let k = 0; k < levels; k++) {
      const bid = k % 2 === 0;
      const px = bid ? 300_000 - rnd(100) * 2 : 300_001 + rnd(100) * 2;
      const q = rnd(4) === 0 ? 0 : 1 + rnd(5000);
      if (bid) {
        cs.addBid(px, q);
        b.bids.set(px, q);
      } else {
        cs.addAsk(px, q);
        b.asks.set(px, q);
      }
    }
    b.instrSeq++;
    packBookDelta(p, b, cs);
    flush();
    if (refreshEvery > 0 && e % refreshEvery === refreshEvery - 1) {
      packBookSnapshot(p, b, 0, true);
      flush();
    }
  }
  return out;
}

const SAMPLE = 100;

/**
 * `step(i)` for i in [from, to): the first half metered for allocation (bench/alloc-meter.ts: new heap cells counted
 * and the heap's capacity, a full GC before every 10k steps), the second half timed in samples of SAMPLE for the p50
 * and the mean (one Bun.nanoseconds() per sample).
 */
function timed(from: number, to: number, step: (i: number) => void): { alloc: Allocation; meanNs: number; p50Ns: number } {
  const mid = from + ((to - from) >> 1);
  const alloc = measureAllocation(from, mid, step);
  const samples = new Float64Array(Math.ceil((to - mid) / SAMPLE));
  let n = 0;
  const t0 = Bun.nanoseconds();
  let ts = t0;
  for (let i = mid; i < to; i += SAMPLE) {
    const end = Math.min(to, i + SAMPLE);
    for (let k = i; k < end; k++) step(k);
    const te = Bun.nanoseconds();
    samples[n++] = (te - ts) / (end - i);
    ts = te;
  }
  const sorted = samples.subarray(0, n).sort();
  return { alloc, meanNs: (ts - t0) / (to - mid), p50Ns: sorted[(n - 1) >> 1]! };
}

function checked(name: string, sub: FeedSubscriber): void {
  const book = sub.book(instrument.instrumentId)!;
  if (!book.usable || sub.counters.gaps !== 0) throw new Error(`${name}: book not usable or gaps: ${JSON.stringify(sub.counters)}`);
}

function run(name: string, datagrams: Uint8Array[], warm: number): Record<string, unknown> {
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, maxDatagramBytes: 1400 });
  let updates = 0;
  sub.on("update", () => updates++);
  for (let i = 0; i < warm; i++) sub.ingest(datagrams[i]!, T0);
  const t = timed(warm, datagrams.length, (i) => sub.ingest(datagrams[i]!, T0));
  checked(name, sub);
  return row(name, `${datagrams.length - warm}`, t, { repairs: sub.counters.repairs, updates });
}

/** The NATS reader's path: an envelope per message (as the bridge sends them), repacked, sealed every 8, ingested. */
function runNats(name: string, datagrams: Uint8Array[], warmDatagrams: number): Record<string, unknown> {
  const envs: Uint8Array[] = [];
  let warm = 0;
  for (let d = 0; d < datagrams.length; d++) {
    const dg = datagrams[d]!;
    const dv = new DataView(dg.buffer, dg.byteOffset, dg.byteLength);
    let off = PACKET_HEADER_BYTES;
    for (let m = 0; m < dv.getUint16(PKT_MSG_COUNT_OFFSET, true); m++) {
      const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      envs.push(envelopeOf(dg, 1000, off, len, envs.length + 1, 7));
      off += len;
    }
    if (d === warmDatagrams - 1) warm = envs.length;
  }
  const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0, maxDatagramBytes: 1400 });
  let updates = 0;
  sub.on("update", () => updates++);
  const repacker = new EnvelopeRepacker({ channelId: 1, sourceId: 9, heartbeatIntervalMs: 1000 });
  const nowMs = T0 / 1000;
  // As NatsFeedReader.flush and drain: the replaced session's datagrams first, each as the packer's exact view.
  const drain = (p: ChannelPacker | undefined) => {
    if (p === undefined || p.count === 0) return;
    p.seal(T0);
    for (let i = 0; i < p.count; i++) sub.ingest(p.exactView(i), T0);
    p.clear();
  };
  const flush = () => {
    drain(repacker.pendingOld);
    repacker.pendingOld = undefined;
    drain(repacker.packer);
  };
  const step = (i: number) => {
    repacker.add(envs[i]!, nowMs);
    if ((i & 7) === 7) flush();
  };
  for (let i = 0; i < warm; i++) step(i);
  const t = timed(warm, envs.length, step);
  flush();
  checked(name, sub);
  return row(name, `${envs.length - warm} env`, t, { repairs: sub.counters.repairs, updates });
}

/** A table row: timing of the second half, allocation per datagram (envelope) of the first. */
function row(name: string, count: string, t: ReturnType<typeof timed>, extra: Record<string, unknown>): Record<string, unknown> {
  const { case: _, ...alloc } = allocationRow(name, t.alloc);
  return { case: name, datagrams: count, p50NsPerDatagram: Math.round(t.p50Ns), meanNsPerDatagram: Math.round(t.meanNs), ...extra, ...alloc };
}

/** The meter's control: a 32 B object per step (bench/alloc-meter.ts). */
function control(n: number): Record<string, unknown> {
  return allocationRow("control: a 32 B object per step", allocationControl(n));
}

const N = SMOKE ? 1_200 : QUICK ? 60_000 : 300_000;
const rows = [
  run("delta, 7 levels, 1 per datagram", stream(N, 7, 0, 1400), N / 3),
  run("same + refresh 50/side every 100 (compared)", stream(N, 7, 100, 1400), N / 3),
  run("split delta, 200 levels in 256 B datagrams", stream(N / 20, 200, 0, 256), N / 6),
  runNats("NATS reader: envelope → repack → ingest, 7-level deltas", stream(N / 2, 7, 0, 1400), N / 6),
  control(N / 3),
];
console.log("\n== subscriber receive path: ingest per datagram (per envelope for NATS); allocation per datagram (bench/alloc-meter.ts) in steady state ==");
printTable(rows);
