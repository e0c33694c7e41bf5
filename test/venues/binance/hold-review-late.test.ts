/**
 * The Binance overlap hold (src/venues/binance/overlap-hold.ts) and a stream the old socket does not serve: it was
 * waiting out a resync backoff when the old socket connected (so it was never subscribed there) and when the planned
 * reconnect swapped sockets, and was subscribed on the replacement alone once its wait was over. A diff of it ahead of
 * the book is a gap no other socket can fill: a break at once, while the overlap goes on (the other stream has not
 * joined), not a book LIVE but stuck until the ack deadline. Simulator + WebSocket proxy (../ws-proxy.ts), spot.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
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

/**
 * The resync backoff of a stream's second and later resyncs in a row (random = 1: exactly the base, capped there):
 * longer than any test, so it ends only when the test moves the adapter's clock past it (skip). With 2.5 s of real
 * time, a loaded machine could let B's wait end before the swap the test needs inside it.
 */
const BACKOFF_MS = 60_000;

describe("binance spot: a stream only the replacement carries during the overlap", { timeout: 30_000 }, () => {
  test("its diff ahead of the book is a break at once (not held); the book resyncs through the replacement and comes back equal", async () => {
    const market = "spot";
    const [A, B] = ["BTCUSDT", "ETHUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market, symbols: [A, B] }], seed: 61, shutdownGraceMs: 30_000, history: true });
    const proxy = startWsProxy(sim.wsUrl);
    const subs: Subscription[] = [A, B].map((symbol) => ({ market, symbol, depth: 100 }));
    const config: VenueConfig = {
      venue: "binance",
      wsUrl: proxy.origin,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("binance-hold-late"), "i.json"),
      markets: [{ market, depth: 100, symbols: [A, B] }],
      overrides: new Map(),
    };
    let diffFrames = 0;
    // The adapter's clock: the wall clock, moved ahead by the test to end a resync backoff.
    let aheadMs = 0;
    const skipBackoff = () => void (aheadMs += BACKOFF_MS);
    const adapter = new BinanceAdapter(config, subs, {
      log: silentLogger,
      now: () => Date.now() + aheadMs,
      housekeepingMs: 20,
      // Neither the skips nor a slow machine end the overlap (it lasts while A has not joined) or take a socket or a
      // book for silent.
      ...{ ackTimeoutMs: 600_000, deadConnectionMs: 600_000, staleAfterMs: () => 600_000 },
      reconnectBaseMs: 100,
      reconnectMaxMs: 200,
      resyncBackoffBaseMs: BACKOFF_MS,
      resyncBackoffMaxMs: BACKOFF_MS, // the third resync in a row (the test's last) waits no longer
      random: () => 1,
      onRawFrame: (_m, _c, f) => void (f.includes("depthUpdate") && diffFrames++),
    });
    stops.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new BookMaps(await adapter.loadInstruments());
    adapter.start(sink);
    const equal = liveAndEqual(sim, adapter, sink, subs);
    sim.step(1);
    await until(() => equal(0) && equal(1), "both books live and equal");

    // B breaks twice in a row: the second resync waits out its backoff (BACKOFF_MS).
    sim.inject("gap", { market, symbol: B });
    sim.step(2);
    await until(() => adapter.stats().resyncs === 1 && equal(1), "B resynced once and live again");
    sim.inject("gap", { market, symbol: B });
    sim.step(2);
    await until(() => adapter.stats().resyncsDelayed === 1, "B's second resync waiting out its backoff");

    // The old socket connects during the wait: it subscribes A only.
    sim.inject("disconnect");
    await until(() => proxy.links.length === 2 && proxy.links[1]!.fromClient.some((m) => m.includes("SUBSCRIBE")), "reconnected, A subscribed");
    expect(proxy.links[1]!.fromClient.some((m) => m.includes(B.toLowerCase()))).toBe(false);
    sim.step(1);
    await until(() => equal(0), "A live again");

    // The planned reconnect, still during B's wait. The replacement's diffs of A are dropped: A never joins, the
    // overlap lasts (the old socket is kept until the ack deadline).
    proxy.next = { rewriteDown: (f) => (f.includes(`"${A.toLowerCase()}@depth`) && f.includes("depthUpdate") ? null : f) };
    sim.inject("serverShutdown");
    await until(() => proxy.links.length === 3 && proxy.links[2]!.fromClient.some((m) => m.includes("SUBSCRIBE")), "swapped: the replacement subscribes");
    const [old, replacement] = [proxy.links[1]!, proxy.links[2]!];
    expect(adapter.topicInfo(1).state).not.toBe("live"); // the swap came during B's wait (it ends only when skipped)
    expect(replacement.fromClient.some((m) => m.includes(B.toLowerCase()))).toBe(false);

    // B's wait ends: it is subscribed on the replacement alone, and bridges from the replacement's diffs.
    skipBackoff();
    await until(() => replacement.fromClient.some((m) => m.includes("SUBSCRIBE") && m.includes(B.toLowerCase())), "B subscribed on the replacement", 10_000);
    sim.step(1);
    await until(() => equal(1), "B live from the replacement's diffs");
    expect(old.closed).toBe(false);

    const [gaps, held, f0, delayed] = [adapter.stats().gaps, adapter.stats().overlapHeld, diffFrames, adapter.stats().resyncsDelayed];
    sim.inject("gap", { market, symbol: B }); // a diff of B lost: the next one is ahead of B's book
    sim.step(1);
    await until(() => diffFrames >= f0 + 2, "the old socket's A diff and the replacement's B diff received");
    expect(adapter.stats().overlapHeld).toBe(held); // not held: no other socket carries B
    expect(adapter.stats().gaps).toBe(gaps + 1);
    expect(old.closed).toBe(false); // still during the overlap

    sim.step(2);
    // Its third resync in a row waits out the backoff too: skipped once it waits.
    await until(() => {
      if (adapter.stats().resyncsDelayed > delayed && aheadMs < 2 * BACKOFF_MS) skipBackoff(); // once
      return equal(1);
    }, "B live and equal again (resynced through the replacement)");
    expect(equal(0)).toBe(true);
    expect(sink.invalid.filter((x) => x.index === 0).map((x) => x.reason).length).toBe(1); // A: the disconnect only
  });
});
