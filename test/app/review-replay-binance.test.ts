/**
 * record → replay on Binance, whose books depend on REST: a live run against the simulator (gaps, so books are
 * bridged to fresh REST depth snapshots several times) is captured with its frames and REST answers;
 * replaying the capture with the simulator gone publishes, for every book, only states the live run published at
 * the same update id, and ends with the live run's books. Two replays give the same sequenced datagrams.
 */
import { join } from "node:path";
import { readdirSync } from "node:fs";
import dgram from "node:dgram";
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { BINANCE_VENUE } from "../../src/venues/binance/index.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import { levelsOfView, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const IDS = SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s));

function config(dest: { group: string; port: number }, wsUrl: string, restUrl: string, cache: string) {
  return validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "e2e", ...dest, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: { binance: { ws_url: wsUrl, rest_url: restUrl, instrument_cache: cache, spot: { depth: 1000, symbols: SYMBOLS } } },
  });
}

/** Every valid book the subscriber saw, by "id@venueSeq" → its levels. */
function collect(sub: FeedSubscriber): Map<string, string> {
  const seen = new Map<string, string>();
  sub.on("update", (e) => {
    if (e.book.valid && IDS.includes(e.book.instrumentId)) seen.set(`${e.book.instrumentId}@${e.book.venueSeq}`, JSON.stringify(levelsOfView(e.book)));
  });
  return seen;
}

describe("Binance record → replay (REST snapshots in the capture)", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's books, REST bridges included, the same way twice", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 11 });
    const dir = tempDir("feeder-review-binance-");
    const cache = join(dir, "instruments.json");
    const liveDest = uniqueDestination(65);
    const liveSub = new FeedSubscriber({ groups: [{ ...liveDest, iface: "127.0.0.1" }] });
    const liveSeen = collect(liveSub);
    await liveSub.start();
    const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 8192 });
    const spec: VenueSpec = { ...BINANCE_VENUE, create: (c, subs, opts) => BINANCE_VENUE.create(c, subs, { ...opts, reconnectBaseMs: 5, reconnectMaxMs: 20, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 }) };
    const live = new Feeder({
      config: config(liveDest, sim.wsUrl, sim.restUrl, cache),
      log: silentLogger,
      venues: { binance: spec },
      onRawFrame: (venue, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, venue, market, connection, frame),
      onRawRest: (venue, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, venue, market, connection, url, body),
    });
    await live.start();
    const caughtUp = () => live.books().every((b) => b.state === 1 && b.venueSeq === sim.book("spot", b.instrument.symbol).u);
    await waitFor(caughtUp, "live books", 15_000, () => sim.step(1));
    const rest = () => live.stats().venues.binance!.snapshotsFetched ?? 0;
    // Gaps here; unplanned reconnects (the capture's ws:close records) are test/app/replay-reconnect-binance.test.ts.
    for (const [i, symbol] of [SYMBOLS[0]!, SYMBOLS[1]!, SYMBOLS[0]!].entries()) {
      const fault = `gap ${i} on ${symbol}`;
      const before = rest();
      sim.inject("gap", { market: "spot", symbol });
      await waitFor(() => rest() > before, `a REST snapshot after the ${fault}`, 15_000, () => sim.step(1));
      await waitFor(caughtUp, `live books after the ${fault}`, 15_000, () => sim.step(1));
    }
    for (let i = 0; i < 5; i++) sim.step(1);
    await waitFor(caughtUp, "live books at the end", 15_000);
    const liveBooks = live.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
    await live.stop();
    writer.close();
    await liveSub.stop();
    await sim.stop(); // the replay must need neither the WebSocket nor REST
    const files = readdirSync(join(dir, "cap")).map((f) => join(dir, "cap", f)).sort();
    const restRecords = files.flatMap((f) => readCapture(f).records).filter((r) => r.url !== undefined).length;
    expect(restRecords).toBeGreaterThanOrEqual(5); // the start's two and at least one per gap

    const replayDest = uniqueDestination(66);
    const replayOnce = async () => {
      const sub = new FeedSubscriber({ groups: [{ ...replayDest, iface: "127.0.0.1" }] });
      const seen = collect(sub);
      await sub.start();
      const raw: string[] = [];
      const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
      await new Promise<void>((resolve) => socket.bind(replayDest.port, resolve));
      socket.addMembership(replayDest.group, "127.0.0.1");
      socket.on("message", (m) => raw.push(Buffer.from(m.subarray(48)).toString("hex") + Buffer.from(m.subarray(16, 24)).toString("hex")));
      const feeder = new Feeder({ config: config(replayDest, "ws://127.0.0.1:9", "http://127.0.0.1:9", cache), log: silentLogger, replay: true });
      await feeder.start();
      const result = await replayCaptures(feeder, files, { pace: "fast" });
      const books = feeder.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)), state: b.state }));
      const sent = feeder.publisher.counters.datagrams;
      await feeder.stop();
      await waitFor(() => raw.length >= sent, "every replayed datagram received");
      socket.close();
      await sub.stop();
      return { result, books, seen, raw };
    };
    const a = await replayOnce();
    expect(a.result).toMatchObject({ skipped: 0, truncated: [], unknownRecords: [] });
    expect(a.books.map(({ id, u, levels }) => ({ id, u, levels }))).toEqual(liveBooks);
    expect(a.books.every((b) => b.state === 1)).toBe(true);
    // Every book the replay published as valid, the live run published at the same update id, level for level.
    const differing = [...a.seen].filter(([k, levels]) => liveSeen.has(k) && liveSeen.get(k) !== levels).map(([k]) => k);
    const unknown = [...a.seen.keys()].filter((k) => !liveSeen.has(k));
    expect(differing).toEqual([]);
    expect(unknown).toEqual([]);
    expect(a.seen.size).toBeGreaterThan(10);
    const b = await replayOnce();
    expect(b.raw).toEqual(a.raw); // payload after the 48-byte header, and the channel sequence number
  });
});
