/**
 * Symbols of two markets that resolve in the same check both reach the disk cache
 * (src/venues/common/instruments.ts mergeIntoInstrumentCache): each market's query is answered on its own, and two
 * merges of one cache file that overlap (read, read, write, write) lost the first market's entry, so after a restart
 * with REST down that symbol was unresolved again. LateInstruments with its own clock and a source answered by the test.
 */
import { afterEach, expect, test } from "vitest";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { readInstrumentCache, type InstrumentSource, type InstrumentSpec } from "../../../src/venues/common/instruments.ts";
import { LateInstruments } from "../../../src/venues/common/late-instruments.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { tempCachePath, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SUBS: Subscription[] = [
  { market: "spot", symbol: "NEWUSDT", depth: 50 },
  { market: "linear", symbol: "NEWUSDT", depth: 50 },
];
const SINK: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved() {} };

test("two markets' late symbols resolved at once are both written to the instrument cache", async () => {
  const clock = { ms: 1_000_000 };
  const path = tempCachePath();
  const config = {
    ...validateConfig({
      publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
      venues: { bybit: { spot: { depth: 50, symbols: ["NEWUSDT"] }, linear: { depth: 50, symbols: ["NEWUSDT"] } } },
    }).venues[0]!,
    instrumentCachePath: path,
  };
  const joined: number[] = [];
  const late = new LateInstruments({
    ...{ venue: "bybit", log: silentLogger, now: () => clock.ms, random: () => 1, config, subscriptions: SUBS },
    ...{ listingMs: 300_000, checkEveryMs: 1_000_000_000 },
    onResolved: (i) => void joined.push(i),
  });
  cleanups.push(() => late.stop());
  const answers = new Map<string, (specs: Map<string, InstrumentSpec>) => void>();
  const source: InstrumentSource = { notListed: () => "not listed", fetchSpecs: (market) => new Promise((r) => answers.set(market, r)) };
  late.track(source, [
    { index: 0, kind: "not_listed", detail: "not listed" },
    { index: 1, kind: "not_listed", detail: "not listed" },
  ]);
  late.start(SINK);
  clock.ms += 300_000; // both markets are due at the same check
  late.check();
  expect([...answers.keys()].sort()).toEqual(["linear", "spot"]);
  answers.get("spot")!(new Map([["NEWUSDT", { tickSize: "0.01", lotSize: "0.001" }]]));
  answers.get("linear")!(new Map([["NEWUSDT", { tickSize: "0.1", lotSize: "0.01" }]]));
  await waitFor(() => joined.length === 2, "both joined");
  // The cache file, once it holds both (a lost entry never comes: the wait times out).
  const want = { "linear:NEWUSDT": { tickSize: "0.1", lotSize: "0.01" }, "spot:NEWUSDT": { tickSize: "0.01", lotSize: "0.001" } };
  let cache: Record<string, InstrumentSpec> = {};
  for (const deadline = Date.now() + 3_000; Date.now() < deadline && Object.keys(cache).length < 2; await new Promise((r) => setTimeout(r, 5))) {
    cache = Object.fromEntries(await readInstrumentCache(path).catch(() => new Map()));
  }
  expect(cache).toEqual(want);
});
