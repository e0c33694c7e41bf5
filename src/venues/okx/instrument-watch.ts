/**
 * Re-checking one OKX instrument over REST (cold): after a price or size that does not fit its exponents, and just
 * after an announced `upcChg` takes effect (docs/venues/okx.md, "Instruments"). A changed tick or lot is applied by
 * the adapter's callback (new exponents, the app told, the book resynced) and written to the disk cache.
 * @module
 */
import type { Instrument } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { makeInstrument, readInstrumentCache, writeInstrumentCache } from "../common/instruments.ts";
import type { Subscription } from "../venue.ts";
import type { OkxAdapter } from "./adapter.ts";
import type { OkxTopic } from "./connection.ts";
import { fetchOkxSpecs, restUrlOf } from "./instruments.ts";

export interface RecheckContext {
  config: VenueConfig;
  subscription: Subscription;
  current: () => Instrument | undefined;
  stopping: () => boolean;
  apply: (inst: Instrument) => void;
}

export async function recheckInstrument(a: OkxAdapter, t: OkxTopic, x: RecheckContext): Promise<void> {
  t.checkingInstrument = true;
  try {
    const specs = await fetchOkxSpecs(a.fetchFn, restUrlOf(x.config, t.market), t.market, [t.symbol]);
    const spec = specs.get(t.symbol);
    const cur = x.current();
    if (!spec || !cur || x.stopping()) return;
    if (spec.tickSize === cur.tickSize && spec.lotSize === cur.lotSize) return;
    const inst = makeInstrument(x.config, x.subscription, spec);
    a.log.warn("okx: instrument changed", { market: t.market, symbol: t.symbol, from: `${cur.tickSize}/${cur.lotSize}`, to: `${spec.tickSize}/${spec.lotSize}` });
    x.apply(inst);
    if (x.config.instrumentCachePath) {
      const cache = await readInstrumentCache(x.config.instrumentCachePath).catch(() => new Map());
      cache.set(`${t.market}:${t.symbol}`, spec);
      await writeInstrumentCache(x.config.instrumentCachePath, "okx", cache);
    }
  } catch (err) {
    a.log.warn("okx: instrument re-check failed", { market: t.market, symbol: t.symbol, error: String(err) });
  } finally {
    t.checkingInstrument = false;
  }
}
