/**
 * Every bench in bench/ still runs (no test ran them, so they could rot): each bench/*.bench.ts as a subprocess with
 * BENCH_SMOKE=1 (tiny counts and durations, bench/harness.ts), one after another, asserting that it exits 0 and
 * prints its result lines, and no NaN or Infinity. Behaviour only, never a figure: a smoke run's figures mean
 * nothing. Every bench multicasts on interface 127.0.0.1 with TTL 1; those that re-run themselves in `unshare -n` as
 * root do not when they are already in a private network namespace (the test runner's).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
/** A hang, not a timing: each bench takes 0.5–6 s in smoke mode on an idle 2-vCPU box. */
const BENCH_TIMEOUT_MS = 90_000;

/** The lines each bench must print (its tables' headings and the verdicts that say a comparison was sound). */
const PEER_AGREE = /books agree[^:]*: yes/;
const EXPECTED: Record<string, RegExp[]> = {
  binance: [PEER_AGREE, /== summary: faster peer \/ ours/, /== breakdown: USD-M/, /== snapshot breakdown: USD-M/, /== allocation in steady state ==/],
  bithumb: [PEER_AGREE, /Bithumb, simulator frames: 300 frames/, /faster peer \/ ours, per frame/],
  book: [/all three books agree after the replay: yes/, /== ladder structure/, /== memory/, /== allocation in steady state/, /^summary: delta /m],
  bridge: [/to-nats: verify \+ split/, /from-nats: envelope check/, /flood: multicast → to-nats → NATS → from-nats → multicast/, /whole path: … → from-nats → multicast receipt/],
  bybit: [PEER_AGREE, /== one real delta frame/, /== allocation in steady state/, /== summary: ratios/],
  capture: [/^sim: \d+ frames/m, /real, one 80 KB block\s+zstd 3/, /at this rate:/],
  coinbase: [PEER_AGREE, /== one full-depth snapshot, 10000 levels per side/, /== summary: ratio/],
  deribit: [PEER_AGREE, /== generated full-book snapshot/, /== summary: faster peer \/ ours/],
  e2e: [/== throughput and loss per rate ==/, /== latency per rate/, /== feeder vs floor/, /== targets ==/, /flood: no loss/],
  http: [/\/status, \/books: 1,302 summaries/, /one streamed chunk/, /\/books\/… 100,000 levels a side \[new\]/],
  load: [/== connect: start → every book LIVE/, /== loss at the subscriber ==/, /loss: feeder none, subscriber none/],
  metrics: [/\/metrics: snapshot \+ render/, /\/status: 1000 book summaries \+ JSON/],
  okx: [PEER_AGREE, /== real update: frame → book → datagram/, /== summary: ratios/],
  "publish-guard": [/watcher saw/, /the watcher adds -?\d+ ns per datagram sent/],
  refresh: [/^v1 \(≥ 1 book per 50 ms tick\)/m, /^v2 \(each book once per interval\)/m],
  restart: [/first invalid→all valid ms/, /^1\s+\d/m],
  retransmit: [/1\. live path/, /ring overhead:/, /^1 %\s+retransmit/m, /^1 %\s+refresh only/m],
  subscriber: [/delta, 7 levels, 1 per datagram/, /split delta, 200 levels in 256 B datagrams/],
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

describe("bench/*.bench.ts with BENCH_SMOKE=1", () => {
  for (const name of benches) {
    test(name, async () => {
      const proc = Bun.spawn([process.execPath, join(ROOT, "bench", `${name}.bench.ts`)], {
        cwd: ROOT,
        env: { ...process.env, BENCH_SMOKE: "1", BENCH_QUICK: undefined },
        stdout: "pipe",
        stderr: "pipe",
        timeout: BENCH_TIMEOUT_MS,
      });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      const said = `bench/${name}.bench.ts exited ${code}${proc.signalCode ? ` (${proc.signalCode})` : ""}\n--- stdout\n${out}\n--- stderr\n${err}`;
      expect(code, said).toBe(0);
      for (const line of EXPECTED[name] ?? []) expect(out, `${line} not printed\n${said}`).toMatch(line);
      expect(out, said).not.toMatch(/\bNaN\b|\bInfinity\b/);
    }, BENCH_TIMEOUT_MS + 10_000);
  }
});
