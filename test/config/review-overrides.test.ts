/**
 * `venues.<venue>.overrides."market:SYMBOL"` is read only under the key of a configured symbol. Any other key (a typo,
 * a symbol that is not subscribed, extra `:` parts, `@depth`) was accepted by check-config and never used, so the
 * symbol it was meant for silently took its tick and lot from REST, or stayed unresolved in a replay.
 */
import { describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import { configProblems } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT", "ETHUSDT@1"]\n';
const override = (key: string) => `[venues.bybit.overrides."${key}"]\ntick_size = "0.1"\nlot_size = "0.001"\n`;

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

describe("an override that names no configured symbol is refused, naming its key", () => {
  test.each(["linear:BTCUSD", "linear:BTCUSDT:x", "linear:ETHUSDT@1", "spot:BTCUSDT"])("%s", (key) => {
    expect(problemsOf(VENUE + override(key))).toEqual([
      `venues.bybit.overrides."${key}": "${key}" is not a configured symbol as "market:SYMBOL" (linear:BTCUSDT, linear:ETHUSDT)`,
    ]);
  });

  test("the key of a configured symbol, a further depth's symbol included, is taken", () => {
    expect(problemsOf(VENUE + override("linear:BTCUSDT") + override("linear:ETHUSDT"))).toEqual([]);
    const c = parseConfigText(VENUE + override("linear:ETHUSDT"), "test.toml", { localAddresses: [{ name: "lo", address: "127.0.0.1" }] });
    expect(c.venues[0]!.overrides.get("linear:ETHUSDT")).toEqual({ tickSize: "0.1", lotSize: "0.001" });
  });
});
