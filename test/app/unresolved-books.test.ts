/**
 * Configured symbols without a book are listed where a user looks for books: GET /books and the status page's list
 * (GET /status `books`) show each with state `symbol_unresolved`, the reason and detail /readyz gives, never usable,
 * next to the real books; once a symbol joins, its entry is the book's. Real runtime (HTTP on 127.0.0.1) against
 * the real Bybit simulator; one process and two workers (the supervisor's aggregate). Before, /books listed only
 * books: such a symbol was simply absent.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import type { BookSummary } from "../../src/app/book-json.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, type Markets } from "../e2e/harness.ts";

const MARKETS: Markets = [
  { market: "spot", depth: 50, symbols: ["BTCUSDT", "NOPEUSDT"] },
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
];

/** Polls an async condition (no fixed sleeps), bounded. */
async function until(cond: () => Promise<boolean>, what: string, timeoutMs: number, onPoll?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    onPoll?.();
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const workers of [1, 2]) {
  describe(`/books and /status list unresolved symbols (workers = ${workers})`, { timeout: 60_000 }, () => {
    let sim: BybitSim;
    let runtime: Runtime;
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${runtime.http!.url}${path}`)).json()) as T;
    const listed = (books: BookSummary[]) => books.map((b) => [`${b.market}:${b.symbol}`, b.state, b.reason, b.valid]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

    beforeAll(async () => {
      sim = await startBybitSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 77 + workers, messagesPerSecond: 0 });
      sim.setRestAvailable(false, "linear");
      const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(84 + workers), http: true, workers });
      runtime = await startRuntime(validateConfig(raw), silentLogger, workers === 1 ? { feederOptions: { adapterOptions: { lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 300, lateCheckMs: 20 } } } : {});
    }, 30_000);

    afterAll(async () => {
      await runtime?.stop();
      await sim?.stop();
    });

    test("each unresolved symbol with its state and reason beside the live book; the same list on /status", async () => {
      await until(async () => (await get<BookSummary[]>("/books")).some((b) => b.market === "spot" && b.symbol === "BTCUSDT" && b.valid), "spot BTCUSDT live", 20_000, () => sim.step(1));
      const books = await get<BookSummary[]>("/books");
      expect(listed(books)).toEqual([
        ["linear:BTCUSDT", "symbol_unresolved", "rest_unreachable", false],
        ["linear:ETHUSDT", "symbol_unresolved", "rest_unreachable", false],
        ["spot:BTCUSDT", "live", "snapshot_applied", true],
        ["spot:NOPEUSDT", "symbol_unresolved", "not_listed", false],
      ]);
      const nope = books.find((b) => b.symbol === "NOPEUSDT")!;
      expect(nope).toMatchObject({ venue: "bybit", instrumentId: instrumentIdOf("bybit", "spot", "NOPEUSDT"), bestBid: null, bestAsk: null, bidLevels: 0 });
      expect(nope.detail).toContain("not listed by http://127.0.0.1:");
      expect(books.find((b) => b.market === "linear")!.detail).toContain("REST unreachable");
      // The readiness reasons and the status page's list say the same.
      const readyz = await get<{ reasons: { check: string; market?: string; symbol?: string; reason?: string }[] }>("/readyz");
      const fromReadyz = readyz.reasons.filter((r) => r.check === "symbol_unresolved").map((r) => [`${r.market}:${r.symbol}`, r.reason]).sort();
      expect(fromReadyz).toEqual(books.filter((b) => b.state === "symbol_unresolved").map((b) => [`${b.market}:${b.symbol}`, b.reason]).sort());
      const status = await get<{ books: BookSummary[] }>("/status");
      expect(listed(status.books)).toEqual(listed(books).map((row) => (row[0] === "spot:BTCUSDT" ? [row[0], expect.any(String), expect.any(String), expect.any(Boolean)] : row)));
    });

    test.skipIf(workers !== 1)("a symbol that joins is listed as its book, no longer as unresolved", async () => {
      sim.setRestAvailable(true, "linear");
      await until(async () => (await get<BookSummary[]>("/books")).filter((b) => b.market === "linear").every((b) => b.state !== "symbol_unresolved"), "linear joined", 20_000);
      const books = await get<BookSummary[]>("/books");
      expect(books.filter((b) => b.market === "linear").map((b) => b.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT"]);
      expect(books.filter((b) => b.state === "symbol_unresolved").map((b) => `${b.market}:${b.symbol}`)).toEqual(["spot:NOPEUSDT"]);
    });
  });
}
