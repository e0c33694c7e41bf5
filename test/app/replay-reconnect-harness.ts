/**
 * The record → replay across unplanned reconnects check of replay-reconnect-bybit.test.ts, for any venue with a
 * simulator: a live run with DISCONNECTS simulator disconnects, recorded (frames and the ws:open / ws:close records),
 * replayed with the simulator stopped. The replay must publish per book the live run's status sequence and, at every
 * update id, the live run's book.
 */
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { expect } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { CONNECTION_CLOSED_URL } from "../../src/venues/venue.ts";
import type { VenueSpec } from "../../src/venues/registry.ts";
import { levelsOfView, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

export const DISCONNECTS = 3;

export interface ReconnectCase {
  venue: string;
  spec: VenueSpec;
  /** The instrument ids of the configured books. */
  ids: number[];
  /** The venue's config section (without ws_url / rest_url / instrument_cache). */
  venueConfig: Record<string, unknown>;
  wsUrl: string;
  restUrl: string;
  /** True when the feeder's book equals the simulator's current one by update id. */
  atSim: (book: BookView) => boolean;
  step: () => void;
  disconnect: () => void;
  stopSim: () => Promise<void>;
  /** uniqueDestination seeds of the live run and the replay. */
  seeds: [number, number];
}

function config(c: ReconnectCase, dest: { group: string; port: number }, wsUrl: string, restUrl: string, cache: string) {
  return validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: false },
    publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "e2e", ...dest, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: { [c.venue]: { ws_url: wsUrl, rest_url: restUrl, instrument_cache: cache, ...c.venueConfig } },
  });
}

/** Per book its status sequence ("STATE/REASON"), and every valid book by "id@venueSeq" → its levels. */
function collect(sub: FeedSubscriber, ids: number[]): { statuses: Map<number, string[]>; books: Map<string, string> } {
  const statuses = new Map<number, string[]>(ids.map((id) => [id, []]));
  const books = new Map<string, string>();
  sub.on("status", (e) => statuses.get(e.book.instrumentId)?.push(`${BOOK_STATE_NAMES[e.state]}/${STATUS_REASON_NAMES[e.reason]}`));
  sub.on("update", (e) => {
    if (e.book.valid && ids.includes(e.book.instrumentId)) books.set(`${e.book.instrumentId}@${e.book.venueSeq}`, JSON.stringify(levelsOfView(e.book)));
  });
  return { statuses, books };
}

export async function checkReplayAcrossReconnects(c: ReconnectCase): Promise<void> {
  const dir = tempDir("feeder-replay-reconnect-");
  const cache = join(dir, "instruments.json");
  const liveDest = uniqueDestination(c.seeds[0]);
  const liveSub = new FeedSubscriber({ groups: [{ ...liveDest, iface: "127.0.0.1" }] });
  const liveSeen = collect(liveSub, c.ids);
  await liveSub.start();
  const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 8192 });
  const spec: VenueSpec = { ...c.spec, create: (cfg, subs, opts) => c.spec.create(cfg, subs, { ...opts, reconnectBaseMs: 5, reconnectMaxMs: 20 }) };
  const live = new Feeder({
    config: config(c, liveDest, c.wsUrl, c.restUrl, cache),
    log: silentLogger,
    venues: { [c.venue]: spec },
    onRawFrame: (venue, market, connection, frame, tsRecvUs) => writer.write(tsRecvUs, venue, market, connection, frame),
    onRawRest: (venue, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, venue, market, connection, url, body),
  });
  await live.start();
  const caughtUp = () => live.books().every((b) => b.state === 1 && c.atSim(b));
  await waitFor(caughtUp, "live books", 15_000, c.step);
  const stats = () => live.stats().venues[c.venue]!;
  for (let i = 0; i < DISCONNECTS; i++) {
    c.disconnect(); // closes every connection
    // The subscriber's statuses, not the books' state: a venue whose new connection sends the full book at once
    // (Upbit) may be LIVE again before a poll of the state would see it leave.
    const disconnected = (id: number) => liveSeen.statuses.get(id)!.filter((s) => s === "resyncing/disconnected").length;
    await waitFor(() => c.ids.every((id) => disconnected(id) === i + 1), `books invalid after disconnect ${i}`, 15_000);
    await waitFor(() => stats().connectionsOpen === stats().connections, `reconnected after disconnect ${i}`, 15_000);
    await waitFor(caughtUp, `live books after disconnect ${i}`, 15_000, c.step);
  }
  for (let i = 0; i < 5; i++) c.step();
  await waitFor(caughtUp, "live books at the end", 15_000);
  const liveBooks = live.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
  const liveSent = live.publisher.counters.datagrams;
  const connections = stats().connections;
  await live.stop();
  writer.close();
  await waitFor(() => liveSub.counters.datagrams >= liveSent, "every live datagram received");
  await liveSub.stop();
  await c.stopSim(); // the replay must need neither the WebSocket nor REST
  const files = readdirSync(join(dir, "cap")).map((f) => join(dir, "cap", f)).sort();
  const records = files.flatMap((f) => readCapture(f).records);
  expect(records.filter((r) => r.url === CONNECTION_CLOSED_URL).length).toBe(DISCONNECTS * connections);
  for (const id of c.ids) expect(liveSeen.statuses.get(id)!.filter((s) => s === "resyncing/disconnected").length).toBe(DISCONNECTS);

  const replayDest = uniqueDestination(c.seeds[1]);
  const sub = new FeedSubscriber({ groups: [{ ...replayDest, iface: "127.0.0.1" }] });
  const seen = collect(sub, c.ids);
  await sub.start();
  const feeder = new Feeder({ config: config(c, replayDest, "ws://127.0.0.1:9", "http://127.0.0.1:9", cache), log: silentLogger, replay: true });
  await feeder.start();
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  const books = feeder.books().map((b) => ({ id: b.instrument.instrumentId, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
  const sent = feeder.publisher.counters.datagrams;
  await feeder.stop();
  await waitFor(() => sub.counters.datagrams >= sent, "every replayed datagram received");
  await sub.stop();

  expect(result).toMatchObject({ skipped: 0, truncated: [], unknownRecords: [] });
  expect(books).toEqual(liveBooks);
  expect(seen.statuses).toEqual(liveSeen.statuses);
  const differing = [...seen.books].filter(([k, levels]) => liveSeen.books.get(k) !== levels).map(([k]) => k);
  expect(differing).toEqual([]);
  expect(seen.books.size).toBe(liveSeen.books.size);
}
