/**
 * Two venues given one `instrument_cache`. The file is keyed `market:SYMBOL` and holds one venue's entries (Upbit
 * and Bithumb both list `spot:KRW-BTC`): the venue that wrote it first kept it, and the other found "another
 * venue's" file at every start and write, used nothing from it and never cached (a warning each time; docs/
 * operations.md), so a restart while its REST was down left its symbols out. check-config called such a file
 * valid. It is refused now, naming both venues; the same path spelled another way (`./var/x.json`) is the same file.
 */
import { describe, expect, test } from "vitest";
import { configProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

const venues = (upbitCache: string, bithumbCache: string) =>
  `[venues.upbit]\ninstrument_cache = "${upbitCache}"\n[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n` +
  `[venues.bithumb]\ninstrument_cache = "${bithumbCache}"\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n`;

describe("venues.<venue>.instrument_cache", () => {
  test("one file for two venues is refused", () => {
    expect(problemsOf(venues("var/krw.json", "./var/krw.json"))).toEqual([
      'venues.bithumb.instrument_cache: "./var/krw.json" is not a file of its own (venues.upbit.instrument_cache is the same file: a cache holds one venue\'s instruments)',
    ]);
  });

  test("a file each, the defaults included, is taken", () => {
    expect(problemsOf(venues("var/upbit.json", "var/bithumb.json"))).toEqual([]);
    expect(problemsOf('[venues.upbit.spot]\nsymbols = ["KRW-BTC"]\n[venues.bithumb.spot]\nsymbols = ["KRW-BTC"]\n')).toEqual([]);
  });
});
