/**
 * An InstrumentDefinition holds each of symbol, tick size and lot size in at most 255 bytes (u8 lengths, wire-protocol
 * §4.6). A venue's tick size of 300 characters ("0.1000…": trailing zeros, so exponentOf takes it) passed
 * makeInstrument, and the publisher's EncodedDefinition threw a RangeError in register: at start, in attach, for the
 * whole venue, naming no symbol. Now makeInstrument refuses it, so the symbol is left out as `bad_spec` (the others
 * start), and a configured override that long is refused by the loader.
 */
import { describe, expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { resolveInstruments, type InstrumentSource, type InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { EncodedDefinition } from "../../../src/wire/encoder.ts";
import { configProblems } from "../../support/config-problems.ts";

const LONG_TICK = "0.1" + "0".repeat(300);

describe("a tick or lot string longer than the wire's definition holds", () => {
  test("is the symbol's bad_spec at resolution; the other symbols resolve and encode", async () => {
    const cfg = { venue: "binance", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "spot", depth: 0, symbols: [] }], overrides: new Map() } as unknown as VenueConfig;
    const specs = new Map<string, InstrumentSpec>([["BTCUSDT", { tickSize: LONG_TICK, lotSize: "0.001" }], ["ETHUSDT", { tickSize: "0.01", lotSize: "0.0001" }]]);
    const source: InstrumentSource = { fetchSpecs: async () => specs, notListed: () => "not listed" };
    const market: MarketName = "spot";
    const { instruments, unresolved } = await resolveInstruments(cfg, [{ market, symbol: "BTCUSDT", depth: 0 }, { market, symbol: "ETHUSDT", depth: 0 }], source, silentLogger);
    expect(unresolved.map((u) => [u.index, u.kind])).toEqual([[0, "bad_spec"]]);
    expect(unresolved[0]!.detail).toContain("the tick size is 303 bytes long; the wire's instrument definition holds at most 255");
    expect(instruments.filter((i) => i !== undefined).map((i) => i!.symbol)).toEqual(["ETHUSDT"]);
    for (const i of instruments) if (i !== undefined) expect(() => new EncodedDefinition(i)).not.toThrow();
  });

  test("a configured override that long is refused by the loader", () => {
    const toml = `[venues.binance.spot]\nsymbols = ["BTCUSDT"]\n[venues.binance.overrides."spot:BTCUSDT"]\ntick_size = "${LONG_TICK}"\nlot_size = "1"\n`;
    expect(configProblems(toml)).toEqual([`venues.binance.overrides."spot:BTCUSDT".tick_size: "${LONG_TICK}" is not a step of at most 255 characters (the wire's instrument definition holds no more)`]);
  });
});
