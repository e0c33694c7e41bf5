/**
 * Simulator → Feeder (in process) → real multicast on loopback → subscriber library, for a symbol that stops
 * trading: a Bybit linear symbol goes to Closed (the delisting push, then silence; instruments-info no longer lists
 * it). The subscriber must see that book HALTED with reason instrument_closed (wire 13), not usable meanwhile,
 * the other book untouched; listed as Trading again, the book is usable again and equals the venue's.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, feederConfig, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const TOPICS = MARKETS[0]!.symbols.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
const W = 20_000;

let sim: BybitSim;
let feeder: Feeder;
let subscriber: FeedSubscriber;
/** BTCUSDT's (state, reason) as each update showed it, and whether it was usable then. */
const seen: { state: BookState; reason: number; usable: boolean }[] = [];

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 3, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(41);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    if (e.book.instrumentId === TOPICS[0]!.id) seen.push({ state: e.book.state, reason: e.book.reason, usable: e.book.usable });
  });
  await subscriber.start();
  feeder = new Feeder({
    config: feederConfig({ sim, markets: MARKETS, group, port, snapshotIntervalMs: 300 }),
    log: silentLogger,
    adapterOptions: { pingIntervalMs: 200, pongTimeoutMs: 1000, listingRetryMs: 300, lateCheckMs: 20 },
  });
  await feeder.start();
  await waitFor(() => allBooksEqual(subscriber, sim, TOPICS), "both books usable and equal", W);
}, 60_000);

afterAll(async () => {
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("a symbol that stops trading, end to end", { timeout: 90_000 }, () => {
  test("the subscriber sees HALTED / instrument_closed, not usable meanwhile; Trading again: usable and equal", async () => {
    sim.setStatus("linear", "BTCUSDT", "Closed");
    const btc = () => subscriber.books.get(TOPICS[0]!.id)!;
    await waitFor(() => btc().state === BookState.HALTED, "BTCUSDT halted at the subscriber", W);
    expect(btc().reason).toBe(StatusReason.INSTRUMENT_CLOSED);
    expect(btc().usable).toBe(false);
    const from = seen.length;
    sim.step(3); // ETHUSDT goes on
    await waitFor(() => allBooksEqual(subscriber, sim, TOPICS.slice(1)), "ETHUSDT usable and equal", W);
    // Still halted and never usable at the subscriber while the venue does not trade it.
    expect(btc()).toMatchObject({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED, usable: false });
    expect(seen.slice(from).every((s) => !s.usable)).toBe(true);

    sim.setStatus("linear", "BTCUSDT", "Trading");
    await waitFor(() => {
      return allBooksEqual(subscriber, sim, TOPICS);
    }, "both usable and equal again", W);
    expect(btc().state).toBe(BookState.LIVE);
  });
});
