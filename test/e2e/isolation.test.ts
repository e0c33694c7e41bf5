/**
 * "One slow or broken symbol (or venue) never affects another", adversarially: the Bybit, Binance and Coinbase
 * simulators and one Feeder with all three venues in one process (test/e2e/isolation-rig.ts), stale and
 * dead-connection deadlines of 1.5 s. In each case one symbol or venue misbehaves; every other book must stay LIVE,
 * usable and never stale at the subscriber (every event is judged), stay LIVE at the feeder, and equal its
 * simulator's book after every round; the feeder's log stays bounded (no line per message).
 */
import { afterEach, describe, expect, test } from "vitest";
import { spawnSim } from "../support/sim-child.ts";
import { waitFor } from "./harness.ts";
import { allLiveAndEqual, runRounds, startRig, type Rig } from "./isolation-rig.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

const ROUNDS = 40;

describe("isolation: one broken symbol or venue, the others stay LIVE and equal", { timeout: 90_000 }, () => {
  test("(e) a symbol whose sequence breaks on every message resyncs in a loop; no other book leaves LIVE", async () => {
    rig = await startRig({ seed: 11, broken: ["bybit:BTCUSDT"] });
    await allLiveAndEqual(rig);
    rig.watch();
    const r = rig;
    await runRounds(r, ROUNDS, () => void r.bybit.inject("gap", { market: "linear", symbol: "BTCUSDT" }));
    expect(r.violations).toEqual([]);
    expect(r.feeder.stats().venues.bybit!.gaps).toBeGreaterThan(2);
    expect(r.logLines.length).toBeLessThan(ROUNDS);
  });

  test("(a) one venue's simulator floods at 40x the others' rate; no other book leaves LIVE", async () => {
    rig = await startRig({ seed: 12, broken: [] });
    await allLiveAndEqual(rig);
    rig.watch();
    await runRounds(rig, ROUNDS, () => undefined, { binance: 40 });
    expect(rig.violations).toEqual([]);
  });

  test("(c) one symbol's REST snapshot answers 500 for good; no other book leaves LIVE", async () => {
    rig = await startRig({ seed: 13, broken: ["binance:BTCUSDT"] });
    await allLiveAndEqual(rig);
    rig.watch();
    const r = rig;
    const target = { market: "spot" as const, symbol: "BTCUSDT" };
    await runRounds(r, ROUNDS, (i) => {
      for (let k = 0; k < 3; k++) r.binance.restFault("error", target);
      if (i % 10 === 0) r.binance.inject("gap", target);
    });
    expect(r.violations).toEqual([]);
    expect(r.logLines.length).toBeLessThan(ROUNDS);
  });

  test("(d) one venue's WebSocket closes every round; no other venue's book leaves LIVE", async () => {
    rig = await startRig({ seed: 14, broken: ["coinbase:*"] });
    await allLiveAndEqual(rig);
    rig.watch();
    const r = rig;
    await runRounds(r, ROUNDS, () => void r.coinbase.inject("disconnect"));
    expect(r.violations).toEqual([]);
    expect(r.logLines.length).toBeLessThan(ROUNDS);
  });

  test("(d) one venue's WebSocket sends malformed frames every round; no other venue's book leaves LIVE", async () => {
    rig = await startRig({ seed: 15, broken: ["coinbase:*"] });
    await allLiveAndEqual(rig);
    rig.watch();
    const r = rig;
    await runRounds(r, ROUNDS, () => void r.coinbase.inject("malformed", "BTC-USD"));
    expect(r.violations).toEqual([]);
    expect(r.logLines.length).toBeLessThan(ROUNDS);
  });

  test("(b) one venue's books are huge (full depth, 100k levels a side, its simulator in another process); no other book leaves LIVE", async () => {
    const huge = await spawnSim({ venue: "coinbase", symbols: ["SOL-USD"], levels: 100_000, rate: 20, seed: 16 });
    try {
      rig = await startRig({ seed: 16, broken: [], external: { venue: "coinbase", wsUrl: huge.wsUrl, restUrl: huge.restUrl, symbols: ["SOL-USD"] } });
      await allLiveAndEqual(rig);
      // The huge book is LIVE at the feeder: its snapshot was applied and is published (and refreshed) while the others run.
      const r = rig;
      await waitFor(() => r.feeder.bookSummaries().some((b) => b.symbol === "SOL-USD" && b.state === "live"), "the huge book LIVE at the feeder", 30_000, () => r.step());
      rig.watch();
      await runRounds(r, 15, () => undefined);
      expect(r.violations).toEqual([]);
    } finally {
      await huge.stop();
    }
  });
});
