/**
 * OKX's announced instrument changes (cold): each listing's `upcChg` entries (instruments.ts collects them) are
 * announced to the common schedule (../common/instrument-watch.ts), which reloads the market just after `effTime`;
 * so a change announced after start is picked up by the next periodic reload (docs/venues/okx.md, "Instruments").
 * @module
 */
import type { Logger } from "../../core/log.ts";
import type { MarketName } from "../../core/types.ts";
import type { UpcomingChange } from "./instruments.ts";

/** Announced changes are re-read this long after their effTime (OKX switches at effTime). */
export const AFTER_EFF_TIME_MS = 1_000;

/**
 * Announces the `upcChg` entries a query of `market` collected for `symbols`, then forgets the market's. A change already in
 * effect when the query started is what the listing just showed (or OKX is late): the next periodic reload looks
 * again, rather than every check. One whose effTime cannot be read is warned of (`log`: the instId, the field and its
 * value) and left to the periodic reload too: taken as due now, each reload would read it again and reload again at
 * once, for as long as OKX lists it; a price or size the new tick or lot brings that the old does not fit re-checks
 * the instrument at once anyway (parse-errors.ts).
 */
export function announceUpcoming(
  upcoming: UpcomingChange[],
  market: MarketName,
  symbols: readonly string[],
  startedMs: number,
  announce: (market: MarketName, atMs: number) => void,
  log: Logger,
): void {
  let kept = 0;
  for (const c of upcoming) {
    if (c.market !== market) {
      upcoming[kept++] = c; // another market's query in flight collected it
    } else if (symbols.includes(c.symbol)) {
      if (c.unreadable !== undefined) log.warn("okx: upcChg unreadable", { detail: `${market} ${c.symbol} ${c.unreadable}; its change is read at the next periodic reload` });
      else if (c.effTimeMs + AFTER_EFF_TIME_MS > startedMs) announce(market, c.effTimeMs + AFTER_EFF_TIME_MS);
    }
  }
  upcoming.length = kept;
}
