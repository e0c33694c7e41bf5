/**
 * A changed REQUEST_WEIGHT limit in exchangeInfo's `rateLimits` (BinanceRest.takeLimits). Before, the market's
 * budget was replaced by a new one: the weight spent in the minute, a 429/418 hold still running and the
 * rate-limited counter were forgotten, so the next request went out into the venue's hold (ignoring a 429 is what
 * earns Binance's 418 ban) and feeder_venue_rest_rate_limited_total went backwards. Now the limit changes in place.
 */
import { describe, expect, test } from "vitest";
import { parseExchangeInfo } from "../../../src/venues/binance/instruments.ts";
import { BinanceRest } from "../../../src/venues/binance/rest.ts";

const INFO_URL = "https://api.binance.com/api/v3/exchangeInfo";
const DEPTH_URL = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"; // spot weight 50

/** A REST whose answers are scripted and counted; the clock is the test's. */
function restWith(answers: Response[]): { rest: BinanceRest; sent: string[]; clock: { nowMs: number } } {
  const sent: string[] = [];
  const clock = { nowMs: 1_700_000_000_000 };
  const fetchFn = (async (input: string | URL | Request) => {
    sent.push(String(input));
    return answers.shift() ?? new Response("{}", { status: 200 });
  }) as typeof fetch;
  return { rest: new BinanceRest(fetchFn, () => clock.nowMs, 1), sent, clock };
}

describe("BinanceRest: a new weight limit keeps the market's budget", () => {
  test("a 429 hold and the rate-limited count survive the limit change: the next request waits for the hold", async () => {
    const { rest, sent, clock } = restWith([new Response("", { status: 429, headers: { "retry-after": "30" } })]);
    await rest.fetchOf("spot")(INFO_URL);
    expect(rest.rateLimited()).toBe(1);
    rest.takeLimits("spot", { weightPerMinute: 1200 }); // the exchangeInfo of a reload says 1200 a minute
    expect(rest.rateLimited()).toBe(1);
    clock.nowMs += 1_000; // 29 s of the hold left
    const abort = new AbortController();
    const next = rest.fetchOf("spot")(DEPTH_URL, { signal: abort.signal });
    // Waiting for the hold (counted synchronously, before its first wait), not sent.
    expect(rest.waiting()).toBe(1);
    abort.abort();
    await expect(next).rejects.toThrow(/budget wait aborted/);
    expect(sent).toEqual([INFO_URL]);
  });

  test("the weight spent in the minute counts against the new limit", async () => {
    const { rest, sent } = restWith([]);
    // 80 % of 6000: 4800 spot weight; 50 spent on one 1000-level snapshot.
    await rest.fetchOf("spot")(DEPTH_URL);
    // A limit of 100 a minute: 80 ours, 50 of them spent, so a second 50 waits for the minute.
    rest.takeLimits("spot", { weightPerMinute: 100 });
    const abort = new AbortController();
    const next = rest.fetchOf("spot")(DEPTH_URL, { signal: abort.signal });
    expect(rest.waiting()).toBe(1);
    abort.abort();
    await expect(next).rejects.toThrow(/budget wait aborted/);
    expect(sent).toEqual([DEPTH_URL]);
  });

  test("an unchanged limit and a raised one let a request go at once", async () => {
    const { rest, sent } = restWith([]);
    await rest.fetchOf("linear")("https://fapi.binance.com/fapi/v1/exchangeInfo");
    rest.takeLimits("linear", { weightPerMinute: 2400 });
    rest.takeLimits("linear", { weightPerMinute: 4800 });
    await rest.fetchOf("linear")("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000");
    expect(sent).toHaveLength(2);
    expect(rest.waiting()).toBe(0);
  });
});

describe("exchangeInfo's rateLimits: only a positive whole REQUEST_WEIGHT limit is taken", () => {
  const listing = `{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"0.001"}]}]`;
  const limitOf = (limit: string) => parseExchangeInfo(JSON.parse(`${listing},"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":${limit}}]}`)).weightPerMinute;

  test("1e400 (Infinity once read), a fraction, a string, 0: none (the budget keeps its limit); 6000 is taken", async () => {
    expect(limitOf("6000")).toBe(6000);
    for (const bad of ["1e400", "1200.5", '"6000"', "0", "-1"]) expect(limitOf(bad), bad).toBeUndefined();
    // What Infinity did to the budget: unbounded, so a second 250-weight snapshot went in the same minute at 1000.
    const { rest, sent } = restWith([]);
    rest.takeLimits("spot", { weightPerMinute: 1000 }); // 800 ours
    rest.takeLimits("spot", { weightPerMinute: limitOf("1e400") }); // ignored: still 800
    const deep = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000"; // weight 250
    for (let i = 0; i < 3; i++) await rest.fetchOf("spot")(deep);
    const abort = new AbortController();
    const next = rest.fetchOf("spot")(deep, { signal: abort.signal });
    expect(rest.waiting()).toBe(1); // 750 spent, 250 more would pass 800
    abort.abort();
    await expect(next).rejects.toThrow(/budget wait aborted/);
    expect(sent).toHaveLength(3);
  });
});
