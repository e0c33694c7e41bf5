/**
 * A re-check asked for by one Bithumb code re-derives only that code's instrument (src/venues/common/instrument-watch.ts,
 * `applyAskedOnly`): Upbit and Bithumb derive a code's tick from its last trade price (src/venues/upbit/instruments.ts),
 * so reloading the whole market would rebuild every other code whose price moved a band since start, healthy books
 * included (INSTRUMENT_CHANGED, a new definition), though nothing of theirs failed to fit. The real adapter against
 * the real simulator over WebSocket on 127.0.0.1; the REST ticker answer is scaled to move prices between bands.
 */
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { RecordingSink, tempCachePath, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-XRP", depth: 15 },
  { market: "spot", symbol: "KRW-ETH", depth: 15 },
];

test("a price that does not fit for one code rebuilds that code only, not another whose price moved a band", async () => {
  const sim = await startUpbitSimulator({ venue: "bithumb", codes: SUBS.map((s) => s.symbol), specs: { "KRW-XRP": { price: 3_000, tick: "0.1" } }, seed: 7, messagesPerSecond: 0 });
  cleanups.push(() => sim.stop());
  // Ticker prices as REST answers them, scaled per code: XRP starts 100× (its tick derives as 10, too coarse for
  // the simulator's prices in tenths, so its frames do not fit and ask for a re-check).
  const scale = new Map<string, number>([["KRW-XRP", 100]]);
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const res = await fetch(input, init);
    if (url.pathname !== "/v1/ticker") return res;
    const rows = (await res.json()) as { market: string; trade_price: number }[];
    return Response.json(rows.map((r) => ({ ...r, trade_price: r.trade_price * (scale.get(r.market) ?? 1) })));
  }) as typeof fetch;
  const config = {
    venue: "bithumb" as const,
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: tempCachePath(),
    markets: [{ market: "spot" as const, depth: 15, symbols: SUBS.map((s) => s.symbol) }],
    overrides: new Map(),
  };
  const adapter = BITHUMB_VENUE.create(config, SUBS, { log: silentLogger, fetch: fetchFn, reconnectBaseMs: 5, reconnectMaxMs: 20 });
  cleanups.push(() => adapter.stop());
  const instruments = (await adapter.loadInstruments()) as Instrument[];
  expect(instruments.map((i) => i.tickSize)).toEqual(["10", "0.1"]);
  const sink = new RecordingSink(instruments);
  // By now XRP's real price is back in its band, and ETH's has risen 100× (its derived tick would be 10, not 0.1).
  scale.set("KRW-XRP", 1);
  scale.set("KRW-ETH", 100);
  adapter.start(sink);
  await waitFor(() => sim.subscribed().length === 2, "both codes subscribed");
  // Frames go out as the test steps the simulator; XRP's first one asks for the re-check.
  await waitFor(() => (sim.step(1), sink.changed.some((c) => c.index === 0)), "XRP's re-check applied");
  // The re-check's answer is applied as a whole (one query): by the time XRP changed, ETH's fate is decided.
  expect(sink.changed.find((c) => c.index === 0)!.instrument.tickSize).toBe("0.1");
  expect(sink.changed.filter((c) => c.index === 1)).toEqual([]);
  expect(adapter.stats()["instrumentChanges"]).toBe(1);
});
