/**
 * record → replay across unplanned reconnects on Binance: the simulator drops every connection, the live run
 * publishes its books RESYNCING / DISCONNECTED and bridges them to fresh REST snapshots. The capture holds the
 * connection's close (a `ws:close` record), so the replay, with the simulator gone, publishes per book the same
 * status sequence as the live run and the same book at every update id, even where the new connection's diffs
 * chain onto the old one's (no diff is sent while the connection is down here), which a capture of frames alone
 * replayed as one unbroken LIVE stretch that ignored the recorded snapshots.
 * A connection dropped while a book bridges (its REST snapshot asked for, held by the test): the bridge ends with the
 * connection, live and in replay, and the snapshot it asked for is neither used nor recorded.
 */
import { describe, expect, test } from "vitest";
import { BookState } from "../../src/core/types.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { waitFor } from "../e2e/harness.ts";
import { heldSnapshots } from "../venues/binance/skew-harness.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const DISCONNECTS = 3;

describe("Binance record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every update id", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 23 });
    const run = await runReplayReconnect({
      venue: "binance",
      ids: SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 67,
      // No step while the connection is down (the runner steps only to catch up): the new connection's first diffs
      // continue the old one's, the case a capture of frames alone replayed as one unbroken LIVE stretch.
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect", { market: "spot", symbol: SYMBOLS[0]! }), seqOf: (s) => sim.book("spot", s).u, stop: () => sim.stop() },
      adapterOptions: { resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 },
      config: reconnectConfig("binance", { spot: { depth: 1000, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
  });
});

/** The last update id of a recorded BTCUSDT diff frame (-1 for anything else). */
function btcU(frame: string): number {
  const m = /"s":"BTCUSDT".*?"u":(\d+)/.exec(frame);
  return m ? Number(m[1]) : -1;
}

/**
 * BTCUSDT's chain breaks (a simulator gap), its new bridge asks for a REST snapshot, and the answer is held while the
 * connection drops, a diff past it already buffered from the old connection. `release` says when the held answer is
 * handed over ("reconnected": once the new connection's diffs arrive; "down": while the connection is still down);
 * `gapAcross` loses one diff between the old connection's diffs and the new one's. ETHUSDT is LIVE at the drop (one
 * RESYNCING / DISCONNECTED); BTCUSDT, bridging, has none. The bridge ends with the connection: the held answer is
 * neither used nor recorded, and the new connection's diffs bridge to a new snapshot.
 */
async function bridgingDrop(opts: { destSeed: number; release: "reconnected" | "down"; gapAcross: boolean }) {
  const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 37 });
  const { fetchFn, held } = heldSnapshots();
  const target = { market: "spot" as const, symbol: SYMBOLS[0]! };
  const [btc, eth] = SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s)) as [number, number];
  let whenAnswered: { open: number; btcState: number } | null = null;
  const run = await runReplayReconnect({
    venue: "binance",
    ids: [btc, eth],
    disconnects: 0,
    destSeed: opts.destSeed,
    sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (s) => sim.book("spot", s).u, stop: () => sim.stop() },
    // "down": the reconnect waits 4–8 s, ample time to hand the held answer over first.
    adapterOptions: { fetch: fetchFn, resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100, ...(opts.release === "down" ? { reconnectBaseMs: 8000, reconnectMaxMs: 8000 } : {}) },
    config: reconnectConfig("binance", { spot: { depth: 1000, symbols: SYMBOLS } }),
    drive: async ({ live, stats, statuses, caughtUp, frames }) => {
      held.holding = true;
      sim.inject("gap", target);
      await waitFor(() => held.waiting() === 1, "BTCUSDT's new bridge asking for its snapshot", 15_000, () => sim.step(1));
      held.holding = false; // that one only: the snapshots after the drop are answered at once
      // A diff past the held snapshot buffered from the old connection: the old bridge could complete on it alone.
      await waitFor(() => frames.some((f) => btcU(f) > held.snapshotU), "a BTCUSDT diff past the held snapshot", 15_000, () => sim.step(1));
      const opened = stats().connects!;
      sim.inject("disconnect");
      if (opts.gapAcross) sim.inject("gap", target); // the next diff goes out on the new connection only
      await waitFor(() => statuses.get(eth)!.includes("resyncing/disconnected"), "ETHUSDT invalid after the drop", 15_000);
      if (opts.release === "down") {
        // Handed to its bridge (fetched) or dropped (abandoned): either way counted.
        const handled = () => stats().snapshotsFetched! + stats().snapshotsAbandoned!;
        const before = handled();
        held.release();
        await waitFor(() => handled() > before, "the held snapshot handled", 15_000);
        whenAnswered = { open: stats().connectionsOpen!, btcState: live.books().find((b) => b.instrument.instrumentId === btc)!.state };
      }
      await waitFor(() => stats().connects! > opened && stats().connectionsOpen === stats().connections, "reconnected", 15_000);
      if (opts.release === "reconnected") {
        const seen = frames.length;
        await waitFor(() => frames.slice(seen).some((f) => btcU(f) > 0), "a BTCUSDT diff of the new connection", 15_000, () => sim.step(1));
        held.release();
      }
      await waitFor(caughtUp, "live books after the bridging drop", 15_000, () => sim.step(1));
    },
  });
  return { run, whenAnswered: whenAnswered as { open: number; btcState: number } | null };
}

describe("Binance record → replay: a connection dropped while a book bridges", { timeout: 90_000 }, () => {
  // Each: the replay as live, and 4 REST answers recorded (each book's at the start and after the reconnect).
  test("the old bridge's snapshot answered after the reconnect", async () => {
    const { run } = await bridgingDrop({ destSeed: 101, release: "reconnected", gapAcross: false });
    expectReplayAsLive(run, 1, [0, 1]);
    expect(run.restAnswers).toBe(4);
  });

  test("the same with a diff lost between the old connection's diffs and the new one's", async () => {
    const { run } = await bridgingDrop({ destSeed: 103, release: "reconnected", gapAcross: true });
    expectReplayAsLive(run, 1, [0, 1]);
    expect(run.restAnswers).toBe(4);
  });

  // The old code bridged the held snapshot to the old connection's diffs while the connection was down: the book
  // LIVE with no connection, the last buffered diff dropped (its topic unsubscribed by the drop), and a break at the
  // new connection's first diff that the replay, its subscription kept, did not have.
  test("the old bridge's snapshot answered while the connection is down makes no book LIVE", async () => {
    const { run, whenAnswered } = await bridgingDrop({ destSeed: 105, release: "down", gapAcross: false });
    expect(whenAnswered).toEqual({ open: 0, btcState: BookState.RESYNCING });
    expectReplayAsLive(run, 1, [0, 1]);
    expect(run.restAnswers).toBe(4);
  });
});
