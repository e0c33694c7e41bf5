/**
 * Every bench in bench/ still runs (no test ran them, so they could rot): each bench/*.bench.ts as a subprocess with
 * BENCH_SMOKE=1 (tiny counts and durations, bench/harness.ts), BENCH_LANES at a time, asserting that it exits 0 and
 * prints its result lines, and no NaN or Infinity. Behaviour only,
 * never a figure or a verdict that depends on speed: a smoke run's figures mean nothing, and a loaded CI box may
 * well lose datagrams or miss a target ("LOSS", "target not met" pass here; a crash, a hang, a missing line or peers
 * that disagree fail). Every bench (and bench/experiments) multicasts on interface 127.0.0.1 with TTL 1, to a group
 * and port of its own process (bench/e2e-common.ts loopbackDestination: outside the ranges the test files use); those that re-run
 * themselves in `unshare -n` as root do not when they are already in a private network namespace (the test
 * runner's). Each bench runs in a process group of its own with TMPDIR a fresh directory: a bench past its deadline
 * is killed with everything it started, and whatever it left in TMPDIR is removed.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { laneLimit } from "../support/lanes.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/**
 * A hang, not a timing: each bench takes 0.5–8 s in smoke mode on an idle 2-vCPU box, and up to ~20× that with the
 * CPU shared with a dozen busy processes; the deadline is per bench, so a hang costs at most this much of the suite.
 */
const BENCH_DEADLINE_MS = 180_000;

/** The lines each bench must print (its tables' headings and the verdicts that say a comparison was sound). */
const PEER_AGREE = /books agree[^:]*: yes/;
/**
 * A snapshot row's own agreement (the replay's check does not cover its frames), right under the row's heading (a
 * "(K of N rounds used…)" line may come between): one row's line does not stand for another's.
 */
const snapshotAgree = (heading: string) => new RegExp(`^== ${heading} [^\\n]*\\n(?:\\([^\\n]*\\)\\n)?ours, ccxt and tardis books agree after this snapshot: yes`, "m");
const EXPECTED: Record<string, RegExp[]> = {
  binance: [PEER_AGREE, /== summary: faster peer \/ ours/, /== adapter path: USD-M diffs/, /adapter path \/ ours, p50: /, /== breakdown: USD-M/, /== snapshot breakdown: USD-M/, /== allocation in steady state ==/, /^adapter path: the USD-M diffs/m, /^live path: the same diffs/m],
  bithumb: [PEER_AGREE, /Bithumb, simulator frames: 300 frames/, /faster peer \/ ours, per frame/],
  book: [/all three books agree after the replay: yes/, /== ladder structure/, /== memory/, /== allocation in steady state/, /^summary: delta /m],
  bridge: [/== allocation per stage/, /node:dgram receive, per datagram/, /to-nats: verify \+ split/, /from-nats: envelope check/, /flood: multicast → to-nats → NATS → from-nats → multicast/, /whole path: … → from-nats → multicast receipt/],
  // Not PEER_AGREE, which the snapshot rows' lines match too.
  bybit: [/books agree after the replay: yes/, ...[50, 200, 1000].map((n) => snapshotAgree(`one snapshot frame, ${n} levels per side`)), /== one real delta frame/, /== adapter path: XRPUSDT/, /adapter path \/ ours, p50: /, /== allocation in steady state/, /^adapter path: the 49 real deltas/m, /^live path: the same frames/m, /== summary: ratios/],
  capture: [/^sim: \d+ frames/m, /real, one 80 KB block\s+zstd 3/, /at this rate:/],
  coinbase: [/books agree: yes/, ...[200, 1000, 10000].map((n) => snapshotAgree(`one full-depth snapshot, ${n} levels per side`)), /== summary: ratio/],
  deribit: [PEER_AGREE, /== generated full-book snapshot/, /== summary: faster peer \/ ours/],
  e2e: [/== throughput and loss per rate ==/, /== latency per rate/, /== feeder vs floor/, /== targets ==/, /flood: (no loss|LOSS), /],
  http: [/\/status, \/books: 1,302 summaries/, /one streamed chunk/, /\/books\/… 100,000 levels a side \[new\]/],
  load: [/== connect: start → every book LIVE/, /== loss at the subscriber ==/, /loss: feeder (none|YES), subscriber /],
  metrics: [/\/metrics: snapshot \+ render/, /\/status: 1000 book summaries \+ JSON/],
  okx: [PEER_AGREE, /== real update: frame → book → datagram/, /== adapter path: 3 books/, /adapter path \/ ours, p50: /, /^adapter path: the 287 real updates/m, /^live path: the same frames/m, /== summary: ratios/],
  "publish-guard": [/watcher saw/, /the watcher adds -?\d+ ns per datagram sent|NO: the watcher saw fewer datagrams than were sent/],
  refresh: [/^v1 \(≥ 1 book per 50 ms tick\)/m, /^v2 \(each book once per interval\)/m],
  restart: [/first invalid→all valid ms/, /^1\s+\d/m],
  retransmit: [/1\. live path/, /ring overhead:/, /^1 %\s+retransmit/m, /^1 %\s+refresh only/m, /recovered books equal the publisher's: yes/],
  subscriber: [/delta, 7 levels, 1 per datagram/, /split delta, 200 levels in 256 B datagrams/, /NATS reader: envelope → repack → ingest/],
  unicast: [/multicast group \(no local member\)/, /unicast, 2 receivers/, /paced200Received/],
  upbit: [PEER_AGREE, /Upbit, genuine recording: 145 frames/, /faster peer \/ ours, per frame/],
  wire: [/encode delta \(7 levels\) into packer/, /send\(\) \/ sendMany\(16\) per datagram/, /per-datagram integrity cost, p50 ns:/, /receiver counted \d+/],
  workers: [/workers=1 done/, /workers=2 done/, /flood throughput, 2 workers \/ 1 worker/],
};

const benches = readdirSync(join(ROOT, "bench"))
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .sort();

test("every bench/*.bench.ts has its expected lines here (a new bench is smoke-run too)", () => {
  expect(benches).toEqual(Object.keys(EXPECTED).sort());
});

/**
 * How long a bench's output may stay open after the bench exited (a child it stopped, still closing its copy of the
 * pipe). Past it, what holds the output is a process the bench left running: its group is killed and that is a
 * failure. Before, such a bench (exit 0, its lines printed) was waited for until the deadline and then passed.
 */
const LEFT_RUNNING_GRACE_MS = 30_000;

interface BenchRun {
  out: string;
  err: string;
  code: number;
  /** Still running at the deadline: its process group was killed. */
  killed: boolean;
  /** It exited, but a process it started held its output past LEFT_RUNNING_GRACE_MS (killed then). */
  leftRunning: boolean;
}

/** Runs `file` (a bench) to its end, or kills its process group at the deadline; TMPDIR is removed either way. */
async function runBench(file: string, deadlineMs = BENCH_DEADLINE_MS, graceMs = LEFT_RUNNING_GRACE_MS): Promise<BenchRun> {
  const tmp = mkdtempSync(join(tmpdir(), "bench-smoke-"));
  // detached: setsid, so the bench's children (clients, nats-server, feeder workers) share its group and die with it.
  const proc = Bun.spawn([process.execPath, file], {
    cwd: ROOT,
    env: { ...process.env, BENCH_SMOKE: "1", BENCH_QUICK: undefined, TMPDIR: tmp },
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const killGroup = () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {} // ESRCH: the group is gone already
  };
  let killed = false;
  let leftRunning = false;
  const deadline = setTimeout(() => {
    killed = true;
    killGroup();
  }, deadlineMs);
  let grace: ReturnType<typeof setTimeout> | undefined;
  void proc.exited.then(() => {
    if (killed) return;
    clearTimeout(deadline);
    grace = setTimeout(() => {
      leftRunning = true;
      killGroup();
    }, graceMs);
  });
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out, err, code, killed, leftRunning };
  } finally {
    clearTimeout(deadline);
    clearTimeout(grace);
    killGroup(); // a child the bench left running (it must not keep a port or a group for the next bench)
    rmSync(tmp, { recursive: true, force: true });
    // bench/experiments/load-source.ts writes under node_modules/.load-source/<tag>-<pid>, removed at the bench's exit.
    const loaded = join(ROOT, "node_modules", ".load-source");
    try {
      for (const d of readdirSync(loaded)) if (d.endsWith(`-${proc.pid}`)) rmSync(join(loaded, d), { recursive: true, force: true });
    } catch {} // ENOENT: no bench loaded a source
  }
}

/** Why a smoke run of bench `name` fails, or undefined when it passes. */
function smokeFailure(name: string, r: BenchRun): string | undefined {
  const said = `bench/${name}.bench.ts exited ${r.code}\n--- stdout\n${r.out}\n--- stderr\n${r.err}`;
  if (r.killed) return `killed: still running after ${BENCH_DEADLINE_MS / 1000} s\n${said}`;
  if (r.leftRunning) return `left a process running that held its output ${LEFT_RUNNING_GRACE_MS / 1000} s after it exited (killed)\n${said}`;
  if (r.code !== 0) return said;
  for (const line of EXPECTED[name] ?? []) if (!line.test(r.out)) return `${line} not printed\n${said}`;
  if (/\bNaN\b|\bInfinity\b/.test(r.out)) return `NaN or Infinity printed\n${said}`;
  return undefined;
}

/** Bybit's and Coinbase's agreement lines as they print them, with every other line they are held to (smokeFailure below). */
const BYBIT_AGREE = [
  "ours, ccxt and tardis books agree after the replay: yes (500 + 500 levels after 1 snapshot + 49 deltas)",
  "== one real delta frame → book → datagram (per frame) ==",
  ...[50, 200, 1000].flatMap((n) => [`== one snapshot frame, ${n} levels per side (2041 B) ==`, `ours, ccxt and tardis books agree after this snapshot: yes (${n} + ${n} levels)`]),
  "== adapter path: XRPUSDT linear, 49 recorded frames", "adapter path / ours, p50: 1.15×", "== allocation in steady state per frame",
  "adapter path: the 49 real deltas", "live path: the same frames", "== summary: ratios",
];
const COINBASE_AGREE = [
  "ours, ccxt and tardis books agree: yes (1000 + 1000, 1000 + 1000 levels after 200 two-product frames)",
  ...[200, 1000, 10000].flatMap((n) => [`== one full-depth snapshot, ${n} levels per side (44 KB) ==`, `ours, ccxt and tardis books agree after this snapshot: yes (${n} + ${n} levels)`]),
  "== summary: ratio = faster peer / ours",
];

test("bybit and coinbase: the replay's agreement and each snapshot row's are each required (one did not stand for another)", () => {
  const run = (lines: string[]) => ({ out: lines.join("\n"), err: "", code: 0, killed: false, leftRunning: false });
  const without = (lines: string[], i: number) => lines.filter((_, k) => k !== i);
  const checks = (lines: string[]) => lines.flatMap((l, i) => (l.includes("books agree") ? [i] : []));
  for (const [name, lines] of [["bybit", BYBIT_AGREE], ["coinbase", COINBASE_AGREE]] as const) {
    expect(smokeFailure(name, run(lines)), name).toBeUndefined();
    // A dropped round is said between a row's heading and its check.
    const heading = lines.findIndex((l) => l.includes("levels per side"));
    expect(smokeFailure(name, run(lines.toSpliced(heading + 1, 0, '(2 of 3 rounds used: round 1 dropped: "ours" had no timed sample)'))), name).toBeUndefined();
    expect(checks(lines)).toHaveLength(4);
    for (const i of checks(lines)) expect(smokeFailure(name, run(without(lines, i))) ?? "passed", `${name} without "${lines[i]}"`).toMatch(/not printed/);
  }
});

test("a verdict that depends on speed passes: a loaded box may lose datagrams", () => {
  expect("  flood: LOSS, 20000 msgs/s through the feeder").toMatch(EXPECTED.e2e!.at(-1)!);
  expect("loss: feeder YES, subscriber 12 msgs, 3 gaps; …").toMatch(EXPECTED.load!.at(-1)!);
  expect("NO: the watcher saw fewer datagrams than were sent (round 1: saw 400 of 800); its cost is not given.").toMatch(EXPECTED["publish-guard"]!.at(-1)!);
});

/** Every .ts under bench/ (benches, their helpers and bench/experiments), relative to bench/. */
function benchSources(dir = join(ROOT, "bench"), under = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? benchSources(join(dir, e.name), `${under}${e.name}/`) : e.name.endsWith(".ts") ? [`${under}${e.name}`] : [],
  );
}

test("no bench or experiment multicasts to a fixed group or port (test files run beside it): each takes loopbackDestination", () => {
  // bench/experiments are run by hand, but beside a test suite as often: their fixed 239.255.46.x:46001 and
  // 239.255.77.7 were inside the test files' ranges.
  const files = benchSources();
  expect(files).toContain("experiments/send-ab/send-ab.ts");
  const fixed = files.flatMap((file) => {
    const text = readFileSync(join(ROOT, "bench", file), "utf8");
    return [...text.matchAll(/group:\s*"|239\.255\.\d+\.(?:\d+|\$\{)|port\s*[:=]\s*[1-9]\d{3}/gi)].map((m) => `${file}: ${m[0]}`);
  });
  expect(fixed).toEqual([]);
});

// The runner's own checks (hang, leaver) and the tests after them are concurrent, as the benches' describe below: they
// run beside the benches (their ~5 s of waiting was the file's alone before), each with its own files and processes.
test.concurrent("a bench past its deadline is killed with the processes it started, and its TMPDIR removed", async ({ expect }) => {
  const dir = makeTempDir("bench-smoke-hang-");
  const file = join(dir, "hang.ts");
  // Starts a child that shares its stdout (as a bench's clients do), leaves a file in TMPDIR, then never ends.
  writeFileSync(file, `
    const child = Bun.spawn(["sleep", "600"], { stdout: "inherit", stderr: "inherit" });
    await Bun.write(require("node:path").join(require("node:os").tmpdir(), "left"), "x");
    console.log(JSON.stringify({ child: child.pid, tmp: require("node:os").tmpdir() }));
    setInterval(() => {}, 1000);
  `);
  // Long enough for the script to start and print beside three benches (it was 3 s when it ran alone).
  const r = await runBench(file, 10_000);
  expect(r.killed).toBe(true);
  const { child, tmp } = JSON.parse(r.out.trim().split("\n")[0]!) as { child: number; tmp: string };
  expect(existsSync(tmp)).toBe(false);
  // Dead: gone, or a zombie waiting for a reaper (kill(pid, 0) still succeeds on those).
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, "utf8"));
    } catch {
      return false; // ENOENT: reaped
    }
  };
  const until = Date.now() + 20_000;
  while (alive() && Date.now() < until) await Bun.sleep(20);
  expect(alive()).toBe(false);
}, 60_000);

test.concurrent("a bench that prints its lines and exits 0 but leaves a process holding its output fails (before: waited 180 s, passed)", async ({ expect }) => {
  const dir = makeTempDir("bench-smoke-leaver-");
  const file = join(dir, "leaver.ts");
  writeFileSync(file, `
    Bun.spawn(["sleep", "600"], { stdout: "inherit", stderr: "inherit" });
    console.log("first invalid→all valid ms\\n1 5");
    process.exit(0);
  `);
  const r = await runBench(file, BENCH_DEADLINE_MS, 2_000);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(EXPECTED.restart![0]!);
  expect(smokeFailure("restart", r)).toMatch(/^left a process running/);
  expect(smokeFailure("restart", { ...r, leftRunning: false })).toBeUndefined(); // the lines alone would pass
}, 60_000);

test.concurrent("a bench that fails after printing its lines, or hangs after them, fails", ({ expect }) => {
  const lines = "first invalid→all valid ms\n1 5\n";
  expect(smokeFailure("restart", { out: lines, err: "", code: 1, killed: false, leftRunning: false })).toMatch(/exited 1/);
  expect(smokeFailure("restart", { out: lines, err: "", code: 137, killed: true, leftRunning: false })).toMatch(/^killed/);
});

/**
 * Benches run this many at a time. One after another, a smoke run took ~54 s on an idle 2-vCPU box for ~35 s of CPU:
 * the longest ones (load, refresh, restart, retransmit, workers, e2e, bridge: ~33 s) mostly wait on their own timed
 * phases and sockets, so three lanes overlap those waits with the CPU-bound ones. Each bench is still its own process
 * with its own group, port, TMPDIR and process group: running beside another changes no check (figures mean nothing).
 */
const BENCH_LANES = 3;
/** Longest first (smoke mode, idle 2-vCPU box, 2026-12-07: 6.6 … 2.6 s), so no long one starts last; then the rest. */
const LONG_BENCHES = ["workers", "load", "refresh", "restart", "retransmit", "http", "binance", "book", "bridge", "e2e"];
const benchOrder = [...LONG_BENCHES.filter((b) => benches.includes(b)), ...benches.filter((b) => !LONG_BENCHES.includes(b))];

const inLane = laneLimit(BENCH_LANES);

test.concurrent("every bench is run once", ({ expect }) => {
  expect(benchOrder.toSorted()).toEqual(benches);
});

describe.concurrent("bench/*.bench.ts with BENCH_SMOKE=1", () => {
  for (const name of benchOrder) {
    // A hang is killed at the bench's deadline; the test's own bound also covers its wait for a lane.
    test(name, async ({ expect }) => {
      expect(smokeFailure(name, await inLane(() => runBench(join(ROOT, "bench", `${name}.bench.ts`))))).toBeUndefined();
    }, Math.ceil(benches.length / BENCH_LANES + 1) * (BENCH_DEADLINE_MS + LEFT_RUNNING_GRACE_MS + 30_000));
  }
});
