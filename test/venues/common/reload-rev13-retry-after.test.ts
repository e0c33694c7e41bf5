/**
 * Retry-After is delta-seconds or an HTTP date; anything else falls back to the venue's default hold. Before, a
 * value Date.parse happens to read (JavaScriptCore reads "1.5" as 5 Jan 2001 and "-1" as 1 Jan 2001) was taken as
 * a date long past: a 429 held nothing, and the next request went out at once. Fractional seconds, which some
 * servers send, hold for that long.
 */
import { expect, test } from "vitest";
import { budgetedFetch, RestWeightBudget, RETRY_AFTER_MAX_MS, RETRY_AFTER_MIN_MS, retryAfterMs } from "../../../src/venues/common/budgets.ts";
import { captureLog } from "../../support/capture-log.ts";
import { rng } from "../../support/mulberry32.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { InstrumentRequestPacer } from "../../../src/venues/okx/instruments.ts";
import { btcUsdtConfig } from "../okx/helpers.ts";

const NOW_MS = Date.parse("2026-12-05T12:00:00Z");

test("a 429's Retry-After: seconds (fractional too), an HTTP date, or else the default hold", () => {
  expect(retryAfterMs("30", NOW_MS)).toBe(30_000);
  expect(retryAfterMs("1.5", NOW_MS)).toBe(1_500);
  expect(retryAfterMs("Sat, 05 Dec 2026 12:00:20 GMT", NOW_MS)).toBe(20_000);
  expect(retryAfterMs("Saturday, 05-Dec-26 12:00:20 GMT", NOW_MS)).toBe(20_000);
  for (const junk of ["-1", "1.5.2", "soon", "1e3"]) expect(retryAfterMs(junk, NOW_MS), junk).toBeUndefined();
  const budget = new RestWeightBudget(10, 1_000, 5_000);
  expect(budget.onResponse(NOW_MS, 429, "-1")).toBe(5_000);
  expect(budget.waitMs(NOW_MS + 1_000, 1)).toBe(4_000);
});

/**
 * s-retryafter: a Retry-After is honoured within [1 s, 3 days]. Before, hundreds of digits read as Infinity (a date
 * years ahead as years) and held the market's REST until the process restarted; "0" or a date already past held
 * nothing, and the next request went at once into the venue's limit (on Binance, the way to a 418 ban).
 */
test("a Retry-After is clamped to [1 s, 3 days]: seconds (a model over random values) and dates alike", () => {
  expect(RETRY_AFTER_MIN_MS).toBe(1_000);
  expect(RETRY_AFTER_MAX_MS).toBe(259_200_000); // Binance's longest ban
  expect(retryAfterMs("9".repeat(400), NOW_MS)).toBe(RETRY_AFTER_MAX_MS);
  expect(retryAfterMs("0", NOW_MS)).toBe(RETRY_AFTER_MIN_MS);
  expect(retryAfterMs("0.25", NOW_MS)).toBe(RETRY_AFTER_MIN_MS);
  expect(retryAfterMs("259200", NOW_MS)).toBe(RETRY_AFTER_MAX_MS); // 3 days: honoured whole
  expect(retryAfterMs("Sat, 05 Dec 2026 11:59:00 GMT", NOW_MS)).toBe(RETRY_AFTER_MIN_MS); // a date past
  expect(retryAfterMs("Fri, 31 Dec 9999 23:59:59 GMT", NOW_MS)).toBe(RETRY_AFTER_MAX_MS);
  expect(retryAfterMs("Tue, 08 Dec 2026 12:00:00 GMT", NOW_MS)).toBe(RETRY_AFTER_MAX_MS); // exactly 3 days on
  const random = rng(0x5eed);
  for (let i = 0; i < 2_000; i++) {
    const digits = 1 + Math.floor(random() * (random() < 0.1 ? 400 : 8));
    let v = String(Math.floor(random() * 10 ** Math.min(digits, 15))).padStart(digits, String(Math.floor(random() * 10)));
    if (random() < 0.3) v += `.${Math.floor(random() * 1000)}`;
    const modelMs = Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, Math.ceil(Number(v) * 1000)));
    expect(retryAfterMs(v, NOW_MS), v).toBe(modelMs);
  }
});

test("through the budget: a 429's Retry-After of 400 digits holds 3 days, not for good; \"0\" holds 1 s; each logged with its value", async () => {
  const { log, lines } = captureLog();
  let nowMs = 1_000;
  const budget = new RestWeightBudget(100, 60_000).logTo(log, "binance spot REST");
  const answers = ["9".repeat(400), "0"];
  const fake = (async () => new Response("{}", { status: 429, headers: { "retry-after": answers.shift()! } })) as unknown as typeof fetch;
  const f = budgetedFetch(fake, budget, () => nowMs);
  expect((await f("http://127.0.0.1/a")).status).toBe(429);
  expect(budget.heldUntilMs(nowMs)).toBe(nowMs + RETRY_AFTER_MAX_MS);
  nowMs += RETRY_AFTER_MAX_MS;
  expect(budget.waitMs(nowMs, 1)).toBe(0); // REST goes again after 3 days
  expect((await f("http://127.0.0.1/b")).status).toBe(429);
  expect(budget.waitMs(nowMs, 1)).toBe(RETRY_AFTER_MIN_MS); // not at once
  expect(budget.rateLimited).toBe(2); // counted as before
  expect(budget.retryAfterOutOfRange).toBe(2);
  expect(lines.map((l) => l.level)).toEqual(["warn", "warn"]);
  expect(lines[0]!.msg).toContain(`binance spot REST: HTTP 429 with Retry-After "${"9".repeat(64)}… (400 chars)": out of range`);
  expect(lines[0]!.fields.holdMs).toBe(RETRY_AFTER_MAX_MS);
  expect(lines[1]!.msg).toContain(`Retry-After "0": out of range (1000 ms to 259200000 ms); held 1000 ms`);
  // Unreadable: the default holds (as before), now with a warning; a value in range logs nothing.
  expect(budget.onResponse(nowMs + 5_000, 429, "soon")).toBe(60_000);
  expect(lines[2]!.msg).toContain(`Retry-After "soon": unreadable; the default hold applies`);
  expect(budget.onResponse(nowMs + 100_000, 429, "30")).toBe(30_000);
  expect(lines).toHaveLength(3);
});

test("OKX's instrument REST budget logs an out-of-range Retry-After too, as every other REST budget (s-rd30a)", async () => {
  // s-retryafter gave each venue's REST budget a logger (logTo) but this one: a 429 on OKX's instruments endpoint with
  // Retry-After "0" was clamped to 1 s and counted, but logged nowhere (the docs say every clamp is logged).
  const { log, lines } = captureLog();
  const adapter = new OkxAdapter(btcUsdtConfig(400), [{ market: "spot", symbol: "BTC-USDT", depth: 400 }], { log });
  try {
    const pacer = (adapter as unknown as { instrumentPacer: InstrumentRequestPacer }).instrumentPacer;
    pacer.onResponse(429, "0");
    expect(pacer.rateLimited).toBe(1);
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual([`warn okx instruments REST: HTTP 429 with Retry-After "0": out of range (1000 ms to 259200000 ms); held 1000 ms`]);
  } finally {
    await adapter.stop();
  }
});
