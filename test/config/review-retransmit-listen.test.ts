/**
 * `publish.retransmit.listen` that `feeder check-config` called valid and `feeder run` failed on (exit 1, once the
 * venues had resolved and the publisher opened its request server): a port that leaves no room for the workers'
 * servers (worker i binds port + i + 1, which Bun refuses beyond 65535), or an address this host does not have.
 */
import { describe, expect, test } from "vitest";
import { configProblems, LOOPBACK_ONLY } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';
/** 64 symbols: room for workers = 64 (more workers than symbols is refused on its own). */
const VENUE_64 = `[venues.bybit.linear]\nsymbols = ${JSON.stringify(Array.from({ length: 64 }, (_, i) => `S${i}USDT`))}\n`;

function problemsOf(toml: string, requireVenue = true): string[] {
  return configProblems(toml, { localAddresses: LOOPBACK_ONLY, requireVenue });
}

describe("publish.retransmit.listen", () => {
  test("a port that leaves no room for the workers' ports (port + i + 1) is refused", () => {
    expect(problemsOf(`workers = 2\n[publish.retransmit]\nlisten = "127.0.0.1:65534"\n${VENUE_64}`)).toEqual([
      "publish.retransmit.listen: \"127.0.0.1:65534\" is not an address:port whose port leaves room for the workers: at most 65533 with workers = 2 (worker i listens on port + i + 1)",
    ]);
    expect(problemsOf(`workers = 2\n[publish.retransmit]\nlisten = "127.0.0.1:65533"\n${VENUE_64}`)).toEqual([]);
    expect(problemsOf(`workers = 64\n[publish.retransmit]\nlisten = "127.0.0.1:0"\n${VENUE_64}`)).toEqual([]);
    expect(problemsOf(`[publish.retransmit]\nlisten = "127.0.0.1:65535"\n${VENUE}`)).toEqual([]);
  });

  test("an address this host does not have is refused; 0.0.0.0 (every address) is taken", () => {
    expect(problemsOf(`[publish.retransmit]\nlisten = "10.9.9.9:31900"\n${VENUE}`)).toEqual([
      'publish.retransmit.listen: "10.9.9.9:31900" is not an address of this host (it has 127.0.0.1 on lo), or 0.0.0.0',
    ]);
    expect(problemsOf(`[publish.retransmit]\nlisten = "0.0.0.0:31900"\n${VENUE}`)).toEqual([]);
  });
});
