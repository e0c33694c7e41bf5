/**
 * A late symbol whose book cannot be added the first time is not lost (src/app/feeder.ts onInstrumentResolved,
 * src/venues/common/late-instruments.ts): the publisher refuses its registration once; the feeder keeps no half-added
 * book, the symbol stays unresolved (`join_failed`, the error named) in /readyz and /books, is asked again, joins,
 * and its book reaches a real subscriber equal to the simulator's. Real runtime (HTTP on 127.0.0.1), the real Bybit
 * simulator, loopback multicast (TTL 1). Before, the first failure dropped the symbol from the retry list for good
 * and left a builder without a publisher handle, so no later join could add it.
 */
import { afterAll, describe, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import type { BookSummary } from "../../src/app/book-json.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { Instrument } from "../../src/core/types.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const MARKETS: Markets = [
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
  { market: "linear", depth: 50, symbols: ["SOLUSDT"] },
];
const SOL = { market: "linear" as const, symbol: "SOLUSDT", id: instrumentIdOf("bybit", "linear", "SOLUSDT") };

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("a late join the publisher refuses once", { timeout: 60_000 }, () => {
  test("stays unresolved as join_failed, is asked again, joins, and its book reaches the subscriber", async () => {
    // Linear's instrument REST down at start: SOLUSDT is left out, retried fast.
    const sim: BybitSim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 91, messagesPerSecond: 0 });
    stops.push(() => sim.stop());
    sim.setRestAvailable(false, "linear");
    const { group, port } = uniqueDestination(87);
    const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    stops.push(() => subscriber.stop());
    await subscriber.start();
    const adapterOptions = { lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 200, lateCheckMs: 10 };
    const runtime: Runtime = await startRuntime(validateConfig(rawConfig({ sim, markets: MARKETS, group, port, http: true })), silentLogger, { feederOptions: { adapterOptions } });
    stops.push(() => runtime.stop());
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${runtime.http!.url}${path}`)).json()) as T;
    const publisher = runtime.feeder!.publisher;
    const register = publisher.register.bind(publisher);
    let refuse = true;
    let refusals = 0;
    publisher.register = (instrument: Instrument, view: BookView) => {
      if (instrument.symbol === "SOLUSDT" && refuse) {
        refusals++;
        throw new Error("no destination accepts it (test)");
      }
      return register(instrument, view);
    };
    sim.setRestAvailable(true, "linear");
    await waitFor(() => refusals >= 1, "the first join, refused", 20_000);
    const readyz = await get<{ reasons: { check: string; symbol?: string; reason?: string; detail: string }[] }>("/readyz");
    const sol = readyz.reasons.filter((r) => r.check === "symbol_unresolved").map((r) => [r.symbol, r.reason]);
    expect(sol).toEqual([["SOLUSDT", "join_failed"]]);
    expect(readyz.reasons.find((r) => r.symbol === "SOLUSDT")!.detail).toContain("no destination accepts it (test)");
    expect((await get<BookSummary[]>("/books")).filter((b) => b.symbol === "SOLUSDT").map((b) => b.state)).toEqual(["symbol_unresolved"]);
    // Asked again while refused (still pending), then accepted.
    await waitFor(() => refusals >= 2, "the join asked again", 20_000);
    refuse = false;
    await waitFor(() => allBooksEqual(subscriber, sim, [SOL]), "SOLUSDT's book at the subscriber", 20_000, () => sim.step(1));
    const books = await get<BookSummary[]>("/books");
    expect(books.filter((b) => b.symbol === "SOLUSDT").map((b) => [b.state, b.valid])).toEqual([["live", true]]);
    expect(runtime.feeder!.stats().venues.bybit!.instrumentsResolvedLate).toBe(1);
  });
});
