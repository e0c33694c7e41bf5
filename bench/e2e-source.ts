/**
 * Child process of bench/e2e.bench.ts and bench/workers.bench.ts: the frame source.
 * - Runs the project simulator (src/sim/bybit-sim.ts) for its REST instruments endpoint and, once at start, to
 *   generate frames: it subscribes to its own topics in-process and records SIM_STEPS deltas per topic.
 * - Serves those frames from its own Bun.serve WebSocket speaking the Bybit linear protocol as far as the adapter
 *   needs (subscribe/unsubscribe acks, pong, snapshot on subscribe), as a cycle: the recorded deltas forward,
 *   then their inverses backward (each level set back to its previous qty, "0" when it was absent), so the book
 *   returns to the snapshot and the cycle repeats with u + 1 forever and never crosses.
 * - Paces `rate` frames/s for `ms` when told (stdin JSON lines; replies on stdout), round robin over topics.
 *   Between due frames it sleeps with usleep (bun:ffi, timer slack 1 µs) of at least MIN_SLEEP_US, so at high
 *   rates frames leave in small bursts rather than the sender spinning a whole vCPU (a spinning source was tried:
 *   on 2 vCPUs it starves the subscriber and every send to it gets slower; docs/performance.md §4).
 * - Send-time side channel: every frame is stamped just before it is built and sent with sendUs = wall-clock µs
 *   (performance.timeOrigin + performance.now()), encoded in Bybit's own ms fields: ts = floor(sendUs / 1000),
 *   cts = ts − (sendUs mod 1000). Both remain valid integer ms; the feeder carries them as tsExchangeUs/tsEventUs,
 *   so a subscriber recovers sendUs = tsExchangeUs + (tsExchangeUs − tsEventUs) / 1000.
 * Usage: bun bench/e2e-source.ts <symbols,comma,separated> <depth>
 * @module
 */
import type { ServerWebSocket } from "bun";
import { nowUs } from "../src/core/clock.ts";
import { startBybitSimulator } from "../src/sim/bybit-sim.ts";
import { parentCommands } from "./e2e-common.ts";
import { SMOKE } from "./harness.ts";

const SYMBOLS = (process.argv[2] ?? "BTCUSDT,ETHUSDT").split(",");
const DEPTH = Number(process.argv[3] ?? 50);
const SIM_STEPS = Number(process.env.E2E_SIM_STEPS ?? (SMOKE ? 300 : 3000));
const MIN_SLEEP_US = 20;

type Lvl = [string, string];
interface Frame {
  b: Lvl[];
  a: Lvl[];
  /** `{"topic":…,"type":"delta","ts":` — then ts, MID, u, `,"seq":`, seq, `},"cts":`, cts, `}`. */
  mid: string;
}
interface Topic {
  topic: string;
  symbol: string;
  head: string;
  frames: Frame[];
  pos: number;
  u: number;
  seq: number;
  /** The book at cycle position 0 (the recorded snapshot). */
  bids0: Lvl[];
  asks0: Lvl[];
  subs: Set<Ws>;
}
type Ws = ServerWebSocket<{ connId: string }>;

function out(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

// ---------------------------------------------------------------------------------------------- recording ----

const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 11, messagesPerSecond: 0 });
const recorded = new Map<string, { snapshot: { b: Lvl[]; a: Lvl[] } | undefined; deltas: { b: Lvl[]; a: Lvl[] }[] }>();
{
  const topics = SYMBOLS.map((s) => `orderbook.${DEPTH}.${s}`);
  for (const t of topics) recorded.set(t, { snapshot: undefined, deltas: [] });
  const ws = new WebSocket(`${sim.wsUrl}/linear`);
  let received = 0;
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data)) as { topic?: string; type?: string; data?: { b: Lvl[]; a: Lvl[] } };
    if (!m.topic || !m.data) return;
    const r = recorded.get(m.topic)!;
    if (m.type === "snapshot") r.snapshot = { b: m.data.b, a: m.data.a };
    else r.deltas.push({ b: m.data.b, a: m.data.a });
    received++;
  };
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  ws.send(JSON.stringify({ op: "subscribe", args: topics, req_id: "rec" }));
  const deadline = Date.now() + 10_000;
  while ([...recorded.values()].some((r) => !r.snapshot) && Date.now() < deadline) await Bun.sleep(5);
  for (let i = 0; i < SIM_STEPS; i++) {
    sim.step(1);
    if (i % 50 === 49) await Bun.sleep(0);
  }
  const want = () => [...recorded.values()].every((r) => r.deltas.length >= SIM_STEPS * 0.9);
  let last = -1;
  while (!want() && received !== last && Date.now() < deadline + 20_000) {
    last = received;
    await Bun.sleep(50);
  }
  ws.close();
}

// ------------------------------------------------------------------------------ cycle: forward + inverse ----

function levelString(l: Lvl[]): string {
  let s = "";
  for (let i = 0; i < l.length; i++) s += `${i === 0 ? "" : ","}["${l[i]![0]}","${l[i]![1]}"]`;
  return s;
}

function applySide(book: Map<string, string>, levels: Lvl[]): Lvl[] {
  const inverse: Lvl[] = [];
  for (const [p, q] of levels) {
    inverse.push([p, book.get(p) ?? "0"]);
    if (q === "0" || Number(q) === 0) book.delete(p);
    else book.set(p, q);
  }
  return inverse;
}

const topics: Topic[] = [];
let levelsTotal = 0;
let bytesTotal = 0;
let framesTotal = 0;
for (const [topic, r] of recorded) {
  const symbol = topic.slice(topic.lastIndexOf(".") + 1);
  if (!r.snapshot || r.deltas.length === 0) throw new Error(`no frames recorded for ${topic}`);
  const bids = new Map(r.snapshot.b);
  const asks = new Map(r.snapshot.a);
  const forward: { b: Lvl[]; a: Lvl[] }[] = [];
  const inverse: { b: Lvl[]; a: Lvl[] }[] = [];
  for (const d of r.deltas) {
    forward.push(d);
    inverse.push({ b: applySide(bids, d.b), a: applySide(asks, d.a) });
  }
  const cycle = [...forward, ...inverse.reverse()];
  const mkFrame = (d: { b: Lvl[]; a: Lvl[] }): Frame => ({
    b: d.b,
    a: d.a,
    mid: `,"data":{"s":"${symbol}","b":[${levelString(d.b)}],"a":[${levelString(d.a)}],"u":`,
  });
  const frames = cycle.map(mkFrame);
  for (const f of frames) {
    levelsTotal += f.b.length + f.a.length;
    bytesTotal += `{"topic":"${topic}","type":"delta","ts":1764000000000${f.mid}1000000,"seq":5000000},"cts":1763999999999}`.length;
    framesTotal++;
  }
  topics.push({
    topic,
    symbol,
    head: `{"topic":"${topic}","type":"delta","ts":`,
    frames,
    pos: 0,
    u: 1000,
    seq: 5_000_000,
    bids0: r.snapshot.b,
    asks0: r.snapshot.a,
    subs: new Set(),
  });
}
const byTopic = new Map(topics.map((t) => [t.topic, t]));

// ------------------------------------------------------------------------------------------- WS server ----

/** The book at the topic's current cycle position (cold: replays the cycle from the snapshot). */
function snapshotFrame(t: Topic): string {
  const bids = new Map(t.bids0);
  const asks = new Map(t.asks0);
  // applySide, the cycle's own reading of a level (a size of zero in any spelling deletes): until 2026-12-07 a copy
  // here deleted only "0", so "0.000" levels stayed and the snapshot outgrew the topic's depth (over_depth resyncs).
  for (let i = 0; i < t.pos; i++) {
    applySide(bids, t.frames[i]!.b);
    applySide(asks, t.frames[i]!.a);
  }
  const b = [...bids].sort((x, y) => Number(y[0]) - Number(x[0])) as Lvl[];
  const a = [...asks].sort((x, y) => Number(x[0]) - Number(y[0])) as Lvl[];
  const ts = Date.now();
  return `{"topic":"${t.topic}","type":"snapshot","ts":${ts},"data":{"s":"${t.symbol}","b":[${levelString(b)}],"a":[${levelString(a)}],"u":${t.u},"seq":${t.seq}},"cts":${ts - 1}}`;
}

let wsDropped = 0;
let wsBackpressured = 0;
let connSeq = 0;
const server = Bun.serve<{ connId: string }>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    if (new URL(req.url).pathname.startsWith("/v5/public/linear") && srv.upgrade(req, { data: { connId: `bench-${++connSeq}` } })) return undefined;
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    backpressureLimit: 256 << 20,
    closeOnBackpressureLimit: false,
    sendPings: false,
    message(ws: Ws, data) {
      const msg = JSON.parse(String(data)) as { op?: string; args?: string[]; req_id?: string };
      const reqId = msg.req_id ?? "";
      if (msg.op === "ping") {
        ws.send(JSON.stringify({ success: true, ret_msg: "pong", conn_id: ws.data.connId, req_id: reqId, op: "ping" }));
        return;
      }
      const args = msg.args ?? [];
      if (msg.op === "subscribe") {
        const bad = args.find((a) => !byTopic.has(a));
        if (bad !== undefined) {
          ws.send(JSON.stringify({ success: false, ret_msg: `error:handler not found,topic:${bad}`, conn_id: ws.data.connId, req_id: reqId, op: "subscribe" }));
          return;
        }
        ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: ws.data.connId, req_id: reqId, op: "subscribe" }));
        for (const a of args) {
          const t = byTopic.get(a)!;
          t.subs.add(ws);
          ws.send(snapshotFrame(t));
        }
      } else if (msg.op === "unsubscribe") {
        for (const a of args) byTopic.get(a)?.subs.delete(ws);
        ws.send(JSON.stringify({ success: true, ret_msg: "", conn_id: ws.data.connId, req_id: reqId, op: "unsubscribe" }));
      }
    },
    close(ws: Ws) {
      for (const t of topics) t.subs.delete(ws);
    },
  },
});

/** Sends the topic's next delta (stamped now) to its subscribers; advances position, u and seq. */
function sendNext(t: Topic): void {
  const f = t.frames[t.pos]!;
  t.pos = t.pos + 1 === t.frames.length ? 0 : t.pos + 1;
  t.u++;
  t.seq += 7;
  const sendUs = nowUs();
  const ts = Math.floor(sendUs / 1000);
  const cts = ts - (sendUs - ts * 1000);
  const frame = t.head + ts + f.mid + t.u + ',"seq":' + t.seq + '},"cts":' + cts + "}";
  for (const ws of t.subs) {
    const r = ws.send(frame);
    if (r === 0) wsDropped++;
    else if (r === -1) wsBackpressured++;
  }
}

/**
 * Sends the next n frames, round robin over topics from the global cursor. Frames for one connection are sent
 * inside ws.cork(), so a batch leaves in as few socket writes as fit (as a venue's frames share TCP segments);
 * without corking every frame costs this process a send syscall and caps the source well below the feeder.
 */
const batchCounts = new Int32Array(topics.length);
let cursor = 0;
function sendBatch(n: number): void {
  const nt = topics.length;
  for (let i = 0; i < n; i++) {
    batchCounts[cursor]!++;
    cursor = cursor + 1 === nt ? 0 : cursor + 1;
  }
  const byConn = new Map<Ws, number[]>();
  for (let ti = 0; ti < nt; ti++) {
    for (const ws of topics[ti]!.subs) {
      let list = byConn.get(ws);
      if (!list) byConn.set(ws, (list = []));
      list.push(ti);
    }
  }
  for (const [ws, list] of byConn) {
    ws.cork(() => {
      for (let more = true; more; ) {
        more = false;
        for (const ti of list) {
          if (batchCounts[ti]! > 0) {
            batchCounts[ti]!--;
            sendNext(topics[ti]!);
            more = true;
          }
        }
      }
    });
  }
  batchCounts.fill(0); // topics nobody subscribes to: not sent
}

// --------------------------------------------------------------------------------------------- pacing ----

let usleep: (us: number) => void = () => {};
try {
  const { dlopen, FFIType } = await import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    usleep: { args: [FFIType.u32], returns: FFIType.i32 },
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  });
  libc.symbols.prctl(29 /* PR_SET_TIMERSLACK */, 1000, 0, 0, 0);
  usleep = (us) => void libc.symbols.usleep(us);
} catch {
  // no FFI: the loop yields to the event loop instead (spins)
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(rate: number, ms: number): Promise<Record<string, unknown>> {
  const total = Math.round((rate * ms) / 1000);
  const intervalUs = 1e6 / rate;
  const dropped0 = wsDropped;
  const bp0 = wsBackpressured;
  const cpu0 = process.cpuUsage();
  let sent = 0;
  let maxBehind = 0;
  const start = nowUs();
  let lastYield = start;
  while (sent < total) {
    const now = nowUs();
    const due = Math.min(total, Math.floor((now - start) / intervalUs) + 1);
    if (due - sent > maxBehind) maxBehind = due - sent;
    if (due > sent) {
      sendBatch(due - sent);
      sent = due;
    }
    if (sent >= total) break;
    const after = nowUs();
    if (after - lastYield >= 1000) {
      await yieldTurn(); // acks, pings, drains
      lastYield = nowUs();
    } else {
      const untilNext = start + sent * intervalUs - after;
      usleep(Math.max(MIN_SLEEP_US, Math.floor(untilNext)));
    }
  }
  const wallUs = nowUs() - start;
  const cpu = process.cpuUsage(cpu0);
  return {
    done: true,
    sent,
    wallMs: wallUs / 1000,
    sentPerSec: (sent * 1e6) / wallUs,
    maxBehind,
    dropped: wsDropped - dropped0,
    backpressured: wsBackpressured - bp0,
    sourceCpuPct: ((cpu.user + cpu.system) / wallUs) * 100,
  };
}

/**
 * Flood: n frames as fast as the receiver takes them — chunks of FLOOD_CHUNK, the next chunk only when every
 * subscriber's socket has less than FLOOD_BUFFERED_BYTES queued (so the receiver, not this process, sets the pace).
 */
const FLOOD_CHUNK = 256;
const FLOOD_BUFFERED_BYTES = 1 << 20;
async function flood(n: number): Promise<Record<string, unknown>> {
  const conns = new Set<Ws>();
  for (const t of topics) for (const ws of t.subs) conns.add(ws);
  const dropped0 = wsDropped;
  const cpu0 = process.cpuUsage();
  const start = nowUs();
  let sent = 0;
  while (sent < n) {
    const chunk = Math.min(FLOOD_CHUNK, n - sent);
    sendBatch(chunk);
    sent += chunk;
    for (;;) {
      let queued = 0;
      for (const ws of conns) queued = Math.max(queued, ws.getBufferedAmount());
      if (queued < FLOOD_BUFFERED_BYTES) break;
      await yieldTurn();
    }
  }
  const wallUs = nowUs() - start;
  const cpu = process.cpuUsage(cpu0);
  return { done: true, sent, wallMs: wallUs / 1000, sentPerSec: (sent * 1e6) / wallUs, dropped: wsDropped - dropped0, sourceCpuPct: ((cpu.user + cpu.system) / wallUs) * 100 };
}

out({
  ready: true,
  wsUrl: `ws://127.0.0.1:${server.port}/v5/public`,
  restUrl: sim.restUrl,
  topics: topics.map((t) => t.topic),
  cycleFrames: topics.map((t) => t.frames.length),
  levelsPerFrame: levelsTotal / framesTotal,
  bytesPerFrame: bytesTotal / framesTotal,
});

for await (const cmd of parentCommands<{ cmd: string; rate?: number; ms?: number; n?: number }>()) {
  if (cmd.cmd === "run") out(await run(cmd.rate!, cmd.ms!));
  else if (cmd.cmd === "flood") out(await flood(cmd.n!));
  else if (cmd.cmd === "subscribers") out({ subscribers: topics.map((t) => t.subs.size) });
  else if (cmd.cmd === "quit") {
    server.stop(true);
    await sim.stop();
    process.exit(0);
  }
}
