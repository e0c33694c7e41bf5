/**
 * X-MBX-USED-WEIGHT-1M with workers (BinanceRest, rev43). The header is the IP's weight: every worker's and any other
 * client's. It was compared with this worker's share (1 / workers of 80 % of the limit), so once the workers
 * together had spent one share the one that saw it blocked its market to the minute's end, and since s-rev37 that
 * block is a hold relayed to every worker: the workers together never got past one worker's share a minute (with
 * 4 workers, 20 % of the limit: a reconnect's snapshots queued four times as long). Each worker's own budget already
 * keeps it to its share; the header guards the IP, so it is compared with the IP's 80 %.
 */
import { describe, expect, test } from "vitest";
import { BinanceRest } from "../../../src/venues/binance/rest.ts";
import type { BudgetEvent } from "../../../src/venues/common/budget-ledger.ts";

const DEPTH_URL = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"; // spot weight 50

function restWith(usedWeights: number[], share: number, o: { nowMs?: number; date?: string; status?: number } = {}): { rest: BinanceRest; events: BudgetEvent[] } {
  const headers = () => ({ "x-mbx-used-weight-1m": String(usedWeights.shift() ?? 0), ...(o.date !== undefined ? { date: o.date } : {}) });
  const fetchFn = (async (_input: string | URL | Request) => new Response("{}", { status: o.status ?? 200, headers: headers() })) as typeof fetch;
  const events: BudgetEvent[] = [];
  const ledger = { carried: () => undefined, report: (e: BudgetEvent) => void events.push(e) };
  return { rest: new BinanceRest(fetchFn, () => o.nowMs ?? 1_700_000_000_000, share, ledger), events };
}

describe("BinanceRest: X-MBX-USED-WEIGHT-1M is the IP's weight", () => {
  test("with 2 workers, the IP at 3000 of spot's 6000 (over one worker's 2400, under the IP's 4800) holds nothing", async () => {
    const { rest, events } = restWith([3000], 0.5);
    await rest.fetchOf("spot")(DEPTH_URL);
    expect(rest.usedWeightBlocks).toBe(0);
    expect(rest.heldUntilMs("spot")).toBe(0);
    expect(events.filter((e) => "blockedUntilMs" in e)).toEqual([]); // no hold relayed to the other workers
  });

  test("the IP at 80 % of the limit holds the market to the minute's end (and the hold goes to the other workers)", async () => {
    const { rest, events } = restWith([4800], 0.5);
    await rest.fetchOf("spot")(DEPTH_URL);
    expect(rest.usedWeightBlocks).toBe(1);
    expect(rest.heldUntilMs("spot")).toBeGreaterThan(0);
    expect(events.filter((e) => "blockedUntilMs" in e)).toHaveLength(1);
  });

  test("s-binrd: a refused answer's header counts too (a 400 spends weight); a 429's holds by its Retry-After alone", async () => {
    // Before: only a 2xx answer's header was read, so a run of 400s (a symbol delisted meanwhile) at the IP's 80 % went on.
    const refused = restWith([4800], 1, { status: 400 });
    await refused.rest.fetchOf("spot")(DEPTH_URL);
    expect(refused.rest.usedWeightBlocks).toBe(1);
    expect(refused.rest.heldUntilMs("spot")).toBeGreaterThan(0);
    const limited = restWith([4800], 1, { status: 429 });
    await limited.rest.fetchOf("spot")(DEPTH_URL);
    expect(limited.rest.usedWeightBlocks).toBe(0);
    expect(limited.rest.rateLimited()).toBe(1);
  });

  test("a new limit from exchangeInfo moves the IP's threshold too", async () => {
    const { rest } = restWith([900], 0.5);
    rest.takeLimits("spot", { weightPerMinute: 1000 }); // 800 the IP's, 400 this worker's
    await rest.fetchOf("spot")(DEPTH_URL);
    expect(rest.usedWeightBlocks).toBe(1);
  });

  test("s-rev47: the header of a minute already over (sent at :59, read at :00) holds to that minute's end by the answer's Date, not through the next minute; it is no 429", async () => {
    const nowMs = Date.parse("2026-12-06T02:01:00.300Z");
    const { rest } = restWith([4800], 1, { nowMs, date: "Sun, 06 Dec 2026 02:00:59 GMT" });
    await rest.fetchOf("spot")(DEPTH_URL);
    expect(rest.usedWeightBlocks).toBe(1);
    expect(rest.heldUntilMs("spot")).toBe(nowMs + 1000); // by our clock's minute: nowMs + 60 000
    expect(rest.rateLimited()).toBe(0); // no answer was a 429 (rest_rate_limited_total)
  });
});
