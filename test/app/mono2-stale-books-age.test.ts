/**
 * A dead or unresponsive worker's books, as the supervisor shows them from its last answer (stale,
 * worker_unavailable): their age of the last update (recvAgeUs, read by the worker on its own clock) goes on from that
 * answer on the supervisor's monotonic clock, not frozen at what the worker last said. No worker is started: a slot is
 * given its last answer as a worker that has died would have left it.
 */
import { describe, expect, test } from "vitest";
import type { BookSummary } from "../../src/app/book-json.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { silentLogger } from "../../src/core/log.ts";

function summary(symbol: string, tsRecvUs: number | null, recvAgeUs: number | null): BookSummary {
  return {
    ...{ venue: "bybit", market: "linear", symbol, instrumentId: 1, state: "live", reason: "snapshot_applied", valid: true, instrSeq: 5, venueSeq: 5 },
    ...{ bidLevels: 1, askLevels: 1, bestBid: null, bestAsk: null, tsExchangeUs: null, tsEventUs: null, tsRecvUs, recvAgeUs, gaps: 0, invalidations: 0 },
  };
}

describe("a dead worker's books", () => {
  test("age from its last answer: recvAgeUs plus the time since", async () => {
    const supervisor = new Supervisor({ publish: {} } as FeederConfig, silentLogger);
    const answeredAtMs = performance.now() - 5000; // its last answer, 5 s ago
    const slot = { index: 0, worker: undefined, restarts: 1, lastHeardMs: 1, lastBooks: [summary("A", 1_765_000_000_000_000, 2_000_000), summary("B", null, null)], lastBooksAtMs: answeredAtMs, share: [] }; // no worker: nothing is asked (no replies awaited)
    (supervisor as unknown as { slots: unknown[] }).slots.push(slot);
    const [a, b] = (await supervisor.readiness()).books;
    expect(a).toMatchObject({ symbol: "A", state: "stale", reason: "worker_unavailable", valid: false });
    expect(a!.recvAgeUs).toBeGreaterThanOrEqual(7_000_000); // 2 s old at the answer, 5 s since
    expect(a!.recvAgeUs).toBeLessThan(7_000_000 + 60_000_000);
    expect(b!.recvAgeUs).toBeNull(); // never updated: no age (a worker's summary says null)
  });
});
