/**
 * A symbol left out at start is retried only in a live run: in a replay or `export --books` (recheckInstruments
 * false) nothing asks for it again, and the start error says so. Before, the error said "those books are left out
 * and retried while running" there too, so an operator waited for books that never came. Bybit simulator, one symbol
 * not listed.
 */
import { afterEach, expect, test } from "vitest";
import { startBybitSimulator, type BybitSim } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { subsOf, venueConfig } from "../bybit/helpers.ts";
import { captureLog } from "../../support/capture-log.ts";

let sim: BybitSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const MARKETS = [{ market: "linear" as const, depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];

async function startError(recheckInstruments: boolean): Promise<string> {
  const { log, lines } = captureLog();
  const adapter = createBybitAdapter(venueConfig(sim!, MARKETS), subsOf(MARKETS), { log, recheckInstruments });
  const loaded = await adapter.loadInstruments();
  expect(loaded.map((i) => i?.symbol)).toEqual(["BTCUSDT", undefined]);
  await adapter.stop();
  const errors = lines.filter((l) => l.level === "error").map((l) => l.msg);
  expect(errors).toHaveLength(1);
  return errors[0]!;
}

test("the start error says a left-out symbol is retried in a live run only", { timeout: 20_000 }, async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 354, messagesPerSecond: 0 });
  sim.setListed("linear", "ETHUSDT", false);
  expect(await startError(true)).toMatch(/linear:ETHUSDT \(not listed.*those books are left out and retried while running, the others start$/);
  // The old code: "… retried while running" in a replay too.
  const replay = await startError(false);
  expect(replay).toMatch(/linear:ETHUSDT \(not listed.*those books are left out \(a replay or export does not ask for them again\), the others start$/);
  expect(replay).not.toContain("retried");
});

test("a worker's or shard's share none of whose symbols is listed starts empty without calling it a REST outage", { timeout: 20_000 }, async () => {
  // SOLUSDT listed (not configured): the listing is not empty (an empty one is taken as an outage: emptyListing).
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] }], seed: 355, messagesPerSecond: 0 });
  sim.setListed("linear", "BTCUSDT", false);
  sim.setListed("linear", "ETHUSDT", false);
  const { log, lines } = captureLog();
  const adapter = createBybitAdapter(venueConfig(sim, MARKETS), subsOf(MARKETS), { log, allowNoInstruments: true });
  expect(await adapter.loadInstruments()).toEqual([undefined, undefined]);
  await adapter.stop();
  const errors = lines.filter((l) => l.level === "error").map((l) => l.msg);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/linear:BTCUSDT \(not listed.*starts with no books and retries them while running$/);
  // The old code: "… (REST unreachable, not a configuration error)" though REST answered.
  expect(errors[0]).not.toContain("REST unreachable");
});
