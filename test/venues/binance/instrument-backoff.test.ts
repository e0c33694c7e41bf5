/**
 * A Binance tick change (exchangeInfo reload) for a stream waiting out its resync backoff, not subscribed because its
 * connection reopened during the wait (a reopened connection subscribes only the streams not waiting). The change
 * ends the wait (new exponents are worth a snapshot now), so it must also subscribe the stream, as the wait's end
 * would have: before, the wait was cleared and nothing subscribed it, its book RESYNCING for good (no stale check
 * reaches a stream not subscribed). Simulator + WebSocket proxy on 127.0.0.1, spot.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy } from "../ws-proxy.ts";
import { liveAndEqual } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** The backoff of a second resync in a row: longer than the test, and the adapter's clock is never moved past it. */
const BACKOFF_MS = 600_000;

describe("binance: a tick change during a resync backoff", { timeout: 30_000 }, () => {
  test("a stream left unsubscribed by a reconnect during its wait is subscribed at the change and comes back LIVE", async () => {
    const market = "spot";
    const [A, B] = ["BTCUSDT", "ETHUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market, symbols: [A, B] }], seed: 71 });
    const proxy = startWsProxy(sim.wsUrl);
    const subs: Subscription[] = [A, B].map((symbol) => ({ market, symbol, depth: 100 }));
    const config: VenueConfig = {
      venue: "binance",
      wsUrl: proxy.origin,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("binance-inst-backoff"), "i.json"),
      markets: [{ market, depth: 100, symbols: [A, B] }],
      overrides: new Map(),
      instrumentReloadMs: 100,
    };
    const adapter = new BinanceAdapter(config, subs, {
      log: silentLogger,
      housekeepingMs: 20,
      instrumentCheckMs: 10,
      ...{ ackTimeoutMs: 600_000, deadConnectionMs: 600_000, staleAfterMs: () => 600_000 },
      reconnectBaseMs: 50,
      reconnectMaxMs: 100,
      resyncBackoffBaseMs: BACKOFF_MS,
      resyncBackoffMaxMs: BACKOFF_MS,
      random: () => 1,
    });
    stops.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new BookMaps(await adapter.loadInstruments());
    // The books read at the instruments the adapter announces (a changed tick re-expresses the prices).
    const changed = (index: number, inst: Instrument) => void (sink.instruments[index] = inst);
    adapter.start({ onBookUpdate: (i, u) => sink.onBookUpdate(i, u), onBookInvalid: (i, s, r) => sink.onBookInvalid(i, s, r), onInstrumentChanged: changed });
    const equal = liveAndEqual(sim, adapter, sink, subs);
    sim.step(1);
    await until(() => equal(0) && equal(1), "both books live and equal");

    // B breaks twice in a row: the second resync waits out its backoff.
    sim.inject("gap", { market, symbol: B });
    sim.step(2);
    await until(() => adapter.stats().resyncs === 1 && equal(1), "B resynced once and live again");
    sim.inject("gap", { market, symbol: B });
    sim.step(2);
    await until(() => adapter.stats().resyncsDelayed === 1, "B's second resync waiting out its backoff");

    // The connection reopens during the wait: A is subscribed, B is not.
    sim.inject("disconnect");
    await until(() => proxy.links.length === 2 && proxy.links[1]!.fromClient.some((m) => m.includes("SUBSCRIBE")), "reconnected, A subscribed");
    expect(proxy.links[1]!.fromClient.some((m) => m.includes(B.toLowerCase()))).toBe(false);
    sim.step(1);
    await until(() => equal(0), "A live again");

    // B's tick changes (finer: its prices still read): the reload ends B's wait, and B is subscribed now.
    const before = sink.instruments[1]!;
    sim.setListing(market, B, { tickSize: (10 ** -(before.priceExp + 1)).toFixed(before.priceExp + 1) });
    await until(() => sink.instruments[1]!.priceExp === before.priceExp + 1, "B's new tick taken");
    await until(() => proxy.links[1]!.fromClient.some((m) => m.includes("SUBSCRIBE") && m.includes(B.toLowerCase())), "B subscribed", 10_000);
    sim.step(1);
    await until(() => equal(1), "B live and equal at its new tick");
    expect(equal(0)).toBe(true);
  });
});
