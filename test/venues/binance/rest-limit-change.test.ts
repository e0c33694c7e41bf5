/**
 * A changed REQUEST_WEIGHT limit in exchangeInfo's `rateLimits` (BinanceRest.takeLimits). Before, the market's
 * budget was replaced by a new one: the weight spent in the minute, a 429/418 hold still running and the
 * rate-limited counter were forgotten, so the next request went out into the venue's hold (ignoring a 429 is what
 * earns Binance's 418 ban) and feeder_venue_rest_rate_limited_total went backwards. Now the limit changes in place.
 */
import { describe, expect, test } from "vitest";
import type { Logger } from "../../../src/core/log.ts";
import { parseExchangeInfo } from "../../../src/venues/binance/instruments.ts";
import { BinanceRest } from "../../../src/venues/binance/rest.ts";
import { captureLog } from "../../support/capture-log.ts";

const INFO_URL = "https://api.binance.com/api/v3/exchangeInfo";
const DEPTH_URL = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"; // spot weight 50

/** A REST whose answers are scripted and counted; the clock is the test's. */
function restWith(answers: Response[], log?: Logger): { rest: BinanceRest; sent: string[]; clock: { nowMs: number } } {
  const sent: string[] = [];
  const clock = { nowMs: 1_700_000_000_000 };
  const fetchFn = (async (input: string | URL | Request) => {
    sent.push(String(input));
    return answers.shift() ?? new Response("{}", { status: 200 });
  }) as typeof fetch;
  return { rest: new BinanceRest(fetchFn, () => clock.nowMs, 1, undefined, undefined, undefined, log), sent, clock };
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

describe("exchangeInfo's rateLimits: a limit far above the documented one, or not per minute, is refused and warned", () => {
  const listing = `{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"0.001"}]}]`;
  const infoOf = (entries: string) => parseExchangeInfo(JSON.parse(`${listing},"rateLimits":[${entries}]}`));
  const weight = (limit: string, interval = "MINUTE", intervalNum = 1) => `{"rateLimitType":"REQUEST_WEIGHT","interval":"${interval}","intervalNum":${intervalNum},"limit":${limit}}`;
  const deep = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000"; // weight 250

  /** Whether a fourth 250-weight snapshot in the minute waits (it does under 1000 a minute: 800 ours). */
  async function fourthWaits(rest: BinanceRest, sent: string[]): Promise<boolean> {
    for (let i = 0; i < 3; i++) await rest.fetchOf("spot")(deep);
    const abort = new AbortController();
    const next = rest.fetchOf("spot")(deep, { signal: abort.signal });
    const waits = rest.waiting() === 1;
    abort.abort();
    await next.catch(() => undefined);
    expect(sent.length).toBe(waits ? 3 : 4);
    return waits;
  }

  test("2^53 − 1 and 1e15 (whole, yet unbounded) are refused: the last good limit stays; 60 000 on spot (10 ×) is taken", async () => {
    for (const huge of ["9007199254740991", "1e15", "60001"]) {
      const { log, lines } = captureLog();
      const { rest, sent } = restWith([], log);
      rest.takeLimits("spot", { weightPerMinute: 1000 });
      rest.takeLimits("spot", infoOf(weight(huge)));
      expect(await fourthWaits(rest, sent), huge).toBe(true);
      expect(rest.limitPerMinute("spot"), huge).toBe(1000);
      expect(lines.map((l) => [l.level, l.fields.market, l.fields.keptPerMinute])).toEqual([["warn", "spot", 1000]]);
      expect(String(lines[0]!.fields.why)).toContain(String(Number(huge)));
    }
    const { rest } = restWith([]);
    rest.takeLimits("spot", infoOf(weight("60000")));
    expect(rest.limitPerMinute("spot")).toBe(60000);
    // USD-M's ceiling is its own documented 2400's 10 ×.
    rest.takeLimits("linear", infoOf(weight("24001")));
    expect(rest.limitPerMinute("linear")).toBe(2400);
    rest.takeLimits("linear", infoOf(weight("24000")));
    expect(rest.limitPerMinute("linear")).toBe(24000);
  });

  test("a REQUEST_WEIGHT limit per second or per 5 minutes is not read as per minute; one per 1 MINUTE beside it is", () => {
    expect(infoOf(weight("100", "SECOND", 1)).weightPerMinute).toBeUndefined();
    expect(infoOf(weight("30000", "MINUTE", 5)).weightPerMinute).toBeUndefined();
    const both = infoOf(`${weight("100", "SECOND", 1)},${weight("1200")}`);
    expect(both.weightPerMinute).toBe(1200);
    expect(both.refusedLimits).toEqual(["REQUEST_WEIGHT limit 100 per 1 \"SECOND\": only a limit per 1 MINUTE is read"]);
    // Other limit types (ORDERS per 10 s, RAW_REQUESTS) are not the weight: neither read nor warned of.
    const orders = infoOf(`{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100},${weight("6000")}`);
    expect([orders.weightPerMinute, orders.refusedLimits]).toEqual([6000, []]);
  });

  test("a refused limit is warned once per distinct value, naming it and why; at most a few per answer", () => {
    const { log, lines } = captureLog();
    const { rest } = restWith([], log);
    for (let reload = 0; reload < 3; reload++) rest.takeLimits("spot", infoOf(weight("1e400")));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.fields.why).toBe("REQUEST_WEIGHT limit Infinity a minute: not a positive whole number");
    expect(lines[0]!.fields.keptPerMinute).toBe(6000);
    rest.takeLimits("spot", infoOf(weight('"6000"')));
    expect(lines[1]!.fields.why).toBe('REQUEST_WEIGHT limit "6000" a minute: not a positive whole number');
    rest.takeLimits("spot", infoOf(weight("1e15")));
    rest.takeLimits("spot", infoOf(weight("1e15")));
    expect(lines).toHaveLength(3);
    // The same value on the other market is its own warning.
    rest.takeLimits("linear", infoOf(weight("1e400")));
    expect(lines.map((l) => l.fields.market)).toEqual(["spot", "spot", "spot", "linear"]);
    const many = infoOf(Array.from({ length: 100 }, (_, i) => weight(String(-i - 1))).join(","));
    expect(many.refusedLimits).toHaveLength(4);
  });
});
