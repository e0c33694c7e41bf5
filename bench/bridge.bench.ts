/**
 * The NATS bridge (docs/nats.md), against a real nats-server (JetStream off: the hop itself) on loopback:
 *  0. allocation per stage (bench/alloc-meter.ts: a full GC, the cells a chunk of steps made, by type; its control
 *     row must read 1): to-nats's checks and judgement, its envelopes through the client's publish, its own PUB
 *     frames, the whole onDatagram with the real client, the client's publish alone; node:dgram's receive (the
 *     runtime's); from-nats's client parse, the whole step (parse, repack, seal, send) and its send alone;
 *  1. per-message CPU cost of each side: to-nats (verify the datagram, split, envelope, client publish) and
 *     from-nats (envelope check, repack, seal with CRC-32), no I/O waits;
 *  2. throughput multicast → to-nats → NATS → from-nats → multicast, flooded for a few seconds: messages/s
 *     delivered, loss, CPU of this process (both bridges, the sender and the counter) and of nats-server;
 *  3. latency at a paced rate: the NATS hop as a consumer sees it (multicast send → to-nats → NATS → subscriber),
 *     the whole path to the far group (… → from-nats → multicast receipt), beside a bare NATS publish/subscribe
 *     of the same payload in the same run. Everything runs in this process, so its event loop is shared.
 * Needs nats-server on the PATH (Debian package nats-server). As root it re-runs itself in `unshare -n`.
 */
import dgram from "node:dgram";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { loopbackDestination, reexecInPrivateNetns } from "./e2e-common.ts";
import { measure, printTable, type Measurement, QUICK, SMOKE, benchTempDir } from "./harness.ts";
import { allocationControl, allocationRow, measureAllocation, type Allocation } from "./alloc-meter.ts";
import { heapStats } from "bun:jsc";
import { ForwardBridge } from "../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../src/bridge/reverse-bridge.ts";
import { ChangeSet } from "../src/core/change-set.ts";
import type { BookView } from "../src/core/book-view.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../src/core/types.ts";
import { openMulticastSender } from "../src/net/multicast.ts";
import { EnvelopeRepacker, envelopeOf, ENVELOPE_BYTES } from "../src/subscriber/nats-envelope.ts";
import { EncodedDefinition, packBookDelta, packInstrumentDefinition } from "../src/wire/encoder.ts";
import { BOOK_TS_RECV_NS_OFFSET, MESSAGE_HEADER_BYTES, MSG_LENGTH_OFFSET, PACKET_HEADER_BYTES, PKT_MSG_COUNT_OFFSET } from "../src/wire/layout.ts";
import { ChannelPacker } from "../src/wire/packer.ts";

reexecInPrivateNetns(import.meta.url);

const INSTRUMENTS = 20;
const A = loopbackDestination(10);
const B = loopbackDestination(11);
const C = loopbackDestination(12); // the allocation rows' receive and send
const ALLOC_STEPS = SMOKE ? 300 : QUICK ? 5_000 : 20_000;
const ALLOC_WARM = SMOKE ? 100 : 1_000;
const FLOOD_MS = SMOKE ? 200 : QUICK ? 1500 : 4000;
const PACED_PER_S = 2000;
const PACED_MS = SMOKE ? 200 : QUICK ? 1500 : 4000;

class FlatView implements BookView {
  state: BookState = BookState.LIVE;
  reason: StatusReason = StatusReason.NONE;
  instrSeq = 1;
  venueSeq = 1;
  tsExchangeUs = 0;
  tsEventUs = 0;
  tsRecvUs = 0;
  bidCount = 50;
  askCount = 50;
  constructor(readonly instrument: Instrument) {}
  bidPriceAt(r: number): number {
    return 302_472 - r;
  }
  bidQtyAt(r: number): number {
    return 1000 + r;
  }
  askPriceAt(r: number): number {
    return 302_473 + r;
  }
  askQtyAt(r: number): number {
    return 2000 + r;
  }
}

const views = Array.from({ length: INSTRUMENTS }, (_, i) => {
  const symbol = `SYM${i}USDT`;
  return new FlatView({ instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 1, qtyExp: 3, tickSize: "0.1", lotSize: "0.001" });
});
// A typical Bybit linear delta: 7 changed levels (184-byte message).
const delta = new ChangeSet();
for (let i = 0; i < 3; i++) delta.addBid(302_472 - i, 1500 + i);
for (let i = 0; i < 4; i++) delta.addAsk(302_473 + i, 250 + i);

/** µs since the epoch at sub-ms resolution (one process: both ends read the same clock). */
function clockUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const packer = new ChannelPacker(1400, 7, 1, 0x0badcafe, { heartbeatIntervalMs: 1000 });
let turn = 0;
/** `messages` deltas (round-robin over the instruments), stamped with tsRecv = now (the latency probe), sealed. */
function packDeltas(messages: number): void {
  const nowUs = clockUs();
  for (let i = 0; i < messages; i++) {
    const v = views[turn++ % INSTRUMENTS]!;
    v.instrSeq++;
    v.tsRecvUs = nowUs;
    packBookDelta(packer, v, delta);
  }
  packer.seal(nowUs);
}
function definitions(): void {
  for (const v of views) packInstrumentDefinition(packer, new EncodedDefinition(v.instrument), false);
  packer.seal(Date.now() * 1000);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100/s)
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

if (Bun.which("nats-server") === null) {
  console.log("bridge.bench: nats-server not found (Debian package nats-server); skipped");
  process.exit(0);
}
const natsPort = await freePort();
const server = Bun.spawn(["nats-server", "-a", "127.0.0.1", "-p", String(natsPort), "-sd", benchTempDir("bridge-bench-")], { stdout: "ignore", stderr: "ignore" });
const url = `nats://127.0.0.1:${natsPort}`;
for (let i = 0; i < 200; i++) {
  const ok = await new Promise<boolean>((r) => {
    const c = require("node:net").connect(natsPort, "127.0.0.1");
    c.once("connect", () => (c.destroy(), r(true)));
    c.once("error", () => r(false));
  });
  if (ok) break;
  await Bun.sleep(20);
}

/** A NATS client that keeps nothing; with `frames`, nats-core's command queue too (the bridge then writes PUB frames). */
function nullClient(frames: boolean) {
  const protocol = { connected: true, outbound: { size: () => 0 }, info: { max_payload: 1 << 20 }, ...(frames ? { sendCommand: (_c: Uint8Array) => {} } : {}) };
  return { protocol, publish: (_s: string, _d: Uint8Array) => {}, flush: async () => {}, close: async () => {} };
}
class NullBridge extends ForwardBridge {
  client: unknown;
  protected override async connect(): Promise<unknown> {
    return this.client;
  }
}

/** The allocation rows (section 0): each step a datagram of its own, as a socket hands them, seqNums in order. */
async function allocationPerStage(): Promise<void> {
  const p = new ChannelPacker(1400, 7, 2, 0x0badf00d, { heartbeatIntervalMs: 1000 });
  const defs: Uint8Array[] = [];
  for (const v of views) packInstrumentDefinition(p, new EncodedDefinition(v.instrument), false);
  p.seal(clockUs());
  for (let i = 0; i < p.count; i++) defs.push(p.bytes[i]!.slice(0, p.lengths[i]));
  p.clear();
  const total = ALLOC_WARM + ALLOC_STEPS;
  const data: Uint8Array[] = [];
  const beats: Uint8Array[] = [];
  for (let k = 0; k < total; k++) {
    for (let i = 0; i < 7; i++) packBookDelta(p, views[(k * 7 + i) % INSTRUMENTS]!, delta);
    p.seal(clockUs());
    data.push(p.bytes[0]!.slice(0, p.lengths[0]));
    p.clear();
  }
  const hp = new ChannelPacker(1400, 7, 3, 0x0badf00e, { heartbeatIntervalMs: 1000 });
  for (let k = 0; k < total; k++) {
    hp.appendHeartbeat(0);
    hp.seal(clockUs() + k);
    beats.push(hp.bytes[0]!.slice(0, hp.lengths[0]));
    hp.clear();
  }
  const rows: Record<string, unknown>[] = [allocationRow("control: one 32 B object a step (must read 1)", allocationControl(ALLOC_STEPS))];
  const metered = (b: ForwardBridge, ds: Uint8Array[]): Allocation => {
    for (let i = 0; i < ALLOC_WARM; i++) b.onDatagram(ds[i]!);
    return measureAllocation(ALLOC_WARM, total, (i) => b.onDatagram(ds[i]!), { chunkSteps: 5_000 });
  };
  const perDatagram = "to-nats, per 7-message datagram:";
  for (const [name, frames, defined] of [
    ["checks + judgement (streams.ts), no envelope [ours]", true, false],
    ["+ envelopes through the client's publish (a stand-in client) [ours]", false, true],
    ["+ PUB frames written by the bridge, one command (a stand-in client) [ours]", true, true],
  ] as const) {
    const b = new NullBridge({ groups: [], servers: url, prefix: "alloc", log: silentLogger });
    b.client = nullClient(frames);
    await b.start();
    if (defined) for (const d of defs) b.onDatagram(d);
    rows.push(allocationRow(`${perDatagram} ${name}`, metered(b, data)));
    await b.stop();
  }
  for (const [name, frames, ds] of [
    ["the whole onDatagram, nats-core client to nats-server [ours + client's]", true, data],
    ["same, the client's publish per envelope (before s-bralloc's frames) [ours + client's]", false, data],
    ["a heartbeat datagram, the whole onDatagram [ours + client's]", true, beats],
  ] as const) {
    const b = new ForwardBridge({ groups: [], servers: url, prefix: "alloc", log: silentLogger });
    await b.start();
    if (!frames) (b as unknown as { frames: unknown }).frames = undefined; // the client's publish, as before
    for (const d of defs) b.onDatagram(d);
    rows.push(allocationRow(`${perDatagram.replace("7-message ", ds === beats ? "" : "7-message ")} ${name}`, metered(b, ds)));
    await Bun.sleep(20);
    await b.stop();
  }
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: url });
  const envs = Array.from({ length: total }, () => new Uint8Array(224));
  for (let i = 0; i < ALLOC_WARM; i++) nc.publish("alloc.bybit.linear.X", envs[i]!);
  rows.push(allocationRow("nats-core publish(subject, envelope), per envelope [client's]", measureAllocation(ALLOC_WARM, total, (i) => nc.publish("alloc.bybit.linear.X", envs[i]!), { chunkSteps: 5_000 })));
  await nc.flush();
  // from-nats: MSG frames fed to the reader's client parser (as its socket's reads are), flushed and sent per step.
  const reverse = new ReverseBridge({ servers: url, prefix: "alloc", group: C.group, port: C.port, iface: "127.0.0.1", ttl: 1, sourceId: 901, heartbeatIntervalMs: 1000 });
  await reverse.start();
  const reader = reverse.reader as unknown as { nc: { protocol: { parser: { parse(b: Uint8Array): void } } }; sub: { sid: number }; flush: () => void };
  let seen = 0;
  const sub = nc.subscribe("alloc.>", { callback: () => void seen++ }) as unknown as { sid: number };
  await nc.flush();
  const te = new TextEncoder();
  const msgFrames = (sid: number) => {
    const out: Uint8Array[] = [];
    for (let k = 0; k < total; k++) {
      const env = envelopeOf(data[k]!, 1000, PACKET_HEADER_BYTES, 184, 1_000 + k, 7);
      const head = te.encode(`MSG alloc.bybit.linear.X ${sid} ${env.length}\r\n`);
      const f = new Uint8Array(head.length + env.length + 2);
      f.set(head, 0);
      f.set(env, head.length);
      f.set([13, 10], head.length + env.length);
      out.push(f);
    }
    return out;
  };
  const toReader = msgFrames(reader.sub.sid);
  const toClient = msgFrames(sub.sid);
  const parser = reader.nc.protocol.parser;
  const ncParser = (nc as unknown as { protocol: { parser: { parse(b: Uint8Array): void } } }).protocol.parser;
  for (let i = 0; i < ALLOC_WARM; i++) (parser.parse(toReader[i]!), reader.flush(), ncParser.parse(toClient[i]!));
  rows.push(allocationRow("from-nats, per envelope: nats-core parse + message + a no-op callback [client's]", measureAllocation(ALLOC_WARM, total, (i) => ncParser.parse(toClient[i]!), { chunkSteps: 5_000 })));
  rows.push(allocationRow("from-nats, per envelope read alone: parse, repack, setImmediate, seal, send [client's + ours]", measureAllocation(ALLOC_WARM, total, (i) => (parser.parse(toReader[i]!), reader.flush()), { chunkSteps: 5_000 })));
  const sender = await openMulticastSender({ iface: "127.0.0.1", ttl: 1 });
  const view = data[0]!;
  rows.push(allocationRow("from-nats: its socket's send of a reused view (Bun udp) [runtime's]", measureAllocation(0, ALLOC_STEPS, () => void sender.send(view, C.port, C.group), { chunkSteps: 5_000 })));
  await reverse.stop();
  await nc.close();
  // The runtime's receive (node:dgram, the bridge's sockets): async, so counted around batches of sends and their
  // receipt; the sends' own cells (counted alone, synchronously) taken off.
  const rx = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 << 20 });
  await new Promise<void>((r) => rx.bind({ port: C.port, address: C.group }, () => r()));
  rx.addMembership(C.group, "127.0.0.1");
  let got = 0;
  rx.on("message", () => void got++);
  const batch = SMOKE ? 50 : 500;
  const rounds = Math.max(1, Math.floor(ALLOC_STEPS / batch));
  const cells = (a: ReturnType<typeof heapStats>, z: ReturnType<typeof heapStats>, into: Record<string, number>) => {
    for (const t in z.objectTypeCounts) {
      const d = z.objectTypeCounts[t]! - (a.objectTypeCounts[t] ?? 0);
      if (d !== 0) into[t] = (into[t] ?? 0) + d;
    }
  };
  const received: Record<string, number> = {};
  const sent: Record<string, number> = {};
  for (let r = 0; r <= rounds; r++) {
    Bun.gc(true);
    const a = heapStats();
    const want = got + batch;
    for (let i = 0; i < batch; i++) sender.send(view, C.port, C.group);
    const m = heapStats();
    for (let w = 0; got < want && w < 2000; w++) await Bun.sleep(1);
    const z = heapStats();
    if (r === 0) continue; // warm-up
    cells(a, m, sent);
    cells(m, z, received);
  }
  const perStep = (c: Record<string, number>) => Object.values(c).reduce((x, y) => x + y, 0) / (rounds * batch);
  const types = Object.entries(received).map(([t, v]) => [t, v / (rounds * batch)] as const).filter(([, v]) => v >= 0.05).sort((x, y) => y[1] - x[1]);
  rows.push({ case: "to-nats: node:dgram receive, per datagram (batches of sends awaited; sleeps' timers included) [runtime's]", steps: rounds * batch, bytesPerStep: "", cellsPerStep: (perStep(received) - perStep(sent)).toFixed(3), newCells: types.map(([t, v]) => `${t} ${+v.toFixed(2)}`).join(", ") });
  rx.close();
  sender.close();
  console.log("== allocation per stage (cells per step; [ours] must read ~0 but the ranges handed to the client) ==");
  printTable(rows);
}

try {
  await allocationPerStage();
  const forward = new ForwardBridge({ groups: [{ ...A, iface: "127.0.0.1" }], servers: url, prefix: "bench", log: silentLogger });
  await forward.start();

  // --- 1. CPU per message, each side ----------------------------------------------------------------------------
  definitions();
  for (let i = 0; i < packer.count; i++) forward.onDatagram(packer.bytes[i]!.subarray(0, packer.lengths[i]));
  packer.clear();
  packDeltas(7); // 7 × 184 B = one 1336-byte datagram
  const datagram = packer.bytes[0]!.slice(0, packer.lengths[0]);
  packer.clear();
  const rows: (Measurement | Record<string, unknown>)[] = [];
  // Each call a datagram of its own, packed before it (untimed): one datagram forwarded again is a duplicate the
  // bridge drops after its checks (before s-bralloc this row timed that, not the envelopes and the publish).
  let fresh: Uint8Array = datagram;
  const nextDatagram = () => {
    packDeltas(7);
    fresh = packer.bytes[0]!.subarray(0, packer.lengths[0]);
  };
  const fwd = measure("to-nats: verify + split + envelope + publish, per message (7 per datagram)", () => forward.onDatagram(fresh), { opsPerCall: 7, durationMs: 500, inner: 1, setup: () => (packer.clear(), nextDatagram()) });
  packer.clear();
  rows.push(fwd);
  await Bun.sleep(200); // let the client flush what the loop queued
  const envs: Uint8Array[] = [];
  {
    const dv = new DataView(datagram.buffer);
    let off = PACKET_HEADER_BYTES;
    for (let i = 0; i < dv.getUint16(PKT_MSG_COUNT_OFFSET, true); i++) {
      const len = dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      envs.push(envelopeOf(datagram, 1000, off, len));
      off += len;
    }
  }
  const repacker = new EnvelopeRepacker({ channelId: 1, sourceId: 9, heartbeatIntervalMs: 200 });
  const rev = measure(
    "from-nats: envelope check + repack + seal (CRC-32), per message",
    () => {
      for (const e of envs) repacker.add(e, 0);
      repacker.packer.seal(0);
      repacker.packer.clear();
    },
    { opsPerCall: envs.length, durationMs: 500 },
  );
  rows.push(rev);
  rows.push({ name: "both sides, per message", nsPerOp: Math.round(fwd.nsPerOp + rev.nsPerOp), "msgs/s per core": Math.round(1e9 / (fwd.nsPerOp + rev.nsPerOp)) });
  printTable(rows);

  // --- the path: sender → A → to-nats → NATS → from-nats → B → counter -------------------------------------------
  const reverse = new ReverseBridge({ servers: url, prefix: "bench", group: B.group, port: B.port, iface: "127.0.0.1", ttl: 1, sourceId: 900, heartbeatIntervalMs: 200 });
  await reverse.start();
  const counter = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 << 20 });
  await new Promise<void>((r) => counter.bind({ port: B.port, address: B.group }, () => r()));
  counter.addMembership(B.group, "127.0.0.1");
  let received = 0;
  let probe: number[] | undefined;
  counter.on("message", (msg: Buffer) => {
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const n = dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
    received += n;
    if (probe !== undefined && n > 0) {
      const nowUs = clockUs();
      let off = PACKET_HEADER_BYTES;
      for (let i = 0; i < n; i++) {
        const tsNs = dv.getBigInt64(off + MESSAGE_HEADER_BYTES + BOOK_TS_RECV_NS_OFFSET, true);
        if (tsNs > 0n) probe.push(nowUs - Number(tsNs / 1000n));
        off += dv.getUint16(off + MSG_LENGTH_OFFSET, true);
      }
    }
  });
  const sender = await openMulticastSender({ iface: "127.0.0.1", ttl: 1 });
  const send = () => {
    for (let i = 0; i < packer.count; i++) sender.send(packer.bytes[i]!.subarray(0, packer.lengths[i]), A.port, A.group);
    packer.clear();
  };
  definitions();
  send();
  await Bun.sleep(300);

  // --- 2. flood -------------------------------------------------------------------------------------------------
  received = 0;
  const publishedBefore = forward.counters.published;
  const cpu0 = process.cpuUsage();
  const srv0 = cpuTicks(server.pid);
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < FLOOD_MS) {
    for (let k = 0; k < 8; k++) {
      packDeltas(7);
      send();
      sent += 7;
    }
    await new Promise((r) => setImmediate(r));
  }
  await Bun.sleep(500); // drain
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const srvS = (cpuTicks(server.pid) - srv0) / 100;
  const procS = (cpu.user + cpu.system) / 1e6;
  printTable([
    {
      name: "flood: multicast → to-nats → NATS → from-nats → multicast",
      "sent msgs": sent,
      "to NATS": forward.counters.published - publishedBefore,
      delivered: received,
      "delivered msgs/s": Math.round(received / elapsedS),
      "this process CPU %": Math.round((100 * procS) / elapsedS),
      "nats-server CPU %": Math.round((100 * srvS) / elapsedS),
      "delivered msgs per CPU-s (this process)": Math.round(received / procS),
    },
  ]);

  // --- 3. latency, paced ----------------------------------------------------------------------------------------
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: url });
  const hop: number[] = [];
  nc.subscribe("bench.bybit.linear.>", {
    callback: (_err, m) => {
      const d = m.data;
      if (d.length <= ENVELOPE_BYTES + MESSAGE_HEADER_BYTES + BOOK_TS_RECV_NS_OFFSET + 8) return;
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const tsNs = dv.getBigInt64(ENVELOPE_BYTES + MESSAGE_HEADER_BYTES + BOOK_TS_RECV_NS_OFFSET, true);
      if (tsNs > 0n) hop.push(clockUs() - Number(tsNs / 1000n));
    },
  });
  const bare: number[] = [];
  const bareT0 = performance.now();
  nc.subscribe("bare.x", { callback: (_err, m) => void bare.push((performance.now() - bareT0) * 1000 - new DataView(m.data.buffer, m.data.byteOffset).getFloat64(0, true)) });
  await nc.flush();
  probe = [];
  const payload = new Uint8Array(envs[0]!.length);
  const every = 1000 / PACED_PER_S;
  const tEnd = performance.now() + PACED_MS;
  let next = performance.now();
  while (performance.now() < tEnd) {
    packDeltas(1);
    send();
    const p = payload.slice();
    new DataView(p.buffer).setFloat64(0, (performance.now() - bareT0) * 1000, true);
    nc.publish("bare.x", p);
    next += every;
    const wait = next - performance.now();
    await (wait > 1 ? Bun.sleep(wait) : new Promise((r) => setImmediate(r)));
  }
  await Bun.sleep(300);
  const row = (name: string, xs: number[]) => ({ name, samples: xs.length, "p50 µs": Math.round(quantile(xs, 0.5)), "p99 µs": Math.round(quantile(xs, 0.99)) });
  printTable([
    row(`NATS hop: multicast send → to-nats → NATS → subscriber (${PACED_PER_S}/s)`, hop),
    row("whole path: … → from-nats → multicast receipt", probe),
    row(`bare NATS publish → subscribe, same ${payload.length}-byte payload, same run`, bare),
  ]);
  await nc.close();
  counter.close();
  sender.close();
  await reverse.stop();
  await forward.stop();
} finally {
  server.kill("SIGTERM");
  await server.exited;
}
