/**
 * record → replay across unplanned reconnects on Binance: the simulator drops every connection, the live run
 * publishes its books RESYNCING / DISCONNECTED and bridges them to fresh REST snapshots. The capture holds the
 * connection's close (a `ws:close` record), so the replay, with the simulator gone, publishes per book the same
 * status sequence as the live run and the same book at every update id, even where the new connection's diffs
 * chain onto the old one's (no diff is sent while the connection is down here), which a capture of frames alone
 * replayed as one unbroken LIVE stretch that ignored the recorded snapshots.
 */
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { BINANCE_VENUE } from "../../src/venues/binance/index.ts";
import { CONNECTION_CLOSED_URL } from "../../src/venues/venue.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import { levelsOfView, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const IDS = SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s));
const DISCONNECTS = 3;

function config(dest: { group: string; port: number }, wsUrl: string, restUrl: string, cache: string) {
  return validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "e2e", ...dest, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: { binance: { ws_url: wsUrl, rest_url: restUrl, instrument_cache: cache, spot: { depth: 1000, symbols: SYMBOLS } } },
  });
}

/** Per book its status sequence ("STATE/REASON"), and every valid book by "id@venueSeq" → its levels. */
function collect(sub: FeedSubscriber): { statuses: Map<number, string[]>; books: Map<string, string> } {
  const statuses = new Map<number, string[]>(IDS.map((id) => [id, []]));
  const books = new Map<string, string>();
  sub.on("status", (e) => statuses.get(e.book.instrumentId)?.push(`${BOOK_STATE_NAMES[e.state]}/${STATUS_REASON_NAMES[e.reason]}`));
  sub.on("update", (e) => {
    if (e.book.valid && IDS.includes(e.book.instrumentId)) books.set(`${e.book.instrumentId}@${e.book.venueSeq}`, JSON.stringify(levelsOfView(e.book)));
  });
  return { statuses, books };
}

describe("Binance record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every update id", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 23 });
    const dir = tempDir("feeder-replay-reconnect-");
    const cache = join(dir, "instruments.json");
    const liveDest = uniqueDestination(67);
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
    const stats = () => live.stats().venues.binance!;
    for (let i = 0; i < DISCONNECTS; i++) {
      const before = stats().snapshotsFetched ?? 0;
      sim.inject("disconnect", { market: "spot", symbol: SYMBOLS[0]! }); // closes every connection
      // No step while the connection is down: the new connection's first diffs continue the old one's.
      // The subscriber's status, not a poll of the books: a snapshot right after the resubscribe may end the gap within a poll.
      const disconnectedSeen = (id: number) => liveSeen.statuses.get(id)!.filter((st) => st === "resyncing/disconnected").length;
      await waitFor(() => IDS.every((id) => disconnectedSeen(id) > i), `books invalid after disconnect ${i}`, 15_000);
      await waitFor(() => stats().connectionsOpen === stats().connections, `reconnected after disconnect ${i}`, 15_000);
      await waitFor(() => (stats().snapshotsFetched ?? 0) >= before + SYMBOLS.length, `REST snapshots after disconnect ${i}`, 15_000, () => sim.step(1));
      await waitFor(caughtUp, `live books after disconnect ${i}`, 15_000, () => sim.step(1));
    }
    for (let i = 0; i < 5; i++) sim.step(1);
    await waitFor(caughtUp, "live books at the end", 15_000);
    const liveBooks = live.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
    await live.stop();
    const liveSent = live.publisher.counters.datagrams; // after stop: the HALTED statuses included
    writer.close();
    await waitFor(() => liveSub.counters.datagrams >= liveSent, "every live datagram received");
    await liveSub.stop();
    await sim.stop(); // the replay must need neither the WebSocket nor REST
    const files = readdirSync(join(dir, "cap")).map((f) => join(dir, "cap", f)).sort();
    const records = files.flatMap((f) => readCapture(f).records);
    expect(records.filter((r) => r.url === CONNECTION_CLOSED_URL).length).toBe(DISCONNECTS);
    for (const id of IDS) expect(liveSeen.statuses.get(id)!.filter((s) => s === "resyncing/disconnected").length).toBe(DISCONNECTS);

    const replayDest = uniqueDestination(68);
    const sub = new FeedSubscriber({ groups: [{ ...replayDest, iface: "127.0.0.1" }] });
    const seen = collect(sub);
    await sub.start();
    const feeder = new Feeder({ config: config(replayDest, "ws://127.0.0.1:9", "http://127.0.0.1:9", cache), log: silentLogger, replay: true });
    await feeder.start();
    const result = await replayCaptures(feeder, files, { pace: "fast" });
    const books = feeder.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
    await feeder.stop();
    const sent = feeder.publisher.counters.datagrams;
    await waitFor(() => sub.counters.datagrams >= sent, "every replayed datagram received");
    await sub.stop();

    expect(result).toMatchObject({ skipped: 0, truncated: [], unknownRecords: [] });
    expect(books).toEqual(liveBooks);
    expect(seen.statuses).toEqual(liveSeen.statuses);
    const differing = [...seen.books].filter(([k, levels]) => liveSeen.books.get(k) !== levels).map(([k]) => k);
    expect(differing).toEqual([]);
    expect(seen.books.size).toBe(liveSeen.books.size);
  });
});
