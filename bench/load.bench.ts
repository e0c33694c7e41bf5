/**
 * A realistic load (`bun bench/load.bench.ts`; `BENCH_QUICK=1` for a ≤ 40 s run). As root it re-runs itself inside
 * a private network namespace (`unshare -n`, only `lo`), so its multicast cannot mix with anything else.
 *
 * Three processes, as an operator would run them:
 * - the simulator: `feeder sim` (src/cli/main.ts) serving LOAD_SPOT spot symbols at depth 50, LOAD_LINEAR linear
 *   symbols at depth 200 and LOAD_OPTION options at depth 25 (1,300 by default) at LOAD_RATE book messages/s in
 *   aggregate, with Bybit's limits (args per connection and per request, §2.3 of docs/venues/bybit.md);
 * - the feeder: bench/load-feeder.ts, which is `feeder run --config FILE` (loadConfigFile + startRuntime) with a
 *   side channel for memory, CPU and the books' byte counts. The config is a real TOML file with defaults except
 *   the venue URLs and one destination (239.255.x.y, interface 127.0.0.1, TTL 1); the adapter plans its connections;
 * - the subscriber: bench/e2e-sub.ts (the FeedSubscriber library).
 * Reported: connect time from `start` until /readyz answers 200 (every book LIVE), with the share of books live
 * over time; memory per book (RSS and JS heap delta from before start to all live, after a full GC, and the books'
 * own typed-array bytes); CPU per message (feeder process CPU time / venue frames over the measured window); loss at
 * the feeder (frames the simulator sent but the feeder did not take, sequence gaps, resyncs, parse and apply errors,
 * send errors) and at the subscriber (deltas applied but not received, channel gaps); connections used.
 * The measured window starts and ends with the simulator stalled (POST /sim/fault?type=stall), so nothing is in
 * flight when the counters are read and the counts of both sides can be compared exactly.
 * Env: LOAD_SPOT (500), LOAD_LINEAR (500), LOAD_OPTION (300), LOAD_RATE (10000), LOAD_MEASURE_MS (60000; quick 12000).
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { printTable, QUICK, SMOKE, benchTempDir, waitBoundMs } from "./harness.ts";
import { Child, inPrivateNetns, loopbackDestination, reexecInPrivateNetns, udpRcvbufErrors } from "./e2e-common.ts";

reexecInPrivateNetns(import.meta.url); // as root: inside `unshare -n`, only lo

// Bounded: every child is killed on exit, and a run that overstays its budget ends with an error.
const children: { kill(): void }[] = [];
process.on("exit", () => {
  for (const c of children) c.kill();
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));
// Smoke: a few books, but run beside a whole test suite (test/bench-smoke): more slack than its work needs.
const DEADLINE_MS = SMOKE ? 170_000 : QUICK ? 40_000 : 180_000; // smoke: just inside test/bench-smoke's 180 s
setTimeout(() => {
  console.error(`!!! load bench: not done within ${DEADLINE_MS / 1000} s, stopping`);
  process.exit(1);
}, DEADLINE_MS).unref();
const N_SPOT = Number(process.env.LOAD_SPOT ?? (SMOKE ? 6 : 500));
const N_LINEAR = Number(process.env.LOAD_LINEAR ?? (SMOKE ? 6 : 500));
const N_OPTION = Number(process.env.LOAD_OPTION ?? (SMOKE ? 3 : 300));
const RATE = Number(process.env.LOAD_RATE ?? (SMOKE ? 1_000 : 10_000));
const MEASURE_MS = Number(process.env.LOAD_MEASURE_MS ?? (SMOKE ? 2_500 : QUICK ? 12_000 : 60_000));
const CONNECT_TIMEOUT_MS = waitBoundMs(60_000);
const QUIESCE_MS = 400;
const IDLE_MS = SMOKE ? 300 : 2_000;
const root = (f: string) => fileURLToPath(new URL(f, import.meta.url));

// ------------------------------------------------------------------------------------------ symbols ----
/** CnnnUSDT names, n in base 36 (the simulator derives a price level and tick from the name). */
const coinNames = (n: number) => Array.from({ length: n }, (_, i) => `C${i.toString(36).toUpperCase().padStart(3, "0")}USDT`);
const spot = coinNames(N_SPOT);
const linear = coinNames(N_LINEAR);
const option = Array.from({ length: N_OPTION }, (_, i) => {
  const base = ["BTC", "ETH", "SOL"][i % 3]!;
  const k = Math.floor(i / 3);
  const strike = (base === "BTC" ? 60_000 : base === "ETH" ? 2_000 : 100) + (k >> 1) * (base === "BTC" ? 500 : base === "ETH" ? 25 : 1);
  return `${base}-27MAR26-${strike}-${k % 2 === 0 ? "C" : "P"}`;
});
const nBooks = spot.length + linear.length + option.length;

// --------------------------------------------------------------------------------------- simulator ----
const simSymbols = [...spot.map((s) => `spot:${s}`), ...linear.map((s) => `linear:${s}`), ...option.map((s) => `option:${s}`)].join(",");
const simProc = Bun.spawn([process.execPath, root("../src/cli/main.ts"), "sim", "--symbols", simSymbols, "--rate", String(RATE), "--seed", "7"], {
  stdout: "pipe",
  stderr: "inherit", // warnings and errors only (FEEDER_LOG_LEVEL)
  env: { ...process.env, FEEDER_LOG_LEVEL: "warn" },
});
children.push(simProc);
/** Reads the simulator's stdout for as long as it runs (an unread pipe would fail its later writes). */
const simUrls = await new Promise<{ wsUrl: string; restUrl: string }>((resolve, reject) => {
  const urls: Record<string, string> = {};
  void (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of simProc.stdout) {
      buf += dec.decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const m = /^(wsUrl|restUrl)\s+(\S+)/.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m) urls[m[1]!] = m[2]!;
        if (urls.wsUrl && urls.restUrl) resolve({ wsUrl: urls.wsUrl, restUrl: urls.restUrl });
      }
    }
    reject(new Error("simulator exited before printing its URLs"));
  })();
});

/** CPU seconds (user + system) a child process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms); NaN off Linux. */
function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15: utime, stime
  } catch {
    return NaN;
  }
}

async function simStats(): Promise<{ messagesSent: number; connections: number; subscribes: number; pings: number; errorsSent: number }> {
  const r = (await (await fetch(`${simUrls.restUrl}/sim/stats`)).json()) as { stats: { messagesSent: number; connections: number; subscribes: number; pings: number; errorsSent: number } };
  return r.stats;
}
async function simStall(ms: number): Promise<void> {
  const r = await fetch(`${simUrls.restUrl}/sim/fault?type=stall&stallMs=${ms}`, { method: "POST" });
  if (!r.ok) throw new Error(`sim stall: ${r.status} ${await r.text()}`);
}

// -------------------------------------------------------------------------------------- subscriber ----
const { group, port } = loopbackDestination(4);
const subscriber = await Child.spawn([root("./e2e-sub.ts"), group, String(port)]);
children.push(subscriber);
await subscriber.next();

// ------------------------------------------------------------------------------------------ feeder ----
const dir = benchTempDir("feeder-load-bench-");
const configPath = join(dir, "feeder.toml");
const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
writeFileSync(
  configPath,
  [
    "# written by bench/load.bench.ts: defaults except the venue URLs, the instrument cache and one loopback destination",
    "[log]",
    'level = "warn"',
    "[http]",
    'listen = "127.0.0.1:0"',
    "[[publish.destinations]]",
    'name = "load"',
    `group = "${group}"`,
    `port = ${port}`,
    'interface = "127.0.0.1"',
    "ttl = 1",
    "[venues.bybit]",
    `ws_url = "${simUrls.wsUrl}"`,
    `rest_url = "${simUrls.restUrl}"`,
    `instrument_cache = "${join(dir, "instruments.json")}"`,
    "[venues.bybit.spot]",
    "depth = 50",
    `symbols = ${list(spot)}`,
    "[venues.bybit.linear]",
    "depth = 200",
    `symbols = ${list(linear)}`,
    "[venues.bybit.option]",
    "depth = 25",
    `symbols = ${list(option)}`,
    "",
  ].join("\n"),
);
const feeder = await Child.spawn([root("./load-feeder.ts"), configPath]);
children.push(feeder);
interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  bookBytes: number;
  books: number;
  levels: number;
}
const mem0 = (await feeder.next()) as unknown as Mem;

console.log(
  `load bench — Bun ${Bun.version}; ${nBooks} books: spot ${spot.length} × depth 50, linear ${linear.length} × depth 200, option ${option.length} × depth 25; ` +
    `simulator at ${RATE} book msgs/s in aggregate; multicast ${group}:${port} on 127.0.0.1 TTL 1` +
    `${inPrivateNetns() ? " (private network namespace)" : ""}; ${QUICK ? "quick, " : ""}${MEASURE_MS / 1000} s measured; ` +
    `load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);

// ---------------------------------------------------------------------------------- connect to LIVE ----
const tStart = performance.now();
const started = (await feeder.ask({ cmd: "start" })) as { httpUrl: string };
const startReturnedMs = performance.now() - tStart;
const liveAt: { ms: number; live: number }[] = [];
const marketLiveMs = new Map<string, number>();
let connectMs = NaN;
for (;;) {
  const r = await fetch(`${started.httpUrl}/readyz`);
  // /readyz (src/app/readiness.ts): books built, how many are live, and a reason per book not live, the first 100
  // named (reasonsNotShown: the others); with more, the markets not live are read from /books (every book's state).
  const body = (await r.json()) as { ready: boolean; books: number; live: number; reasons: { check: string; market?: string }[]; reasonsNotShown: number };
  const ms = performance.now() - tStart;
  liveAt.push({ ms, live: body.live });
  const notLive =
    body.reasonsNotShown > 0
      ? ((await (await fetch(`${started.httpUrl}/books`)).json()) as { market: string; state: string }[]).filter((b) => b.state !== "live")
      : body.reasons.filter((x) => x.check === "book_not_live");
  // Seen live as of the answer the states came from: /books' is later than /readyz's (a market all live by then may
  // not have been at `ms`).
  const statesMs = body.reasonsNotShown > 0 ? performance.now() - tStart : ms;
  for (const m of ["spot", "linear", "option"]) {
    if (!marketLiveMs.has(m) && body.books === nBooks && !notLive.some((b) => b.market === m)) marketLiveMs.set(m, statesMs);
  }
  if (r.status === 200 && body.books === nBooks) {
    connectMs = ms;
    break;
  }
  if (ms > CONNECT_TIMEOUT_MS) break;
  await Bun.sleep(25);
}
const firstAt = (share: number) => liveAt.find((p) => p.live >= Math.ceil(nBooks * share))?.ms ?? NaN;
const connect = {
  startReturnedMs,
  firstLiveMs: firstAt(1 / nBooks),
  halfMs: firstAt(0.5),
  p90Ms: firstAt(0.9),
  allMs: connectMs,
};
if (!Number.isFinite(connectMs)) console.log(`!!! not every book LIVE within ${CONNECT_TIMEOUT_MS / 1000} s: ${liveAt.at(-1)?.live} of ${nBooks}`);

await Bun.sleep(SMOKE ? 200 : 1000);
const memLive = (await feeder.ask({ cmd: "mem" })) as unknown as Mem;

// --------------------------------------------------------------------------------- measured window ----
interface FeederStats {
  cpuUs: number;
  venue: Record<string, number>;
  publisher: Record<string, number>;
  applyErrors: number;
  rss: number;
}
/**
 * Stalls the simulator for stallMs and waits until nothing is in flight, then (still stalled) runs `whileQuiet`
 * and reads every side's counters.
 */
async function quiescedCounters(
  stallMs: number,
  whileQuiet: () => Promise<unknown> = async () => undefined,
): Promise<{ sim: Awaited<ReturnType<typeof simStats>>; simCpuS: number; subCpuS: number; feeder: FeederStats; t: number }> {
  await simStall(stallMs);
  await Bun.sleep(QUIESCE_MS);
  await whileQuiet();
  return { sim: await simStats(), simCpuS: procCpuS(simProc.pid), subCpuS: procCpuS(subscriber.pid), feeder: (await feeder.ask({ cmd: "stats" })) as unknown as FeederStats, t: performance.now() };
}

// The stall outlasts the reads even on a busy VM; the subscriber starts counting while nothing is in flight.
const a = await quiescedCounters(QUIESCE_MS + 1000, () => subscriber.ask({ cmd: "reset" }));
const rcvbuf0 = udpRcvbufErrors();
await Bun.sleep(MEASURE_MS);
const b = await quiescedCounters(QUIESCE_MS + IDLE_MS + 5_000); // also covers the idle reading below
// The subscriber has had QUIESCE_MS since the last frame; give it until it has every published message.
const dv = (k: string) => (b.feeder.venue[k] ?? 0) - (a.feeder.venue[k] ?? 0);
const dp = (k: string) => (b.feeder.publisher[k] ?? 0) - (a.feeder.publisher[k] ?? 0);
let rep = (await subscriber.ask({ cmd: "report" })) as { events: number; counters: Record<string, number> };
for (let i = 0; i < 40 && rep.events < dv("deltas"); i++) {
  await Bun.sleep(50);
  rep = (await subscriber.ask({ cmd: "report" })) as { events: number; counters: Record<string, number> };
}
// The feeder's cost with no venue traffic (heartbeats, snapshot refreshes of every book, housekeeping, pings), so
// the CPU per frame can also be given without it. (Read after the subscriber's counts: refreshes go on.)
const idle0 = (await feeder.ask({ cmd: "stats" })) as unknown as FeederStats;
await Bun.sleep(IDLE_MS);
const idle = (await feeder.ask({ cmd: "stats" })) as unknown as FeederStats;
const idleCpuPerS = (idle.cpuUs - idle0.cpuUs) / (IDLE_MS / 1000);
const memEnd = (await feeder.ask({ cmd: "mem" })) as unknown as Mem;
const windowS = (b.t - a.t) / 1000;

const simSent = b.sim.messagesSent - a.sim.messagesSent;
const feederFrames = dv("messages");
// The window opens inside the first stall (QUIESCE_MS + 1000 ms): a shorter LOAD_MEASURE_MS sees no frame at all.
if (feederFrames === 0) throw new Error(`load bench: no venue frame in the ${(b.t - a.t).toFixed(0)} ms window (LOAD_MEASURE_MS ${MEASURE_MS}: give it more than ${QUIESCE_MS + 1000} ms)`);
const cpuUs = b.feeder.cpuUs - a.feeder.cpuUs;
const bookFrames = dv("deltas") + dv("snapshots");
const published = dp("messages");
// Exact: deltas come only from venue frames, and the window has none in flight at either end. (Published and
// received message totals also hold periodic refresh snapshots, which go on while the counters are read.)
const subLost = dv("deltas") - rep.events;
const feederLoss = {
  "frames sent − taken": simSent - feederFrames,
  "sequence gaps": dv("gaps"),
  resyncs: dv("resyncs"),
  "stale resyncs": dv("staleResyncs"),
  "parse errors": dv("parseErrors"),
  "apply errors": b.feeder.applyErrors - a.feeder.applyErrors,
  "send errors": dp("sendErrors"),
  reconnects: dv("reconnects"),
};

// -------------------------------------------------------------------------------------------- report ----
const MiB = 1024 * 1024;
const perBook = (x: number) => `${((x / nBooks) / 1024).toFixed(1)} KiB`;
console.log("\n== connect: start → every book LIVE (/readyz 200) ==");
printTable([
  {
    books: nBooks,
    connections: b.feeder.venue.connections,
    "start() returned": `${connect.startReturnedMs.toFixed(0)} ms`,
    "first LIVE": `${connect.firstLiveMs.toFixed(0)} ms`,
    "50 % LIVE": `${connect.halfMs.toFixed(0)} ms`,
    "90 % LIVE": `${connect.p90Ms.toFixed(0)} ms`,
    "all LIVE": `${connect.allMs.toFixed(0)} ms`,
    "all spot / linear / option LIVE": ["spot", "linear", "option"].map((m) => `${(marketLiveMs.get(m) ?? NaN).toFixed(0)}`).join(" / ") + " ms",
    "subscribe requests (sim)": a.sim.subscribes,
    "sim errors sent": a.sim.errorsSent,
  },
]);
const perConn = Object.entries(b.feeder.venue)
  .filter(([k]) => /^conn\d+\.\w+\.topics$/.test(k))
  .map(([k, v]) => `${k.slice(0, -".topics".length)} ${v}`)
  .join(", ");
console.log(`topics per connection (the adapter's plan within Bybit's args limits): ${perConn}`);
console.log("\n== memory (feeder process, full GC before each reading) ==");
printTable([
  { when: "before start (modules loaded, config read)", rss: `${(mem0.rss / MiB).toFixed(1)} MiB`, "JS heap": `${(mem0.heapUsed / MiB).toFixed(1)} MiB`, "book bytes": "–", levels: "–" },
  { when: "all books LIVE (+1 s)", rss: `${(memLive.rss / MiB).toFixed(1)} MiB`, "JS heap": `${(memLive.heapUsed / MiB).toFixed(1)} MiB`, "book bytes": `${(memLive.bookBytes / MiB).toFixed(2)} MiB`, levels: memLive.levels },
  { when: `after the ${Math.round(windowS)} s window`, rss: `${(memEnd.rss / MiB).toFixed(1)} MiB`, "JS heap": `${(memEnd.heapUsed / MiB).toFixed(1)} MiB`, "book bytes": `${(memEnd.bookBytes / MiB).toFixed(2)} MiB`, levels: memEnd.levels },
]);
printTable([
  {
    "per book": "",
    "RSS delta (start → LIVE)": perBook(memLive.rss - mem0.rss),
    "JS heap delta": perBook(memLive.heapUsed - mem0.heapUsed),
    "books' own typed arrays": perBook(memLive.bookBytes),
    "RSS delta (start → end)": perBook(memEnd.rss - mem0.rss),
  },
]);
console.log(`\n== the ${windowS.toFixed(1)} s window (simulator stalled at both ends; every count below is over the window) ==`);
const marginalUs = (cpuUs - idleCpuPerS * windowS) / feederFrames;
printTable([
  {
    "sim frames sent": simSent,
    "sim msgs/s": Math.round(simSent / windowS),
    "feeder frames taken": feederFrames,
    "book frames": bookFrames,
    "feeder CPU": `${((cpuUs / 1e6 / windowS) * 100).toFixed(1)} %`,
    "CPU per frame": `${(cpuUs / feederFrames).toFixed(1)} µs`,
    "simulator CPU": `${(((b.simCpuS - a.simCpuS) / windowS) * 100).toFixed(0)} %`,
    "subscriber CPU": `${(((b.subCpuS - a.subCpuS) / windowS) * 100).toFixed(0)} %`,
    "idle CPU (no frames)": `${((idleCpuPerS / 1e6) * 100).toFixed(1)} %`,
    "CPU per frame above idle": `${marginalUs.toFixed(1)} µs`,
    "published msgs": published,
    datagrams: dp("datagrams"),
    "published MB/s": +(dp("bytes") / windowS / 1e6).toFixed(2),
    "sub received msgs": rep.counters.messages,
  },
]);
console.log("\n== loss at the feeder ==");
printTable([feederLoss]);
console.log("\n== loss at the subscriber ==");
printTable([
  {
    "deltas applied − delta events received": subLost,
    "channel gaps": rep.counters.gaps,
    "messages lost in gaps": rep.counters.lostMessages,
    "decode errors": rep.counters.errors,
    "kernel rcvbuf drops": udpRcvbufErrors() - rcvbuf0,
  },
]);
const feederLost = Object.values(feederLoss).some((x) => x !== 0);
console.log(
  `\nsummary: ${nBooks} books on ${b.feeder.venue.connections} connections LIVE in ${connect.allMs.toFixed(0)} ms; ` +
    `${perBook(memLive.rss - mem0.rss)} RSS per book (${perBook(memLive.bookBytes)} in the books' arrays); ` +
    `${(cpuUs / feederFrames).toFixed(1)} µs feeder CPU per frame (${marginalUs.toFixed(1)} µs above idle) at ${Math.round(simSent / windowS)} msgs/s; ` +
    `loss: feeder ${feederLost ? "YES" : "none"}, subscriber ${subLost === 0 && rep.counters.gaps === 0 ? "none" : `${subLost} msgs, ${rep.counters.gaps} gaps`}; ` +
    `load average at end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);

await feeder.ask({ cmd: "quit" }).catch(() => undefined);
await subscriber.ask({ cmd: "quit" }).catch(() => undefined);
process.exit(0); // the exit hook kills the children
