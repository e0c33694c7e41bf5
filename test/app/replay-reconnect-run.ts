/**
 * The record → replay across unplanned reconnects scenario of replay-reconnect-<venue>.test.ts for any venue driven by
 * a simulator: a live run with `disconnects` simulator disconnects, recorded (frames and the ws:open / ws:close
 * records), then replayed with the simulator stopped. Returns what both runs published, for the test to compare.
 */
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { Feeder, type FeederOptions } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { expect } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../../src/core/types.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { CONNECTION_CLOSED_URL, isConnectionEventUrl } from "../../src/venues/venue.ts";
import { levelsOfView, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

export interface ReconnectSim {
  wsUrl: string;
  restUrl: string;
  step(n?: number): void;
  /** Closes every connection. */
  disconnect(): void;
  /** The simulator's sequence of the book (what a caught-up client holds as venueSeq). */
  seqOf(symbol: string): number;
  stop(): Promise<void>;
}

export interface ReconnectRun {
  ids: number[];
  live: { statuses: Map<number, string[]>; books: Map<string, string>; finalBooks: { id: number; state: number; u: number; levels: string }[] };
  replay: { statuses: Map<number, string[]>; books: Map<string, string>; finalBooks: { id: number; state: number; u: number; levels: string }[] };
  closesRecorded: number;
  /** The capture's connection events by pseudo-URL (ws:open, ws:close, ws:sockets, ws:swap, …). */
  eventsRecorded: Record<string, number>;
  /** REST answers in the capture (not the connection events: ws:open, ws:close, the socket events). */
  restAnswers: number;
  result: Awaited<ReturnType<typeof replayCaptures>>;
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

/** What a case's own live scenario (`drive`) gets: the live run, its venue's stats and the statuses seen so far. */
export interface DriveContext {
  live: Feeder;
  stats: () => Record<string, number>;
  /** Per book, the live run's statuses so far ("STATE/REASON"). */
  statuses: Map<number, string[]>;
  /** Every live book LIVE at the simulator's sequence. */
  caughtUp: () => boolean;
  /** The frames the live run recorded so far, in order (the tap runs as each frame is handled). */
  frames: string[];
}

export async function runReplayReconnect(opts: {
  venue: string;
  ids: number[];
  disconnects: number;
  destSeed: number;
  sim: ReconnectSim;
  config: (dest: { group: string; port: number }, wsUrl: string, restUrl: string, cache: string) => ReturnType<typeof validateConfig>;
  adapterOptions?: FeederOptions["adapterOptions"];
  /**
   * The case's own live scenario, run once the books are caught up and before the `disconnects` plain disconnects
   * (0 for a case that drives its own); it ends with the books caught up again.
   */
  drive?: (ctx: DriveContext) => Promise<void>;
  /** The capture ends with a close: the simulator stops under the live run (its books left invalid), then the run stops. */
  endDisconnected?: boolean;
}): Promise<ReconnectRun> {
  const { sim, ids, venue } = opts;
  const dir = tempDir("feeder-replay-reconnect-");
  const cache = join(dir, "instruments.json");
  const liveDest = uniqueDestination(opts.destSeed);
  const liveSub = new FeedSubscriber({ groups: [{ ...liveDest, iface: "127.0.0.1" }] });
  const liveSeen = collect(liveSub, ids);
  await liveSub.start();
  const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 8192 });
  const frames: string[] = [];
  const live = new Feeder({
    config: opts.config(liveDest, sim.wsUrl, sim.restUrl, cache),
    log: silentLogger,
    adapterOptions: { reconnectBaseMs: 5, reconnectMaxMs: 20, ...opts.adapterOptions },
    onRawFrame: (v, market, connection, frame, tsRecvUs) => {
      if (opts.drive) frames.push(frame);
      writer.write(tsRecvUs, v, market, connection, frame);
    },
    onRawRest: (v, market, connection, url, body, tsRecvUs) => writer.writeRest(tsRecvUs, v, market, connection, url, body),
  });
  await live.start();
  const caughtUp = () => live.books().every((b) => b.state === 1 && b.venueSeq === sim.seqOf(b.instrument.symbol));
  await waitFor(caughtUp, "live books", 15_000, () => sim.step(1));
  const stats = () => live.stats().venues[venue]!;
  if (opts.drive) await opts.drive({ live, stats, statuses: liveSeen.statuses, caughtUp, frames });
  for (let i = 0; i < opts.disconnects; i++) {
    sim.disconnect();
    // The subscriber's statuses, not the books' state: a reconnect may bring the snapshot before a poll sees the gap.
    const disconnectedSeen = (id: number) => liveSeen.statuses.get(id)!.filter((st) => st === "resyncing/disconnected").length;
    await waitFor(() => ids.every((id) => disconnectedSeen(id) > i), `books invalid after disconnect ${i}`, 15_000);
    await waitFor(() => stats().connectionsOpen === stats().connections, `reconnected after disconnect ${i}`, 15_000);
    await waitFor(caughtUp, `live books after disconnect ${i}`, 15_000, () => sim.step(1));
  }
  for (let i = 0; i < 5; i++) sim.step(1);
  await waitFor(caughtUp, "live books at the end", 15_000);
  if (opts.endDisconnected) {
    await sim.stop(); // closes every connection; the reconnects fail (no open, so no further close is recorded)
    await waitFor(() => live.books().every((b) => b.state !== 1), "books invalid after the simulator stopped", 15_000);
  }
  const liveBooks = live.books().map((b) => ({ id: b.instrument.instrumentId, state: b.state, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
  await live.stop();
  const liveSent = live.publisher.counters.datagrams; // after stop: HALTED statuses included
  writer.close();
  await waitFor(() => liveSub.counters.datagrams >= liveSent, "every live datagram received");
  await liveSub.stop();
  if (!opts.endDisconnected) await sim.stop(); // the replay must need neither the WebSocket nor REST
  const files = readdirSync(join(dir, "cap")).map((f) => join(dir, "cap", f)).sort();
  const records = files.flatMap((f) => readCapture(f).records);
  const closesRecorded = records.filter((r) => r.url === CONNECTION_CLOSED_URL).length;
  const restAnswers = records.filter((r) => r.url !== undefined && !isConnectionEventUrl(r.url)).length;
  const eventsRecorded: Record<string, number> = {};
  for (const r of records) if (r.url !== undefined && isConnectionEventUrl(r.url)) eventsRecorded[r.url] = (eventsRecorded[r.url] ?? 0) + 1;

  const replayDest = uniqueDestination(opts.destSeed + 1);
  const sub = new FeedSubscriber({ groups: [{ ...replayDest, iface: "127.0.0.1" }] });
  const seen = collect(sub, ids);
  await sub.start();
  const feeder = new Feeder({ config: opts.config(replayDest, "ws://127.0.0.1:9", "http://127.0.0.1:9", cache), log: silentLogger, replay: true });
  await feeder.start();
  const result = await replayCaptures(feeder, files, { pace: "fast" });
  const books = feeder.books().map((b) => ({ id: b.instrument.instrumentId, state: b.state, u: b.venueSeq, levels: JSON.stringify(levelsOfView(b)) }));
  await feeder.stop();
  const sent = feeder.publisher.counters.datagrams;
  await waitFor(() => sub.counters.datagrams >= sent, "every replayed datagram received");
  await sub.stop();
  return { ids, live: { ...liveSeen, finalBooks: liveBooks }, replay: { ...seen, finalBooks: books }, closesRecorded, eventsRecorded, restAnswers, result };
}

/** The config of both runs: one venue, its section (`ws_url`, `rest_url`, `instrument_cache` added), one destination. */
export function reconnectConfig(venue: string, section: Record<string, unknown>): Parameters<typeof runReplayReconnect>[0]["config"] {
  return (dest, wsUrl, restUrl, cache) =>
    validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "e2e", ...dest, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
      venues: { [venue]: { ws_url: wsUrl, rest_url: restUrl, instrument_cache: cache, ...section } },
    });
}

/**
 * The checks every venue's case ends with: the capture holds `closes` ws:close records and the live run published
 * `disconnects` RESYNCING / DISCONNECTED per book (one count for every book, or one per book in `ids` order); the replay published the live run's status sequence per book, its
 * final books, and its book at every update id.
 */
export function expectReplayAsLive(run: ReconnectRun, closes: number, disconnects: number | readonly number[]): void {
  expect(run.closesRecorded).toBe(closes);
  const seen = run.ids.map((id) => run.live.statuses.get(id)!.filter((s) => s === "resyncing/disconnected").length);
  expect(seen).toEqual(typeof disconnects === "number" ? run.ids.map(() => disconnects) : disconnects);
  expect(run.result).toMatchObject({ skipped: 0, truncated: [], unknownRecords: [] });
  expect(run.replay.finalBooks).toEqual(run.live.finalBooks);
  expect(run.replay.statuses).toEqual(run.live.statuses);
  const differing = [...run.replay.books].filter(([k, levels]) => run.live.books.get(k) !== levels).map(([k]) => k);
  expect(differing).toEqual([]);
  expect(run.replay.books.size).toBe(run.live.books.size);
}

/**
 * A drive for venues whose resync is a resubscribe (Bybit, Deribit): `gap()` breaks book `target`'s sequence twice.
 * The first resync goes out at once; the second waits out its backoff (the case sets resyncBackoffBaseMs 8000: 4–8
 * s), its topic unsubscribed, and the connection drops meanwhile. `target`, RESYNCING, gets no DISCONNECTED status
 * (`other`, LIVE, does); the reconnect leaves it unsubscribed until its backoff is over, then its snapshot comes.
 */
export function dropWhileResyncing(sim: ReconnectSim, gap: () => void, target: number, other: number): (ctx: DriveContext) => Promise<void> {
  return async ({ stats, statuses, caughtUp }) => {
    const gaps = () => statuses.get(target)!.filter((s) => s === "resyncing/sequence_gap").length;
    gap();
    await waitFor(() => gaps() === 1, "the first sequence gap", 15_000, () => sim.step(1));
    await waitFor(caughtUp, "live books after the first resync", 15_000, () => sim.step(1));
    gap();
    await waitFor(() => gaps() === 2, "the second sequence gap (its resync backing off)", 15_000, () => sim.step(1));
    const opened = stats().connects!;
    sim.disconnect();
    await waitFor(() => statuses.get(other)!.includes("resyncing/disconnected"), "the other book invalid after the drop", 15_000);
    // Still backing off at the drop: no snapshot came in between (its 4 s minimum wait is far from over).
    expect(statuses.get(target)!.at(-1)).toBe("resyncing/sequence_gap");
    await waitFor(() => stats().connects! > opened && stats().connectionsOpen === stats().connections, "reconnected", 15_000);
    await waitFor(caughtUp, "live books after the resync's backoff", 15_000, () => sim.step(1));
  };
}
