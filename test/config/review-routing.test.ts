/**
 * Destinations that `feeder check-config` called valid and `feeder run` then used wrongly without a word at start:
 * two destinations with one `name` (logs, /readyz's failing destination and the per-channel metric series
 * `feeder_retransmit_history_*{channel}` named them alike); a configured symbol that no destination's rule matches
 * (its book was built, fed and never published: one warning per instrument once running); a group in 224.0.0.0/24,
 * the local network control block (all hosts, routers and mDNS listen there, and routers never forward it).
 */
import { describe, expect, test } from "vitest";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(toml: string, requireVenue = true): string[] {
  return configProblems(toml, { localAddresses: LOOPBACK_ONLY, requireVenue });
}

describe("[[publish.destinations]]", () => {
  const dest = (body: string) => `[[publish.destinations]]\n${body}\n`;

  test("two destinations with one name are refused", () => {
    const toml = dest('name = "feed"\ngroup = "239.255.0.1"\nport = 31001') + dest('name = "feed"\ngroup = "239.255.0.2"\nport = 31002') + VENUE;
    expect(problemsOf(toml)).toEqual(['publish.destinations[1].name: "feed" is not a name not already used (destination 0 has it)']);
  });

  test("a configured symbol no destination's rule matches is refused, naming the symbol", () => {
    const venues = '[venues.bybit.linear]\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\n[venues.bybit.spot]\nsymbols = ["SOLUSDT"]\n';
    const toml = dest('group = "239.255.0.1"\nport = 31001\nmarket = "linear"\nsymbols = ["BTCUSDT"]') + venues;
    expect(problemsOf(toml)).toEqual([
      'venues.bybit.spot.symbols[0]: "SOLUSDT" is not a symbol some publish.destinations rule matches (its book would be built and never published)',
      'venues.bybit.linear.symbols[1]: "BTCUSDT@1" is not a symbol some publish.destinations rule matches (its book would be built and never published)',
    ]);
    // Routed by another rule: nothing to say. A file without venues (feeder listen --config) is not checked.
    expect(problemsOf(toml + dest('group = "239.255.0.2"\nport = 31002\nchannel = 2\nvenue = "bybit"'))).toEqual([]);
    expect(problemsOf(dest('group = "239.255.0.1"\nport = 31001\nvenue = "okx"'), false)).toEqual([]);
  });

  test("a market the rule's venue does not have is refused, naming the venue's markets (before: taken, heartbeats only)", () => {
    // Each venue against every market it lacks: a "*" rule and one listing a symbol alike, the market named once.
    const venues = { bybit: ["spot", "linear", "inverse", "option"], binance: ["spot", "linear"], okx: ["spot", "linear", "inverse", "option"], deribit: ["spot", "linear", "inverse", "option"], coinbase: ["spot"], upbit: ["spot"], bithumb: ["spot"] };
    const markets = ["spot", "linear", "inverse", "option"];
    for (const [venue, has] of Object.entries(venues)) {
      for (const market of markets) {
        for (const symbols of ['["*"]', '["BTCUSDT"]']) {
          const rule = dest(`name = "r"\ngroup = "239.255.0.2"\nport = 31002\nchannel = 2\nvenue = "${venue}"\nmarket = "${market}"\nsymbols = ${symbols}`);
          const toml = dest('name = "all"\ngroup = "239.255.0.1"\nport = 31001') + rule + '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
          const expected = has.includes(market) ? [] : [`publish.destinations[1].market: "${market}" is not "*" or one of venue ${venue}'s markets: ${has.join(", ")}`];
          // A listed symbol of a market the venue has but the file does not configure is refused as before.
          if (has.includes(market) && symbols !== '["*"]' && !(venue === "bybit" && market === "linear")) {
            expect(problemsOf(toml), `${venue} ${market} ${symbols}`).toEqual([`publish.destinations[1].symbols[0]: "BTCUSDT" is not a symbol configured for venue ${venue}, market ${market} (none)`]);
          } else expect(problemsOf(toml), `${venue} ${market} ${symbols}`).toEqual(expected);
        }
      }
    }
  });

  test("a group in 224.0.0.0/24 (local network control) is refused", () => {
    expect(problemsOf(dest('group = "224.0.0.251"\nport = 31001') + VENUE)).toEqual([
      'publish.destinations[0].group: "224.0.0.251" is not a multicast group outside 224.0.0.0/24 (reserved for local network control: all hosts, routers and mDNS listen there)',
    ]);
    expect(problemsOf(dest('group = "224.0.1.250"\nport = 31001') + VENUE)).toEqual([]);
  });
});
