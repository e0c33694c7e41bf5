/**
 * /metrics of a running feeder (simulator → runtime, one process, retransmission on): every family follows the
 * Prometheus conventions and never double-counts, docs/operations.md lists every family, every query of the Grafana
 * dashboard (deploy/grafana/feeder-dashboard.json) names metrics and labels this feeder really exports, and the
 * retransmission server's counters are exported by result; the table also gives each family's type and labels as /metrics has them.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { parsePrometheusText, type ParsedSample } from "../../src/app/prometheus.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { validateConfig } from "../../src/config/load.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { dashboardQueries, dashboardTargets, legendMismatches, queryMetricNames, queryMismatches } from "../support/dashboard-queries.ts";
import { tableMismatches } from "../support/operations-metrics.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];
/** Only with workers > 1 (the supervisor's); documented, not exported by this one-process feeder. */
const WORKERS_ONLY = new Set(["feeder_workers", "feeder_workers_ready", "feeder_worker_restarts_total"]);
/** Only from `feeder record` (its capture writer): documented and exported there, test/app/capture-health.test.ts. */
const RECORD_ONLY = /^feeder_capture_/;

let sim: BybitSim;
let runtime: Runtime;
let samples: ParsedSample[];
let types: Map<string, string>;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 32, messagesPerSecond: 0 });
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(32), http: true });
  (raw.publish as Record<string, unknown>).retransmit = { listen: "127.0.0.1:0" };
  runtime = await startRuntime(validateConfig(raw), silentLogger);
  await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live books");
  for (let i = 0; i < 10; i++) sim.step(1);
  // Faults, so that the families that only have series once something went wrong have them.
  sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
  sim.inject("malformed", { market: "spot", symbol: "BTCUSDT" });
  const stats = () => runtime.feeder!.stats().venues.bybit!;
  await waitFor(() => stats().gaps! > 0 && stats().parseErrors! > 0, "faults seen", 10_000, () => sim.step(1));
  await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live again", 10_000, () => sim.step(1));
  await retransmissionRequests();
  ({ samples, types } = parsePrometheusText(await (await fetch(`${runtime.http!.url}/metrics`)).text()));
}, 30_000);

/** Answers the server gave to requestRetransmissions (datagrams and control packets). */
let answers = 0;

/**
 * One request of each result the server can reach from loopback: answered (the first datagram of the session, still in
 * the ring), out of range (another session), and a bad one (garbage); waits until the server has counted all three.
 */
async function retransmissionRequests(): Promise<void> {
  const pub = runtime.feeder!.publisher;
  const port = pub.retransmitAddress()!.port;
  const sock = dgram.createSocket("udp4");
  sock.on("message", () => answers++);
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  try {
    const req = (sessionId: number) => {
      const out = new Uint8Array(64);
      const n = encodeRetxControl(out, { kind: RETX_KIND_REQUEST, channelId: 7, sourceId: pub.sourceId, sessionId, seqNum: 1, count: 1, firstAvailable: 0, nextSeq: 0 });
      return out.subarray(0, n);
    };
    sock.send(req(pub.sessionId), port, "127.0.0.1");
    sock.send(req((pub.sessionId + 1) >>> 0 || 1), port, "127.0.0.1");
    sock.send(new TextEncoder().encode("not a request"), port, "127.0.0.1");
    const c = () => pub.retransmitCounters!;
    await waitFor(() => c().received === 3 && answers === 2, "three requests handled, two answered");
  } finally {
    sock.close();
  }
}

afterAll(async () => {
  await runtime?.stop();
  await sim?.stop();
});

/** The family a sample belongs to (histogram samples carry _bucket, _sum, _count). */
function familyOf(name: string): string {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" ? base : name;
}

describe("/metrics of a running feeder", () => {
  test("names: snake_case, counters and only counters end in _total, base units", () => {
    expect(types.size).toBeGreaterThan(30);
    for (const [name, type] of types) {
      expect(name, name).toMatch(/^(feeder|process)_[a-z0-9_]+$/);
      expect(name.endsWith("_total"), `${name} is a ${type}`).toBe(type === "counter");
      if (type === "histogram") expect(name, name).toMatch(/_seconds$/);
      if (/bytes/.test(name)) expect(name, name).toMatch(/_bytes(_total)?$/);
      expect(name, name).not.toMatch(/_(ms|us|ns|millis|micros|kb|mb)(_|$)/);
    }
    expect(types.has("feeder_venue_stat")).toBe(false);
    expect([...types.keys()].some((n) => n.includes("dropped_on_purpose"))).toBe(false);
    for (const name of ["feeder_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds"]) {
      expect(samples.filter((s) => s.name === name), name).toHaveLength(1);
    }
    expect(samples.find((s) => s.name === "feeder_build_info")!.labels).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), bun_version: Bun.version });
  });

  test("the series of one name are disjoint: same label names, no duplicates, so sum() never double-counts", () => {
    const byName = new Map<string, ParsedSample[]>();
    for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    for (const [name, list] of byName) {
      const keySets = new Set(list.map((s) => Object.keys(s.labels).filter((k) => k !== "le").sort().join(",")));
      expect([...keySets], `${name} mixes label sets (a total beside its parts?)`).toHaveLength(1);
      const series = list.map((s) => JSON.stringify(Object.entries(s.labels).sort()));
      expect(new Set(series).size, `${name} repeats a series`).toBe(series.length);
    }
    // And the per-connection counters add up to the venue's own total.
    const sum = (name: string) => samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
    const stats = runtime.feeder!.stats().venues.bybit!;
    expect(sum("feeder_venue_messages_received_total")).toBeLessThanOrEqual(stats.messages!);
    expect(sum("feeder_venue_messages_received_total")).toBeGreaterThan(0);
    expect(sum("feeder_books")).toBe(3);
  });

  test("the retransmission server's counters: one series per result, disjoint, plus datagrams and bytes", () => {
    const of = (name: string) => samples.filter((s) => s.name === name);
    expect(types.get("feeder_retransmit_requests_total")).toBe("counter");
    const byResult = Object.fromEntries(of("feeder_retransmit_requests_total").map((s) => [s.labels.result, s.value]));
    expect(byResult).toEqual({ answered: 1, out_of_range: 1, throttled: 0, refused_network: 0, bad_request: 1 });
    // The results add up to what the server received: no total beside its parts.
    expect(Object.values(byResult).reduce((a, b) => a + b, 0)).toBe(runtime.feeder!.publisher.retransmitCounters!.received);
    expect(of("feeder_retransmit_datagrams_total").map((s) => s.value)).toEqual([1]);
    const bytes = of("feeder_retransmit_sent_bytes_total")[0]!.value;
    expect(bytes).toBeGreaterThanOrEqual(64);
    expect(bytes % 8).toBe(0); // one whole datagram (lengths are multiples of 8)
    expect(of("feeder_retransmit_send_errors_total").map((s) => s.value)).toEqual([0]);
  });

  test("the retransmit rings' history: one gauge series per channel, messages ≥ datagrams ≥ 1, within what was sent", () => {
    const of = (name: string) => samples.filter((s) => s.name === name);
    expect(types.get("feeder_retransmit_history_messages")).toBe("gauge");
    expect(types.get("feeder_retransmit_history_datagrams")).toBe("gauge");
    const channels = runtime.feeder!.publisher.channelInfo();
    const msgs = of("feeder_retransmit_history_messages");
    const dgs = of("feeder_retransmit_history_datagrams");
    expect(msgs.map((s) => s.labels.channel).sort()).toEqual(channels.map((c) => c.name).sort());
    for (const m of msgs) {
      const d = dgs.find((s) => s.labels.channel === m.labels.channel)!;
      expect(d.value).toBeGreaterThanOrEqual(1); // a request was answered from it
      expect(m.value).toBeGreaterThanOrEqual(d.value); // every stored datagram carries a message
      // Sequence numbers start at 1; the ring holds at most what was sent, and nextSeq only grows after the scrape.
      expect(m.value).toBeLessThanOrEqual(channels.find((c) => c.name === m.labels.channel)!.nextSeq - 1);
    }
  });

  test("process_* describe this process", () => {
    const one = (name: string) => samples.find((s) => s.name === name)!.value;
    const nowS = Date.now() / 1000;
    expect(one("process_start_time_seconds")).toBeGreaterThan(nowS - process.uptime() - 5);
    expect(one("process_start_time_seconds")).toBeLessThanOrEqual(nowS);
    expect(one("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(one("process_resident_memory_bytes")).toBeGreaterThan(1 << 20);
    expect(one("process_open_fds")).toBeGreaterThan(3);
    expect(one("process_max_fds")).toBeGreaterThanOrEqual(one("process_open_fds"));
  });

  test("docs/operations.md lists every family, and every family it lists is exported", () => {
    const doc = readFileSync(resolve(ROOT, "docs/operations.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Metrics"), doc.indexOf("\n## ", doc.indexOf("## Metrics") + 5));
    const documented = new Set([...section.matchAll(/`((?:feeder|process)_[a-z0-9_]*[a-z0-9])`/g)].map((m) => m[1]!));
    for (const name of types.keys()) expect(documented.has(name), `${name} is not in docs/operations.md § Metrics`).toBe(true);
    for (const name of documented) {
      if (WORKERS_ONLY.has(name) || RECORD_ONLY.test(name)) continue;
      expect(types.has(name) || types.has(familyOf(name)), `docs/operations.md lists ${name}, which is not exported`).toBe(true);
    }
  });

  test("docs/operations.md gives every exported family's type and labels as /metrics has them", () => {
    // Every family, unlabelled ones too: the rows of those were skipped before (operations-metrics.ts).
    expect(tableMismatches(samples, types)).toEqual([]);
    expect(types.size).toBeGreaterThan(30);
  });

  test("every query of the Grafana dashboard names exported metrics and labels", () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    // feeder record's capture panels: held against a recorder's /metrics in capture-health.test.ts.
    const here = queries.filter((q) => !queryMetricNames(q).some((n) => RECORD_ONLY.test(n)));
    expect(here.flatMap((q) => queryMismatches(q, samples))).toEqual([]);
    // Send errors by destination (its own panel since 2026-12-07: before, only the total was drawn).
    expect(here.filter((q) => /\bby \(destination\)/.test(q) && queryMetricNames(q).includes("feeder_destination_send_errors_total"))).toHaveLength(1);
  });

  test("the dashboard's exactly matched label values and legend labels are what /metrics has", () => {
    // Until 2026-12-07 only names were held to the scrape: a state or result value renamed left "Books live" at 0
    // and "Retransmission refused" counting the answered ones, every check passing.
    const targets = dashboardTargets().filter((t) => !queryMetricNames(t.expr).some((n) => RECORD_ONLY.test(n)));
    expect(targets.flatMap((t) => [...queryMismatches(t.expr, samples), ...legendMismatches(t, samples)])).toEqual([]);
    expect(targets.filter((t) => /\bstate="live"/.test(t.expr))).not.toEqual([]);
    // ... and what a drift would look like is caught.
    expect(queryMismatches('sum(feeder_books{state="valid"})', samples)).toEqual([expect.stringContaining('no feeder_books sample has state="valid"')]);
    expect(queryMismatches('sum(rate(feeder_retransmit_requests_total{result!="ok"}[1m]))', samples)).toHaveLength(1);
    expect(legendMismatches({ expr: "sum by (venue) (feeder_books)", legendFormat: "{{venue}} {{market}}" }, samples)).toHaveLength(1);
    expect(legendMismatches({ expr: "process_open_fds", legendFormat: "{{venue}}" }, samples)).toHaveLength(1);
    expect(legendMismatches({ expr: "sum by (venue, market) (feeder_books)", legendFormat: "{{venue}} {{market}}" }, samples)).toEqual([]);
  });
});
