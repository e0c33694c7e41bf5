/**
 * OKX's count of a socket's requests (480 per hour) as the common machinery reads it: a request refused with 60014
 * goes again once the count has room (RequestProtocol.requestWaitMs), not every backoff step meanwhile, each one
 * more request the venue refuses. A fake clock and a connection standing in for OkxConnection's request times.
 */
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BudgetWaits, budgetedRequests } from "../../../src/venues/okx/budget-wait.ts";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { OkxRequestBudget } from "../../../src/venues/okx/request-budget.ts";
import { OkxCounters } from "../../../src/venues/okx/stats.ts";

describe("okx request budget", () => {
  test("requestWaitMs: how long until one more request fits the socket's window (0 once it does)", () => {
    let nowMs = 1_000;
    const budget = new OkxRequestBudget(() => nowMs, 3, 10_000);
    const waits = new BudgetWaits(1, budget, silentLogger, new OkxCounters(), () => undefined);
    const protocol = budgetedRequests(budget, waits);
    const conn = { requestTimesMs: [] as number[] } as unknown as OkxConnection;
    expect(protocol.requestWaitMs?.(conn)).toBe(0);
    for (const at of [1_000, 2_000, 3_000]) {
      nowMs = at;
      budget.spend(conn);
    }
    nowMs = 3_500;
    expect(protocol.requestWaitMs?.(conn)).toBe(7_500); // the oldest (1 s) leaves the window at 11 s
    nowMs = 11_000;
    expect(protocol.requestWaitMs?.(conn)).toBe(0);
  });
});
