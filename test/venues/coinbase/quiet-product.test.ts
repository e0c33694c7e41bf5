/**
 * A quiet product (no level2 update past its stale time) on a socket whose heartbeats keep coming in sequence is quiet,
 * not stale: its book stays LIVE, unsubscribed and resubscribed by nothing, up to QUIET_MAX_STALE_TIMES stale times of
 * silence, its market's listing asked as a stale book's. Before, every product silent for its stale time was
 * resubscribed each stale time: 240 quiet products spent the IP's whole message budget churning correct books. Without heartbeats the stale time holds as before. Real
 * simulator on 127.0.0.1 (heartbeats every 20 ms), the adapter on a clock the test drives.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { QUIET_MAX_STALE_TIMES } from "../../../src/venues/coinbase/adapter.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import type { CoinbaseConnection } from "../../../src/venues/coinbase/connection.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import { offlineVenue } from "../common/offline-venue.ts";
import { coinbaseConfig, countRounds, Sink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

const STALE_MS = 100;

async function rig(refuseHeartbeats: number) {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], levels: 5, seed: 3, heartbeatMs: 20, refuseHeartbeats });
  const clock = { nowMs: 1_000_000 };
  const adapter = createCoinbaseAdapter(coinbaseConfig(sim, ["BTC-USD"]), subsOf(["BTC-USD"]), { log: silentLogger, now: () => clock.nowMs, housekeepingMs: 5, staleAfterMs: () => STALE_MS });
  cleanup.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
  adapter.start(sink);
  await waitFor(() => adapter.topicState(0).state === "live", "the book LIVE");
  const rounds = countRounds(adapter);
  const hb = () => adapter.stats().heartbeats ?? 0;
  /** The adapter's clock moved `ms`; then a heartbeat (if `heartbeats`) and a housekeeping round after the move. */
  const advance = async (ms: number, heartbeats = true) => {
    clock.nowMs += ms;
    const [r, h] = [rounds.n, hb()];
    if (heartbeats) await waitFor(() => hb() > h, "a heartbeat on the moved clock");
    await waitFor(() => rounds.n > r + 1, "housekeeping rounds on the moved clock");
  };
  return { sim, adapter, sink, advance };
}

describe("coinbase: a quiet product on a socket whose heartbeats come in sequence", { timeout: 60_000 }, () => {
  test("stays LIVE past its stale time, and is resynced once its silence reaches the cap", async () => {
    const { sim, adapter, advance } = await rig(0);
    const listings = sim.stats.restRequests;
    const capMs = QUIET_MAX_STALE_TIMES * STALE_MS;
    // Nothing stepped: the book's only message was its snapshot. Up to just short of the cap, 40 ms at a time.
    for (let silentMs = 0; silentMs + 40 < capMs - 40; silentMs += 40) await advance(40);
    expect([adapter.stats().staleResyncs, adapter.stats().resyncs, adapter.stats().reconnects]).toEqual([0, 0, 0]);
    expect(adapter.topicState(0).state).toBe("live");
    // Its listing was asked as a stale book's (a product that stopped trading is silent too, and must still halt).
    expect(sim.stats.restRequests).toBeGreaterThan(listings);
    // Past the cap: resynced all the same (a product the venue stopped sending stays LIVE no longer than this).
    await advance(80);
    await advance(40);
    expect(adapter.stats().staleResyncs).toBe(1);
  });

  test("without heartbeats its stale time holds: resynced once silent past it", async () => {
    // Heartbeats refused for good (past any retry this test gives them): the dead-connection time (7 s) is not reached.
    const { adapter, advance } = await rig(1_000);
    await advance(STALE_MS + 20, false);
    await advance(10, false);
    expect(adapter.stats().staleResyncs).toBeGreaterThanOrEqual(1);
  });
});

describe("coinbase: the quiet verdict is the stale period's, not the round's", () => {
  test("a heartbeat taken after the stale time, before the round that judges it, does not hold the book (replay judges at the stale time)", async () => {
    // Before, any heartbeat after the book's last message held it: live, whose round trails the stale time by up to a
    // housekeeping interval, kept LIVE a book that replay, judging at the stale time, made STALE (replay-refusal.test.ts
    // saw ETH-USD STALE in replay alone). Now each stale period is judged by the heartbeats within it.
    const o = offlineVenue("coinbase", "spot", 0, ["BTC-USD"], "");
    const adapter = createCoinbaseAdapter(o.config, o.subscriptions, o.options);
    const inner = adapter as unknown as { topics: TopicState<CoinbaseConnection>[]; quiet: (t: TopicState<CoinbaseConnection>, now: number, staleAfterMs: number) => number };
    const t = inner.topics[0]!;
    Object.assign(t, { book: BookState.LIVE, sub: SUB_ACTIVE, lastMsgMs: 1_000 });
    const quiet = (nowMs: number) => inner.quiet.call(adapter, t, nowMs, STALE_MS);
    t.conn.heartbeatTaken(1_000); // with the last message: proves nothing after it
    t.conn.heartbeatTaken(1_105); // after the stale time (1,100)
    expect(quiet(1_110)).toBe(0);
    t.conn.heartbeatTaken(1_050); // within the first period: quiet until the second period's end, judged then by its own
    expect(quiet(1_110)).toBe(1_200);
    expect(quiet(1_210)).toBe(1_300); // 1,105 is in (1,100, 1,200]
    expect(quiet(1_310)).toBe(0); // none in (1,200, 1,300]
  });
});
