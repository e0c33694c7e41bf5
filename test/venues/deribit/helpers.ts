/** Deribit test helpers: exact numbers, a sink of maps, an adapter on the simulator, a book compared with it. */
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { parseJsonNumberCodes } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { BookState, Instrument, StatusReason } from "../../../src/core/types.ts";
import { startDeribitSimulator, type DeribitSim } from "../../../src/sim/deribit-sim.ts";
import { DeribitAdapter, type DeribitAdapterOptions } from "../../../src/venues/deribit/adapter.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { applyToMaps } from "../contract.ts";

/** A JSON number text at an exponent, exactly (the simulator prints some in exponent form). */
export function mantissa(text: string, exp: number): number {
  const m = parseJsonNumberCodes(text, 0, text.length, exp);
  if (m < 0) throw new Error(`${text} does not fit exponent ${exp}`);
  return m;
}

/**
 * Each book as price → qty maps (dropped when invalid), its last change_id, every invalid status, counts of updates
 * and replaces, and every changed instrument.
 */
export class Sink implements BookSink {
  bids: (Map<number, number> | undefined)[] = [];
  asks: (Map<number, number> | undefined)[] = [];
  seq: number[] = [];
  updates = 0;
  replaces = 0;
  invalid: { index: number; state: BookState; reason: StatusReason }[] = [];
  onBookUpdate(i: number, u: BookUpdate): void {
    this.updates++;
    if (u.isSnapshot || u.replace) {
      if (u.replace) this.replaces++;
      this.bids[i] = new Map();
      this.asks[i] = new Map();
    }
    if (!this.bids[i]) throw new Error("delta before snapshot");
    applyToMaps(u, this.bids[i]!, this.asks[i]!);
    this.seq[i] = u.venueSeq;
  }
  onBookInvalid(index: number, state: BookState, reason: StatusReason): void {
    this.invalid.push({ index, state, reason });
    this.bids[index] = undefined;
  }
  changed: Instrument[] = [];
  onInstrumentChanged(_i: number, instrument: Instrument): void {
    this.changed.push(instrument);
  }
}

/**
 * The simulator serving `subs`' instruments and an adapter for them (config depth `depth`), instruments loaded, not
 * started; both stopped through `running`.
 */
export async function startAdapter(running: { stop(): Promise<void> }[], subs: Subscription[], opts: Partial<DeribitAdapterOptions> = {}, simOpts: Partial<Parameters<typeof startDeribitSimulator>[0]> = {}, depth = 0) {
  const markets = [...new Set(subs.map((s) => s.market))].map((market) => ({ market, symbols: [...new Set(subs.filter((s) => s.market === market).map((s) => s.symbol))] }));
  const sim = await startDeribitSimulator({ markets, seed: 5, ...simOpts });
  const config = { venue: "deribit" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: `${makeTempDir("deribit-adapter-")}/i.json`, markets: markets.map((m) => ({ market: m.market, depth, symbols: m.symbols })), overrides: new Map() };
  const adapter = new DeribitAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, ...opts });
  running.push({ stop: async () => (await adapter.stop(), await sim.stop()) });
  const instruments = (await adapter.loadInstruments()) as Instrument[];
  const sink = new Sink();
  return { sim, adapter, sink, instruments };
}

/** Whether book i is the simulator's, level for level, at its change_id. */
export function equalsSim(sim: DeribitSim, sink: Sink, subs: Subscription[], instruments: Instrument[], i: number): boolean {
  const s = subs[i]!;
  const b = sim.book(s.market, s.symbol, s.depth);
  const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [mantissa(p, instruments[i]!.priceExp), mantissa(q, instruments[i]!.qtyExp)]));
  const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
  return sink.seq[i] === b.changeId && same(sink.bids[i], conv(b.bids)) && same(sink.asks[i], conv(b.asks));
}
