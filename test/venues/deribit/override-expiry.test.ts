/**
 * A symbol whose tick/lot come from a config override has no listing asked, so no listed expiry. Before, an expired
 * option so named stayed LIVE and frozen until it went stale (600 s for options by default). Now its expiry comes
 * from its name (Deribit expires on the named date at 08:00 UTC) and halts it as a listed one does; a perpetual's
 * name gives none. Real simulator on 127.0.0.1; the adapter's wall clock is a fake one stepped past the expiry.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startDeribitSimulator } from "../../../src/sim/deribit-sim.ts";
import { ClosedTopics } from "../../../src/venues/common/closed-topics.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { expiryOfName } from "../../../src/venues/deribit/name-expiry.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { haltRecorder } from "../halt-recorder.ts";
import { recordedLog } from "../common/instrument-closed-scenario.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

const EXPIRY_MS = Date.UTC(2026, 2, 27, 8); // BTC-27MAR26-…: 2026-03-27T08:00Z, as get_instruments lists it

describe("Deribit: the expiry an instrument name gives", () => {
  test("futures and options: the named date at 08:00 UTC; perpetual, spot and a date that does not exist: none", () => {
    expect(expiryOfName("BTC-27MAR26-70000-C")).toBe(EXPIRY_MS);
    expect(expiryOfName("BTC-27MAR26")).toBe(EXPIRY_MS);
    expect(expiryOfName("BTC_USDC-27MAR26")).toBe(EXPIRY_MS);
    expect(expiryOfName("ETH-1JAN25-3000-P")).toBe(Date.UTC(2025, 0, 1, 8));
    expect(expiryOfName("XRP_USDC-30JUN23-0d625-C")).toBe(Date.UTC(2023, 5, 30, 8));
    for (const none of ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC_USDC", "BTC-31FEB25-100-C", "BTC-29FEB25", "BTC-0MAR26", "BTC-27XYZ26-1-C", "BTC-27MAR26-1"]) expect(expiryOfName(none), none).toBeUndefined();
  });
});

describe("Deribit: a config override's option past the expiry its name gives", { timeout: 60_000 }, () => {
  test("HALTED / instrument_closed with its expiry, no listing asked; the overridden perpetual stays LIVE", async () => {
    const option = "BTC-27MAR26-70000-C";
    const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols: [option] }, { market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 12 });
    const subs: Subscription[] = [{ market: "option", symbol: option, depth: 0 }, { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }];
    const overrides = new Map([[`option:${option}`, { tickSize: "0.0005", lotSize: "0.1" }], ["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "10" }]]);
    const markets = [{ market: "option" as const, depth: 0, symbols: [option] }, { market: "inverse" as const, depth: 0, symbols: ["BTC-PERPETUAL"] }];
    const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: "", markets, overrides };
    let wallMs = EXPIRY_MS - 60_000; // a minute before: both books come up LIVE
    // Default staleness (600 s for options): only the expiry can halt the book within this test.
    const { log, lines } = recordedLog();
    const adapter = new DeribitAdapter(config, subs, { log, wallNow: () => wallMs, lateCheckMs: 20 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, halted } = haltRecorder(2);
    await adapter.loadInstruments();
    adapter.start(sink);
    await waitFor(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 2;
    }, "both books live", 20_000);
    expect(adapter.expiredInstruments().size).toBe(0);
    wallMs = EXPIRY_MS;
    await waitFor(() => {
      sim.step(1);
      return halted.some((h) => h.index === 0 && h.state === BookState.HALTED);
    }, "the expired option halted", 10_000);
    expect(halted.find((h) => h.index === 0 && h.state === BookState.HALTED)).toMatchObject({ reason: StatusReason.INSTRUMENT_CLOSED });
    expect([...adapter.expiredInstruments()]).toEqual([[0, EXPIRY_MS]]); // /books' expiredAtMs; /readyz does not count it
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    expect(adapter.topicInfo(1).state).toBe("live"); // a perpetual's name gives no expiry
    expect(halted.filter((h) => h.index === 1)).toEqual([]);
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1 });
    expect(sim.stats.restRequests).toBe(0); // an override's listing is never asked, closed or not
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; symbol?: string; detail?: string }).filter((l) => l.symbol === option && l.msg.includes("halted"));
    expect(warned).toEqual([expect.objectContaining({ msg: expect.stringContaining("past the expiry its name gives"), detail: "expired at 2026-03-27T08:00:00.000Z" })]);
    expect(warned[0]!.msg).not.toContain("no longer listed"); // no listing said so, and none is asked for after
  });
});

describe("Deribit: a config override's option already past the expiry its name gives at start", { timeout: 60_000 }, () => {
  // The option's market is asked while running (a symbol left out at start, retried): before the query's filter the
  // closed override rode every such query (its currency asked for it, the closed-query count and schedule moved).
  test("halted at once, never LIVE nor subscribed; a query of its market does not ask for it", async () => {
    const option = "BTC-27MAR26-70000-C";
    const open = "BTC-27MAR26-80000-C";
    const late = "BTC-27MAR26-90000-C"; // not listed: retried while running, each retry a query of the option market
    const sim = await startDeribitSimulator({ markets: [{ market: "option", symbols: [option, open] }], seed: 14 });
    const symbols = [option, open, late];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "option", symbol, depth: 0 }));
    const overrides = new Map([[`option:${option}`, { tickSize: "0.0005", lotSize: "0.1" }]]);
    const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: "", markets: [{ market: "option" as const, depth: 0, symbols }], overrides };
    const adapter = new DeribitAdapter(config, subs, { log: recordedLog().log, wallNow: () => EXPIRY_MS + 1, lateCheckMs: 20, lateRetryBaseMs: 50, listingRetryMs: 100 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, halted, updatesAfterHalt } = haltRecorder(3);
    await adapter.loadInstruments();
    const asked = sim.stats.restRequests;
    adapter.start({ ...sink, onInstrumentResolved: () => {} }); // a sink that takes late books: the late symbol is retried
    expect(halted).toEqual([expect.objectContaining({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED })]);
    await waitFor(() => {
      sim.step(1);
      return adapter.topicInfo(1).state === "live" && sim.stats.restRequests >= asked + 2;
    }, "the other option live and its market asked twice", 20_000);
    expect(updatesAfterHalt[0]).toBe(0); // halted before anything: no update of it ever reached the sink
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    expect([...adapter.expiredInstruments()]).toEqual([[0, EXPIRY_MS]]);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosedQueries: 0 });
  });
});

describe("closed books whose listing is never asked (a config override's)", () => {
  // Counted as "expired", the closed schedule kept a deadline for them that no query could meet (their symbols are
  // left out of it): asked again at once, for ever.
  test("keep no closed schedule for their market; one asked for beside them does", () => {
    const expiry = new Map([[0, EXPIRY_MS], [1, EXPIRY_MS + 3_600_000]]);
    const closed = new ClosedTopics(() => "option", (i) => expiry.get(i), (i) => i !== 0);
    closed.add(0);
    expect(closed.kindAt("option", EXPIRY_MS)).toBe("none");
    expect(closed.countIn("option")).toBe(1); // closed all the same (metrics, /books)
    closed.add(1);
    expect(closed.kindAt("option", EXPIRY_MS)).toBe("may_reopen");
    expect(closed.kindAt("option", EXPIRY_MS + 3_600_000)).toBe("expired");
  });
});
