/**
 * The OKX adapter's instruments, cold: the common InstrumentWatch (loading, one schedule for reloads, re-checks and
 * symbols left out at start: common/instrument-watch.ts) wired to the adapter, `upcChg` announcements, and a changed
 * tick or lot applied to its topic.
 * @module
 */
import type { Instrument } from "../../core/types.ts";
import { INSTRUMENT_RELOAD_MS } from "../common/instrument-reload.ts";
import { InstrumentWatch, resyncForNewInstrument, watchSettings } from "../common/instrument-watch.ts";
import type { OkxAdapter } from "./adapter.ts";
import type { OkxTopic } from "./connection.ts";
import { okxInstrumentSource } from "./instruments.ts";
import { announceUpcoming } from "./instrument-watch.ts";
import type { OkxAdapterOptions } from "./options.ts";

/** Periodic (instrument_reload_ms), announced (upcChg) and asked-for reloads, and the late retrier, on one schedule. */
export function okxInstrumentWatch(a: OkxAdapter, opts: OkxAdapterOptions): InstrumentWatch<OkxTopic> {
  const watch: InstrumentWatch<OkxTopic> = new InstrumentWatch<OkxTopic>({
    ...{ venue: "okx", log: a.log, now: a.now, wallNow: a.wallNow, random: a.random, config: a.config, subscriptions: a.subscriptions, topics: a.topics },
    source: okxInstrumentSource(a.config, a.fetchFn, a.upcoming, a.instrumentPacer),
    intervalMs: a.config.instrumentReloadMs ?? INSTRUMENT_RELOAD_MS,
    stop: a.restStop.signal,
    restHeldUntilMs: () => a.instrumentPacer.heldUntilMs(), // a 429 hold: when the late symbols are really asked
    ...watchSettings(opts),
    ...{ instruments: () => a.instruments, sink: () => a.sink, lifecycle: () => a.lifecycle },
    addToTable: (t, x) => t.conn.table.add(t.topic, t.index, x.priceExp, x.qtyExp),
    apply: (t, inst) => applyInstrument(a, t, inst),
    // A listing's upcChg (a reload's or a late symbol's): reload just after it takes effect.
    afterQuery: (market, symbols, startedMs) => announceUpcoming(a.upcoming, market, symbols, startedMs, (m, atMs) => watch.announce(m, atMs), a.log),
  });
  return watch;
}

/** A changed tick or lot (the watch's reload): swaps exponents, tells the sink, resyncs the topic. */
export function applyInstrument(a: OkxAdapter, t: OkxTopic, inst: Instrument): void {
  t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
  resyncForNewInstrument(a.books, t, inst, () => a.restart(t));
}
