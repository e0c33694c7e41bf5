/**
 * `feeder record`'s capture health over real HTTP on 127.0.0.1. Until 2026-12-07 a capture that could not write (disk
 * full, EIO) showed only in log lines: /metrics, /status and /readyz said nothing of it. Now /metrics has the writer's
 * totals (feeder_capture_*), /status `capture: ok | failing since …`, and /readyz a `capture_failing` warning, still 200
 * (readiness is about publishing books). The write error is injected into the writer's node:fs (ENOSPC, as a full disk
 * gives): the test runs as root, where a read-only directory would not refuse anything.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { summarize } from "../../src/app/book-json.ts";
import { captureStatusSource } from "../../src/app/capture-health.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { histogramData } from "../../src/app/metrics.ts";
import { parsePrometheusText, PromWriter } from "../../src/app/prometheus.ts";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { freePort } from "../support/free-port.ts";
import { dashboardQueries, queryMetricNames, queryMismatches } from "../support/dashboard-queries.ts";
import { operationsMetricRows, tableMismatches } from "../support/operations-metrics.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** While set, every write of a block (past a file's header) fails with ENOSPC, nothing written: a full disk. */
const faults = vi.hoisted(() => ({ full: false }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const writeSync = (fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
    if (faults.full && pos > 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    return real.writeSync(fd, buf, off, len, pos);
  };
  return { ...real, default: { ...real, writeSync }, writeSync };
});

const book = new BookBuilder({ instrumentId: instrumentIdOf("bybit", "linear", "XRPUSDT"), venue: "bybit", market: "linear", symbol: "XRPUSDT", priceExp: 4, qtyExp: 0, tickSize: "0.0001", lotSize: "1" });
const u = new BookUpdate();
u.isSnapshot = true;
u.venueSeq = 1;
u.pushBid(19531, 6203);
u.pushAsk(19532, 100);
book.applySnapshot(u);

/** One live book: ready, so what the capture changes of /readyz shows. */
const base: StatusSource = {
  book: () => undefined,
  metricsText: () => new PromWriter().family("feeder_build_info", "gauge", "build").sample("feeder_build_info", { version: "0", bun_version: "0" }, 1).text(),
  readiness: () => ({ books: [summarize(book, book.state === BookState.LIVE)], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: histogramData(new LatencyHistogram()), exchangeToReceipt: {} }),
};

let writer: CaptureWriter;
let server: HttpServerHandle;

beforeAll(() => {
  writer = new CaptureWriter({ dir: makeTempDir("feeder-caphealth-"), prefix: "feeder", flushIntervalMs: 3_600_000 });
  server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, captureStatusSource(base, () => writer.stats()), silentLogger);
});

afterAll(async () => {
  writer?.close();
  await server?.stop();
});

async function scrape(): Promise<Map<string, number>> {
  const { samples, types } = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
  expect(tableMismatches(samples, types)).toEqual([]); // every family in docs/operations.md with its type and labels
  // and every feeder_capture_ family the table lists is exported (metrics-live's feeder has no capture)
  const documented = [...operationsMetricRows().keys()].filter((n) => n.startsWith("feeder_capture_"));
  expect(documented.filter((n) => !types.has(n))).toEqual([]);
  expect(documented.length).toBe(6);
  return new Map(samples.filter((s) => s.name.startsWith("feeder_capture_")).map((s) => [`${s.name}${s.labels.file === undefined ? "" : "{file}"}`, s.value]));
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function record(n: number): void {
  for (let i = 0; i < n; i++) writer.write(1_765_000_000_000_000 + i, "bybit", "linear", "conn0", `{"frame":${i}}`);
  writer.flush();
}

test("a capture that cannot write: counted on /metrics, failing since when on /status, a warning on /readyz (200); ok again once a block is written", async () => {
  record(2);
  const fileKey = "feeder_capture_file_info{file}";
  let m = await scrape();
  expect([m.get("feeder_capture_records_total"), m.get("feeder_capture_records_lost_total"), m.get("feeder_capture_write_errors_total"), m.get("feeder_capture_failing"), m.get(fileKey)]).toEqual([2, 0, 0, 0, 1]);
  const writtenBefore = m.get("feeder_capture_written_bytes_total")!;
  expect(writtenBefore).toBeGreaterThan(0);
  let readyz = await get("/readyz");
  expect([readyz.status, readyz.body.ready, readyz.body.warnings]).toEqual([200, true, []]);
  let status = await get("/status");
  expect(status.body.capture).toMatchObject({ state: "ok", failingSinceMs: null, lastError: null, records: 2, lostRecords: 0, writeErrors: 0 });

  faults.full = true;
  const beforeMs = Date.now();
  record(3);
  m = await scrape();
  expect([m.get("feeder_capture_records_total"), m.get("feeder_capture_records_lost_total"), m.get("feeder_capture_write_errors_total"), m.get("feeder_capture_failing")]).toEqual([5, 3, 1, 1]);
  expect(m.get("feeder_capture_written_bytes_total")).toBe(writtenBefore);
  readyz = await get("/readyz");
  expect([readyz.status, readyz.body.ready]).toEqual([200, true]); // publishing goes on: not a reason, a warning
  const warnings = readyz.body.warnings as Record<string, unknown>[];
  expect(warnings.map((w) => [w.check, w.writeErrors, w.lostRecords])).toEqual([["capture_failing", 1, 3]]);
  expect(warnings[0]!.detail).toContain("ENOSPC");
  status = await get("/status");
  const failing = status.body.capture as Record<string, unknown>;
  expect(failing).toMatchObject({ state: "failing", records: 5, lostRecords: 3, writeErrors: 1 });
  expect(failing.failingSinceMs).toBeGreaterThanOrEqual(beforeMs);
  expect(failing.lastError).toContain("ENOSPC");
  expect((status.body.warnings as Record<string, unknown>[]).map((w) => w.check)).toEqual(["capture_failing"]);

  record(1); // still full: failing since the first lost block, not the last
  expect((await get("/status")).body.capture).toMatchObject({ state: "failing", failingSinceMs: failing.failingSinceMs, writeErrors: 2 });

  faults.full = false;
  record(1);
  m = await scrape();
  expect([m.get("feeder_capture_records_lost_total"), m.get("feeder_capture_write_errors_total"), m.get("feeder_capture_failing")]).toEqual([4, 2, 0]);
  expect((await get("/readyz")).body.warnings).toEqual([]);
  expect((await get("/status")).body.capture).toMatchObject({ state: "ok", failingSinceMs: null, lastError: null });
});

test("the Grafana dashboard's capture panels: capture failing and records lost, each query naming metrics and labels a recorder exports", async () => {
  const { samples } = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
  const capture = dashboardQueries().filter((q) => queryMetricNames(q).some((n) => n.startsWith("feeder_capture_")));
  expect(capture.flatMap((q) => queryMismatches(q, samples))).toEqual([]);
  const used = new Set(capture.flatMap(queryMetricNames));
  expect(["feeder_capture_failing", "feeder_capture_records_lost_total"].filter((n) => !used.has(n))).toEqual([]);
});

test("feeder record wires its writer in: /metrics, /status and /readyz of a running recorder show its capture", async () => {
  const dir = tempDir("caphealth-record-");
  const port = await freePort();
  const path = join(dir, "feeder.toml");
  // XRPUSDT from overrides (nothing fetched; the venue's endpoints answer nothing): not ready, which the capture leaves so.
  const lines = ['log = { level = "info", format = "json" }', `http = { listen = "127.0.0.1:${port}" }`, "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(934))];
  lines.push(...unreachableBybitToml(dir), "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', '[venues.bybit.overrides."linear:XRPUSDT"]', 'tick_size = "0.0001"', 'lot_size = "1"');
  writeFileSync(path, lines.join("\n") + "\n");
  const written: string[] = [];
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    written.push(String(chunk));
    (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
    return true;
  });
  let signal!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (signal = r));
  // Nothing reaches the writer here (no venue answers), and a writer not open shows as one that wrote nothing: its
  // stats() marked (records 7) tells the recorder's own writer from that.
  const realStats = CaptureWriter.prototype.stats;
  const stats = vi.spyOn(CaptureWriter.prototype, "stats").mockImplementation(function (this: CaptureWriter) {
    return { ...realStats.call(this), records: 7 };
  });
  const running = recordCommand.run({ values: { config: path, out: join(dir, "captures") }, positionals: [], log: silentLogger, out: () => undefined, stopSignal });
  try {
    await waitFor(() => written.some((l) => l.includes('"msg":"recording"')), "recording");
    const url = `http://127.0.0.1:${port}`;
    const { samples } = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    expect(samples.filter((s) => s.name === "feeder_capture_failing").map((s) => s.value)).toEqual([0]);
    expect(samples.filter((s) => s.name === "feeder_capture_records_total").map((s) => s.value)).toEqual([7]);
    const status = (await (await fetch(`${url}/status`)).json()) as Record<string, unknown>;
    expect([(status.capture as Record<string, unknown>).state, (status.capture as Record<string, unknown>).records, status.warnings]).toEqual(["ok", 7, []]);
    // The status page's /status?books=N too (made from the pipeline's rows and its /readyz summary, workers = 1).
    const rows = (await (await fetch(`${url}/status?books=5`)).json()) as Record<string, unknown>;
    expect([(rows.capture as Record<string, unknown>).state, (rows.capture as Record<string, unknown>).records, rows.warnings]).toEqual(["ok", 7, []]);
    const readyz = await fetch(`${url}/readyz`);
    expect(((await readyz.json()) as Record<string, unknown>).warnings).toEqual([]);
  } finally {
    signal("SIGTERM");
    await running;
    stderr.mockRestore();
    stats.mockRestore();
  }
});

test("before the writer opens (HTTP answers from the start-up checks on): warnings [], capture ok with nothing written, the series at 0", async () => {
  const early = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, captureStatusSource(base, () => undefined), silentLogger);
  try {
    const readyz = (await (await fetch(`${early.url}/readyz`)).json()) as Record<string, unknown>;
    expect(readyz.warnings).toEqual([]); // before: absent until the writer opened
    const status = (await (await fetch(`${early.url}/status`)).json()) as Record<string, unknown>;
    expect([status.capture, status.warnings]).toEqual([{ state: "ok", failingSinceMs: null, failingForMs: null, lastError: null, file: null, records: 0, lostRecords: 0, writeErrors: 0, writtenBytes: 0 }, []]);
    const { samples } = parsePrometheusText(await (await fetch(`${early.url}/metrics`)).text());
    expect(samples.filter((s) => s.name.startsWith("feeder_capture_")).map((s) => [s.name, s.value])).toEqual([
      ["feeder_capture_records_total", 0],
      ["feeder_capture_records_lost_total", 0],
      ["feeder_capture_write_errors_total", 0],
      ["feeder_capture_written_bytes_total", 0],
      ["feeder_capture_failing", 0],
    ]);
  } finally {
    await early.stop();
  }
});

test("a writer whose injected wall clock says 0 (tests' clocks): failing all the same, since 0", () => {
  const w = new CaptureWriter({ dir: makeTempDir("feeder-caphealth-zero-"), prefix: "feeder", flushIntervalMs: 3_600_000, now: () => 0, monoNow: () => 5 });
  try {
    faults.full = true; // the file's header (at 0) is written, its first block is not
    w.write(1_765_000_000_000_000, "bybit", "linear", "conn0", "{}");
    w.flush();
    expect([w.stats().writeErrors, w.stats().failing]).toEqual([1, { sinceMs: 0, forMs: 0, lastError: "ENOSPC: no space left on device, write" }]); // before: undefined
  } finally {
    faults.full = false;
    w.close();
  }
});
