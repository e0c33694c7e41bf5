/**
 * record → replay: a live run against the simulator is captured (raw frames with receive times); replaying the
 * capture through the same pipeline rebuilds the same books, and replaying it twice gives byte-identical
 * multicast output apart from the session id and send times.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import dgram from "node:dgram";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { feederConfig, levelsOfView, rawConfig, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Levels, type Markets } from "./harness.ts";
import { main } from "../../src/cli/main.ts";
import { writeFileSync } from "node:fs";
import { formatFixed } from "../../src/core/fixed.ts";
import type { Instrument } from "../../src/core/types.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];
const SESSION_ID = [8, 12];
const SEND_TIME_NS = [24, 32];
/** Wire v2: sessionStartNs differs per replay too, and the CRC-32C covers all of the above. */
const SESSION_START_NS = [32, 40];
const CRC32C = [44, 48];

let sim: BybitSim;
let captureDir: string;
let liveBooks: Map<number, { venueSeq: number; levels: Levels; instrument: Instrument }>;

/** Levels as normalized decimal strings (no trailing zeros), independent of the exponents used. */
function decimalLevels(l: Levels, i: { priceExp: number; qtyExp: number }): string {
  const norm = (m: number, e: number) => {
    const text = formatFixed(m, e);
    return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  };
  const side = (xs: [number, number][]) => xs.map(([p, q]) => `${norm(p, i.priceExp)}@${norm(q, i.qtyExp)}`).join(",");
  return `${side(l.bids)}|${side(l.asks)}`;
}
let replayConfig: ReturnType<typeof validateConfig>;
let replayDest: { group: string; port: number };

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 3, messagesPerSecond: 0 });
  const live = uniqueDestination(4);
  const subscriber = new FeedSubscriber({ groups: [{ ...live, iface: "127.0.0.1" }] });
  await subscriber.start();
  captureDir = tempDir("feeder-capture-e2e-");
  const writer = new CaptureWriter({ dir: captureDir, flushBytes: 4096 });
  const config = feederConfig({ sim, markets: MARKETS, ...live });
  const feeder = new Feeder({
    config,
    log: silentLogger,
    onRawFrame: (venue, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, venue, market, connection, frame),
    adapterOptions: { pingIntervalMs: 100 },
  });
  await feeder.start();
  const allLive = () => feeder.books().every((b) => b.state === 1);
  await waitFor(allLive, "live books");
  for (let i = 0; i < 30; i++) {
    sim.step(1);
    if (i === 10) sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
    if (i === 20) sim.inject("duplicate", { market: "spot", symbol: "BTCUSDT" });
  }
  const simU = () => feeder.books().every((b) => b.state === 1 && b.venueSeq === sim.book(b.instrument.market, b.instrument.symbol).u);
  await waitFor(simU, "live books caught up with the simulator", 15_000, () => sim.step(1));
  liveBooks = new Map(feeder.books().map((b) => [b.instrument.instrumentId, { venueSeq: b.venueSeq, levels: levelsOfView(b), instrument: b.instrument }]));
  await feeder.stop();
  writer.close();
  await subscriber.stop();
  // Replay to its own group; no periodic refresh and no idle heartbeat during a fast replay.
  replayDest = uniqueDestination(5);
  const raw = rawConfig({ sim, markets: MARKETS, ...replayDest, snapshotIntervalMs: 0, heartbeatIntervalMs: 60_000 });
  (raw.venues as any).bybit.instrument_cache = config.venues[0]!.instrumentCachePath; // instruments from the recording run's cache
  replayConfig = validateConfig(raw);
}, 60_000);

afterAll(async () => {
  await sim?.stop();
});

/** Replays every capture file once and returns the datagrams received on the replay group, in order. */
async function replayOnce(): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(replayDest.port, resolve));
  socket.addMembership(replayDest.group, "127.0.0.1");
  socket.setRecvBufferSize(8 * 1024 * 1024);
  socket.on("message", (m) => got.push(new Uint8Array(m)));
  await sim.stop(); // the replay must not need the exchange at all (REST included): instruments come from the cache
  const feeder = new Feeder({ config: replayConfig, log: silentLogger, replay: true });
  await feeder.start();
  const files = readdirSync(captureDir).map((f) => join(captureDir, f)).sort();
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  expect(result.truncated).toEqual([]);
  expect(result.skipped).toBe(0);
  const sent = () => feeder.publisher.counters.datagrams;
  await feeder.stop();
  await waitFor(() => got.length === sent(), "every replayed datagram received");
  socket.close();
  return got;
}

function masked(d: Uint8Array): string {
  const copy = new Uint8Array(d);
  copy.fill(0, SESSION_ID[0], SESSION_ID[1]);
  copy.fill(0, SEND_TIME_NS[0], SEND_TIME_NS[1]);
  copy.fill(0, SESSION_START_NS[0], SESSION_START_NS[1]);
  copy.fill(0, CRC32C[0], CRC32C[1]);
  return Buffer.from(copy).toString("hex");
}

describe("record → replay", { timeout: 60_000 }, () => {
  test("the capture holds every frame, with book data, acks and pongs", () => {
    const files = readdirSync(captureDir).map((f) => join(captureDir, f));
    const frames = files.flatMap((f) => readCapture(f).records);
    expect(frames.length).toBeGreaterThan(90);
    expect(frames.some((r) => typeof r.frame === "string" && r.frame.includes('"op":"subscribe"'))).toBe(true);
    expect(new Set(frames.map((r) => r.market))).toEqual(new Set(["linear", "spot"]));
  });

  test("replay rebuilds the live books, and twice gives byte-identical datagrams but for session and send time", async () => {
    const first = await replayOnce();
    const second = await replayOnce();
    expect(first.length).toBeGreaterThan(30);
    expect(second.map(masked)).toEqual(first.map(masked));
    // Session ids differ between the two replays (a new publisher incarnation each time).
    expect(Buffer.from(first[0]!.subarray(8, 12)).equals(Buffer.from(second[0]!.subarray(8, 12)))).toBe(false);

    const sub = new FeedSubscriber({ groups: [] });
    for (const d of first) sub.ingest(d);
    for (const [id, live] of liveBooks) {
      const b = sub.books.get(id)!;
      expect(b.venueSeq).toBe(live.venueSeq);
      expect(sameLevels(levelsOfView(b), live.levels)).toBe(true);
    }
  });

  test("the simulator serves a capture to a feeder, which rebuilds the recorded books", async () => {
    const files = readdirSync(captureDir).map((f) => join(captureDir, f));
    expect(files).toHaveLength(1);
    const server = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), replayFile: files[0]!, messagesPerSecond: 0 });
    const dest = uniqueDestination(6);
    const feeder = new Feeder({ config: feederConfig({ sim: server, markets: MARKETS, ...dest }), log: silentLogger });
    try {
      await feeder.start();
      const ids = MARKETS.flatMap((m) => m.symbols.map((s) => instrumentIdOf("bybit", m.market, s)));
      const matchesLive = () =>
        feeder.books().every((b) => {
          const live = liveBooks.get(b.instrument.instrumentId)!;
          // The simulator infers tick and lot from the recorded strings, so exponents may differ: compare values.
          return b.state === 1 && b.venueSeq === live.venueSeq && decimalLevels(levelsOfView(b), b.instrument) === decimalLevels(live.levels, live.instrument);
        });
      await waitFor(matchesLive, "books served from the capture equal the recorded ones", 20_000, () => server.step(1)).catch((e) => {
        throw e;
      });
      expect(feeder.books().map((b) => b.instrument.instrumentId).sort()).toEqual(ids.sort());
    } finally {
      await feeder.stop();
      await server.stop();
    }
  });

  test("feeder replay (the CLI command) feeds the capture and reports what it did", async () => {
    const files = readdirSync(captureDir).map((f) => join(captureDir, f));
    const frames = files.flatMap((f) => readCapture(f).records).length;
    const configPath = join(tempDir("feeder-replay-cli-"), "replay.toml");
    const venue = replayConfig.venues[0]!; // the simulator is gone: a replay never connects
    const raw = rawConfig({ sim: { wsUrl: venue.wsUrl, restUrl: venue.restUrl } as BybitSim, markets: MARKETS, ...uniqueDestination(10), snapshotIntervalMs: 0 });
    (raw.venues as any).bybit.instrument_cache = replayConfig.venues[0]!.instrumentCachePath;
    writeFileSync(configPath, toToml(raw));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["replay", "--config", configPath, ...files], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1)!);
    expect(summary).toMatchObject({ frames, ingested: frames, skipped: 0, truncated: [], stoppedEarly: false });
    expect(summary.datagrams).toBeGreaterThan(30);
    expect(await main(["replay", "--config", configPath], { out: () => {}, err: (t) => err.push(t) })).toBe(2);
    expect(err.at(-1)).toContain("name at least one capture file");
  });

  test("feeder record (the CLI command, a child process) captures until SIGINT and flushes on the way out", async () => {
    const server = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 4, messagesPerSecond: 200 });
    const dir = tempDir("feeder-record-cli-");
    const configPath = join(dir, "record.toml");
    const raw = rawConfig({ sim: server, markets: MARKETS, ...uniqueDestination(11) });
    raw.log = { level: "info", format: "json" }; // the "stopped" line carries the writer's record count
    writeFileSync(configPath, toToml(raw));
    const out = join(dir, "captures");
    const root = join(import.meta.dirname, "../..");
    // A progress line every second: the test signals once the child itself has taken frames (its log says how many),
    // not once the simulator has sent them (a loaded child can be far behind: the CI run that read 1 book of 100 sent).
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "record", "--config", configPath, "--out", out, "--progress-seconds", "1"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    let stderr = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += decoder.decode(chunk, { stream: true });
    })();
    const takenRecords = (): number => {
      let most = 0;
      for (const l of stderr.split("\n")) {
        if (!l.startsWith("{")) continue;
        const line = JSON.parse(l) as { msg: string; records?: number };
        if (line.msg === "recording progress" && typeof line.records === "number") most = Math.max(most, line.records);
      }
      return most;
    };
    try {
      const captured = () => readdirSync(out, { withFileTypes: true }).some((f) => f.isFile() && f.name.endsWith(".fcap"));
      await waitFor(() => {
        try {
          return captured() && takenRecords() > 100;
        } catch {
          return false; // the directory does not exist yet
        }
      }, "frames flowing and a capture file open", 20_000);
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(0);
      await reading;
      const stopped = stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg: string; records?: number; lostRecords?: number })
        .find((l) => l.msg === "stopped");
      expect(stopped, stderr).toBeDefined();
      const files = readdirSync(out).map((f) => join(out, f));
      const records = files.flatMap((f) => {
        const r = readCapture(f);
        expect(r.truncated).toBeUndefined();
        return r.records;
      });
      const books = records.filter((r) => typeof r.frame === "string" && r.frame.startsWith('{"topic":"orderbook.'));
      // The writer flushed on SIGINT: every record it took is in the files. Without the flush the last block (up to
      // 200 ms, ~40 frames here) would be missing. (Compared with what the writer took, not with what the simulator
      // sent: frames still unread by a loaded child process when the signal comes are never the writer's.)
      expect(books.length).toBeGreaterThan(50);
      expect(stopped!.lostRecords).toBe(0);
      expect(records.length).toBe(stopped!.records);
      expect(new Set(records.map((r) => r.connection)).size).toBeGreaterThanOrEqual(2);
    } finally {
      proc.kill("SIGKILL");
      await server.stop();
    }
  });
});

