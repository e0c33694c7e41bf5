/**
 * A cache file this feeder cannot take as its own is named and left as it is, never used nor replaced: another
 * venue's file (two venues given one `instrument_cache`: keys are `market:SYMBOL`, and Upbit and Bithumb both list
 * spot:KRW-BTC), a newer format's, or one that is not JSON. Before, another venue's entries resolved this venue's
 * symbols while REST was down (the other venue's tick: every price scaled wrong), and a merge replaced a newer or
 * unreadable file with its own few entries, dropping every other market's. Real files in a temporary directory.
 *
 * A FIFO as the cache (a `mkfifo` path nothing writes to) held the cache's read in open(2) for good: the venue's
 * instruments never resolved, its start hung with nothing logged. It is refused at once by what it is, and kept.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger, type Logger } from "../../../src/core/log.ts";
import { mergeIntoInstrumentCache, readInstrumentCache, resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { CACHE_EXPIRED_KEEP_MS } from "../../../src/venues/common/instrument-cache.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { exitCodeWithin } from "../../support/exit-within.ts";
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

test("a FIFO as the cache is refused at once by what it is (before: the venue's resolve waited in open(2) for good) and kept", { timeout: 30_000 }, async () => {
  const dir = makeTempDir("reload-rev13-cache-fifo-");
  const path = join(dir, "instruments.json");
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  // In a child: the old code's open(2) blocks a thread of the process for good, which the test's must not be.
  const script = join(dir, "resolve.ts");
  const src = resolve(import.meta.dirname, "../../../src");
  writeFileSync(script, `
    import { resolveInstruments } from ${JSON.stringify(join(src, "venues/common/instruments.ts"))};
    import { silentLogger } from ${JSON.stringify(join(src, "core/log.ts"))};
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string, f?: Record<string, unknown>) => void warnings.push(msg + " " + String(f?.error)), child: () => log };
    const config = { venue: "bybit", instrumentCachePath: ${JSON.stringify(path)}, overrides: new Map(), markets: [] };
    const rest = { fetchSpecs: async () => new Map([["BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]), notListed: () => "not listed" };
    const { instruments } = await resolveInstruments(config as never, [{ market: "linear", symbol: "BTCUSDT", depth: 50 }], rest, log as never);
    console.log(JSON.stringify({ resolved: instruments.map((i) => i?.symbol ?? null), warnings }));
  `);
  const proc = Bun.spawn([process.execPath, script], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const code = await exitCodeWithin(proc, 10_000);
  if (code === "still running") proc.kill("SIGKILL");
  expect(code).toBe(0);
  const cachePath = `instrument cache ${path}: cannot read it: not a regular file but a FIFO (named pipe); left as it is: the cache must be a file (remove it or give another path)`;
  // REST answered: the venue starts; the read and the merge of what REST answered both name the FIFO.
  expect(JSON.parse(await new Response(proc.stdout).text())).toEqual({
    resolved: ["BTCUSDT"],
    warnings: [`instrument cache unreadable; ignoring it Error: ${cachePath}`, `could not write the instrument cache Error: ${cachePath}`],
  });
  expect(statSync(path).isFIFO()).toBe(true);
});

test("entries whose listed expiry is past by more than CACHE_EXPIRED_KEEP_MS are dropped when the cache is written; the rest kept (random expiries)", async () => {
  // Before s-binmisc a delivered future or exercised option stayed in the file for ever, every write carrying it on.
  const path = join(makeTempDir("reload-rev13-cache-prune-"), "instruments.json");
  const nowMs = 1_790_000_000_000;
  const day = 86_400_000;
  const KEEP_MS = 7 * day; // the documented margin (docs/operations.md)
  let x = 7;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const instruments: Record<string, { tickSize: string; lotSize: string; expiresMs?: number }> = {};
  for (let i = 0; i < 60; i++) {
    const expiresMs = rand() < 0.2 ? undefined : Math.round(nowMs + (rand() * 40 - 20) * day);
    instruments[`linear:F${i}`] = { tickSize: "0.1", lotSize: "1", ...(expiresMs === undefined ? {} : { expiresMs }) };
  }
  instruments["linear:EDGE_KEPT"] = { tickSize: "0.1", lotSize: "1", expiresMs: nowMs - KEEP_MS };
  instruments["linear:EDGE_GONE"] = { tickSize: "0.1", lotSize: "1", expiresMs: nowMs - KEEP_MS - 1 };
  writeFileSync(path, JSON.stringify({ version: 1, venue: "okx", instruments }));
  await mergeIntoInstrumentCache(path, "okx", NEW, { nowMs: () => nowMs });
  const written = (JSON.parse(readFileSync(path, "utf8")) as { instruments: Record<string, unknown> }).instruments;
  // The reference: every entry but those expired more than the margin ago, plus the merged one.
  const expected = Object.fromEntries([...Object.entries(instruments).filter(([, s]) => s.expiresMs === undefined || s.expiresMs >= nowMs - KEEP_MS), ...NEW]);
  expect(written).toEqual(expected);
  expect(Object.keys(written)).toContain("linear:EDGE_KEPT");
  expect(Object.keys(written)).not.toContain("linear:EDGE_GONE");
  const pruned = Object.keys(instruments).length + NEW.size - Object.keys(written).length;
  expect(pruned).toBeGreaterThan(5); // the seed reaches both sides of the margin
  expect(Object.keys(instruments).length - pruned + NEW.size).toBeGreaterThan(30);
  // Read back, the kept expiries are as written (a future one still closes its book at its time).
  expect((await readInstrumentCache(path, "okx")).get("linear:EDGE_KEPT")).toEqual({ tickSize: "0.1", lotSize: "1", expiresMs: nowMs - KEEP_MS });
  expect(CACHE_EXPIRED_KEEP_MS).toBe(KEEP_MS);
});

test("an entry expired long ago that the configuration still names is kept: with REST down it still resolves from the cache (closed at its expiry), not rest_unreachable", async () => {
  // Until s-rd13c the prune dropped it too: a restart while REST was down then left the configured option out as
  // `symbol_unresolved` / rest_unreachable (a failed /readyz), where before it was closed at once as expired.
  const path = join(makeTempDir("reload-rev13-cache-keep-"), "instruments.json");
  const nowMs = 1_790_000_000_000;
  const longAgo = nowMs - CACHE_EXPIRED_KEEP_MS - 86_400_000;
  const spec = (expiresMs?: number) => ({ tickSize: "5", lotSize: "0.01", ...(expiresMs === undefined ? {} : { expiresMs }) });
  writeFileSync(path, JSON.stringify({ version: 1, venue: "bybit", instruments: { "option:BTC-OLD-C": spec(longAgo), "option:BTC-GONE-C": spec(longAgo), "option:BTC-LIVE-C": spec(nowMs + 86_400_000) } }));
  // BTC-OLD-C@25: a further depth of BTC-OLD-C, the same cache key.
  const config = { venue: "bybit", instrumentCachePath: path, overrides: new Map(), markets: [{ market: "option", depth: 25, symbols: ["BTC-LIVE-C", "BTC-OLD-C@25"] }] } as unknown as VenueConfig;
  const subs: Subscription[] = [{ market: "option", symbol: "BTC-LIVE-C", depth: 25 }, { market: "option", symbol: "BTC-OLD-C", depth: 25, extraDepth: true }];
  // REST answers with a new tick for the live one (a merge: the file is written) and no longer lists the old one.
  const up: InstrumentSource = { fetchSpecs: async () => new Map([["BTC-LIVE-C", { tickSize: "10", lotSize: "0.01", expiresMs: nowMs + 86_400_000 }]]), notListed: () => "not listed" };
  await resolveInstruments(config, subs, up, silentLogger, undefined, () => nowMs);
  const written = (JSON.parse(readFileSync(path, "utf8")) as { instruments: Record<string, unknown> }).instruments;
  expect(Object.keys(written).sort()).toEqual(["option:BTC-LIVE-C", "option:BTC-OLD-C"]); // the unconfigured one pruned
  // The next start, REST down: the configured expired option resolves from the cache with its expiry (the watch closes it).
  const down: InstrumentSource = { fetchSpecs: () => Promise.reject(new Error("REST down")), notListed: () => "not listed" };
  const { instruments, unresolved, fromCache } = await resolveInstruments(config, subs, down, silentLogger, undefined, () => nowMs);
  expect(unresolved).toEqual([]);
  expect(instruments.map((i) => i?.symbol)).toEqual(["BTC-LIVE-C", "BTC-OLD-C@25"]);
  expect(fromCache.get(1)).toEqual(spec(longAgo));
});
