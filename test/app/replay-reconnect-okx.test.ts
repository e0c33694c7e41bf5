/**
 * record → replay across unplanned reconnects on OKX (as replay-reconnect-bybit.test.ts): the simulator drops every
 * connection; the live run publishes its books RESYNCING / DISCONNECTED, and the new connection's `books` snapshots
 * make them LIVE again. The capture holds the connection's close (a `ws:close` record), so the replay, with the
 * simulator gone, publishes per book the same status sequence as the live run and the same book at every seqId.
 * A capture of frames alone replayed the new connection's snapshot onto a book that had never left LIVE.
 * Without the initial snapshot (`initialSnapshot: false`) each connection's books are bridged from a REST snapshot
 * (`/api/v5/market/books`) by seqId: the capture holds those answers, and the replay bridges them as live did. A
 * connection dropped while a book bridges (the REST book asked for held by the test): the bridge ends with the
 * connection, live and in replay, and the REST book it asked for is neither used nor recorded.
 */
import { describe, expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState } from "../../src/core/types.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { waitFor } from "../e2e/harness.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const DEPTH = 400;
const DISCONNECTS = 3;

describe("OKX record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every seqId", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 29 });
    const run = await runReplayReconnect({
      venue: "okx",
      ids: SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 71,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: () => sim.stop() },
      config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
  });

  test("without the initial snapshot (REST snapshots bridged by seqId) too", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 31, initialSnapshot: false });
    const run = await runReplayReconnect({
      venue: "okx",
      ids: SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 75,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: () => sim.stop() },
      config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
    expect(run.restAnswers).toBeGreaterThanOrEqual(SYMBOLS.length * (DISCONNECTS + 1)); // a bridge per book and connection
  });
});

/** The seqId of a recorded BTC-USDT `books` update (-1 for anything else). */
function btcSeq(frame: string): number {
  const m = /"instId":"BTC-USDT".*?"seqId":(\d+)/.exec(frame);
  return m ? Number(m[1]) : -1;
}

/** A fetch whose BTC-USDT REST books are taken when asked for and, while `holding`, handed over on `release()`. */
function heldBtcBooks() {
  const waiting: (() => void)[] = [];
  const held = { holding: false, seqId: Infinity, waiting: () => waiting.length, release: () => waiting.shift()?.() };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    if (!String(input).includes("/api/v5/market/books?instId=BTC-USDT")) return fetch(input, init);
    const res = await fetch(input, init);
    held.seqId = ((await res.clone().json()) as { data: { seqId: number }[] }).data[0]!.seqId;
    if (held.holding) await new Promise<void>((r) => waiting.push(r));
    return res;
  }) as typeof fetch;
  return { fetchFn, held };
}

/**
 * Without the initial snapshot, BTC-USDT's sequence breaks (a simulator gap), its resubscribe's updates are buffered
 * and the REST book asked for is held while the connection drops, an update past it already buffered. `release`:
 * the held answer handed over once the new connection's updates arrive, or while the connection is still down.
 * ETH-USDT is LIVE at the drop (one RESYNCING / DISCONNECTED), BTC-USDT, bridging, has none. The bridge ends with
 * the connection: the held answer is neither used nor recorded; the new connection's updates bridge to a new one.
 */
async function okxBridgingDrop(destSeed: number, release: "reconnected" | "down") {
  const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 41, initialSnapshot: false });
  const { fetchFn, held } = heldBtcBooks();
  const [btc, eth] = SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)) as [number, number];
  let whenAnswered: { open: number; btcState: number } | null = null;
  const run = await runReplayReconnect({
    venue: "okx",
    ids: [btc, eth],
    disconnects: 0,
    destSeed,
    sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: () => sim.stop() },
    // "down": the reconnect waits 4–8 s, ample time to hand the held answer over first.
    adapterOptions: { fetch: fetchFn, ...(release === "down" ? { reconnectBaseMs: 8000, reconnectMaxMs: 8000 } : {}) },
    config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
    drive: async ({ live, stats, statuses, caughtUp, frames }) => {
      held.holding = true;
      sim.inject("gap", "BTC-USDT");
      await waitFor(() => held.waiting() === 1, "BTC-USDT's bridge asking for its REST book", 15_000, () => sim.step(1));
      held.holding = false; // that one only: the REST books after the drop are answered at once
      await waitFor(() => frames.some((f) => btcSeq(f) > held.seqId), "a BTC-USDT update past the held REST book", 15_000, () => sim.step(1));
      const opened = stats().connects!;
      sim.inject("disconnect");
      await waitFor(() => statuses.get(eth)!.includes("resyncing/disconnected"), "ETH-USDT invalid after the drop", 15_000);
      if (release === "down") {
        // Bridged, or dropped with its bridge: either way counted.
        const handled = () => stats().restBridged! + (stats().restDropped ?? 0);
        const before = handled();
        held.release();
        await waitFor(() => handled() > before, "the held REST book handled", 15_000);
        whenAnswered = { open: stats().connectionsOpen!, btcState: live.books().find((b) => b.instrument.instrumentId === btc)!.state };
      }
      await waitFor(() => stats().connects! > opened && stats().connectionsOpen === stats().connections, "reconnected", 15_000);
      if (release === "reconnected") {
        const seen = frames.length;
        await waitFor(() => frames.slice(seen).some((f) => btcSeq(f) > 0), "a BTC-USDT update of the new connection", 15_000, () => sim.step(1));
        held.release();
      }
      await waitFor(caughtUp, "live books after the bridging drop", 15_000, () => sim.step(1));
    },
  });
  return { run, whenAnswered: whenAnswered as { open: number; btcState: number } | null };
}

describe("OKX record → replay: a connection dropped while a book bridges (no initial snapshot)", { timeout: 90_000 }, () => {
  // Each: the replay as live, and 4 REST books recorded (each book's at the start and after the reconnect).
  test("the old bridge's REST book answered after the reconnect", async () => {
    const { run } = await okxBridgingDrop(111, "reconnected");
    expectReplayAsLive(run, 1, [0, 1]);
    expect(run.restAnswers).toBe(4);
  });

  test("the old bridge's REST book answered while the connection is down makes no book LIVE", async () => {
    const { run, whenAnswered } = await okxBridgingDrop(113, "down");
    expect(whenAnswered).toEqual({ open: 0, btcState: BookState.RESYNCING });
    expectReplayAsLive(run, 1, [0, 1]);
    expect(run.restAnswers).toBe(4);
  });
});
