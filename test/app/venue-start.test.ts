/**
 * venueStartFailure: the supervisor's start check over its workers' shares of each venue decides as the single
 * process's load does over the whole venue (venues/common/instrument-watch.ts): fail only when no share started a
 * book and every symbol left out was answered as not listed or unusable.
 */
import { describe, expect, test } from "vitest";
import { venueStartFailure, type VenueStart } from "../../src/app/venue-start.ts";

const left = (symbol: string, kind: VenueStart["unresolved"][number]["kind"], detail: string = kind) => ({ market: "spot", symbol, kind, detail });

describe("venueStartFailure", () => {
  test("every share not listed or unusable: fails naming every symbol, in the single process's words", () => {
    const shares: VenueStart[] = [
      { venue: "coinbase", books: 0, unresolved: [left("A-USD", "not_listed", "not listed by x")] },
      { venue: "coinbase", books: 0, unresolved: [left("B-USD", "bad_spec", "bad tick/lot")] },
      { venue: "bybit", books: 2, unresolved: [] },
    ];
    expect(venueStartFailure(shares)).toBe("coinbase: cannot resolve instruments for spot:A-USD (not listed by x), spot:B-USD (bad tick/lot)");
  });

  test("one share resolved a book, or could not reach REST, or does not say why: no failure", () => {
    const bad = { venue: "coinbase", books: 0, unresolved: [left("A-USD", "not_listed")] };
    expect(venueStartFailure([bad, { venue: "coinbase", books: 1, unresolved: [] }])).toBeUndefined();
    expect(venueStartFailure([bad, { venue: "coinbase", books: 0, unresolved: [left("B-USD", "rest_unreachable")] }])).toBeUndefined();
    expect(venueStartFailure([bad, { venue: "coinbase", books: 0, unresolved: [left("B-USD", "")] }])).toBeUndefined();
    expect(venueStartFailure([])).toBeUndefined();
  });

  test("several venues failing are named together", () => {
    const shares: VenueStart[] = [
      { venue: "okx", books: 0, unresolved: [left("X", "not_listed")] },
      { venue: "deribit", books: 0, unresolved: [left("Y", "not_listed")] },
    ];
    expect(venueStartFailure(shares)).toBe("okx: cannot resolve instruments for spot:X (not_listed); deribit: cannot resolve instruments for spot:Y (not_listed)");
  });
});
