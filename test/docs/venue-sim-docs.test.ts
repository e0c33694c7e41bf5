/**
 * Each venue's docs/venues/<venue>.md § Simulator names every fault its simulator injects (the simulators' own
 * fault lists), so a fault added to a simulator without a word in its venue doc fails here. Bithumb runs on the
 * Upbit simulator, documented in upbit.md. (docs/operations.md § Simulator: test/sim/sim-docs.test.ts.)
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { SIM_FAULTS } from "../../src/sim/bybit-sim-types.ts";
import { BINANCE_SIM_FAULTS } from "../../src/sim/binance-sim.ts";
import { COINBASE_SIM_FAULTS } from "../../src/sim/coinbase-sim-types.ts";
import { DERIBIT_SIM_FAULTS } from "../../src/sim/deribit-sim.ts";
import { OKX_SIM_FAULTS } from "../../src/sim/okx-sim.ts";
import { UPBIT_SIM_FAULTS } from "../../src/sim/upbit-sim.ts";

const FAULTS: Record<string, readonly string[]> = {
  bybit: SIM_FAULTS,
  okx: OKX_SIM_FAULTS,
  binance: BINANCE_SIM_FAULTS,
  deribit: DERIBIT_SIM_FAULTS,
  coinbase: COINBASE_SIM_FAULTS,
  upbit: UPBIT_SIM_FAULTS,
};

describe("venue docs name their simulator's faults", () => {
  test.each(Object.keys(FAULTS).map((v) => [v]))("docs/venues/%s.md § Simulator", (venue) => {
    const doc = readFileSync(resolve(import.meta.dirname, `../../docs/venues/${venue}.md`), "utf8");
    const start = doc.search(/\n## Simulator/);
    expect(start, `docs/venues/${venue}.md has a "## Simulator" section`).toBeGreaterThan(0);
    const end = doc.indexOf("\n## ", start + 4);
    const section = doc.slice(start, end === -1 ? undefined : end);
    expect(FAULTS[venue]!.filter((f) => !new RegExp(`\\b${f}\\b`).test(section))).toEqual([]);
  });
});
