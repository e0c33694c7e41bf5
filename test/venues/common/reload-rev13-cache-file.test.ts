/**
 * A cache file this feeder cannot take as its own is named and left as it is, never used nor replaced: another
 * venue's file (two venues given one `instrument_cache`: keys are `market:SYMBOL`, and Upbit and Bithumb both list
 * spot:KRW-BTC), a newer format's, or one that is not JSON. Before, another venue's entries resolved this venue's
 * symbols while REST was down (the other venue's tick: every price scaled wrong), and a merge replaced a newer or
 * unreadable file with its own few entries, dropping every other market's. Real files in a temporary directory.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { mergeIntoInstrumentCache, resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

const NEW = new Map([["spot:KRW-ETH", { tickSize: "1000", lotSize: "0.0001" }]]);

test("another venue's cache file is not used for this venue's symbols, and is not written over", async () => {
  const path = join(makeTempDir("reload-rev13-cache-venue-"), "instruments.json");
  const theirs = JSON.stringify({ version: 1, venue: "bithumb", instruments: { "spot:KRW-BTC": { tickSize: "1", lotSize: "0.0001" } } });
  writeFileSync(path, theirs);
  const warnings: string[] = [];
  const log: Logger = { ...silentLogger, warn: (msg: string, f?: Record<string, unknown>) => void warnings.push(`${msg} ${JSON.stringify(f)}`), child: () => log };
  const config = { venue: "upbit", wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1", instrumentCachePath: path, overrides: new Map(), markets: [] } as unknown as VenueConfig;
  const subs: Subscription[] = [{ market: "spot", symbol: "KRW-BTC", depth: 15 }];
  const down: InstrumentSource = { fetchSpecs: () => Promise.reject(new Error("REST down")), notListed: () => "not listed" };
  const { instruments, unresolved } = await resolveInstruments(config, subs, down, log);
  expect(instruments).toEqual([undefined]);
  expect(unresolved.map((u) => u.kind)).toEqual(["rest_unreachable"]);
  expect(warnings.join("\n")).toMatch(/bithumb.*not upbit/);
  await expect(mergeIntoInstrumentCache(path, "upbit", NEW)).rejects.toThrow(/bithumb.*not upbit/);
  expect(readFileSync(path, "utf8")).toBe(theirs);
});

test("a newer format's or an unreadable cache file is named and kept, not replaced by a merge's few entries", async () => {
  const dir = makeTempDir("reload-rev13-cache-bad-");
  const newer = join(dir, "newer.json");
  const newerText = JSON.stringify({ version: 2, venue: "upbit", instruments: { "spot:KRW-BTC": { tickSize: "1000", lotSize: "0.0001", minNotional: "5000" } } });
  writeFileSync(newer, newerText);
  await expect(mergeIntoInstrumentCache(newer, "upbit", NEW)).rejects.toThrow(/newer\.json.*version 2/);
  expect(readFileSync(newer, "utf8")).toBe(newerText);
  const broken = join(dir, "broken.json");
  writeFileSync(broken, '{"version":1,"venue":"upbit","instruments":{"spot:KRW-BTC":{"tickSize":"1000",');
  await expect(mergeIntoInstrumentCache(broken, "upbit", NEW)).rejects.toThrow(/broken\.json.*not JSON/);
  expect(readFileSync(broken, "utf8")).toMatch(/KRW-BTC/);
});
