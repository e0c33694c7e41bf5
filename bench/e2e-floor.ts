/**
 * Child process of bench/e2e.bench.ts: the floor contender. A minimal Bun relay that takes the same WebSocket
 * frames as the feeder (from its own copy of bench/e2e-source.ts) and sends one fixed small datagram per frame,
 * with the feeder's flush policy and the feeder's latency stamp, so feeder latency can be given as a ratio to it:
 * - receipt: core/clock.ts turnReceiptUs() in the message callback, as the Bybit adapter stamps a frame (one stamp
 *   per event-loop turn, shared by every frame of the turn's socket reads);
 * - flush: a core/clock.ts turn-end hook, the same single setImmediate per turn the FeedPublisher flushes on, sends
 *   the turn's datagrams with one sendMany (≤ 64 per call, as the publisher) on a socket opened like the
 *   publisher's (openMulticastSender: connected, bound to 127.0.0.1, TTL 1);
 * - latency: nowUs() after the last sendMany of the flush minus each frame's receipt (FeedPublisher.observePending).
 * It does nothing else: no parse, no book, no encoding. What the feeder adds to this floor is its own work.
 * Commands (stdin JSON lines): reset, report (percentiles over every frame since reset, CPU), quit.
 * Usage: bun bench/e2e-floor.ts <wsUrl> <topic,topic,…> <group> <port>
 * @module
 */
import { addTurnEndHook, nowUs, turnReceiptUs } from "../src/core/clock.ts";
import { openMulticastSender } from "../src/net/multicast.ts";
import { involuntaryCtxReader, mainThreadCtxSwitches, parentCommands, pct } from "./e2e-common.ts";

const [wsUrl, topicList, group, portText] = process.argv.slice(2) as [string, string, string, string];
const topics = topicList.split(",");
const MAX_PER_SEND = 64; // FeedPublisher's MAX_DATAGRAMS_PER_SEND
// E2E_FLOOR_BYTES (diagnostic): datagram size, to measure the kernel's cost per byte at the feeder's sizes.
const DATAGRAM_BYTES = Number(process.env.E2E_FLOOR_BYTES ?? 32);
// E2E_PROBE=1 (diagnostic): Bun.nanoseconds() around every sendMany and from the receipt to the flush's start.
const PROBE = process.env.E2E_PROBE === "1" || process.env.E2E_PROBE === "2";
// E2E_PROBE=2: also whether the main thread was preempted inside the flush's sendMany calls (reads /proc per flush).
const readInvol = process.env.E2E_PROBE === "2" ? involuntaryCtxReader() : undefined;
const CAP = 4_000_000;

const socket = await openMulticastSender({ iface: "127.0.0.1", ttl: 1, connectTo: { group, port: Number(portText) } });
const datagram = new Uint8Array(DATAGRAM_BYTES).fill(0x5a);
/** sendMany argument arrays by count, all entries the same fixed datagram (created once per count). */
const argsByCount: Uint8Array[][] = [];
for (let n = 0; n <= MAX_PER_SEND; n++) argsByCount.push(new Array<Uint8Array>(n).fill(datagram));

let pendingRecvUs = new Float64Array(1024);
let pending = 0;
const samples = new Float64Array(CAP);
let nSamples = 0;
let frames = 0;
let datagrams = 0;
let sendErrors = 0;
let flushes = 0;
const probeSendNs = new Float64Array(PROBE ? CAP : 0);
const probeWaitUs = new Float64Array(PROBE ? CAP : 0);
const probePreempted = new Uint8Array(PROBE ? CAP : 0);
let nProbe = 0;

let chars = 0;
function onFrame(data: unknown): void {
  const recvUs = turnReceiptUs(); // arms the turn end, like the adapter's stamp
  frames++;
  if (typeof data === "string") chars += data.length; // takes the frame's text, as the adapter does
  if (pending === pendingRecvUs.length) {
    const grown = new Float64Array(pending * 2);
    grown.set(pendingRecvUs);
    pendingRecvUs = grown;
  }
  pendingRecvUs[pending++] = recvUs;
}

addTurnEndHook(() => {
  if (pending === 0) return;
  flushes++;
  const startUs = PROBE ? nowUs() : 0;
  const invol0 = readInvol !== undefined ? readInvol() : 0;
  const t0 = PROBE ? Bun.nanoseconds() : 0;
  for (let left = pending; left > 0; ) {
    const n = left < MAX_PER_SEND ? left : MAX_PER_SEND;
    let sent = 0;
    try {
      sent = socket.sendMany(argsByCount[n]!);
    } catch {
      sent = 0;
    }
    datagrams += sent;
    sendErrors += n - sent;
    left -= n;
  }
  if (PROBE && nProbe < CAP) {
    probeSendNs[nProbe] = Bun.nanoseconds() - t0;
    probePreempted[nProbe] = readInvol !== undefined && readInvol() !== invol0 ? 1 : 0;
    probeWaitUs[nProbe++] = startUs - pendingRecvUs[0]!;
  }
  const doneUs = nowUs();
  for (let i = 0; i < pending; i++) {
    if (nSamples < CAP) samples[nSamples++] = doneUs - pendingRecvUs[i]!;
  }
  pending = 0;
});

/** sendMany µs of the flushes in which the thread was preempted, and of the others (E2E_PROBE=2). */
function split(ns: Float64Array, preempted: Uint8Array): { sendPreemptedUs: Record<string, number>; sendNotPreemptedUs: Record<string, number> } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ns.length; i++) (preempted[i] === 1 ? a : b).push(ns[i]! / 1000);
  return { sendPreemptedUs: pct(Float64Array.from(a)), sendNotPreemptedUs: pct(Float64Array.from(b)) };
}

const ws = new WebSocket(`${wsUrl}/linear`);
ws.onmessage = (ev: MessageEvent) => onFrame(ev.data);
await new Promise<void>((resolve, reject) => {
  ws.onopen = () => resolve();
  ws.onerror = () => reject(new Error(`floor: cannot connect to ${wsUrl}/linear`));
});
ws.send(JSON.stringify({ op: "subscribe", args: topics, req_id: "floor" }));

function out(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

let cpu0 = process.cpuUsage();
let ctx0 = mainThreadCtxSwitches();
let t0 = performance.now();
out({ ready: true });
for await (const cmd of parentCommands<{ cmd: string }>()) {
  if (cmd.cmd === "reset") {
    nSamples = 0;
    frames = 0;
    datagrams = 0;
    sendErrors = 0;
    flushes = 0;
    nProbe = 0;
    ctx0 = mainThreadCtxSwitches();
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    out({ reset: true });
  } else if (cmd.cmd === "count") {
    out({ frames });
  } else if (cmd.cmd === "report") {
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    out({ frames, chars, datagrams, sendErrors, flushes, cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100, cpuUs: cpu.user + cpu.system, latency: pct(samples.subarray(0, nSamples)),
      ...(PROBE ? { probe: { sendUs: pct(probeSendNs.subarray(0, nProbe).map((x) => x / 1000)), receiptToFlushUs: pct(probeWaitUs.subarray(0, nProbe)), involuntaryCtxSwitches: mainThreadCtxSwitches().involuntary - ctx0.involuntary, ...split(probeSendNs.subarray(0, nProbe), probePreempted) } } : {}) });
  } else if (cmd.cmd === "quit") {
    ws.close();
    socket.close();
    process.exit(0);
  }
}
