/**
 * Adversarial review of the Binance overlap hold (src/venues/binance/overlap-hold.ts): a planned reconnect whose
 * replacement is faster holds the replacement's diffs ahead of the book (the old socket's frames held by a proxy,
 * ../ws-proxy.ts); then the overlap ends some other way than the replacement's stream joining:
 * - the replacement fails (goBack): the old socket, continuous, delivers what was held; nothing is a break;
 * - stop(): nothing is a break either (no sequence gap counted or reported while stopping).
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** A sink that checks every update against the simulator's book at that update id. */
class CheckingSink extends BookMaps {
  readonly mismatches: string[] = [];
  updates = 0;
  constructor(
    instruments: (Instrument | undefined)[],
    private readonly sim: BinanceSim,
    private readonly sub: Subscription,
  ) {
    super(instruments);
  }
  override onBookUpdate(index: number, u: BookUpdate): void {
    super.onBookUpdate(index, u);
    this.updates++;
    if (!this.equalAt(index, u.venueSeq)) this.mismatches.push(`book ${index} differs from the simulator's at u ${u.venueSeq}`);
  }
  equalAt(index: number, seq: number): boolean {
    const at = this.sim.bookAt(this.sub.market, this.sub.symbol, seq);
    const inst = this.instruments[index]!;
    if (!at) return false;
    const same = (a: Map<number, number> | undefined, b: Map<string, string>) =>
      a !== undefined && a.size === b.size && [...b].every(([p, q]) => a.get(parseFixed(p, inst.priceExp)) === parseFixed(q, inst.qtyExp));
    return same(this.bids[index], at.bids) && same(this.asks[index], at.asks);
  }
  equalNow(): boolean {
    return this.seq[0] === this.sim.book(this.sub.market, this.sub.symbol).u && this.equalAt(0, this.seq[0]!);
  }
}

async function setup(market: "spot" | "linear", seed: number, fetchFn: typeof fetch = fetch) {
  const sim = await startBinanceSimulator({ markets: [{ market, symbols: ["BTCUSDT"] }], seed, shutdownGraceMs: 30_000, history: true });
  const proxy: WsProxy = startWsProxy(sim.wsUrl);
  const sub: Subscription = { market, symbol: "BTCUSDT", depth: 100 };
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: proxy.origin,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-skew"), "i.json"),
    markets: [{ market, depth: 100, symbols: ["BTCUSDT"] }],
    overrides: new Map(),
  };
  let diffFrames = 0;
  const adapter = new BinanceAdapter(config, [sub], {
    log: silentLogger,
    fetch: fetchFn,
    ackTimeoutMs: 5_000,
    reconnectBaseMs: 300,
    reconnectMaxMs: 600,
    onRawFrame: (_m, _c, f) => void (f.includes("depthUpdate") && diffFrames++),
  });
  stops.push(async () => {
    await adapter.stop();
    proxy.stop();
    await sim.stop();
  });
  const sink = new CheckingSink(await adapter.loadInstruments(), sim, sub);
  adapter.start(sink);
  sim.step(1);
  await until(() => adapter.topicInfo(0).state === "live" && sink.equalNow(), "the book live and equal");
  sim.step(3);
  await until(() => sink.equalNow(), "the book equal after 3 diffs");
  /** Diff frames the adapter received so far (both sockets). */
  const frames = () => diffFrames;
  return { sim, proxy, adapter, sink, frames };
}

/** The downstream frames of the replacement (link 1), recorded as the proxy forwards them. */
function replacementDown(proxy: WsProxy, holdUp: boolean): string[] {
  const down: string[] = [];
  proxy.next = { holdUp, rewriteDown: (f) => (down.push(f), f) };
  return down;
}


/** Up to the replacement's diffs held, ahead of the book (the old socket's two diffs waiting in the proxy). */
async function holdReplacementDiffs(market: "spot" | "linear", seed: number) {
  const run = await setup(market, seed);
  const { sim, proxy, adapter, frames } = run;
  const down = replacementDown(proxy, true);
  sim.inject("serverShutdown");
  await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes("SUBSCRIBE")), "the replacement's SUBSCRIBE (held)");
  const old = proxy.links[0]!;
  old.heldDown = [];
  sim.step(2);
  proxy.releaseUp(proxy.links[1]!);
  await until(() => down.some((f) => f.includes('"result"')), "the replacement's SUBSCRIBE acked");
  const before = frames();
  sim.step(2);
  await until(() => frames() >= before + 2, "the replacement's two diffs received");
  await until(() => adapter.stats().overlapHeld >= 2, "the replacement's diffs held");
  return { ...run, old, replacement: proxy.links[1]! };
}

for (const market of ["spot", "linear"] as const) {
  describe(`binance ${market}: the overlap ends with diffs held`, { timeout: 30_000 }, () => {
    test("the replacement fails (goBack): the held diffs are not a break; the old socket delivers them, the book stays LIVE and equal", async () => {
      const { sim, proxy, adapter, sink, old, replacement } = await holdReplacementDiffs(market, market === "spot" ? 41 : 42);
      const failures = () => adapter.metrics().filter((m) => m.name === "planned_reconnect_failures_total").reduce((n, m) => n + m.value, 0);
      expect(failures()).toBe(0);
      proxy.closeClient(replacement); // the replacement closes: the old socket is gone back to
      await until(() => failures() === 1, "the planned reconnect abandoned (gone back to the old socket)");
      proxy.releaseDown(old); // the old socket's diffs: the gap, then the held ones again
      await until(() => sink.equalNow(), "the book equal through the old socket");
      sim.step(3);
      await until(() => sink.equalNow(), "the book equal after 3 more diffs");
      expect(sink.invalid).toEqual([]);
      expect(sink.mismatches).toEqual([]);
      const s = adapter.stats();
      expect([s.gaps, s.resyncs]).toEqual([0, 0]);
    });

    test("stop() with diffs held: no sequence gap counted or reported", async () => {
      const { adapter, sink } = await holdReplacementDiffs(market, market === "spot" ? 43 : 44);
      await adapter.stop();
      expect(sink.invalid).toEqual([]);
      expect([adapter.stats().gaps, adapter.stats().resyncs]).toEqual([0, 0]);
    });
  });
}
