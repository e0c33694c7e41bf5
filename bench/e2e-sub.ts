/**
 * Child process of bench/e2e.bench.ts and bench/workers.bench.ts: the subscriber (src/subscriber FeedSubscriber,
 * node:dgram, 8 MiB receive buffer) on <group> <port>, interface 127.0.0.1.
 * For every delta event (one per venue message: split deltas are counted once, by venueSeq) it records, µs:
 * - e2e: source send → subscriber receipt, with sendUs recovered from ts/cts (see bench/e2e-source.ts);
 * - srcToFeeder: source send → feeder frame receipt (tsRecvUs on the wire);
 * - feederToFlush: feeder frame receipt → the packet's send-time stamp (taken just before sendMany);
 * - wire: packet send-time stamp → subscriber receipt.
 * With <floorGroup> <floorPort> it also joins the floor relay's group (bench/e2e-floor.ts) on a plain node:dgram
 * socket (same receive buffer) and counts its datagrams, so the floor's sends reach a receiver as the feeder's do.
 * Commands (stdin JSON lines): reset, count, report (stdout JSON with percentiles and counters), quit.
 * Usage: bun bench/e2e-sub.ts <group> <port> [<floorGroup> <floorPort>]
 * @module
 */
import { createSocket } from "node:dgram";
import { FeedSubscriber } from "../src/subscriber/index.ts";
import { parentCommands } from "./e2e-common.ts";

const group = process.argv[2]!;
const port = Number(process.argv[3]);
const CAP = 4_000_000;

class Series {
  readonly v = new Float64Array(CAP);
  n = 0;
  add(x: number): void {
    if (this.n < CAP) this.v[this.n++] = x;
  }
  summary(): Record<string, number> {
    const s = this.v.subarray(0, this.n).sort();
    const q = (f: number) => (this.n === 0 ? NaN : s[Math.min(this.n - 1, Math.floor((this.n - 1) * f))]!);
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += s[i]!;
    return { n: this.n, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: this.n ? s[this.n - 1]! : NaN, mean: sum / this.n };
  }
}

let e2e = new Series();
let srcToFeeder = new Series();
let feederToFlush = new Series();
let wire = new Series();
let events = 0;
let snapshots = 0;
let firstRecvUs = 0;
let lastRecvUs = 0;
const lastSeq = new Map<number, number>();

const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], recvBufferBytes: 8 << 20, staleAfterMs: 0 });
sub.on("update", (e) => {
  const b = e.book;
  if (e.kind === "snapshot") {
    if (!e.refresh) snapshots++;
    return;
  }
  if (e.kind !== "delta") return;
  if (lastSeq.get(b.instrumentId) === b.venueSeq) return; // second message of a split delta
  lastSeq.set(b.instrumentId, b.venueSeq);
  if (events++ === 0) firstRecvUs = e.recvTimeUs;
  lastRecvUs = e.recvTimeUs;
  const tsEx = b.tsExchangeUs;
  if (tsEx <= 0) return;
  const sendUs = tsEx + (tsEx - b.tsEventUs) / 1000;
  e2e.add(e.recvTimeUs - sendUs);
  srcToFeeder.add(b.tsRecvUs - sendUs);
  feederToFlush.add(e.sendTimeUs - b.tsRecvUs);
  wire.add(e.recvTimeUs - e.sendTimeUs);
});
sub.on("error", () => {});

/** A socket that only counts datagrams, bound to the group address like FeedSubscriber's (only that group arrives). */
async function countingSocket(g: string, p: number, onDatagram: () => void): Promise<void> {
  const socket = createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 << 20 });
  socket.on("message", onDatagram);
  await new Promise<void>((resolve) => socket.bind({ port: p, address: g, exclusive: false }, () => resolve()));
  socket.addMembership(g, "127.0.0.1");
}

// E2E_SUB_PLAIN=1 (diagnostic): the feeder's group gets a counting socket instead of the FeedSubscriber, the same
// receiver as the floor's, to see how much of the feeder's send time is its receiver's work (docs/performance.md §4).
// Events, gaps and latencies are then not measured (the bench reports everything as lost).
let feederDatagrams = 0;
if (process.env.E2E_SUB_PLAIN === "1") await countingSocket(group, port, () => void feederDatagrams++);
else await sub.start?.();

let floorDatagrams = 0;
if (process.argv[4] !== undefined) await countingSocket(process.argv[4], Number(process.argv[5]), () => void floorDatagrams++);

function out(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

let base = { ...sub.counters };
out({ ready: true });

for await (const cmd of parentCommands<{ cmd: string }>()) {
  if (cmd.cmd === "reset") {
    e2e = new Series();
    srcToFeeder = new Series();
    feederToFlush = new Series();
    wire = new Series();
    events = 0;
    snapshots = 0;
    firstRecvUs = 0;
    lastRecvUs = 0;
    floorDatagrams = 0;
    feederDatagrams = 0;
    base = { ...sub.counters };
    out({ reset: true });
  } else if (cmd.cmd === "count") {
    out({ events, floorDatagrams });
  } else if (cmd.cmd === "report") {
    const c = sub.counters as unknown as Record<string, number>;
    const b = base as unknown as Record<string, number>;
    const counters: Record<string, number> = {};
    for (const k of Object.keys(c)) counters[k] = c[k]! - (b[k] ?? 0);
    out({ events, feederDatagrams, floorDatagrams, snapshots, firstRecvUs, lastRecvUs, counters, e2e: e2e.summary(), srcToFeeder: srcToFeeder.summary(), feederToFlush: feederToFlush.summary(), wire: wire.summary() });
  } else if (cmd.cmd === "quit") {
    await sub.stop?.();
    process.exit(0);
  }
}
