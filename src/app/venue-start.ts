/**
 * What each venue's start-up found (cold, plain data: a worker posts its share's to the supervisor): the books it
 * started with and the symbols it left out, with why. The single process decides in the venue's own load whether a
 * venue that resolved nothing fails the start (venues/common/instrument-watch.ts); a worker sees only its share of a
 * venue, so the supervisor makes the same decision over every worker's share (venueStartFailure).
 * @module
 */
import type { UnresolvedKind } from "../venues/common/instruments.ts";

export interface VenueStart {
  readonly venue: string;
  /** Books the venue started with (its symbols resolved at start). */
  readonly books: number;
  /** Symbols left out at start; `kind` "" when the adapter does not say why. */
  readonly unresolved: readonly { readonly market: string; readonly symbol: string; readonly kind: UnresolvedKind | ""; readonly detail: string }[];
}

/** REST answered for the symbol and it cannot be used: a configuration error, not an outage to wait out (not_trading, listed but halted, is one to wait out). */
const CONFIG_ERRORS: readonly string[] = ["not_listed", "bad_spec"] satisfies UnresolvedKind[];

/**
 * The start failure the venues' shares add up to, as the single process words it, or undefined: a venue fails when
 * no share of it started a book and every symbol left out was answered as not listed or unusable. One share whose
 * REST could not answer (an outage: the venue starts empty and retries) or that resolved a symbol is enough to start.
 */
export function venueStartFailure(shares: readonly VenueStart[]): string | undefined {
  const byVenue = new Map<string, VenueStart[]>();
  for (const s of shares) byVenue.set(s.venue, [...(byVenue.get(s.venue) ?? []), s]);
  const failures: string[] = [];
  for (const [venue, parts] of byVenue) {
    const left = parts.flatMap((p) => p.unresolved);
    if (parts.some((p) => p.books > 0) || left.length === 0 || !left.every((u) => CONFIG_ERRORS.includes(u.kind))) continue;
    failures.push(`${venue}: cannot resolve instruments for ${left.map((u) => `${u.market}:${u.symbol} (${u.detail})`).join(", ")}`);
  }
  return failures.length > 0 ? failures.join("; ") : undefined;
}
