/**
 * Throughput with 1 and 2 workers in one run (`bun bench/workers.bench.ts`; best inside a private network
 * namespace: `unshare -n bash -c 'ip link set lo up && ./node_modules/.bin/bun bench/workers.bench.ts'`).
 *
 * startRuntime (src/app/runtime.ts) with workers = 1 (in-process Feeder) and then workers = 2 (Supervisor + two
 * Bun Workers, each with its own venue connection and publisher source id), against bench/e2e-source.ts in
 * another process, and bench/e2e-sub.ts (the subscriber library) in a third.
 * Load: a flood of FLOOD_N simulator deltas round robin over the topics, as fast as the feeder takes them (the
 * source queues at most 1 MiB per connection), then a paced phase at PACED_RATE. Counts come from the runtime's
 * HTTP /metrics (feeder_venue_messages_received_total, feeder_messages_published_total) and from the subscriber.
 * The machine has 2 vCPUs; the source and the subscriber run on them too.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRuntime, type Runtime } from "../src/app/runtime.ts";
import { validateConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/core/log.ts";
import { printTable, SMOKE, benchTempDir, waitBoundMs } from "./harness.ts";
import { Child, loopbackDestination, udpRcvbufErrors } from "./e2e-common.ts";

const SYMBOLS = (process.env.E2E_SYMBOLS ?? "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,LINKUSDT,AVAXUSDT").split(",");
const DEPTH = 50;
const FLOOD_N = Number(process.env.WORKERS_FLOOD_N ?? (SMOKE ? 2_000 : 600_000));
const PACED_RATE = Number(process.env.WORKERS_PACED_RATE ?? (SMOKE ? 5_000 : 100_000));
const PACED_MS = Number(process.env.WORKERS_PACED_MS ?? (SMOKE ? 300 : 4000));
/** The untimed flood before each measurement (JIT). */
const WARM_N = SMOKE ? 1_000 : 100_000;
/** How often the catch-up wait reads /metrics (each read renders it): its wall time is measured, but not in a smoke run. */
const POLL_MS = SMOKE ? 20 : 2;
const bench = (f: string) => fileURLToPath(new URL(f, import.meta.url));

const { group, port } = loopbackDestination(2);
const source = await Child.spawn([bench("./e2e-source.ts"), SYMBOLS.join(","), String(DEPTH)]);
const src = (await source.next()) as { wsUrl: string; restUrl: string; topics: string[]; levelsPerFrame: number; bytesPerFrame: number };
const subscriber = await Child.spawn([bench("./e2e-sub.ts"), group, String(port)]);
await subscriber.next();

function configFor(workers: number) {
  return validateConfig({
    workers,
    log: { level: "warn", format: "json" },
    http: { enabled: true, listen: "127.0.0.1:0" },
    publish: { destinations: [{ name: "bench", group, port, interface: "127.0.0.1", ttl: 1, channel: 1 }] },
    venues: {
      bybit: {
        ws_url: src.wsUrl,
        rest_url: src.restUrl,
        instrument_cache: join(benchTempDir("feeder-workers-bench-"), "instruments.json"),
        linear: { depth: DEPTH, symbols: SYMBOLS },
      },
    },
  });
}

/** Sums a counter family from /metrics over all its series (workers, connections: they are disjoint). */
async function counters(rt: Runtime): Promise<{ inMsgs: number; outMsgs: number; gaps: number; sendErrors: number }> {
  const text = await (await fetch(`${rt.http!.url}/metrics`)).text();
  const sum = (name: string) => {
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      if (line[name.length] !== "{" && line[name.length] !== " ") continue;
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  };
  return {
    inMsgs: sum("feeder_venue_messages_received_total"),
    outMsgs: sum("feeder_messages_published_total"),
    gaps: sum("feeder_venue_sequence_gaps_total"),
    sendErrors: sum("feeder_send_errors_total"),
  };
}

/** ns all threads of this process (main, workers, GC/JIT helpers) spent runnable but waiting for a CPU. */
function runQueueWaitNs(): number {
  try {
    let total = 0;
    for (const tid of readdirSync("/proc/self/task")) total += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[1]);
    return total;
  } catch {
    return NaN;
  }
}

async function waitLive(rt: Runtime): Promise<void> {
  const deadline = Date.now() + waitBoundMs(20_000);
  for (;;) {
    const { books } = await rt.status.readiness();
    if (books.length === SYMBOLS.length && books.every((b) => b.valid)) return;
    if (Date.now() > deadline) throw new Error(`books not live within ${waitBoundMs(20_000) / 1000} s`);
    await Bun.sleep(20);
  }
}

async function measure(rt: Runtime, workers: number, mode: "flood" | "paced"): Promise<Record<string, unknown>> {
  await subscriber.ask({ cmd: "reset" });
  const c0 = await counters(rt);
  const cpu0 = process.cpuUsage();
  const wait0 = runQueueWaitNs();
  const rcvbuf0 = udpRcvbufErrors();
  const t0 = performance.now();
  const sent = (await source.ask(mode === "flood" ? { cmd: "flood", n: FLOOD_N } : { cmd: "run", rate: PACED_RATE, ms: PACED_MS })) as {
    sent: number;
    sentPerSec: number;
    dropped: number;
    sourceCpuPct: number;
  };
  let c1 = await counters(rt);
  const until = performance.now() + 10_000;
  while (c1.inMsgs - c0.inMsgs < sent.sent && performance.now() < until) {
    await Bun.sleep(POLL_MS);
    c1 = await counters(rt);
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const waitS = (runQueueWaitNs() - wait0) / 1e9;
  const subDeadline = performance.now() + 2000;
  while (performance.now() < subDeadline) {
    const c = (await subscriber.ask({ cmd: "count" })) as { events: number };
    if (c.events >= sent.sent) break;
    await Bun.sleep(20);
  }
  const rep = (await subscriber.ask({ cmd: "report" })) as { events: number; firstRecvUs: number; lastRecvUs: number; counters: Record<string, number> };
  const inMsgs = c1.inMsgs - c0.inMsgs;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const lost = sent.sent - rep.events;
  return {
    workers,
    load: mode === "flood" ? `flood ${FLOOD_N / 1000}k` : `paced ${PACED_RATE / 1000}k/s`,
    "source sent/s": Math.round(sent.sentPerSec),
    "applied msgs/s (/metrics)": Math.round(inMsgs / wallS),
    "published msgs/s (/metrics)": Math.round((c1.outMsgs - c0.outMsgs) / wallS),
    "subscriber msgs/s": Math.round(((rep.events - 1) * 1e6) / (rep.lastRecvUs - rep.firstRecvUs)),
    "feeder process CPU": `${((cpuS / wallS) * 100).toFixed(0)} %`,
    "runq wait (all threads)": `${((waitS / wallS) * 100).toFixed(0)} %`,
    "msgs per CPU-s": Math.round(inMsgs / cpuS),
    lost,
    gaps: rep.counters.gaps! + (c1.gaps - c0.gaps),
    "send errs": c1.sendErrors - c0.sendErrors,
    "kernel rcvbuf drops": udpRcvbufErrors() - rcvbuf0,
  };
}

console.log(
  `workers bench — Bun ${Bun.version}; ${src.topics.length} topics (linear depth ${DEPTH}), simulator deltas of ${src.levelsPerFrame.toFixed(1)} levels ` +
    `(≈${src.bytesPerFrame.toFixed(0)} B); multicast ${group}:${port} on 127.0.0.1 TTL 1; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);
const rows: Record<string, unknown>[] = [];
for (const workers of [1, 2]) {
  const rt = await startRuntime(configFor(workers), silentLogger);
  try {
    await waitLive(rt);
    await source.ask({ cmd: "flood", n: WARM_N }); // warm-up (JIT), not reported
    await Bun.sleep(300);
    rows.push(await measure(rt, workers, "flood"));
    rows.push(await measure(rt, workers, "paced"));
    console.log(`  workers=${workers} done`);
  } finally {
    await rt.stop();
  }
  await Bun.sleep(500);
}
printTable(rows);
const f1 = rows[0]!["applied msgs/s (/metrics)"] as number;
const f2 = rows[2]!["applied msgs/s (/metrics)"] as number;
console.log(`\nflood throughput, 2 workers / 1 worker: ${(f2 / f1).toFixed(2)}× (load average at end ${loadavg().map((x) => x.toFixed(2)).join(" ")})`);

await source.ask({ cmd: "quit" }).catch(() => undefined);
await subscriber.ask({ cmd: "quit" }).catch(() => undefined);
source.kill();
subscriber.kill();
process.exit(0);
