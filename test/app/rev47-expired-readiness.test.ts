/**
 * A configured future that has expired (s-rev47). Its book is closed at its listed expiry (HALTED /
 * instrument_closed) and, delivered, is never listed as trading again: before, /readyz counted it as a book not live
 * and stayed 503 for good, so an orchestrator kept the instance out of service (or restarted it, to the same end)
 * for a book that cannot be. Now a book closed past the expiry its listing gave is no readiness failure; /books
 * shows it halted / instrument_closed with `expiredAtMs` and a detail, and `feeder_venue_instruments_expired`
 * counts it. Feeder in process, OKX simulator on 127.0.0.1 (its clock a minute behind ours, so it still lists the
 * future, with its expTime 10 s past by ours).
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Feeder } from "../../src/app/feeder.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

describe("an expired configured future", { timeout: 40_000 }, () => {
  test("is halted / instrument_closed with expiredAtMs in /books, counted as expired, and /readyz is ready with the other book live", async () => {
    const symbols = ["BTC-USDT-261225", "BTC-USDT-SWAP"];
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 47, now: () => Date.now() - 60_000 });
    const expiresMs = Date.now() - 10_000;
    sim.setExpTime(symbols[0]!, expiresMs);
    const { group, port } = uniqueDestination(47);
    const config = validateConfig({
      log: { level: "warn", format: "json" },
      http: { enabled: false },
      publish: { destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1 }] },
      venues: { okx: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir("feeder-rev47-"), "instruments.json"), linear: { depth: 400, symbols } } },
    });
    const feeder = new Feeder({ config, log: silentLogger });
    running.push(async () => {
      await feeder.stop();
      await sim.stop();
    });
    await feeder.start();
    const summary = (symbol: string) => feeder.bookSummaries().find((b) => b.symbol === symbol)!;
    await waitFor(() => {
      sim.step(1);
      return summary(symbols[1]!).state === "live";
    }, "the swap live", 20_000);
    const readiness = evaluateReadiness(feeder.readinessInput());
    expect(readiness.reasons).toEqual([]); // before: book_not_live for the future, for good
    expect(readiness.ready).toBe(true);
    expect(summary(symbols[0]!)).toMatchObject({ state: "halted", reason: "instrument_closed", valid: false, expiredAtMs: expiresMs });
    expect(summary(symbols[0]!).detail).toContain("expired at");
    // HTTP's path (summaries collected in turns, list-stream.ts) gives the same books, the expiry included.
    const ageless = (books: { recvAgeUs: unknown }[]) => books.map((b) => ({ ...b, recvAgeUs: null }));
    const inTurns = await feeder.readinessInputInTurns(async () => {});
    expect(ageless(inTurns.books)).toEqual(ageless(feeder.readinessInput().books));
    expect(evaluateReadiness(inTurns).ready).toBe(true);
    const expired = feeder.metricsSnapshot().venues.okx!.find((m) => m.name === "instruments_expired" && m.labels.market === "linear");
    expect(expired?.value).toBe(1);
  });
});
