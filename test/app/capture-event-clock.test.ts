/**
 * The ws:open / ws:close records of a capture carry the frames' clock. Frames are stamped on core/clock.ts (the
 * wall clock read at start, then the monotonic clock: it does not step), connection events were stamped on the
 * adapter's clock (Date.now, which an NTP step or a resumed VM moves): after the wall clock stepped an hour back,
 * a disconnect was recorded an hour before the frames around it. A `replay --pace recorded` waits on such a record
 * for the step's length when it was stepped forward, and `export --books --every-ms` writes the step's length of
 * grid rows. Here the adapter's clock is stepped back an hour while recording, then the simulator drops the
 * connection: every event record lies between the frames before and after it.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter, readCapture, type CaptureRecord } from "../../src/record/capture.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { BINANCE_VENUE } from "../../src/venues/binance/index.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { CONNECTION_CLOSED_URL, CONNECTION_OPENED_URL } from "../../src/venues/venue.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { reconnectConfig } from "./replay-reconnect-run.ts";

const STEP_BACK_MS = 3_600_000;

/** Every record of `picked` (by index) lies at or after the frame before it and at or before the frame after it. */
function expectBetweenFrames(records: CaptureRecord[], picked: { r: CaptureRecord; i: number }[]): void {
  const isFrame = (r: CaptureRecord) => r.url === undefined;
  const frameAt = (from: number, dir: 1 | -1) => {
    for (let i = from + dir; i >= 0 && i < records.length; i += dir) if (isFrame(records[i]!)) return records[i]!.tsRecvUs;
    return undefined;
  };
  for (const { r, i } of picked) {
    const before = frameAt(i, -1);
    const after = frameAt(i, 1);
    if (before !== undefined) expect(r.tsRecvUs, `${r.url} after the frame at ${before}`).toBeGreaterThanOrEqual(before);
    if (after !== undefined) expect(r.tsRecvUs, `${r.url} before the frame at ${after}`).toBeLessThanOrEqual(after);
  }
}

describe("connection events in a capture after a wall clock step", { timeout: 60_000 }, () => {
  test("ws:close and ws:open are stamped on the frames' clock, not an hour before them", async () => {
    const sim = await startBybitSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], seed: 7 });
    const dir = tempDir("feeder-event-clock-");
    const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 8192 });
    let stepMs = 0;
    const live = new Feeder({
      config: reconnectConfig("bybit", { spot: { depth: 50, symbols: ["BTCUSDT"] } })(uniqueDestination(383), sim.wsUrl, sim.restUrl, join(dir, "instruments.json")),
      log: silentLogger,
      adapterOptions: { reconnectBaseMs: 5, reconnectMaxMs: 20, now: () => Date.now() - stepMs },
      onRawFrame: (v, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, v, market, connection, frame),
      onRawRest: (v, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, v, market, connection, url, body),
    });
    try {
      await live.start();
      const stats = () => live.stats().venues.bybit!;
      await waitFor(() => live.books().every((b) => b.state === 1), "live book", 15_000, () => sim.step(1));
      stepMs = STEP_BACK_MS;
      void sim.inject("disconnect");
      await waitFor(() => stats().reconnects >= 1 && stats().connectionsOpen === stats().connections, "reconnected", 15_000);
      await waitFor(() => live.books().every((b) => b.state === 1), "live book again", 15_000, () => sim.step(1));
    } finally {
      await live.stop();
      writer.close();
      await sim.stop();
    }
    const records = readdirSync(join(dir, "cap")).sort().flatMap((f) => readCapture(join(dir, "cap", f)).records);
    const events = records.map((r, i) => ({ r, i })).filter(({ r }) => r.url === CONNECTION_OPENED_URL || r.url === CONNECTION_CLOSED_URL);
    expect(events.filter(({ r }) => r.url === CONNECTION_CLOSED_URL).length).toBeGreaterThanOrEqual(1);
    expect(events.filter(({ r }) => r.url === CONNECTION_OPENED_URL).length).toBeGreaterThanOrEqual(2);
    expectBetweenFrames(records, events);
  });

  test("Binance: the REST depth snapshots a book bridges to are stamped on the frames' clock too", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], seed: 13 });
    const dir = tempDir("feeder-event-clock-binance-");
    const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 8192 });
    let stepMs = 0;
    const spec: VenueSpec = { ...BINANCE_VENUE, create: (c, subs, opts) => BINANCE_VENUE.create(c, subs, { ...opts, now: () => Date.now() - stepMs, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 }) };
    const live = new Feeder({
      config: reconnectConfig("binance", { spot: { depth: 1000, symbols: ["BTCUSDT"] } })(uniqueDestination(384), sim.wsUrl, sim.restUrl, join(dir, "instruments.json")),
      log: silentLogger,
      venues: { binance: spec },
      onRawFrame: (v, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, v, market, connection, frame),
      onRawRest: (v, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, v, market, connection, url, body),
    });
    try {
      await live.start();
      const rest = () => live.stats().venues.binance!.snapshotsFetched ?? 0;
      await waitFor(() => live.books().every((b) => b.state === 1), "live book", 15_000, () => sim.step(1));
      stepMs = STEP_BACK_MS;
      const before = rest();
      sim.inject("gap", { market: "spot", symbol: "BTCUSDT" });
      await waitFor(() => rest() > before, "a REST snapshot after the gap", 15_000, () => sim.step(1));
      await waitFor(() => live.books().every((b) => b.state === 1), "live book again", 15_000, () => sim.step(1));
      for (let i = 0; i < 3; i++) sim.step(1);
    } finally {
      await live.stop();
      writer.close();
      await sim.stop();
    }
    const records = readdirSync(join(dir, "cap")).sort().flatMap((f) => readCapture(join(dir, "cap", f)).records);
    const snapshots = records.map((r, i) => ({ r, i })).filter(({ r }) => r.url !== undefined && !r.url.startsWith("ws:"));
    expect(snapshots.length).toBeGreaterThanOrEqual(2); // the start's and the gap's
    expectBetweenFrames(records, snapshots);
  });
});
