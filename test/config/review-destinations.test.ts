/**
 * A destination's routing rule names symbols; one that no configured instrument of the rule's venue and market has
 * (a typo, a lower-case spelling, another market's symbol) routed nothing, and check-config called the file valid:
 * the instrument meant went to another destination, or nowhere with only a warning once running. It is refused,
 * naming the entry (and so is each configured symbol it then leaves unrouted). `feeder listen --config` reads
 * [publish] alone: a file without venues is not checked.
 */
import { describe, expect, test } from "vitest";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const VENUES = '[venues.bybit.linear]\nsymbols = ["BTCUSDT", "ETHUSDT@1"]\n[venues.bybit.spot]\nsymbols = ["SOLUSDT"]\n';
const dest = (rule: string) => `[[publish.destinations]]\ngroup = "239.255.0.1"\nport = 31001\n${rule}\n`;

function problemsOf(toml: string, requireVenue = true): string[] {
  return configProblems(toml, { localAddresses: LOOPBACK_ONLY, requireVenue });
}

describe("a destination's symbol that no configured instrument has is refused", () => {
  test.each([
    ['symbols = ["BTCUSD"]', "BTCUSD", "venue *, market * (SOLUSDT, BTCUSDT, ETHUSDT@1)"],
    ['symbols = ["btcusdt"]', "btcusdt", "venue *, market * (SOLUSDT, BTCUSDT, ETHUSDT@1)"],
    ['market = "linear"\nsymbols = ["SOLUSDT"]', "SOLUSDT", "venue *, market linear (BTCUSDT, ETHUSDT@1)"],
    ['venue = "okx"\nsymbols = ["BTC-USDT"]', "BTC-USDT", "venue okx, market * (none)"],
    ['symbols = ["ETHUSDT"]', "ETHUSDT", "venue *, market * (SOLUSDT, BTCUSDT, ETHUSDT@1)"],
  ])("%s", (rule, sym, where) => {
    // The symbols the rule meant and missed are then routed nowhere, each named too (review-routing.test.ts).
    const [typo, ...unrouted] = problemsOf(dest(rule) + VENUES);
    expect(typo).toEqual(`publish.destinations[0].symbols[0]: "${sym}" is not a symbol configured for ${where}`);
    for (const p of unrouted) expect(p).toMatch(/^venues\.bybit\.\w+\.symbols\[\d\]: "[A-Z@1]+" is not a symbol some publish\.destinations rule matches/);
  });

  test("configured symbols, a further depth as SYMBOL@N, and * are taken; a file without venues is not checked", () => {
    expect(problemsOf(dest('market = "linear"\nsymbols = ["BTCUSDT", "ETHUSDT@1"]') + dest('channel = 2\nsymbols = ["*"]') + VENUES)).toEqual([]);
    expect(problemsOf(dest('symbols = ["BTCUSDT"]'), false)).toEqual([]);
  });
});
