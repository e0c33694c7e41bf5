/**
 * Quiet codes. Upbit sends a book only when it changes (the repository's recording: 5 of its 10 BTC-market codes sent
 * nothing in 30 s), so a code silent past its stale time on a healthy connection may be a book that did not move. It
 * is asked again (the whole list resent; every code answers with its SNAPSHOT) and stays LIVE when its answer comes.
 * Before, it went STALE every stale time, resent the list and re-checked REST, and was LIVE again with the answer. A
 * code that does not answer (a subscription the venue dropped) still goes STALE.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { until } from "../planned-fallback-harness.ts";
import { startProxiedUpbit } from "./proxied.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const OPTIONS = { log: silentLogger, staleAfterMs: () => 300, housekeepingMs: 20, resendMinMs: 50 };

describe.each(["upbit", "bithumb"] as const)("%s: a code whose book does not move (KRW-XRP, quiet)", { timeout: 30_000 }, (venue) => {
  test("stays LIVE: asked again past its stale time, its SNAPSHOT answers; KRW-BTC untouched", async () => {
    const { adapter, sink, equal } = await startProxiedUpbit(venue, { seed: 3, messagesPerSecond: 100, quiet: ["KRW-XRP"] }, () => {}, OPTIONS, cleanups);
    const requests = adapter.stats().requests!;
    await until(() => adapter.stats().requests! >= requests + 4, "the list asked again four times (KRW-XRP silent)");
    // Old: KRW-XRP went STALE every 300 ms (and LIVE again with the resent request's SNAPSHOT).
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().quietAsks).toBeGreaterThanOrEqual(4);
    expect(adapter.stats().quietUnanswered).toBe(0);
    expect(adapter.stats().staleResyncs).toBe(0);
    await until(() => equal(1), "KRW-XRP equal");
  });

  test("goes STALE when it does not answer (its frames dropped: a subscription the venue no longer serves)", async () => {
    let drop = false;
    const { adapter, sink } = await startProxiedUpbit(venue, { seed: 3, messagesPerSecond: 100, quiet: ["KRW-XRP"] }, (p) => {
      p.byIndex.set(0, { rewriteDown: (f) => (drop && f.includes('"KRW-XRP"') ? null : f) });
    }, OPTIONS, cleanups);
    drop = true;
    await until(() => sink.invalid.some((e) => e.index === 1), "KRW-XRP invalidated");
    expect(sink.invalid.find((e) => e.index === 1)).toEqual({ index: 1, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    // It was asked first, and went stale for want of an answer.
    expect(adapter.stats().quietAsks).toBeGreaterThanOrEqual(1);
    expect(adapter.stats().quietUnanswered).toBeGreaterThanOrEqual(1);
    expect(sink.invalid.filter((e) => e.index === 0)).toEqual([]);
  });
});
