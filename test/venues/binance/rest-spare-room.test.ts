/**
 * BinanceRest.spareRoomFor: a depth refresh of a LIVE book (depth-band.ts) goes only when, after it, at least half of
 * the market's weight budget is still unspent in the window and nothing waits. Checked against that rule as a model
 * over random worker shares (budgetShare), snapshot limits and spending. Before, a budget with nothing spent in the
 * window said yes to any request (RestWeightBudget.waitMs lets a first request go whatever its weight): with a small
 * share (a limit-5000 spot snapshot weighs 250 of a 300 share at 16 workers) a refresh spent most of the budget and
 * the next resync's snapshot waited for the window.
 */
import { describe, expect, test } from "vitest";
import { BinanceRest } from "../../../src/venues/binance/rest.ts";
import { REST_WEIGHT_MARGIN, REST_WINDOW_MS, SPOT_REST_WEIGHT_PER_MINUTE, spotDepthWeight } from "../../../src/venues/binance/protocol.ts";

const depthUrl = (limit: number) => `https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=${limit}`;
const LIMITS = [5, 100, 500, 1000, 5000];

describe("BinanceRest.spareRoomFor: a refresh leaves half of the budget unspent", () => {
  test("randomized against the rule: shares from 1 to 1/32, limits 5 to 5000, spending over several windows", async () => {
    let seed = 5;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), (seed >>> 16) % n);
    for (let round = 0; round < 30; round++) {
      const share = 1 / 2 ** rnd(6);
      const clock = { nowMs: 1_700_000_000_000 };
      const fetchFn = (async () => new Response("{}", { status: 200 })) as unknown as typeof fetch;
      const rest = new BinanceRest(fetchFn, () => clock.nowMs, share);
      const maxWeight = Math.max(1, Math.floor(Math.floor(SPOT_REST_WEIGHT_PER_MINUTE * REST_WEIGHT_MARGIN) * share));
      const sent: { atMs: number; weight: number }[] = [];
      for (let step = 0; step < 40; step++) {
        const used = sent.filter((s) => clock.nowMs - s.atMs < REST_WINDOW_MS).reduce((n, s) => n + s.weight, 0);
        for (const limit of LIMITS) {
          const want = used + spotDepthWeight(limit) + Math.ceil(maxWeight / 2) <= maxWeight;
          expect(rest.spareRoomFor("spot", depthUrl(limit)), `share ${share} (budget ${maxWeight}), ${used} spent, limit ${limit}`).toBe(want);
        }
        if (rnd(3) === 0) clock.nowMs += rnd(40_000);
        else {
          // A request the budget lets go now (a refresh or a resync's snapshot), spending its weight.
          const limit = LIMITS[rnd(LIMITS.length)]!;
          const weight = spotDepthWeight(limit);
          if (used + weight <= maxWeight || sent.every((s) => clock.nowMs - s.atMs >= REST_WINDOW_MS)) {
            await rest.fetchOf("spot")(depthUrl(limit));
            sent.push({ atMs: clock.nowMs, weight });
          }
        }
      }
    }
  });
});
