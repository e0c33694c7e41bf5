/**
 * Two configured instruments whose ids (FNV-1a 32 of "venue:market:SYMBOL", core/instrument-id.ts) are the same.
 * `feeder run` refuses them at start (exit 1, "instrument id … is shared by …"), but `feeder check-config` called
 * the file valid, so systemd's ExecStartPre let it through and the unit failed on every restart. The loader
 * refuses it now, naming both. OHAJQFQUSDT and SDMJULKUSDT on bybit linear share id 3474722274 (found by search).
 */
import { describe, expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { configProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return configProblems(toml);
}

describe("instrument ids", () => {
  test("two configured symbols with one id are refused", () => {
    expect(instrumentIdOf("bybit", "linear", "OHAJQFQUSDT")).toBe(instrumentIdOf("bybit", "linear", "SDMJULKUSDT"));
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT", "OHAJQFQUSDT", "SDMJULKUSDT"]\n')).toEqual([
      'venues.bybit.linear.symbols[2]: "SDMJULKUSDT" is not a symbol whose instrument id (3474722274) no other has (bybit:linear:OHAJQFQUSDT has it; remove one of them)',
    ]);
  });

  test("a symbol listed twice is one problem, that it is listed twice (it was also named as an id another symbol has: itself)", () => {
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT", "ETHUSDT", "BTCUSDT", "BTCUSDT@1", "BTCUSDT@1"]\n')).toEqual([
      'venues.bybit.linear.symbols[2]: "BTCUSDT" is not a symbol listed once',
      'venues.bybit.linear.symbols[4]: "BTCUSDT@1" is not a symbol listed once',
    ]);
    // A real collision beside a duplicate is still named.
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["OHAJQFQUSDT", "OHAJQFQUSDT", "SDMJULKUSDT"]\n')).toEqual([
      'venues.bybit.linear.symbols[1]: "OHAJQFQUSDT" is not a symbol listed once',
      'venues.bybit.linear.symbols[2]: "SDMJULKUSDT" is not a symbol whose instrument id (3474722274) no other has (bybit:linear:OHAJQFQUSDT has it; remove one of them)',
    ]);
  });

  test("the same symbol in two markets or venues has ids of its own", () => {
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\n[venues.bybit.spot]\nsymbols = ["BTCUSDT"]\n[venues.binance.spot]\nsymbols = ["BTCUSDT"]\n')).toEqual([]);
  });
});
