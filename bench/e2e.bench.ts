/**
 * End to end on loopback (`bun bench/e2e.bench.ts`; best inside a private network namespace:
 * `unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/e2e.bench.ts'`).
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
 * Env: E2E_PHASE_MS (default 4000), E2E_SYMBOLS (default 8 linear symbols), E2E_DEPTH (default 50).
 * @module
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Feeder } from "../src/app/feeder.ts";
import { PublishGuard } from "../src/app/publish-guard.ts";
import { validateConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/core/log.ts";
import { BookState } from "../src/core/types.ts";
import { printTable } from "./harness.ts";
import { Child, loopbackDestination, pct, udpRcvbufErrors } from "./e2e-common.ts";

const PHASE_MS = Number(process.env.E2E_PHASE_MS ?? 4000);
const SYMBOLS = (process.env.E2E_SYMBOLS ?? "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,LINKUSDT,AVAXUSDT").split(",");
const DEPTH = Number(process.env.E2E_DEPTH ?? 50);
// E2E_RATES=10000,50000 measures only those paced rates, no step-up and a short 20k-frame flood (quick comparisons).
const ONLY_RATES = process.env.E2E_RATES?.split(",").map(Number);
const FIXED_RATES = ONLY_RATES ?? [10_000, 50_000, 100_000];
const STEP_RATES = ONLY_RATES ? [] : [150_000, 200_000, 250_000, 300_000, 400_000];
const bench = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const { group, port } = loopbackDestination(1);
const source = await Child.spawn([bench("./e2e-source.ts"), SYMBOLS.join(","), String(DEPTH)]);
const src = (await source.next()) as { wsUrl: string; restUrl: string; topics: string[]; cycleFrames: number[]; levelsPerFrame: number; bytesPerFrame: number };
const subscriber = await Child.spawn([bench("./e2e-sub.ts"), group, String(port)]);
await subscriber.next();

const config = validateConfig({
  workers: 1,
  log: { level: "warn", format: "json" },
  http: { enabled: false, listen: "127.0.0.1:0" },
  publish: { destinations: [{ name: "bench", group, port, interface: "127.0.0.1", ttl: 1, channel: 1 }] },
  venues: {
    bybit: {
      ws_url: src.wsUrl,
      rest_url: src.restUrl,
      instrument_cache: join(mkdtempSync(join(tmpdir(), "feeder-e2e-bench-")), "instruments.json"),
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
const deadline = Date.now() + 15_000;
while (feeder.books().some((b) => b.state !== BookState.LIVE)) {
  if (Date.now() > deadline) throw new Error("books not LIVE within 15 s");
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
  row: Record<string, unknown>;
  latencyRows: Record<string, unknown>[];
  noLoss: boolean;
  keptUp: boolean;
}

/** rate > 0: paced for ms; rate = 0: flood of floodN frames, paced by the feeder (the source waits on its socket). */
async function phase(rate: number, ms: number, label = "", floodN = 0): Promise<PhaseResult> {
  await subscriber.ask({ cmd: "reset" });
  const v0 = venueStats();
  const p0 = { ...feeder.publisher.counters };
  nSamples = 0;
  const cpu0 = process.cpuUsage();
  const wait0 = runQueueWaitNs();
  const rcvbuf0 = udpRcvbufErrors();
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
  while ((venueStats().messages ?? 0) < want && performance.now() < catchUp) await Bun.sleep(1);
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
  return {
    rate,
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
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes on this 2-vCPU VM compete with all three)`);
await phase(20_000, 1500); // warm-up (JIT, buffers), not reported

const results: PhaseResult[] = [];
for (const rate of FIXED_RATES) {
  results.push(await phase(rate, PHASE_MS));
  console.log(`  ${rate / 1000}k/s: ${results.at(-1)!.noLoss ? "no loss" : "LOSS"}, ${results.at(-1)!.keptUp ? "kept up" : "fell behind"}`);
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
const firstLoss = paced.findIndex((r) => !r.noLoss);
const highest = (firstLoss < 0 ? paced : paced.slice(0, firstLoss)).at(-1);
const firstBehind = paced.findIndex((r) => !(r.noLoss && r.keptUp));
const highestKeptUp = (firstBehind < 0 ? paced : paced.slice(0, firstBehind)).at(-1);

// Flood: the source sends as fast as the feeder takes frames (1 MiB socket queue at most) — the feeder's ceiling
// with the source and the subscriber on the same 2 vCPUs.
const FLOOD_N = ONLY_RATES ? 20_000 : Number(process.env.E2E_FLOOD_N ?? 600_000);
const flood = await phase(0, 0, "", FLOOD_N);
results.push(flood);
console.log(`  flood: ${flood.noLoss ? "no loss" : "LOSS"}, ${flood.row["feeder msgs/s"]} msgs/s through the feeder`);

console.log("\n== throughput and loss per rate ==");
printTable(results.map((r) => r.row));
console.log("\n== latency per rate (µs; cross-process rows use the timeOrigin clock) ==");
printTable(results.flatMap((r) => r.latencyRows));

const at50 = results.find((r) => r.rate === 50_000);
const internal50 = at50?.latencyRows[0] ?? { p50: "–", p99: "–" };
console.log("\n== targets ==");
printTable([
  {
    target: "feeder-internal p50 ≤ 10 µs at 50k msgs/s",
    measured: internal50.p50,
    met: parseUs(internal50.p50 as string) <= 10 ? "yes" : "NO",
  },
  {
    target: "feeder-internal p99 ≤ 50 µs at 50k msgs/s",
    measured: internal50.p99,
    met: parseUs(internal50.p99 as string) <= 50 ? "yes" : "NO",
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
await source.ask({ cmd: "quit" }).catch(() => undefined);
await subscriber.ask({ cmd: "quit" }).catch(() => undefined);
source.kill();
subscriber.kill();
process.exit(0);
