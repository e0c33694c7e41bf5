/**
 * An OKX future that expires while the feeder runs: OKX lists its delivery time as `expTime` (ms), and after it the
 * instId is no longer listed and its book is silent. Before, the adapter did not read `expTime`: the expired book was
 * published LIVE, frozen, until it went stale (90 s for `books` by default), then found not listed. Now the expiry the
 * listing gave halts the book when it comes (HALTED / instrument_closed), unsubscribed, the other book untouched; asked
 * for again, it stays closed (no longer listed). Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { stepSimUntil } from "../common/instrument-closed-scenario.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";
import { haltRecorder } from "../halt-recorder.ts";
import { okxConfig } from "./helpers.ts";

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!();
});

describe("OKX: an instrument that expires", { timeout: 60_000 }, () => {
  test("HALTED / instrument_closed at its expTime, not LIVE and frozen until it goes stale", async () => {
    const symbols = ["BTC-USDT-261225", "BTC-USDT-SWAP"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 31 });
    const expiresMs = Date.now() + 1_500;
    sim.setExpTime(symbols[0]!, expiresMs);
    // Default staleness (90 s for books): only the expiry can halt the book within this test.
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, lateCheckMs: 20, listingRetryMs: 300 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, halted, updatesAfterHalt } = haltRecorder(2);
    await adapter.loadInstruments();
    adapter.start(sink);
    const step = (cond: () => boolean, what: string) => stepSimUntil(sim, cond, what, 20_000);
    await step(() => adapter.stats().topicsLive === 2, "both books live");

    await step(() => halted.some((h) => h.index === 0), "the expired future halted");
    const h = halted.find((x) => x.index === 0)!;
    expect(h).toMatchObject({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(h.atMs).toBeGreaterThanOrEqual(expiresMs); // at its expiry, not before
    expect(halted.filter((x) => x.index === 1)).toEqual([]); // the swap is untouched
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    // Asked for again: no longer listed (delivered), so it stays closed.
    const asked = sim.stats.restRequests;
    await step(() => sim.stats.restRequests >= asked + 3, "a few listing checks");
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1, instrumentReopens: 0 });
    expect(updatesAfterHalt[0]).toBe(0);
  });

  test("an expTime already past when the feeder starts: the book is never subscribed nor LIVE, halted at once", async () => {
    const symbols = ["BTC-USDT-261225", "BTC-USDT-SWAP"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
    // OKX lists a delivered future for a while after its expTime; the simulator's clock a minute behind ours lists it
    // (with its expTime 10 s ago by ours) and streams it.
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 32, now: () => Date.now() - 60_000 });
    const expiresMs = Date.now() - 10_000;
    sim.setExpTime(symbols[0]!, expiresMs);
    // The default expiry check (every second): before, the first check came after the book was subscribed and LIVE.
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
    const updates = [0, 0];
    const sink: BookSink = {
      onBookUpdate: (i: number) => void updates[i]!++,
      onBookInvalid: (index, state, reason) => void invalid.push({ index, state, reason }),
      onInstrumentChanged: () => {},
    };
    await adapter.loadInstruments();
    adapter.start(sink);
    await waitFor(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 1 && updates[1]! > 1;
    }, "the swap live and updating", 20_000);
    expect(invalid.filter((x) => x.index === 0)).toEqual([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
    expect(updates[0]).toBe(0); // never built from the venue's stream, so never shown usable
    expect(sim.stats.subscribes).toBe(1); // the swap's only
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1 });
  });

  test("s-rev47: a connection whose only book is listed already past its expTime is never opened (no connect spent, nothing to watch)", async () => {
    const symbols = ["BTC-USDT-261225"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 33, now: () => Date.now() - 60_000 });
    sim.setExpTime(symbols[0]!, Date.now() - 10_000);
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, lateCheckMs: 20, listingRetryMs: 300 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, halted } = haltRecorder(1);
    await adapter.loadInstruments();
    adapter.start(sink);
    // Before, start() opened the connection (its book still to be closed a moment later): up for nothing, in
    // /readyz's connections, pinged; a venue down meanwhile kept /readyz 503 for a book that cannot be.
    expect(adapter.connections()).toEqual([]);
    expect(halted).toMatchObject([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
    const asked = sim.stats.restRequests;
    await waitFor(() => sim.stats.restRequests >= asked + 2, "the closed future asked for again", 20_000);
    expect(sim.stats.connectionsTotal).toBe(0);
    expect(adapter.connections()).toEqual([]);
  });

  test("s-rev52: a symbol that joins late (REST down at start) listed already past its expTime is closed at once: never subscribed, its connection never opened", async () => {
    const symbols = ["BTC-USDT-261225"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 34, now: () => Date.now() - 60_000 });
    sim.setExpTime(symbols[0]!, Date.now() - 10_000);
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, allowNoInstruments: true, lateRetryBaseMs: 50, lateCheckMs: 5, listingRetryMs: 300 });
    running.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    sim.setInstrumentsAvailable(false);
    expect(await adapter.loadInstruments()).toEqual([undefined]);
    const { sink, halted } = haltRecorder(1);
    const resolved: number[] = [];
    adapter.start(Object.assign(sink, { onInstrumentResolved: (i: number) => void resolved.push(i) }));
    expect(adapter.connections()).toEqual([]);
    sim.setInstrumentsAvailable(true);
    await waitFor(() => resolved.length === 1, "the future resolved late", 20_000);
    // Before, the late join subscribed it as any, opening its connection for it (a connect spent, up for nothing, in
    // /readyz's connections), and the book could go LIVE until the next expiry check (1 s) closed it. As at start:
    // closed as it joins.
    expect(halted).toMatchObject([{ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED }]);
    expect(adapter.connections()).toEqual([]);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    const asked = sim.stats.restRequests;
    await waitFor(() => sim.stats.restRequests >= asked + 2, "the closed future asked for again", 20_000);
    expect(sim.stats.connectionsTotal).toBe(0);
    expect(adapter.connections()).toEqual([]);
  });
});

describe("OKX record → replay: an expiry's closure", { timeout: 60_000 }, () => {
  /**
   * A live run recorded as `feeder record` records it, replayed through an adapter of the same config (loaded while
   * the listing still names the future): the book events of both, each noted with the records written (live) or fed
   * (replay) by then, are equal. Replay watches no expiry and asks no listing: the capture's ws:closed halts the
   * future. Without it the future stayed LIVE in replay, frozen, where live had it halted.
   */
  test("the expired future HALTED / instrument_closed in replay at live's record; the swap's book events equal", async () => {
    const symbols = ["BTC-USDT-261225", "BTC-USDT-SWAP"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 400 }));
    const sim = await startOkxSimulator({ markets: [{ market: "linear", symbols }], seed: 35 });
    sim.setExpTime(symbols[0]!, Date.now() + 1_500);
    const replay = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, recheckInstruments: false });
    running.push(() => replay.stop());
    await replay.loadInstruments();
    const rec = recordingTaps();
    const live = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, lateCheckMs: 20, listingRetryMs: 300, ...rec.taps });
    running.push(async () => {
      await live.stop();
      await sim.stop();
    });
    await live.loadInstruments();
    const replayed = replayer(replay, rec.records);
    live.start(rec.sink);
    const step = (cond: () => boolean, what: string) => stepSimUntil(sim, cond, what, 20_000);
    await step(() => live.topicInfo(0).state === "halted", "the expired future halted");
    const swapUpdates = rec.events.filter((e) => e.includes(": 1 ")).length;
    await step(() => rec.events.filter((e) => e.includes(": 1 ")).length >= swapUpdates + 2, "the swap's changes");
    await live.stop();
    expect(rec.events.filter((e) => e.endsWith("halted/instrument_closed"))).toHaveLength(1);
    expect(replayed.feed()).toEqual(rec.events);
    expect([0, 1].map((i) => replay.topicInfo(i).state)).toEqual(["halted", "live"]);
  });
});
