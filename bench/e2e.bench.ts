/**
 * End to end on loopback (`bun bench/e2e.bench.ts`; as root it re-runs itself inside a private network namespace,
 * `unshare -n` with only `lo`, unless it is already in one).
 *
 * Three processes, so the feeder's process is measured alone:
 * - bench/e2e-source.ts (child): the simulator's REST instruments and its generated frames, served by a paced
 *   Bybit-protocol WebSocket that stamps each frame's send µs into ts/cts (see that file);
 * - this process: the real Feeder (src/app/feeder.ts), one venue connection, config defaults except the
 *   destination (239.255.x.x, interface 127.0.0.1, TTL 1);
 * - bench/e2e-sub.ts (child): the FeedSubscriber library, which measures source → subscriber latency.
 * Feeder-internal latency = frame receipt (the adapter's nowUs() before scanning) → end of the flush whose
 * sendMany carried the event, observed by FeedPublisher's receiptToSend hook (also filling the Feeder's
 * histogram); this bench records every raw sample into a preallocated Float64Array for exact percentiles.
 * Clock across processes: performance.timeOrigin + performance.now() (docs/runtime-costs.md §5).
 * Rates 10k, 50k, 100k msgs/s, then stepping up until a rate loses messages or the feeder falls behind.
 * Throughput per core = messages / feeder CPU seconds (process.cpuUsage of this process over the phase).
 * Floor: at the A/B rates (10k and 50k) the feeder's phase alternates with a phase of bench/e2e-floor.ts, a minimal
 * relay fed by its own copy of the source (same frames, same pacing) that sends one fixed 32-byte datagram per frame
 * with the same receipt stamp, the same once-per-turn flush and the same latency measurement; each round gives the
 * ratio feeder / floor of p50 and p99, and the report gives their medians over the rounds (order A/B, then B/A, so
 * a slow drift of the VM does not favour either side). The throughput and latency tables show an A/B rate's round 1;
 * its "no loss" and "kept up" (and so the step-up and the verdicts) are over every round.
 * Env: E2E_PHASE_MS (default 4000), E2E_SYMBOLS (default 8 linear symbols), E2E_DEPTH (default 50),
 * E2E_AB_RATES (default 10000,50000), E2E_AB_ROUNDS (default 8), E2E_AB_PHASE_MS (default 2000 per contender and round).
 * Diagnostics (docs/performance.md §4): E2E_PROBE=1 splits each contender's flush (receipt → flush start, seal, inside
 * sendMany, after) and counts its main thread's preemptions; E2E_PROBE=2 also tells per flush whether the thread was
 * preempted inside it (reads /proc per flush, so it perturbs); E2E_FLOOR_BYTES sets the floor's datagram size;
 * E2E_SUB_SCHED=batch runs the subscriber as SCHED_BATCH; E2E_SUB_PLAIN=1 (bench/e2e-sub.ts).
 * @module
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Feeder } from "../src/app/feeder.ts";
import { PublishGuard } from "../src/app/publish-guard.ts";
import { addTurnEndHook, nowUs } from "../src/core/clock.ts";
import { validateConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState } from "../src/core/types.ts";
import { printTable, SMOKE, benchTempDir, medianRatio, waitBoundMs } from "./harness.ts";
import { abRate, Child, highestCarried, involuntaryCtxReader, loopbackDestination, mainThreadCtxSwitches, pct, reexecInPrivateNetns, udpRcvbufErrors } from "./e2e-common.ts";

reexecInPrivateNetns(import.meta.url); // as root (npm run bench): inside `unshare -n`, only lo

const PHASE_MS = Number(process.env.E2E_PHASE_MS ?? (SMOKE ? 300 : 4000));
const SYMBOLS = (process.env.E2E_SYMBOLS ?? "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,LINKUSDT,AVAXUSDT").split(",");
const DEPTH = Number(process.env.E2E_DEPTH ?? 50);
// E2E_RATES=10000,50000 measures only those paced rates, no step-up and a short 20k-frame flood (quick comparisons).
// BENCH_SMOKE=1: one slow rate (with its one A/B round), a short flood and short warm-ups.
const ONLY_RATES = (process.env.E2E_RATES ?? (SMOKE ? "2000" : undefined))?.split(",").map(Number);
const FIXED_RATES = ONLY_RATES ?? [10_000, 50_000, 100_000];
const STEP_RATES = ONLY_RATES ? [] : [150_000, 200_000, 250_000, 300_000, 400_000];
const AB_RATES = (process.env.E2E_AB_RATES ?? (SMOKE ? "2000" : "10000,50000")).split(",").map(Number).filter((r) => FIXED_RATES.includes(r));
// Many short rounds rather than a few long ones: the VM's slow phases last seconds, and a median over many
// alternations lets fewer of them decide the ratio.
const AB_ROUNDS = Number(process.env.E2E_AB_ROUNDS ?? (SMOKE ? 1 : 8));
const AB_PHASE_MS = Number(process.env.E2E_AB_PHASE_MS ?? (SMOKE ? 300 : 2000));
/** The untimed warm-up phase of each contender (JIT, buffers). */
const WARM = SMOKE ? { rate: 2_000, ms: 200 } : { rate: 20_000, ms: 1500 };
/** How often the catch-up waits look (their wall time is measured, to 1 ms; a smoke run's figures mean nothing). */
const POLL_MS = SMOKE ? 20 : 1;
const bench = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const { group, port } = loopbackDestination(1);
const floorDest = loopbackDestination(3);
// Two identical sources (same seed, so the same frames): one feeds the feeder, the other the floor relay; only the
// one whose contender is measured sends.
const [source, floorSource] = await Promise.all([
  Child.spawn([bench("./e2e-source.ts"), SYMBOLS.join(","), String(DEPTH)]),
  Child.spawn([bench("./e2e-source.ts"), SYMBOLS.join(","), String(DEPTH)]),
]);
const [src, floorSrc] = (await Promise.all([source.next(), floorSource.next()])) as {
  wsUrl: string;
  restUrl: string;
  topics: string[];
  cycleFrames: number[];
  levelsPerFrame: number;
  bytesPerFrame: number;
}[];
// E2E_SUB_SCHED=batch: the subscriber runs as SCHED_BATCH (`chrt -b 0`), whose wake-ups do not preempt the running
// task. On a shared 2-vCPU VM the subscriber woken by a datagram is often placed on the sender's CPU and preempts it
// inside sendMany, so the sender's "send" includes the receiver's handling of the datagram (docs/performance.md §4).
const SUB_SCHED = process.env.E2E_SUB_SCHED ?? "normal";
if (SUB_SCHED !== "normal" && SUB_SCHED !== "batch") throw new Error(`E2E_SUB_SCHED=${SUB_SCHED}: expected normal or batch`);
const subscriber = await Child.spawn([bench("./e2e-sub.ts"), group, String(port), floorDest.group, String(floorDest.port)], false, SUB_SCHED === "batch" ? ["chrt", "-b", "0"] : []);
await subscriber.next();
// The floor runs on the feeder's CPUs (with E2E_CHILD_CPUS the sources and the subscriber move elsewhere, it does not).
const floor = await Child.spawn([bench("./e2e-floor.ts"), floorSrc!.wsUrl, floorSrc!.topics.join(","), floorDest.group, String(floorDest.port)], true);
await floor.next();

const config = validateConfig({
  workers: 1,
  log: { level: "warn", format: "json" },
  http: { enabled: false, listen: "127.0.0.1:0" },
  publish: { destinations: [{ name: "bench", group, port, interface: "127.0.0.1", ttl: 1, channel: 1 }] },
  venues: {
    bybit: {
      ws_url: src.wsUrl,
      rest_url: src.restUrl,
      instrument_cache: join(benchTempDir("feeder-e2e-bench-"), "instruments.json"),
      linear: { depth: DEPTH, symbols: SYMBOLS },
    },
  },
});
const feeder = new Feeder({ config, log: silentLogger });
// E2E_GUARD=1: also run the publish guard's watcher (src/app/publish-guard.ts) in this process, joined to the group
// as `feeder run` does, so its cost on the feeder shows in the same figures (docs/performance.md).
const guard = process.env.E2E_GUARD === "1" ? new PublishGuard({ ...config, publish: { ...config.publish, startupListenMs: 0 } }, silentLogger) : undefined;
if (guard) {
  guard.addOwnSession(feeder.publisher.sourceId, feeder.publisher.sessionId);
  await guard.listenBeforePublishing();
  guard.startWatching();
}

// Raw receipt → sent samples, next to the Feeder's own histogram (same observe call).
const CAP = 4_000_000;
const samples = new Float64Array(CAP);
let nSamples = 0;
const hist = feeder.latency.receiptToSend;
const histObserve = hist.observe.bind(hist);
hist.observe = (us: number) => {
  if (nSamples < CAP) samples[nSamples++] = us;
  histObserve(us);
};

await feeder.start();
// E2E_PROBE=1 (diagnostic, docs/performance.md §4): per flush that carried events, Bun.nanoseconds() from the flush's
// start to its first sendMany (seal: send time, CRC-32), inside the sendMany calls, and after the last; and µs from
// the turn's receipt stamp to the flush's start. The floor (same knob) measures its sendMany and receipt → flush.
// E2E_PROBE=2 also reads /proc per flush to tell whether the thread was preempted inside its sendMany calls.
const PROBE = process.env.E2E_PROBE === "1" || process.env.E2E_PROBE === "2";
const readInvol = process.env.E2E_PROBE === "2" ? involuntaryCtxReader() : undefined;
const probe = { pre: new Float64Array(CAP), send: new Float64Array(CAP), post: new Float64Array(CAP), wait: new Float64Array(CAP), preempted: new Uint8Array(CAP), n: 0, enc: new Float64Array(CAP), nEnc: 0 };
if (PROBE) {
  const pub = feeder.publisher as unknown as { flush(): void; pendingCount: number; pendingRecvUs: Float64Array; channels: { socket: { sendMany(a: Uint8Array[]): number } }[] };
  let sendNs = 0;
  let firstSendNs = 0;
  let lastSendNs = 0;
  for (const ch of pub.channels) {
    const sock = ch.socket;
    const orig = sock.sendMany.bind(sock);
    sock.sendMany = (a: Uint8Array[]) => {
      const t = Bun.nanoseconds();
      if (firstSendNs === 0) firstSendNs = t;
      const r = orig(a);
      lastSendNs = Bun.nanoseconds();
      sendNs += lastSendNs - t;
      return r;
    };
  }
  // The encoder's share of the turn: publishDelta (pack into the channel's datagram) per event.
  const pubAny = feeder.publisher as unknown as { publishDelta(h: number, v: unknown, c: unknown): void };
  const publishDelta = pubAny.publishDelta.bind(pubAny);
  pubAny.publishDelta = (h: number, v: unknown, c: unknown) => {
    const t = Bun.nanoseconds();
    publishDelta(h, v, c);
    if (probe.nEnc < CAP) probe.enc[probe.nEnc++] = (Bun.nanoseconds() - t) / 1000;
  };
  const flush = pub.flush.bind(pub);
  pub.flush = () => {
    const events = pub.pendingCount;
    const waitUs = events > 0 ? nowUs() - pub.pendingRecvUs[0]! : 0;
    sendNs = 0;
    firstSendNs = 0;
    const invol0 = readInvol !== undefined ? readInvol() : 0;
    const t0 = Bun.nanoseconds();
    flush();
    const t1 = Bun.nanoseconds();
    const preempted = readInvol !== undefined && readInvol() !== invol0;
    if (events > 0 && firstSendNs > 0 && probe.n < CAP) {
      probe.pre[probe.n] = (firstSendNs - t0) / 1000;
      probe.send[probe.n] = sendNs / 1000;
      probe.post[probe.n] = (t1 - lastSendNs) / 1000;
      probe.preempted[probe.n] = preempted ? 1 : 0;
      probe.wait[probe.n++] = waitUs;
    }
  };
}
// Flushes that carried events (turns whose end added samples): registered after the publisher's hook, so it runs
// after the flush has observed its events.
let flushes = 0;
let samplesAtLastTurn = 0;
addTurnEndHook(() => {
  if (nSamples !== samplesAtLastTurn) {
    flushes++;
    samplesAtLastTurn = nSamples;
  }
});
const deadline = Date.now() + waitBoundMs(15_000);
while (feeder.books().some((b) => b.state !== BookState.LIVE)) {
  if (Date.now() > deadline) throw new Error(`books not LIVE within ${waitBoundMs(15_000) / 1000} s`);
  await Bun.sleep(10);
}

/**
 * ns this process's main (JS) thread spent runnable but waiting for a CPU (/proc/self/schedstat field 2): the
 * share of the phase the feeder wanted to run and the 2 vCPUs were busy with other processes. NaN off Linux.
 */
function runQueueWaitNs(): number {
  try {
    return Number(readFileSync("/proc/self/schedstat", "utf8").split(" ")[1]);
  } catch {
    return NaN;
  }
}

function venueStats(): Record<string, number> {
  return feeder.stats().venues.bybit ?? {};
}

interface PhaseResult {
  rate: number;
  /** receipt → sendMany done, exact percentiles over the phase. */
  internal: Record<string, number>;
  /** Events per flush that carried any (how many frames one turn handled). */
  framesPerFlush: number;
  probe?: { pre: Record<string, number>; send: Record<string, number>; post: Record<string, number>; wait: Record<string, number>; enc: Record<string, number>; bytesPerDatagram: number; involuntaryCtxSwitches: number; flushes: number; sendPreempted: Record<string, number>; sendNotPreempted: Record<string, number> };
  row: Record<string, unknown>;
  latencyRows: Record<string, unknown>[];
  noLoss: boolean;
  keptUp: boolean;
}

/** The feeder's sendMany µs of flushes in which its thread was preempted, and of the others (E2E_PROBE=2). */
function splitPreempted(): { sendPreempted: Record<string, number>; sendNotPreempted: Record<string, number> } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < probe.n; i++) (probe.preempted[i] === 1 ? a : b).push(probe.send[i]!);
  return { sendPreempted: pct(Float64Array.from(a)), sendNotPreempted: pct(Float64Array.from(b)) };
}

/** rate > 0: paced for ms; rate = 0: flood of floodN frames, paced by the feeder (the source waits on its socket). */
async function phase(rate: number, ms: number, label = "", floodN = 0): Promise<PhaseResult> {
  await subscriber.ask({ cmd: "reset" });
  const v0 = venueStats();
  const p0 = { ...feeder.publisher.counters };
  nSamples = 0;
  probe.n = 0;
  probe.nEnc = 0;
  samplesAtLastTurn = 0;
  flushes = 0;
  const cpu0 = process.cpuUsage();
  const wait0 = runQueueWaitNs();
  const rcvbuf0 = udpRcvbufErrors();
  const ctx0 = mainThreadCtxSwitches();
  const t0 = performance.now();
  const sent = (await source.ask(floodN > 0 ? { cmd: "flood", n: floodN } : { cmd: "run", rate, ms })) as {
    sent: number;
    wallMs: number;
    sentPerSec: number;
    dropped: number;
    backpressured: number;
    maxBehind: number;
    sourceCpuPct: number;
  };
  const sendEnd = performance.now();
  // The feeder has caught up when it has taken every frame the source sent.
  const want = (v0.messages ?? 0) + sent.sent;
  const catchUp = performance.now() + 10_000;
  while ((venueStats().messages ?? 0) < want && performance.now() < catchUp) await Bun.sleep(POLL_MS);
  const drainMs = performance.now() - sendEnd;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const waitMs = (runQueueWaitNs() - wait0) / 1e6;
  // Give the subscriber a moment for the last datagrams, then ask for its counts.
  const subDeadline = performance.now() + 2000;
  while (performance.now() < subDeadline) {
    const c = (await subscriber.ask({ cmd: "count" })) as { events: number };
    if (c.events >= sent.sent) break;
    await Bun.sleep(20);
  }
  const rep = (await subscriber.ask({ cmd: "report" })) as {
    events: number;
    firstRecvUs: number;
    lastRecvUs: number;
    counters: Record<string, number>;
    e2e: Record<string, number>;
    srcToFeeder: Record<string, number>;
    feederToFlush: Record<string, number>;
    wire: Record<string, number>;
  };
  const v1 = venueStats();
  const p1 = feeder.publisher.counters;
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const taken = (v1.messages ?? 0) - (v0.messages ?? 0);
  const lost = sent.sent - rep.events;
  const feederGaps = (v1.gaps ?? 0) - (v0.gaps ?? 0);
  const sendErrors = p1.sendErrors - p0.sendErrors;
  // taken counts every frame the adapter received, pongs included: ≥, not =.
  const noLoss = lost === 0 && rep.counters.gaps === 0 && feederGaps === 0 && sendErrors === 0 && sent.dropped === 0 && taken >= sent.sent;
  const feederRate = sent.sent / ((sendEnd + drainMs - t0) / 1000);
  // Kept up: the source offered the rate, the feeder took it as fast (no growing backlog) and caught up within
  // 100 ms of the last frame. A flood has a backlog by construction (the source keeps ≤ 1 MiB queued).
  const keptUp = floodN === 0 && sent.sentPerSec >= rate * 0.97 && feederRate >= sent.sentPerSec * 0.97 && drainMs < 100;
  const subRate = rep.events > 1 ? ((rep.events - 1) * 1e6) / (rep.lastRecvUs - rep.firstRecvUs) : NaN;
  const internal = pct(samples.subarray(0, nSamples));
  const bytesPerDatagram = (p1.bytes - p0.bytes) / (p1.datagrams - p0.datagrams);
  const probeRes = PROBE
    ? { pre: pct(probe.pre.subarray(0, probe.n)), send: pct(probe.send.subarray(0, probe.n)), post: pct(probe.post.subarray(0, probe.n)), wait: pct(probe.wait.subarray(0, probe.n)), enc: pct(probe.enc.subarray(0, probe.nEnc)), bytesPerDatagram, involuntaryCtxSwitches: mainThreadCtxSwitches().involuntary - ctx0.involuntary, flushes: probe.n, ...splitPreempted() }
    : undefined;
  return {
    rate,
    internal,
    probe: probeRes,
    framesPerFlush: nSamples / flushes,
    noLoss,
    keptUp,
    row: {
      "rate (target)": floodN > 0 ? `flood ${floodN / 1000}k` : `${label}${rate / 1000}k/s`,
      "sent/s": Math.round(sent.sentPerSec),
      "feeder msgs/s": Math.round(feederRate),
      "sub recv msgs/s": Math.round(subRate),
      "feeder CPU": `${((cpuSec * 1000) / wallMs * 100).toFixed(0)} %`,
      "feeder runq wait": `${((waitMs / wallMs) * 100).toFixed(0)} %`,
      "msgs per CPU-s": Math.round(sent.sent / cpuSec),
      "datagrams/msg": +((p1.datagrams - p0.datagrams) / sent.sent).toFixed(2),
      "drain ms": +drainMs.toFixed(1),
      "recv'd": rep.events,
      lost,
      gaps: rep.counters.gaps + feederGaps,
      "send errs": sendErrors,
      "kernel rcvbuf drops": udpRcvbufErrors() - rcvbuf0,
      "src CPU": `${sent.sourceCpuPct.toFixed(0)} %`,
      "src backpressure": sent.backpressured,
      "no loss": noLoss ? "yes" : "NO",
      "kept up": floodN > 0 ? "–" : keptUp ? "yes" : "NO",
    },
    latencyRows: floodN > 0 ? [] : [
      latRow(`${rate / 1000}k/s`, "feeder: receipt → sendMany done (hook)", internal),
      latRow(`${rate / 1000}k/s`, "feeder: receipt → packet send stamp (wire)", rep.feederToFlush),
      latRow(`${rate / 1000}k/s`, "source send → feeder receipt", rep.srcToFeeder),
      latRow(`${rate / 1000}k/s`, "packet send stamp → subscriber receipt", rep.wire),
      latRow(`${rate / 1000}k/s`, "source send → subscriber receipt (e2e)", rep.e2e),
    ],
  };
}

function us(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  return x < 1000 ? `${x.toFixed(1)} µs` : `${(x / 1000).toFixed(2)} ms`;
}
function latRow(rate: string, what: string, s: Record<string, number>): Record<string, unknown> {
  return { rate, latency: what, n: s.n, p50: us(s.p50), p90: us(s.p90), p99: us(s.p99), "p99.9": us(s.p999), max: us(s.max) };
}

console.log(
  `e2e bench — Bun ${Bun.version}; ${src.topics.length} topics (linear ${SYMBOLS.join(",")} depth ${DEPTH}); ` +
    `frames: simulator-generated, ${src.levelsPerFrame.toFixed(1)} levels and ≈${src.bytesPerFrame.toFixed(0)} B per delta on average; ` +
    `multicast ${group}:${port} on 127.0.0.1 TTL 1; ${PHASE_MS} ms per rate`,
);
console.log(`subscriber scheduling: ${SUB_SCHED === "batch" ? "SCHED_BATCH (its wake-ups do not preempt the sender)" : "normal"}`);
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes on this 2-vCPU VM compete with all three)`);
await phase(WARM.rate, WARM.ms); // warm-up (JIT, buffers), not reported

interface FloorResult {
  internal: Record<string, number>;
  probe?: { sendUs: Record<string, number>; receiptToFlushUs: Record<string, number>; involuntaryCtxSwitches: number; sendPreemptedUs: Record<string, number>; sendNotPreemptedUs: Record<string, number> };
  framesPerFlush: number;
  sent: number;
  received: number;
  datagrams: number;
  sendErrors: number;
  cpuPct: number;
  sentPerSec: number;
}

/** One paced phase of the floor relay: its source sends, the feeder's source is idle. */
async function floorPhase(rate: number, ms: number): Promise<FloorResult> {
  await subscriber.ask({ cmd: "reset" });
  await floor.ask({ cmd: "reset" });
  const sent = (await floorSource.ask({ cmd: "run", rate, ms })) as { sent: number; sentPerSec: number };
  const until = performance.now() + 10_000;
  while (((await floor.ask({ cmd: "count" })) as { frames: number }).frames < sent.sent && performance.now() < until) await Bun.sleep(POLL_MS);
  const rep = (await floor.ask({ cmd: "report" })) as { frames: number; flushes: number; datagrams: number; sendErrors: number; cpuPct: number; latency: Record<string, number>; probe?: FloorResult["probe"] };
  let received = 0;
  const subUntil = performance.now() + 2000;
  while (performance.now() < subUntil) {
    received = ((await subscriber.ask({ cmd: "count" })) as { floorDatagrams: number }).floorDatagrams;
    if (received >= rep.datagrams) break;
    await Bun.sleep(20);
  }
  return { internal: rep.latency, probe: rep.probe, framesPerFlush: rep.frames / rep.flushes, sent: sent.sent, received, datagrams: rep.datagrams, sendErrors: rep.sendErrors, cpuPct: rep.cpuPct, sentPerSec: sent.sentPerSec };
}

interface AbRound {
  rate: number;
  round: number;
  feeder: PhaseResult;
  floor: FloorResult;
}
const abRounds: AbRound[] = [];
await floorPhase(WARM.rate, WARM.ms); // the floor's warm-up, not reported

const results: PhaseResult[] = [];
for (const rate of FIXED_RATES) {
  if (!AB_RATES.includes(rate)) {
    results.push(await phase(rate, PHASE_MS));
  } else {
    const feederRounds: PhaseResult[] = [];
    for (let round = 1; round <= AB_ROUNDS; round++) {
      // Odd rounds feeder first, even rounds floor first.
      let feederRes: PhaseResult;
      let floorRes: FloorResult;
      if (round % 2 === 1) {
        feederRes = await phase(rate, AB_PHASE_MS);
        floorRes = await floorPhase(rate, AB_PHASE_MS);
      } else {
        floorRes = await floorPhase(rate, AB_PHASE_MS);
        feederRes = await phase(rate, AB_PHASE_MS);
      }
      abRounds.push({ rate, round, feeder: feederRes, floor: floorRes });
      feederRounds.push(feederRes);
      if (PROBE) {
        const f = feederRes.probe!;
        const g = floorRes.probe!;
        console.log(
          `    probe p50 µs: feeder receipt→flush ${f.wait.p50!.toFixed(1)} (publishDelta ${f.enc.p50!.toFixed(2)} per event), seal ${f.pre.p50!.toFixed(2)}, sendMany ${f.send.p50!.toFixed(2)} ` +
            `(${f.bytesPerDatagram.toFixed(0)} B/datagram), after ${f.post.p50!.toFixed(2)}; floor receipt→flush ${g.receiptToFlushUs.p50!.toFixed(1)}, sendMany ${g.sendUs.p50!.toFixed(2)}; ` +
            `p90 sendMany feeder ${f.send.p90!.toFixed(1)} floor ${g.sendUs.p90!.toFixed(1)}; ` +
            `preemptions per flush feeder ${(f.involuntaryCtxSwitches / f.flushes).toFixed(2)} floor ${(g.involuntaryCtxSwitches / (floorRes.internal.n! / floorRes.framesPerFlush)).toFixed(2)}` +
            (readInvol !== undefined
              ? `\n    sendMany p50 µs not preempted: feeder ${f.sendNotPreempted.p50!.toFixed(2)} (n ${f.sendNotPreempted.n}) floor ${g.sendNotPreemptedUs.p50!.toFixed(2)} (n ${g.sendNotPreemptedUs.n}); ` +
                `preempted: feeder ${f.sendPreempted.p50!.toFixed(2)} (n ${f.sendPreempted.n}) floor ${g.sendPreemptedUs.p50!.toFixed(2)} (n ${g.sendPreemptedUs.n})`
              : ""),
        );
      }
      console.log(
        `  ${rate / 1000}k/s round ${round}: feeder p50/p99 ${us(feederRes.internal.p50)} / ${us(feederRes.internal.p99)}, ` +
          `floor ${us(floorRes.internal.p50)} / ${us(floorRes.internal.p99)}; feeder ${feederRes.noLoss ? "no loss" : `LOSS (${feederRes.row.lost} lost)`}`,
      );
    }
    results.push(abRate(feederRounds));
  }
  const r = results.at(-1)!;
  console.log(`  ${rate / 1000}k/s: ${r.noLoss ? "no loss" : "LOSS"}, ${r.keptUp ? "kept up" : "fell behind"}${AB_RATES.includes(rate) ? ` (all ${AB_ROUNDS} A/B rounds)` : ""}`);
}
// Step up while nothing is lost and the source still reaches the rate (beyond that the source is the limit).
if (results.every((r) => r.noLoss)) {
  for (const rate of STEP_RATES) {
    const r = await phase(rate, PHASE_MS, "step ");
    results.push(r);
    console.log(`  ${rate / 1000}k/s: ${r.noLoss ? "no loss" : "LOSS"}, ${r.keptUp ? "kept up" : "fell behind"}`);
    if (!r.noLoss || (r.row["sent/s"] as number) < rate * 0.9) break;
  }
}
const paced = results.slice();
const highest = highestCarried(paced, (r) => r.row["sent/s"] as number);
const firstBehind = paced.findIndex((r) => !(r.noLoss && r.keptUp));
const highestKeptUp = (firstBehind < 0 ? paced : paced.slice(0, firstBehind)).at(-1);

// Flood: the source sends as fast as the feeder takes frames (1 MiB socket queue at most) — the feeder's ceiling
// with the source and the subscriber on the same 2 vCPUs.
const FLOOD_N = Number(process.env.E2E_FLOOD_N ?? (SMOKE ? 2_000 : ONLY_RATES ? 20_000 : 600_000));
const flood = await phase(0, 0, "", FLOOD_N);
results.push(flood);
console.log(`  flood: ${flood.noLoss ? "no loss" : "LOSS"}, ${flood.row["feeder msgs/s"]} msgs/s through the feeder`);

console.log("\n== throughput and loss per rate ==");
printTable(results.map((r) => r.row));
console.log("\n== latency per rate (µs; cross-process rows use the timeOrigin clock) ==");
printTable(results.flatMap((r) => r.latencyRows));

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
if (abRounds.length > 0) {
  console.log("\n== feeder vs floor (receipt → sendMany done, same clock, stamp and flush; A/B rounds of this run) ==");
  printTable(
    abRounds.map((r) => ({
      rate: `${r.rate / 1000}k/s`,
      round: `${r.round} (${r.round % 2 === 1 ? "feeder first" : "floor first"})`,
      "feeder p50": us(r.feeder.internal.p50),
      "floor p50": us(r.floor.internal.p50),
      "p50 ratio": ratioCell(r.feeder.internal.p50, r.floor.internal.p50),
      "feeder p99": us(r.feeder.internal.p99),
      "floor p99": us(r.floor.internal.p99),
      "p99 ratio": ratioCell(r.feeder.internal.p99, r.floor.internal.p99),
      "frames/flush feeder · floor": `${r.feeder.framesPerFlush.toFixed(2)} · ${r.floor.framesPerFlush.toFixed(2)}`,
      "feeder CPU": r.feeder.row["feeder CPU"],
      "floor CPU": `${r.floor.cpuPct.toFixed(0)} %`,
      "floor sent/s": Math.round(r.floor.sentPerSec),
      "floor datagrams/frame": +(r.floor.datagrams / r.floor.sent).toFixed(2),
      "feeder lost": r.feeder.row.lost,
      "feeder no loss": r.feeder.noLoss ? "yes" : "NO",
      "floor lost": r.floor.datagrams - r.floor.received + r.floor.sendErrors,
    })),
  );
}
/** A round's feeder / floor ratio, or "–" when a side got no latency sample in it (a loaded box): never NaN. */
function ratioCell(feeder: number | undefined, floor: number | undefined): string {
  const { ratio } = medianRatio([[feeder, floor]]);
  return ratio === undefined ? "–" : ratio.toFixed(2);
}
type RoundsRatio = ReturnType<typeof medianRatio>;
function abSummary(rate: number): { p50: RoundsRatio; p99: RoundsRatio; feeder50: number; feeder99: number; floor50: number; floor99: number } {
  const rs = abRounds.filter((r) => r.rate === rate);
  return {
    p50: medianRatio(rs.map((r) => [r.feeder.internal.p50, r.floor.internal.p50])),
    p99: medianRatio(rs.map((r) => [r.feeder.internal.p99, r.floor.internal.p99])),
    feeder50: median(rs.map((r) => r.feeder.internal.p50!)),
    feeder99: median(rs.map((r) => r.feeder.internal.p99!)),
    floor50: median(rs.map((r) => r.floor.internal.p50!)),
    floor99: median(rs.map((r) => r.floor.internal.p99!)),
  };
}

const at50 = results.find((r) => r.rate === 50_000);
const internal50 = at50?.latencyRows[0] ?? { p50: "–", p99: "–" };
const abs50 = AB_RATES.includes(50_000) ? abSummary(50_000) : undefined;
/** "median of n rounds: 1.23×", saying how many rounds had latency samples on both sides when not all did. */
function roundsRatio({ ratio, used }: RoundsRatio, rounds: number): string {
  if (ratio === undefined) return `no round of ${rounds} had latency samples of both feeder and floor`;
  return `median of ${used === rounds ? `${rounds}` : `${used} of ${rounds}`} rounds: ${ratio.toFixed(2)}×`;
}
const ratioRows = AB_RATES.map((rate) => {
  const a = abSummary(rate);
  const n = abRounds.filter((r) => r.rate === rate).length;
  return [
    {
      target: `feeder-internal p50 ≤ 1.5× the floor's at ${rate / 1000}k msgs/s`,
      measured: `${roundsRatio(a.p50, n)} (feeder ${us(a.feeder50)}, floor ${us(a.floor50)}, medians)`,
      met: a.p50.ratio === undefined ? "no data" : a.p50.ratio <= 1.5 ? "yes" : "NO",
    },
    {
      target: `feeder-internal p99 ≤ 2× the floor's at ${rate / 1000}k msgs/s`,
      measured: `${roundsRatio(a.p99, n)} (feeder ${us(a.feeder99)}, floor ${us(a.floor99)}, medians)`,
      met: a.p99.ratio === undefined ? "no data" : a.p99.ratio <= 2 ? "yes" : "NO",
    },
  ];
}).flat();
console.log("\n== targets ==");
printTable([
  ...ratioRows,
  {
    target: "feeder-internal p50 ≤ 10 µs at 50k msgs/s",
    measured: abs50 ? `${us(abs50.feeder50)} (median of the A/B rounds)` : internal50.p50,
    met: (abs50 ? abs50.feeder50 : parseUs(internal50.p50 as string)) <= 10 ? "yes" : "NO",
  },
  {
    target: "feeder-internal p99 ≤ 50 µs at 50k msgs/s",
    measured: abs50 ? `${us(abs50.feeder99)} (median of the A/B rounds)` : internal50.p99,
    met: (abs50 ? abs50.feeder99 : parseUs(internal50.p99 as string)) <= 50 ? "yes" : "NO",
  },
  {
    target: "≥ 150k msgs/s sustained on one core, nothing lost",
    measured:
      `paced: highest rate with no loss ${highest ? `${highest.rate / 1000}k/s (${highest.row["sent/s"]} sent/s)` : "none"}; ` +
      `highest kept up without backlog ${highestKeptUp ? `${highestKeptUp.rate / 1000}k/s` : "none"}`,
    met: highestKeptUp && highestKeptUp.rate >= 150_000 ? "yes" : highest && highest.rate >= 150_000 ? "partly" : "NO",
  },
  {
    target: "(same, feeder-paced flood)",
    measured: `flood: ${flood.row["feeder msgs/s"]} msgs/s through the feeder, ${flood.row["msgs per CPU-s"]} msgs per feeder CPU-s, ${flood.noLoss ? "nothing lost" : "LOSS"}`,
    met: flood.noLoss && (flood.row["feeder msgs/s"] as number) >= 150_000 ? "yes" : "NO",
  },
]);
const fHist = feeder.latency.receiptToSend;
console.log(
  `\nFeeder.latency.receiptToSend histogram (whole run): ${fHist.count} events, p50 ≤ ${fHist.quantileUpperBoundUs(0.5)} µs, ` +
    `p99 ≤ ${fHist.quantileUpperBoundUs(0.99)} µs (bucket upper bounds)`,
);

function parseUs(s: string): number {
  return s.endsWith("ms") ? parseFloat(s) * 1000 : parseFloat(s);
}

console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
if (guard) console.log(`publish guard: on, ${guard.watcherDatagrams()} datagrams seen by its watcher, ${guard.conflictsDetected} conflicts`);
await feeder.stop();
await guard?.stop();
for (const c of [source, floorSource, subscriber, floor]) await c.ask({ cmd: "quit" }).catch(() => undefined);
for (const c of [source, floorSource, subscriber, floor]) c.kill();
process.exit(0);
