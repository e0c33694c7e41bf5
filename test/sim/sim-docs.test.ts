/**
 * docs/operations.md § Simulator describes `feeder sim --venue V` for every venue the command accepts: a row in the
 * endpoints table and a row in the control table naming every fault type that venue's simulator injects (the
 * simulators' own fault lists), so a venue or fault added to a simulator without its operations docs fails here.
 * `feeder sim --help` names every fault of every simulator and every `/sim/…` control endpoint their source serves.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { UsageError, type CommandContext } from "../../src/cli/command.ts";
import { simCommand } from "../../src/cli/commands/sim.ts";
import { commandHelp } from "../../src/cli/main.ts";
import { silentLogger } from "../../src/core/log.ts";
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
  bithumb: UPBIT_SIM_FAULTS, // the same simulator in Bithumb's dialect
};

const doc = readFileSync(resolve(import.meta.dirname, "../../docs/operations.md"), "utf8");
const section = doc.slice(doc.indexOf("\n## Simulator"), doc.indexOf("\n## ", doc.indexOf("\n## Simulator") + 5));

/** The venues `feeder sim --venue` accepts, as its usage error lists them. */
async function simVenues(): Promise<string[]> {
  const ctx: CommandContext = { values: { venue: "nope" }, positionals: [], log: silentLogger, out: () => {}, stopSignal: new Promise(() => {}) };
  const err = await simCommand.run(ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  const list = /--venue: (.*), got/.exec((err as Error).message)![1]!;
  return list.split(/, | or /);
}

/** The table rows of the section whose first cell names the venue (`upbit`, `bithumb` share rows). */
function rowsOf(venue: string): string[] {
  return section.split("\n").filter((l) => l.startsWith("| ") && new RegExp("^\\| [^|]*`" + venue + "`").test(l));
}

describe("docs/operations.md § Simulator", () => {
  test("every venue of `feeder sim --venue` has its endpoints row and its control row with every fault", async () => {
    const venues = await simVenues();
    expect(venues.sort()).toEqual(Object.keys(FAULTS).sort());
    for (const venue of venues) {
      const rows = rowsOf(venue);
      expect(rows.length, `${venue}: an endpoints row and a control row`).toBe(2);
      const control = rows.find((r) => r.includes("`stall`"))!;
      expect(control, `${venue}: a control row naming its faults`).toBeDefined();
      for (const fault of FAULTS[venue]!) expect(control, `${venue}: fault ${fault}`).toContain("`" + fault + "`");
    }
  });
});

describe("feeder sim --help", () => {
  const help = commandHelp(simCommand);

  test("names every fault of every simulator", () => {
    const missing = Object.entries(FAULTS).flatMap(([venue, faults]) => faults.filter((f) => !new RegExp(`[=|\\s]${f}\\b`).test(help)).map((f) => `${venue}: ${f}`));
    expect(missing).toEqual([]);
  });

  test("names every /sim/… control endpoint the simulators serve", () => {
    const dir = resolve(import.meta.dirname, "../../src/sim");
    const served = new Set<string>();
    for (const f of readdirSync(dir)) for (const m of readFileSync(resolve(dir, f), "utf8").matchAll(/"(\/sim\/[a-z-]+)"/g)) served.add(m[1]!);
    expect(served.size).toBeGreaterThan(5);
    expect([...served].filter((p) => !new RegExp(`${p}(?![a-z-])`).test(help))).toEqual([]);
  });
});
