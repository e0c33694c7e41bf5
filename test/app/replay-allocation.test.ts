/**
 * The publisher's whole path for a frame, through a replay Feeder (the live path minus the WebSocket: the venue's
 * onFrameAt → scanner → sequence check → VenuePipeline → builder → publishDelta → flush: seal, sendMany), allocates
 * nothing per frame in steady state (bench/alloc-meter.ts counts the new heap cells; its control must see a 32 B
 * object a step): Bybit, OKX (recorded frames), Deribit and Coinbase (simulator frames); nor per recorded socket
 * event (Binance, Upbit `ws:old`). Venues from overrides (no REST), no venue connection; multicast on 127.0.0.1, TTL 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { allocationControl, measureAllocation, type Allocation } from "../../bench/alloc-meter.ts";
import { Feeder } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { envelope, eventJson, timestamp } from "../../src/sim/coinbase-sim-frames.ts";
import { advanceChannel, ChannelSim, deribitSpec, InstrumentSim, snapshotFrame } from "../../src/sim/deribit-sim-book.ts";
import { Rng } from "../../src/sim/rng.ts";
import { defaultSpec, diffLevels, SimBook, type Levels } from "../../src/sim/sim-book.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { okxRecordingFrames } from "../venues/okx/recording.ts";

let feeder: Feeder | undefined;
let tempDir: string | undefined;
afterEach(async () => {
  await feeder?.stop();
  feeder = undefined;
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
});

const TOPIC = "orderbook.50.BTCUSDT";
const T0_MS = 1_764_000_000_000;

function frame(type: "snapshot" | "delta", u: number, bids: string, asks: string): string {
  return `{"topic":"${TOPIC}","type":"${type}","ts":${T0_MS + u},"data":{"s":"BTCUSDT","b":[${bids}],"a":[${asks}],"u":${u},"seq":${u}},"cts":${T0_MS + u}}`;
}

/**
 * Replays 8,000 Bybit frames through a Feeder (publish.auth_key_file when given) and meters the last 6,000; `oldSocket`:
 * each frame recorded as a planned reconnect's old socket's (a `ws:old` event before it, after `ws:sockets`, `ws:swap`).
 */
async function meterReplay(offset: number, authKeyFile?: string, oldSocket = false) {
  const { group, port } = uniqueDestination(offset);
  feeder = new Feeder({
    config: validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { ...(authKeyFile !== undefined ? { auth_key_file: authKeyFile } : {}), heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, startup_listen_ms: 0, destinations: [{ name: "alloc", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
      venues: {
        bybit: {
          ws_url: "ws://127.0.0.1:9",
          rest_url: "http://127.0.0.1:9",
          linear: { depth: 50, symbols: ["BTCUSDT"] },
          overrides: { "linear:BTCUSDT": { tick_size: "0.1", lot_size: "0.001" } },
        },
      },
    }),
    log: silentLogger,
    replay: true,
  });
  await feeder.start();
  const levels = (base: number, step: number) => Array.from({ length: 20 }, (_, i) => `["${(base + i * step).toFixed(1)}","${(1 + i).toFixed(3)}"]`).join(",");
  const frames = [frame("snapshot", 1, levels(999.9, -0.1), levels(1000.0, 0.1))];
  for (let u = 2; frames.length < 8_000; u++) {
    const k = u % 20;
    frames.push(frame("delta", u, `["${(999.9 - k * 0.1).toFixed(1)}","${(u % 7 === 0 ? 0 : 1 + (u % 5)).toFixed(3)}"]`, `["${(1000.0 + k * 0.1).toFixed(1)}","2.000"]`));
  }
  const ingest = oldSocket
    ? (i: number) => {
        feeder!.ingestRest("bybit", "linear", "conn0.linear", "ws:old", "", (T0_MS + i) * 1000);
        feeder!.ingest("bybit", "linear", "conn0.linear", frames[i]!, (T0_MS + i) * 1000);
      }
    : (i: number) => feeder!.ingest("bybit", "linear", "conn0.linear", frames[i]!, (T0_MS + i) * 1000);
  if (oldSocket) for (const url of ["ws:sockets", "ws:swap"]) feeder.ingestRest("bybit", "linear", "conn0.linear", url, "", T0_MS * 1000);
  for (let i = 0; i < 2_000; i++) ingest(i);
  const perFrame = measureAllocation(2_000, frames.length, ingest);
  const { venues, publisher } = feeder.stats();
  expect(venues.bybit!.deltas).toBe(frames.length - 1);
  expect(venues.bybit!.gaps ?? 0).toBe(0);
  expect(publisher.sendErrors).toBe(0);
  expect(feeder.books()[0]!.state).toBe(1); // LIVE
  expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
  expect(perFrame.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  return perFrame;
}

test("a replayed Bybit frame, from Feeder.ingest to sendMany, allocates nothing (the meter sees a 32 B object a step)", async () => {
  const perFrame = await meterReplay(398);
  // Before: 6 cells a frame, all replay's lookups: Feeder's and the adapter's find() closures and their scopes, and
  // the connection's name built by a getter each time it was compared.
  expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
});

test("with publish.auth_key_file the HMAC trailer allocates nothing either (a reused Bun.CryptoHasher)", async () => {
  tempDir = mkdtempSync(join(tmpdir(), "feeder-alloc-key-"));
  const keyFile = join(tempDir, "auth.key");
  writeFileSync(keyFile, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", { mode: 0o600 });
  const perFrame = await meterReplay(399, keyFile);
  expect(feeder!.stats().publisher.datagrams).toBeGreaterThan(6_000); // signed datagrams were sent
  // Before: createHmac per datagram (its Hmac, the digest, views: ~5 cells, ~400 B).
  expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
});

test("a frame of a planned reconnect's old socket (a ws:old event before it) allocates nothing either", async () => {
  const perFrame = await meterReplay(400, undefined, true);
  // Before: 4 cells a frame, the ws:old event's lookups of its connection by name (some() and find() closures and
  // their scopes); before that, Bybit ignored the socket events.
  expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
});

// Binance and Upbit take the socket events without acting on ws:old: only the connection's lookup by name runs, so
// the events alone are metered (no book needed).
for (const [venue, symbol, tickSize, offset] of [["upbit", "KRW-BTC", "1000", 401], ["binance", "BTCUSDT", "0.01", 402]] as const) {
  test(`a ${venue} ws:old event (one per old-socket frame of an overlap) allocates nothing`, async () => {
    const { group, port } = uniqueDestination(offset);
    feeder = new Feeder({
      config: validateConfig({
        log: { level: "warn", format: "json" },
        http: { enabled: false },
        publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, startup_listen_ms: 0, destinations: [{ name: "alloc", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
        venues: {
          [venue]: {
            ws_url: "ws://127.0.0.1:9",
            rest_url: "http://127.0.0.1:9",
            spot: { depth: 5, symbols: [symbol] },
            overrides: { [`spot:${symbol}`]: { tick_size: tickSize, lot_size: "0.00000001" } },
          },
        },
      }),
      log: silentLogger,
      replay: true,
    });
    await feeder.start();
    const event = (i: number) => {
      if (!feeder!.ingestRest(venue, "spot", "conn0.spot", "ws:old", "", (T0_MS + i) * 1000)) throw new Error("ws:old not taken");
    };
    for (const url of ["ws:sockets", "ws:swap"]) feeder.ingestRest(venue, "spot", "conn0.spot", url, "", T0_MS * 1000);
    for (let i = 0; i < 2_000; i++) event(i);
    const perEvent = measureAllocation(2_000, 8_000, event);
    expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
    expect(perEvent.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
    // Before: 2 cells an event, the adapter's some() closure and its scope.
    expect(perEvent.cellsPerStep, perEvent.types).toBeLessThan(0.05);
  });
}

/** A replay Feeder of one venue (instruments from overrides, no REST, no venue connection), multicast on 127.0.0.1. */
async function replayFeeder(offset: number, venue: string, venueConfig: Record<string, unknown>): Promise<Feeder> {
  tempDir = mkdtempSync(join(tmpdir(), "feeder-alloc-cache-"));
  const { group, port } = uniqueDestination(offset);
  feeder = new Feeder({
    config: validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, startup_listen_ms: 0, destinations: [{ name: "alloc", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
      venues: { [venue]: { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9", instrument_cache: join(tempDir, "instruments.json"), ...venueConfig } },
    }),
    log: silentLogger,
    replay: true,
  });
  await feeder.start();
  return feeder;
}

/** What every whole-path meter asserts besides the count: the books LIVE, nothing sent wrong, the meter not blind. */
function expectSteadyPath(f: Feeder, venue: string, perFrame: Allocation): void {
  const { venues, publisher } = f.stats();
  expect(venues[venue]!.deltas, "every metered frame applied").toBeGreaterThanOrEqual(perFrame.steps);
  expect(publisher.datagrams, "and published").toBeGreaterThanOrEqual(perFrame.steps);
  expect(venues[venue]!.gaps ?? 0).toBe(0);
  expect(publisher.sendErrors).toBe(0);
  expect(f.stats().applyErrors).toBe(0);
  for (const b of f.books()) expect(b.state, `${b.instrument.symbol}`).toBe(1); // LIVE
  expect(allocationControl(6_000).cellsPerStep).toBeGreaterThan(0.9);
  expect(perFrame.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
}

/** Feeds a simulator run's frames to a replay Feeder (1 000 to warm up, then the rest metered); asserts none allocates. */
function meterSimFrames(f: Feeder, venue: string, market: string, frames: readonly string[]): void {
  const connection = `conn0.${market}`; // built once: the meter counts every allocation in step
  const step = (i: number) => {
    if (!f.ingest(venue, market, connection, frames[i]!, (T0_MS + i) * 1000)) throw new Error("frame not taken");
  };
  for (let i = 0; i < 1_000; i++) step(i);
  const perFrame = measureAllocation(1_000, frames.length, step);
  expectSteadyPath(f, venue, perFrame);
  expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
}

test("a recorded OKX books update (OKX.ws.1.0, its checksum verified), from Feeder.ingest to sendMany, allocates nothing", async () => {
  const books = okxRecordingFrames().books.filter((r) => r.instId === "BTC-USDT");
  const snapshot = books.find((r) => r.frame.includes('"action":"snapshot"'))!.frame;
  const updates = books.filter((r) => r.frame.includes('"action":"update"')).map((r) => r.frame);
  const f = await replayFeeder(403, "okx", { spot: { depth: 400, symbols: ["BTC-USDT"] }, overrides: { "spot:BTC-USDT": { tick_size: "0.1", lot_size: "0.00000001" } } });
  let tsUs = T0_MS * 1000;
  const ingest = (frame: string) => {
    if (!f.ingest("okx", "spot", "conn0.spot", frame, (tsUs += 1000))) throw new Error("frame not taken");
  };
  // A step is one update; each chunk is one pass over the recording's updates, its snapshot fed before (not metered).
  const step = (i: number) => ingest(updates[i % updates.length]!);
  const restart = () => ingest(snapshot);
  for (let p = 0; p < 4; p++) {
    restart();
    for (let i = 0; i < updates.length; i++) step(i);
  }
  const perFrame = measureAllocation(0, 8 * updates.length, step, { chunkSteps: updates.length, beforeChunk: restart });
  expect(f.stats().venues.okx!.checksumMismatches ?? 0).toBe(0);
  expect(f.stats().venues.okx!.checksumsVerified).toBeGreaterThan(8 * updates.length);
  expectSteadyPath(f, "okx", perFrame);
  expect(perFrame.cellsPerStep, perFrame.types).toBeLessThan(0.05);
});

test("a Deribit book change (simulator frames, as bench/deribit.bench.ts), from Feeder.ingest to sendMany, allocates nothing", async () => {
  // Simulator frames, not DERIBIT.ws.1.0 over and over: each pass's snapshot goes back in change_id, a venue reset
  // (RESYNCING until it applies), so the recording repeated is no steady state.
  const SYMBOL = "BTC-PERPETUAL";
  const rng = new Rng(3);
  const inst = new InstrumentSim("inverse", SYMBOL, deribitSpec("inverse", SYMBOL), rng);
  const channel = new ChannelSim(`book.${SYMBOL}.100ms`, 0, inst);
  advanceChannel(channel, rng);
  channel.changeId = inst.changeId;
  const frames = [snapshotFrame(channel, rng)];
  while (frames.length < 4_000) {
    inst.book.mutate(rng.int(1, 5));
    inst.changeId += rng.int(1, 40);
    const fr = advanceChannel(channel, rng);
    if (fr !== null) frames.push(fr);
  }
  const f = await replayFeeder(404, "deribit", { inverse: { symbols: [SYMBOL] }, overrides: { [`inverse:${SYMBOL}`]: { tick_size: "0.5", lot_size: "10" } } });
  meterSimFrames(f, "deribit", "inverse", frames);
});

test("a Coinbase level2 update (simulator frames, as bench/coinbase.bench.ts), from Feeder.ingest to sendMany, allocates nothing", async () => {
  const DEPTH = 50;
  const rng = new Rng(23);
  const book = new SimBook({ ...defaultSpec("spot", "BTC-USD"), tickSize: "0.01", lotSize: "0.00000001", typicalLots: 5_000_000, priceDecimals: 2, volPerSqrtS: 1e-6 }, rng, 10_000);
  const pairs = (l: Levels): [number, number][] => l.px.map((px, i) => [px, l.qty[i]!]);
  const time = timestamp(T0_MS);
  let seq = 0;
  let shown = { bids: book.windowLevels(true, DEPTH), asks: book.windowLevels(false, DEPTH) };
  const frames = [envelope("l2_data", seq++, [eventJson("snapshot", "BTC-USD", book, pairs(shown.bids), pairs(shown.asks), time)], time)];
  while (frames.length < 4_000) {
    book.mutate(rng.int(1, 5));
    const next = { bids: book.windowLevels(true, DEPTH), asks: book.windowLevels(false, DEPTH) };
    frames.push(envelope("l2_data", seq++, [eventJson("update", "BTC-USD", book, diffLevels(shown.bids, next.bids, true), diffLevels(shown.asks, next.asks, false), time)], time));
    shown = next;
  }
  const f = await replayFeeder(405, "coinbase", { spot: { symbols: ["BTC-USD"] }, overrides: { "spot:BTC-USD": { tick_size: "0.01", lot_size: "0.00000001" } } });
  meterSimFrames(f, "coinbase", "spot", frames);
});
