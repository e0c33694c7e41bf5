/**
 * Upbit / Bithumb timestamps, the only ordering key: a book stamped far ahead of the venue's clock (one frame's
 * timestamp rewritten on the way by a proxy) must not leave its book LIVE and frozen behind a timestamp the venue never
 * reaches again. The books after it are all older: they are ignored, and they no longer count as signs of life, so the
 * book goes stale, forgets that timestamp and is the venue's again with the next book; the other code is untouched.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { WsProxy } from "../ws-proxy.ts";
import { until } from "../planned-fallback-harness.ts";
import { recorder, replayRecorded, startProxiedUpbit } from "./proxied.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe.each(["upbit", "bithumb"] as const)("%s: a book stamped far ahead of the venue's clock", { timeout: 30_000 }, (venue) => {
  test("is not left LIVE behind that timestamp: the book goes stale, forgets it, and follows the venue again", async () => {
    let ahead = 0; // the rewritten timestamp, once sent
    let armed = false;
    const rewrite = (proxy: WsProxy) => proxy.byIndex.set(0, {
      rewriteDown: (f) => {
        if (!armed || !f.includes('"KRW-BTC"')) return f;
        armed = false;
        return f.replace(/"(timestamp|tms)":(\d+)/, (_m, k: string, ts: string) => {
          ahead = Math.floor(Number(ts) * 1.5); // ~2056: ahead of every book the venue sends in this test
          return `"${k}":${ahead}`;
        });
      },
    });
    const errors: string[] = [];
    const log = { ...silentLogger, error: (msg: string) => void errors.push(msg), child: () => log };
    const rec = recorder(); // the live run recorded as `feeder record` records it, for the replay below
    const { adapter, sink, equal, sim } = await startProxiedUpbit(venue, { seed: 11, messagesPerSecond: 100 }, rewrite, { log, staleAfterMs: () => 400, housekeepingMs: 20, reconnectBaseMs: 5, ...rec.taps }, cleanups);
    expect(sink.invalid).toEqual([]);

    armed = true;
    await until(() => ahead > 0 && sink.seq[0] === ahead, "the book stamped ahead applied");
    const olderBefore = adapter.stats().olderTimestamps!;
    await until(() => adapter.stats().olderTimestamps! >= olderBefore + 5, "the venue's next books met (older than it)");
    // Old: those books kept the book from going stale; it stayed LIVE at the timestamp ahead, frozen, for good.
    await until(() => sink.invalid.some((e) => e.index === 0), "the book invalidated", 5_000);
    expect(sink.invalid.filter((e) => e.index === 0)[0]).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    await until(() => equal(0), "the book the venue's again");
    expect(errors.join("\n")).toContain("only books older than the newest applied arrived for the stale time");
    // The other code was never touched.
    expect(sink.invalid.filter((e) => e.index === 1)).toEqual([]);
    await until(() => equal(1), "KRW-XRP equal");

    // Replayed (the adapter's replay entry, its clock at each record's receive time and the housekeeping due by then
    // run first, as the Feeder's replay does), the capture goes as live went: STALE once, then LIVE at live's book.
    // Before, replay had no stale time: LIVE at the stamp ahead to the end, every later book ignored as older.
    const recorded = rec.records.slice();
    const liveSeq = sink.seq.slice(); // the tap runs as each frame is handled: live's books after exactly these
    const liveInvalid = sink.invalid.slice();
    const { sink: replaySink } = await replayRecorded(venue, sim.restUrl, recorded, { staleAfterMs: () => 400 }, cleanups);
    // KRW-BTC's events only: a stall of this process past the stale time shows in the capture as silence of KRW-XRP
    // too, which live's late-round rule forgave and replay cannot tell (docs/operations.md, Replay).
    const btcOf = (list: typeof liveInvalid) => list.filter((e) => e.index === 0);
    expect(btcOf(replaySink.invalid)).toEqual(btcOf(liveInvalid));
    expect(replaySink.seq).toEqual(liveSeq);
  });
});
