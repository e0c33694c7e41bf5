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
import { startWsProxy } from "../venues/ws-proxy.ts";
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

describe("OKX record → replay: an older snapshot on the book's one socket after a planned reconnect", { timeout: 90_000 }, () => {
  test("replay takes the replacement's older snapshot as a repeat and the one-socket one as a reset, as live did", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 53 });
    const proxy = startWsProxy(new URL(sim.wsUrl).origin);
    const wsUrl = proxy.origin + new URL(sim.wsUrl).pathname;
    const frame = (action: string, prev: number, seq: number, bid: string, ask: string) =>
      `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"${action}","data":[{"asks":[[${ask},"0","1"]],"bids":[[${bid},"0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
    const run = await runReplayReconnect({
      venue: "okx",
      ids: SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)),
      disconnects: 0,
      destSeed: 131,
      sim: { wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: async () => (proxy.stop(), await sim.stop()) },
      config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
      drive: async ({ stats, caughtUp, live }) => {
        // The replacement's subscribe gets the snapshot as of now, then the messages since: it starts behind the book.
        sim.inject("stale_snapshot", "BTC-USDT");
        sim.step(4);
        await waitFor(caughtUp, "books past the stale snapshot", 15_000);
        // The replacement's frames (its ack, its snapshot) held: the old socket delivers meanwhile, in the overlap.
        proxy.byIndex.set(1, { holdDown: true });
        sim.inject("notice");
        await waitFor(() => proxy.links[1]?.heldDown?.length !== undefined && proxy.links[1].heldDown.length > 0, "the replacement subscribed (swapped in)", 15_000);
        const overlapFrom = sim.book("BTC-USDT", DEPTH).seqId;
        sim.step(2);
        await waitFor(() => caughtUp() && sim.book("BTC-USDT", DEPTH).seqId > overlapFrom, "the old socket's messages in the overlap taken", 15_000);
        proxy.releaseDown(proxy.links[1]!);
        await waitFor(() => stats().plannedReconnects === 1 && stats().olderSnapshots! >= 1, "replaced, the stale snapshot ignored", 15_000, () => sim.step(1));
        await waitFor(() => proxy.links.length === 2 && proxy.links[0]!.closed, "the old socket closed", 15_000, () => sim.step(1));
        // A message the book takes from the replacement alone: from here it is the book's one socket (live's rule).
        const alone = sim.book("BTC-USDT", DEPTH).seqId;
        sim.step(2);
        await waitFor(() => caughtUp() && sim.book("BTC-USDT", DEPTH).seqId > alone, "books caught up on the replacement alone", 15_000);
        // The venue starts BTC-USDT over below the book's seqId, with other levels, on the book's one socket.
        const last = sim.book("BTC-USDT", DEPTH).seqId;
        const link = proxy.links[1]!;
        link.client.send(frame("snapshot", -1, last - 3, `"69990","1.5"`, `"70001.5","2"`));
        link.client.send(frame("update", last - 3, last - 2, `"69991","1"`, `"70001.5","1"`));
        link.client.send(frame("update", last - 2, last - 1, `"69989","4"`, `"70003","3"`));
        const btc = instrumentIdOf("okx", "spot", "BTC-USDT");
        await waitFor(() => stats().maintenanceResets === 1 && live.books().find((b) => b.instrument.instrumentId === btc)!.venueSeq === last - 1, "the reset and its two updates applied", 15_000);
        // The simulator's next message chains on neither: a gap, and BTC-USDT resyncs.
        await waitFor(caughtUp, "books caught up after the resync", 15_000, () => sim.step(1));
      },
    });
    expectReplayAsLive(run, 0, 0);
    // One socket opened, one swap, the old socket's frames of the overlap each marked, its close.
    expect(run.eventsRecorded).toMatchObject({ "ws:open": 1, "ws:sockets": 1, "ws:swap": 1, "ws:retired": 1 });
    expect(run.eventsRecorded["ws:old"]).toBeGreaterThan(0);
    const btc = instrumentIdOf("okx", "spot", "BTC-USDT");
    expect(run.live.statuses.get(btc)).toContain("resyncing/sequence_gap");
    expect([...run.live.books.keys()].some((k) => k.startsWith(`${btc}@`))).toBe(true);
  });
});
