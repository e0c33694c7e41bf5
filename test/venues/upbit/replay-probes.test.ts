/**
 * Upbit and Bithumb: a live run against the simulator, recorded as `feeder record` records it (every frame, socket
 * event and written request), with an error frame refusing one code; its capture replayed on a second adapter, the
 * books compared after every record. The error's bisection leaves codes out of its probes (their books out of LIVE
 * while the probe is the venue's subscription) and halts the code the probes isolate. Until 2026-12-07 the lists and
 * probes were not recorded (no `ws:req`): replay kept LIVE the codes a probe left out and never halted the refused
 * code (RESYNCING where live had it HALTED).
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const until = (cond: () => boolean, what: string, timeoutMs = 15_000) => waitFor(cond, what, timeoutMs);

/** Every message replaces its book: the sink keeps the last one's bids. */
class ReplaceSink extends RecordingSink {
  override onBookUpdate(index: number, u: BookUpdate): void {
    this.bids[index] = new Map();
    for (let i = 0; i < u.bidCount; i++) this.bids[index]!.set(u.bidPx[i]!, u.bidQty[i]!);
  }
}

const SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-BTC", depth: 5 },
  { market: "spot", symbol: "KRW-XRP", depth: 5 },
  { market: "spot", symbol: "BTC-ETH", depth: 5 },
];

type CaptureRecord = { conn: string; tsRecvUs: number } & ({ frame: string; url?: undefined } | { url: string; body: string });

describe.each([UPBIT_VENUE, BITHUMB_VENUE])("$venue: a capture replays an error frame's bisection as live ran it", (spec) => {
  it("the codes a probe leaves out leave LIVE, and the code the probes isolate is halted, in replay as live", async () => {
    const venue = spec.venue as "upbit" | "bithumb";
    const sim = await startUpbitSimulator({ venue, codes: SUBS.map((s) => s.symbol), seed: 5 });
    const config = { venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 5, symbols: SUBS.map((s) => s.symbol) }], overrides: new Map() };
    const records: CaptureRecord[] = [];
    /** Live's books just before each record was handled: what replay must show after the records before it. */
    const liveBefore: string[] = [];
    let live: VenueAdapter | undefined;
    let liveSink: ReplaceSink | undefined;
    const view = (a: VenueAdapter, s: ReplaceSink) =>
      JSON.stringify(SUBS.map((_, i) => {
        const state = (a as UpbitAdapter).topicInfo(i).state;
        return state === "live" ? [state, [...(s.bids[i] ?? [])]] : [state];
      }));
    const before = () => liveBefore.push(live !== undefined && liveSink !== undefined ? view(live, liveSink) : "");
    live = spec.create(config, SUBS, {
      log: silentLogger,
      reconnectBaseMs: 5,
      reconnectMaxMs: 20,
      errorWaitMs: 700,
      onRawFrame: (_m, conn, frame, tsRecvUs) => {
        before();
        records.push({ conn, frame, tsRecvUs });
      },
      onRawRest: (_m, conn, url, body, tsRecvUs) => {
        before();
        records.push({ conn, url, body, tsRecvUs });
      },
    }) as VenueAdapter;
    const replay = spec.create(config, SUBS, { log: silentLogger }) as VenueAdapter;
    cleanups.push(async () => {
      await live!.stop();
      await replay.stop();
      await sim.stop();
    });
    liveSink = new ReplaceSink(allResolved(await live.loadInstruments()));
    const replaySink = new ReplaceSink(allResolved(await replay.loadInstruments()));
    replay.startReplay!(replaySink);
    live.start(liveSink);
    const state = (i: number) => (live as UpbitAdapter).topicInfo(i).state;
    await until(() => SUBS.every((_, i) => state(i) === "live"), "books live");
    sim.inject("error_frame", "BTC-ETH");
    sim.inject("disconnect"); // the reconnect's list names BTC-ETH: refused, bisected
    await until(() => liveSink!.invalid.some((e) => e.index === 2 && e.state === BookState.HALTED), "BTC-ETH refused");
    sim.step(1);
    await until(() => state(0) === "live" && state(1) === "live", "the others back");
    liveBefore.push(view(live, liveSink)); // live at the end: replay after the last record
    // The run did what the test is about: probes sent, and a code left out of one made to leave LIVE.
    expect(live.stats().bisectProbes).toBeGreaterThanOrEqual(2);
    expect(liveSink.invalid.some((e) => e.index === 0 && e.state === BookState.RESYNCING)).toBe(true);

    // Replay, comparing after every record with live just before the next one.
    const diverged: string[] = [];
    records.forEach((r, i) => {
      replay.replayClockAt!(Math.floor(r.tsRecvUs / 1000));
      if (r.url === undefined) replay.ingestFrame("spot", r.conn, r.frame, r.tsRecvUs);
      else replay.ingestConnectionEvent!("spot", r.conn, r.url, r.tsRecvUs, r.body);
      const got = view(replay, replaySink);
      if (got !== liveBefore[i + 1]) diverged.push(`after record ${i} (${r.url ?? r.frame.slice(0, 60)}): replay ${got}, live ${liveBefore[i + 1]}`);
    });
    expect(diverged).toEqual([]);
    expect(replay.stats().subscribeRejected).toBe(1);
  }, 30_000);
});
