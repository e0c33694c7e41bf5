/**
 * The OKX adapter's instruments, cold, moved out of adapter.ts as they were: loading them at start, the reloader
 * (instrument-watch.ts) and the late-instrument retrier (common/late-instruments.ts) wired to the adapter, and a
 * changed tick or lot applied to its topic.
 * @module
 */
import type { Instrument } from "../../core/types.ts";
import { BookState, StatusReason } from "../../core/types.ts";
import type { TopicState as CommonTopic } from "../common/connection.ts";
import { INSTRUMENT_RELOAD_MS, type InstrumentReloader } from "../common/instrument-reload.ts";
import { resolveInstruments } from "../common/instruments.ts";
import { joinLate, LateInstruments, lateTimings } from "../common/late-instruments.ts";
import type { OkxAdapter } from "./adapter.ts";
import type { OkxTopic } from "./connection.ts";
import { okxInstrumentSource } from "./instruments.ts";
import { AFTER_EFF_TIME_MS, okxReloader } from "./instrument-watch.ts";
import type { OkxAdapterOptions } from "./options.ts";

/** Periodic, announced (upcChg) and asked-for reloads of each market's instruments (instrument-watch.ts). */
export function okxInstrumentReloader(a: OkxAdapter, opts: OkxAdapterOptions): InstrumentReloader {
  return okxReloader(a.config.instrumentReloadMs ?? INSTRUMENT_RELOAD_MS, opts.instrumentCheckMs, {
    config: a.config,
    log: a.log,
    fetchFn: a.fetchFn,
    pacer: a.instrumentPacer,
    now: a.now,
    topics: a.topics,
    subscriptions: a.subscriptions,
    current: (i) => a.instruments?.[i],
    stopping: () => a.lifecycle.stopping,
    apply: (t, inst) => applyInstrument(a, t, inst),
  });
}

/** Symbols left out at start, retried while running (common/late-instruments.ts). */
export function okxLateInstruments(a: OkxAdapter, opts: OkxAdapterOptions): LateInstruments {
  const addToTable = (t: CommonTopic, x: Instrument) => (t as OkxTopic).conn.table.add(t.topic, t.index, x.priceExp, x.qtyExp);
  const onResolved = (i: number, inst: Instrument) => {
    joinLate({ topics: a.topics, instruments: a.instruments, sink: a.sink, lifecycle: a.lifecycle, addToTable }, i, inst);
    // The retry's listing may have announced upcChg for it (instruments.ts pushes them to `upcoming`): reload then.
    for (const c of a.upcoming) if (c.symbol === a.subscriptions[i]!.symbol && c.market === inst.market) a.reloader.announce(c.market, c.effTimeMs + AFTER_EFF_TIME_MS);
  };
  return new LateInstruments({ venue: "okx", log: a.log, now: a.now, random: a.random, config: a.config, subscriptions: a.subscriptions, ...lateTimings(opts), onResolved });
}

/** The adapter's loadInstruments: unresolved symbols go to the late retrier unless none resolved (and that is not allowed). */
export async function loadOkxInstruments(a: OkxAdapter): Promise<(Instrument | undefined)[]> {
  const source = okxInstrumentSource(a.config, a.fetchFn, a.upcoming, a.instrumentPacer);
  const { instruments, problems, unresolved } = await resolveInstruments(a.config, a.subscriptions, source, a.log);
  if (problems.length > 0) {
    const message = `okx: cannot resolve instruments for ${problems.join(", ")}`;
    if (!instruments.some((i) => i !== undefined) && !a.allowNoInstruments) throw new Error(message);
    a.log.error(`${message}; those books are left out and retried while running, the others start`, { unresolved: problems.length, of: instruments.length });
  }
  a.late.track(source, unresolved);
  a.instruments = instruments;
  return instruments;
}

/** A changed tick or lot (instrument-watch.ts): swaps exponents, tells the sink, resyncs the topic. */
export function applyInstrument(a: OkxAdapter, t: OkxTopic, inst: Instrument): void {
  a.instruments![t.index] = inst;
  t.conn.table.setExponents(t.entry, inst.priceExp, inst.qtyExp);
  a.c.instrumentChanges++;
  a.books.invalidate(t, BookState.RESYNCING, StatusReason.INSTRUMENT_CHANGED);
  a.sink?.onInstrumentChanged(t.index, inst);
  a.books.resyncs++;
  t.resyncs++;
  t.resyncDelayed = false; // new exponents: worth a snapshot now, whatever the backoff said
  a.restart(t);
}
