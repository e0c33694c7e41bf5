/**
 * Captures also hold the REST responses a book depends on (a depth snapshot diffs are bridged to): the writer
 * stores them beside the frames, the reader gives them back with their URL, and replay feeds them to the venue's
 * ingestRest in file order, interleaved with the frames exactly as recorded.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Instrument, StatusReason } from "../../src/core/types.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import type { BookSink, VenueAdapter } from "../../src/venues/venue.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

class RecordingVenue implements VenueAdapter {
  readonly venue = "binance" as const;
  readonly seen: string[] = [];
  constructor(readonly instrument: Instrument) {}
  loadInstruments(): Promise<(Instrument | undefined)[]> {
    return Promise.resolve([this.instrument]);
  }
  start(_sink: BookSink): void {}
  startReplay(_sink: BookSink): void {}
  ingestFrame(market: string, connection: string, frame: string): boolean {
    this.seen.push(`ws ${market} ${connection} ${frame}`);
    return true;
  }
  ingestRest(market: string, connection: string, url: string, body: string, tsRecvUs: number): boolean {
    this.seen.push(`rest ${market} ${connection} ${url} ${body} @${tsRecvUs}`);
    return true;
  }
  requestResync(_index: number, _reason: StatusReason): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
  stats(): Record<string, number> {
    return {};
  }
  metrics() {
    return [];
  }
}

test("REST responses are captured beside the frames and replayed to ingestRest in order", async () => {
  const dir = tempDir("feeder-capture-rest-");
  const w = new CaptureWriter({ dir, flushIntervalMs: 60_000 });
  w.write(10, "binance", "spot", "spot-0", '{"U":1,"u":5}');
  w.writeRest(20, "binance", "spot", "spot-0", "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", '{"lastUpdateId":4}');
  w.write(30, "binance", "spot", "spot-0", '{"U":6,"u":7}');
  w.close();
  const { records, truncated } = readCapture(w.files[0]!);
  expect(truncated).toBeUndefined();
  expect(records.map((r) => [r.tsRecvUs, r.url, r.frame])).toEqual([
    [10, undefined, '{"U":1,"u":5}'],
    [20, "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000", '{"lastUpdateId":4}'],
    [30, undefined, '{"U":6,"u":7}'],
  ]);

  const instrument: Instrument = { instrumentId: instrumentIdOf("binance", "spot", "BTCUSDT"), venue: "binance", market: "spot", symbol: "BTCUSDT", priceExp: 2, qtyExp: 5, tickSize: "0.01", lotSize: "0.00001" };
  const venue = new RecordingVenue(instrument);
  const spec: VenueSpec = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:1/",
    restUrl: "http://127.0.0.1:1",
    marketWsUrl: (base) => base,
    markets: { spot: { depths: [1000], defaultDepth: 1000, staleAfterMs: () => 60_000, staleFloor: () => ({ ms: 1000 }) } },
    keepalive: "ws_ping",
    resync: "rest_snapshot",
    sequenceScope: "topic",
    create: () => venue,
  };
  const { group, port } = uniqueDestination(73);
  const base = validateConfig({ publish: { destinations: [{ group, port, interface: "127.0.0.1", ttl: 1 }] } });
  const config: FeederConfig = {
    ...base,
    venues: [{ venue: "binance", wsUrl: spec.wsUrl, restUrl: spec.restUrl, instrumentCachePath: "", markets: [{ market: "spot", depth: 1000, symbols: ["BTCUSDT"] }], overrides: new Map() }],
  };
  const feeder = new Feeder({ config, log: silentLogger, venues: { binance: spec }, replay: true });
  cleanups.push(() => feeder.stop());
  await feeder.start();
  const result = await replayCaptures(feeder, w.files, { pace: "fast" });
  expect(result).toMatchObject({ frames: 3, ingested: 3, skipped: 0 });
  expect(venue.seen).toEqual([
    'ws spot spot-0 {"U":1,"u":5}',
    'rest spot spot-0 https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 {"lastUpdateId":4} @20',
    'ws spot spot-0 {"U":6,"u":7}',
  ]);
});
