/**
 * Where a TOML syntax error is, in a large file. locateTomlError parsed every line's prefix until one failed like
 * the whole text: a file of N lines broken near its end cost ~N parses of up to the whole file (quadratic). At a
 * SIGHUP (config-reload.ts) that ran on the main thread of a running feeder: a half-written file of 2000 symbols
 * with overrides (190 KB) held the event loop, books and heartbeats for ~23 s. The line is now found by bisection
 * (a prefix that holds the bad token fails with its message, a shorter one does not): a logarithmic number of
 * parses. Counted here through the injected parser, no timing.
 */
import { expect, test } from "vitest";
import { locateTomlError } from "../../src/config/toml-position.ts";

function bigText(symbols: number): string {
  const lines = ["[publish]", "startup_listen_ms = 0", "[venues.bybit.linear]", "symbols = ["];
  for (let i = 0; i < symbols; i++) lines.push(`  "S${i}USDT",`);
  lines.push("]");
  for (let i = 0; i < symbols; i++) lines.push(`[venues.bybit.overrides."linear:S${i}USDT"]`, 'tick_size = "0.1"', 'lot_size = "0.001"');
  return lines.join("\n") + "\n";
}

function counted(): { parse: (t: string) => unknown; calls: () => number } {
  let n = 0;
  return {
    parse: (t) => {
      n++;
      return Bun.TOML.parse(t);
    },
    calls: () => n,
  };
}

test("an error near the end of a 6000-line file: found at its line and column with few parses", () => {
  const good = bigText(1500).split("\n");
  const at = good.length - 10; // 1-based line of the bad one
  good[at - 1] = "tick_size = = 1";
  const text = good.join("\n");
  const p = counted();
  const pos = locateTomlError(text, p.parse);
  expect(pos?.line).toBe(at);
  expect(pos?.column).toBe(13);
  // Before: ~6000 parses (one per line up to the error). A bisection of the lines and a scan of one line's columns.
  expect(p.calls()).toBeLessThan(60);
});

test("errors at the start, in the middle, and left open to the end are placed as before", () => {
  const lines = bigText(50).split("\n");
  for (const at of [1, 2, 100, lines.length - 2]) {
    const copy = [...lines];
    copy[at - 1] = "x = = 1";
    expect(locateTomlError(copy.join("\n"))?.line).toBe(at);
  }
  expect(locateTomlError('a = 1\nb = [1,\n2,\n')).toMatchObject({ line: 4 });
});

test("an error near the end of a very long line (a one-line symbols array): its column with few parses", () => {
  // Before: one parse per column up to the error (a 12 KB line: ~12,000 parses of up to the whole text, ~5 s; an
  // 80 KB one held check-config, or a SIGHUP's re-check on the main thread, for minutes).
  const syms = Array.from({ length: 1000 }, (_, i) => `"S${i}USDT"`).join(", ");
  const text = `[venues.bybit.linear]\nsymbols = [${syms}, "X" "Y"]\n`;
  const p = counted();
  const pos = locateTomlError(text, p.parse);
  expect(pos).toEqual({ line: 2, column: text.indexOf('"Y"') - text.indexOf("\n"), message: "Expected ',' or ']' in an array but found '\"'" });
  expect(p.calls()).toBeLessThan(60);
});
