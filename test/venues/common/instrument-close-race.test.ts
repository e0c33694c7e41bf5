/**
 * An expiry that comes while its market's query is out (Bybit: the delivery's `u = 1` asks for the listing, and the
 * deliveryTime check closes the book within the same second). The query had taken the book as open; before, its
 * answer was applied to it as to any open book: not listed (Delivering), it was closed a second time (closures
 * counted twice, "no longer listed" logged twice); listed at a new tick, the venue's apply ran on the closed book,
 * which left HALTED / instrument_closed for RESYNCING / instrument_changed with nothing to resync it. Now a book
 * closed while the query was out is left to the closed symbols' own rule (reopenListed, the next query).
 * The watch on a clock the test moves, REST answered by the test, a fake lifecycle counting retireAll().
 */
import { describe, expect, onTestFinished, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/core/log.ts";
import type { Instrument, MarketName, StatusReason } from "../../../src/core/types.ts";
import { fakeLifecycle } from "../../support/fake-lifecycle.ts";
import { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import type { InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { InstrumentWatch } from "../../../src/venues/common/instrument-watch.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const SUBS: Subscription[] = SYMBOLS.map((symbol) => ({ market: "linear", symbol, depth: 50 }));
const SPEC: InstrumentSpec = { tickSize: "0.1", lotSize: "0.001" };

async function rig(expiresMs: number) {
  const clock = { ms: 1_780_000_000_000 };
  const validated = validateConfig({
    publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
    venues: { bybit: { linear: { depth: 50, symbols: SYMBOLS } } },
  }).venues[0]!;
  const config = { ...validated, instrumentCachePath: "" };
  const conn = { used: false } as VenueConnection;
  const topics = SUBS.map((s, i) => new TopicState(i, s.market, s.symbol, s.depth, `orderbook.50.${s.symbol}`, conn));
  const calls: { market: MarketName; answer: (specs: Record<string, InstrumentSpec>) => void }[] = [];
  let instruments: (Instrument | undefined)[] | null = null;
  const applied: number[] = [];
  const retired: [number, StatusReason][] = [];
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
  const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} };
  const lifecycle = fakeLifecycle({ onRetire: (t, r) => void retired.push([t.index, r]) });
  const watch = new InstrumentWatch({
    ...{ venue: "bybit", log, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS, topics },
    source: {
      notListed: () => "not listed",
      fetchSpecs: (market) => new Promise((resolve) => calls.push({ market, answer: (a) => resolve(new Map(Object.entries(a))) })),
    },
    // The expiry check runs every 5 ms (by the test's clock: nothing expires until the test moves it).
    ...{ intervalMs: 0, recheck: true, allowNoInstruments: false, instrumentCheckMs: 5, lateCheckMs: 1_000_000_000 },
    ...{ instruments: () => instruments, sink: () => sink, lifecycle: () => lifecycle },
    addToTable: () => 0,
    apply: (t) => void applied.push(t.index),
  });
  onTestFinished(() => watch.stop());
  const settle = () => new Promise((r) => setTimeout(r, 1));
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 2_000 && !cond(); i++) await settle();
    expect(cond()).toBe(true);
  };
  const loading = watch.load();
  await until(() => calls.length === 1);
  calls.shift()!.answer({ BTCUSDT: { ...SPEC, expiresMs }, ETHUSDT: SPEC });
  instruments = await loading;
  watch.bindTopics(false);
  watch.start(sink);
  return { watch, clock, calls, applied, retired, lines, until, settle };
}

describe("a book closed by its expiry while its market's query is out", () => {
  test("the answer not listing it closes it no second time (counted and logged once)", async () => {
    const { watch, clock, calls, retired, lines, until } = await rig(1_780_000_010_000);
    watch.requestNow("linear"); // the delivery's u = 1 asks for the listing
    await until(() => calls.length === 1);
    clock.ms = 1_780_000_010_000; // the deliveryTime comes while the query is out
    await until(() => retired.length === 1);
    calls.shift()!.answer({ ETHUSDT: SPEC }); // Delivering: not listed as trading
    await until(() => watch.stats().instrumentReloads === 1);
    expect(watch.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1 });
    expect(retired).toHaveLength(1);
    expect(lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);
  });

  test("the answer listing it at a new tick is not applied to the closed book", async () => {
    const { watch, clock, calls, applied, retired, until } = await rig(1_780_000_010_000);
    watch.requestNow("linear");
    await until(() => calls.length === 1);
    clock.ms = 1_780_000_010_000;
    await until(() => retired.length === 1);
    calls.shift()!.answer({ BTCUSDT: { tickSize: "0.5", lotSize: "0.001", expiresMs: 1_780_000_010_000 }, ETHUSDT: SPEC });
    await until(() => watch.stats().instrumentReloads === 1);
    expect(applied).toEqual([]); // the closed book stays HALTED / instrument_closed
    expect(watch.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1, instrumentChanges: 0 });
  });
});
