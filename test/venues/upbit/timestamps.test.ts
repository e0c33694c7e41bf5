/**
 * Upbit / Bithumb timestamps, the only ordering key: a book stamped far ahead of the venue's clock (one frame's
 * timestamp rewritten on the way by a proxy) must not leave its book LIVE and frozen behind a timestamp the venue never
 * reaches again. The books after it are all older: they are ignored, and they no longer count as signs of life, so the
 * book goes stale, forgets that timestamp and is the venue's again with the next book; the other code is untouched.
 */
import { afterEach, describe, expect, test } from "vitest";
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startUpbitSimulator, type UpbitSim } from "../../../src/sim/upbit-sim.ts";
import { venueSpec } from "../../../src/venues/registry.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { tempCachePath } from "../bybit/helpers.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-BTC", depth: 15 },
  { market: "spot", symbol: "KRW-XRP", depth: 15 },
];

describe.each(["upbit", "bithumb"] as const)("%s: a book stamped far ahead of the venue's clock", { timeout: 30_000 }, (venue) => {
  test("is not left LIVE behind that timestamp: the book goes stale, forgets it, and follows the venue again", async () => {
    const sim: UpbitSim = await startUpbitSimulator({ venue, codes: SUBS.map((s) => s.symbol), seed: 11, messagesPerSecond: 100, frames: "text" });
    const proxy: WsProxy = startWsProxy(new URL(sim.wsUrl).origin);
    let ahead = 0; // the rewritten timestamp, once sent
    let armed = false;
    proxy.byIndex.set(0, {
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
    const config = {
      venue,
      wsUrl: `${proxy.origin}${new URL(sim.wsUrl).pathname}`,
      restUrl: sim.restUrl,
      instrumentCachePath: tempCachePath(),
      markets: [{ market: "spot" as const, depth: 15, symbols: SUBS.map((s) => s.symbol) }],
      overrides: new Map(),
    };
    const adapter: VenueAdapter = venueSpec(venue)!.create(config, SUBS, { log, staleAfterMs: () => 400, housekeepingMs: 20, reconnectBaseMs: 5 });
    cleanups.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new BookMaps(await adapter.loadInstruments());
    adapter.start(sink);
    const equal = (i: number) => {
      const inst = sink.instruments[i]!;
      const b = sim.book(SUBS[i]!.symbol, SUBS[i]!.depth);
      const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, inst.priceExp), parseFixed(q, inst.qtyExp)] as [number, number]));
      const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
      return sink.seq[i] === b.ts && same(sink.bids[i], conv(b.bids)) && same(sink.asks[i], conv(b.asks));
    };
    await until(() => equal(0) && equal(1), "books equal at start");
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
  });
});
