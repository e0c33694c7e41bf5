/**
 * A tick/lot override with more decimals than a fixed-point exponent holds (MAX_FIXED_EXP, 22): `feeder
 * check-config` called it valid, and at start the symbol was left out as `bad_spec` (a venue of only such symbols
 * failed the start with exit 1).
 */
import { describe, expect, test } from "vitest";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

function problemsOf(toml: string, requireVenue = true): string[] {
  return configProblems(toml, { localAddresses: LOOPBACK_ONLY, requireVenue });
}

describe("venues.<venue>.overrides", () => {
  test("a tick or lot with more decimals than a price exponent holds (22) is refused", () => {
    const toml = `${VENUE}[venues.bybit.overrides."linear:BTCUSDT"]\ntick_size = "0.${"0".repeat(22)}1"\nlot_size = "0.${"0".repeat(21)}1"\n`;
    expect(problemsOf(toml)).toEqual([`venues.bybit.overrides."linear:BTCUSDT".tick_size: "0.${"0".repeat(22)}1" is not a step with at most 22 decimals (it needs 23)`]);
  });
});
