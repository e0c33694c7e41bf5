/**
 * Adversarial review of the Binance overlap hold (src/venues/binance/overlap-hold.ts): a planned reconnect whose
 * replacement is faster holds the replacement's diffs ahead of the book (the old socket's frames held by a proxy,
 * ../ws-proxy.ts); then the overlap ends some other way than the replacement's stream joining:
 * - the replacement fails (goBack): the old socket, continuous, delivers what was held; nothing is a break;
 * - stop(): nothing is a break either (no sequence gap counted or reported while stopping).
 */
import { afterEach, describe, expect, test } from "vitest";
import { until } from "../planned-fallback-harness.ts";
import { replacementDown, setup } from "./skew-harness.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** Up to the replacement's diffs held, ahead of the book (the old socket's two diffs waiting in the proxy). */
async function holdReplacementDiffs(market: "spot" | "linear", seed: number) {
  const run = await setup(stops, market, seed);
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
      const { sim, proxy, adapter, sink, old, replacement, replay } = await holdReplacementDiffs(market, market === "spot" ? 41 : 42);
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
      // Replayed, the recorded go-back (ws:back) drops the replacement's held diffs as live did: no break, the same book.
      const r = await replay();
      expect(r.events).toEqual(expect.arrayContaining(["ws:swap", "ws:back"]));
      expect(r.sink.invalid).toEqual([]);
      expect(r.sink.mismatches).toEqual([]);
      expect(r.sink.seq[0]).toBe(sink.seq[0]);
      expect([r.stats.gaps, r.stats.resyncs]).toEqual([0, 0]);
    });

    test("stop() with diffs held: no sequence gap counted or reported", async () => {
      const { adapter, sink } = await holdReplacementDiffs(market, market === "spot" ? 43 : 44);
      await adapter.stop();
      expect(sink.invalid).toEqual([]);
      expect([adapter.stats().gaps, adapter.stats().resyncs]).toEqual([0, 0]);
    });
  });
}
