/**
 * A 429's Retry-After longer than the request timeout holds the next instrument query; the query waits, is sent
 * when the hold ends and succeeds. The timeout is shortened to 500 ms here (the functions' timeoutMs; 10 s by
 * default) so that a 1 s Retry-After outlasts it, instead of waiting out 11 s. Before, the timeout was started when the query was asked for, before the
 * budget's wait: it fired during the wait and the query failed ("budget wait aborted", counted as a failed
 * reload / late join) although nothing had been sent. Real Deribit and Coinbase simulators on 127.0.0.1, the real
 * clock (the timeout is a real timer); the requests that really left are counted under the budget.
 */
import { afterEach, expect, test } from "vitest";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { fetchProductSpecs } from "../../../src/venues/coinbase/instruments.ts";
import { budgetedFetch, RestWeightBudget } from "../../../src/venues/common/budgets.ts";
import { fetchInstrumentSpecs } from "../../../src/venues/deribit/instruments.ts";

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** The instrument request timeout given to both fetches (their default, REST_TIMEOUT_MS, is 10 s). */
const REST_TIMEOUT_MS = 500;
/** Longer than the request timeout, so a timeout started before the wait fires during it. */
const RETRY_AFTER_S = 1;

/** A budgeted fetch (the venue's own budget constants do not matter here) that counts what really left. */
function counted(): { fetchFn: typeof fetch; sent: () => number } {
  let sent = 0;
  const inner = ((input: string | URL | Request, init?: RequestInit) => {
    sent++;
    return fetch(input, init);
  }) as typeof fetch;
  return { fetchFn: budgetedFetch(inner, new RestWeightBudget(10, 1_000, 2_000)), sent: () => sent };
}

test(`instrument queries held by a Retry-After of ${RETRY_AFTER_S} s (> the ${REST_TIMEOUT_MS} ms request timeout) are sent after it and succeed`, { timeout: (RETRY_AFTER_S + 15) * 1000 }, async () => {
  const deribit = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 13 });
  stops.push(() => deribit.stop());
  const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD"], seed: 13, levels: 10 });
  stops.push(() => coinbase.stop());
  const d = counted();
  const c = counted();
  deribit.rateLimitInstruments(1, RETRY_AFTER_S);
  coinbase.rateLimitInstruments(1, RETRY_AFTER_S);
  await expect(fetchInstrumentSpecs(d.fetchFn, deribit.restUrl, "inverse", ["BTC-PERPETUAL"], undefined, REST_TIMEOUT_MS)).rejects.toThrow(/: HTTP 429/);
  await expect(fetchProductSpecs(c.fetchFn, coinbase.restUrl, ["BTC-USD"], undefined, REST_TIMEOUT_MS)).rejects.toThrow(/: HTTP 429/);
  const [dSpecs, cSpecs] = await Promise.all([
    fetchInstrumentSpecs(d.fetchFn, deribit.restUrl, "inverse", ["BTC-PERPETUAL"], undefined, REST_TIMEOUT_MS),
    fetchProductSpecs(c.fetchFn, coinbase.restUrl, ["BTC-USD"], undefined, REST_TIMEOUT_MS),
  ]);
  expect(dSpecs.has("BTC-PERPETUAL")).toBe(true);
  expect(cSpecs.has("BTC-USD")).toBe(true);
  // One 429, then one request after the hold: nothing went out while it lasted.
  expect([d.sent(), c.sent()]).toEqual([2, 2]);
});
