/** The venue part of the config, read from the registry: per-market endpoints, further depths, stale floors. */
import { describe, expect, test } from "vitest";
import { formatConfigToml } from "../../src/config/format.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { OkxAdapter } from "../../src/venues/okx/adapter.ts";
import { splitBufferBudget } from "../../src/venues/binance/options.ts";
import { supportedVenues, VENUES, venueSpec, type VenueSpec } from "../../src/venues/registry.ts";
import { configuredSubscriptions, Feeder, inWorkerShare } from "../../src/app/feeder.ts";
import { BinanceAdapter } from "../../src/venues/binance/adapter.ts";
import { restBridgeBytesPerWorker } from "../../src/config/share.ts";
import type { MarketName } from "../../src/core/types.ts";
import { rng } from "../support/mulberry32.ts";
import { refusedProblems } from "../support/config-problems.ts";

function problemsOf(toml: string): string[] {
  return refusedProblems(toml);
}

describe("venue keys", () => {
  test("a market's own ws_url and rest_url are kept; absent ones stay absent (the venue's rule applies)", () => {
    const c = parseConfigText(
      '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nws_url = "ws://127.0.0.1:9/linear-feed"\nrest_url = "http://127.0.0.1:9"\n[venues.bybit.spot]\nsymbols = ["BTCUSDT"]\n',
    );
    const linear = c.venues[0]!.markets.find((m) => m.market === "linear")!;
    const spot = c.venues[0]!.markets.find((m) => m.market === "spot")!;
    expect(linear).toMatchObject({ market: "linear", wsUrl: "ws://127.0.0.1:9/linear-feed", restUrl: "http://127.0.0.1:9" });
    expect(spot!.wsUrl).toBeUndefined();
    expect(spot!.restUrl).toBeUndefined();
    expect(problemsOf('[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\nws_url = "http://x"\nrest_url = "ftp://x"\n')).toEqual([
      'venues.bybit.linear.ws_url: "http://x" is not a ws:// or wss:// URL with a host (and a port, if given, up to 65535) and no #fragment',
      'venues.bybit.linear.rest_url: "ftp://x" is not an http:// or https:// base URL with a host (and a port, if given, up to 65535), without ?query or #fragment (paths are appended to it)',
    ]);
  });

  test("SYMBOL@depth adds a further depth the market accepts, other than the market's own", () => {
    const c = parseConfigText('[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\n');
    expect(c.venues[0]!.markets[0]!.symbols).toEqual(["BTCUSDT", "BTCUSDT@1"]);
    expect(problemsOf('[venues.bybit.linear]\ndepth = 200\nsymbols = ["BTCUSDT@500", "ETHUSDT@200", "XRPUSDT@"]\n')).toEqual([
      'venues.bybit.linear.symbols[0]: "BTCUSDT@500" is not a further depth that is one of 1, 50, 200, 1000',
      'venues.bybit.linear.symbols[1]: "ETHUSDT@200" is not a depth other than the market\'s (200): list the symbol without @',
      'venues.bybit.linear.symbols[2]: "XRPUSDT@" is not an upper-case venue symbol such as BTCUSDT, BTC-27MAR26-70000-P or XRP-30OCT26-0.4-P-USDT (letters without case too, as in 币安人生USDT), optionally with @depth for a further depth (BTCUSDT@1)',
    ]);
  });

  // Bybit lists USDT options on small coins with decimal strikes; the config refused every one of them ("." was no
  // symbol character), so such an option could not be configured at all.
  test("an option symbol with a decimal strike is a symbol, with or without a further depth", () => {
    const c = parseConfigText('[venues.bybit.option]\ndepth = 25\nsymbols = ["XRP-30OCT26-0.4-P-USDT", "XRP-30OCT26-0.4-P-USDT@100"]\n');
    expect(c.venues[0]!.markets[0]!.symbols).toEqual(["XRP-30OCT26-0.4-P-USDT", "XRP-30OCT26-0.4-P-USDT@100"]);
    expect(problemsOf('[venues.bybit.option]\ndepth = 25\nsymbols = [".XRP", "XRP-30OCT26-0.4-P-USDT@50"]\n')).toEqual([
      'venues.bybit.option.symbols[0]: ".XRP" is not an upper-case venue symbol such as BTCUSDT, BTC-27MAR26-70000-P or XRP-30OCT26-0.4-P-USDT (letters without case too, as in 币安人生USDT), optionally with @depth for a further depth (BTCUSDT@1)',
      'venues.bybit.option.symbols[1]: "XRP-30OCT26-0.4-P-USDT@50" is not a further depth that is one of 25, 100',
    ]);
  });

  test("the stale floor is the smallest configured depth's: a depth-1 further depth raises it to 6000", () => {
    expect(problemsOf('[venues.bybit.linear]\ndepth = 50\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\nstale_after_ms = 4000\n')).toEqual([
      "venues.bybit.linear.stale_after_ms: 4000 is not 0 (the default) or at least 6000 for depth 1 (it re-pushes every 3 s)",
    ]);
    expect(parseConfigText('[venues.bybit.linear]\ndepth = 50\nsymbols = ["BTCUSDT"]\nstale_after_ms = 4000\n').venues[0]!.markets[0]!.staleAfterMs).toBe(4000);
  });

  test("dead_connection_ms: the venue's dead-connection time (absent or 0: the layer's 7 s); too short or not an integer is named", () => {
    const c = parseConfigText('[venues.bybit]\ndead_connection_ms = 4000\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n');
    expect(c.venues.map((v) => [v.venue, v.deadConnectionMs])).toEqual([["bybit", 4000], ["okx", undefined]]);
    expect(problemsOf('[venues.bybit]\ndead_connection_ms = 500\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n')).toEqual([
      "venues.bybit.dead_connection_ms: 500 is not 0 (the default, 7 s) or 1000 to 600000",
    ]);
    expect(problemsOf('[venues.okx]\ndead_connection_ms = "7s"\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n')).toEqual([
      'venues.okx.dead_connection_ms: "7s" is not an integer 0–600000',
    ]);
  });

  test("check-config prints dead_connection_ms (0 when absent), and loading its output gives the same value", () => {
    const c = parseConfigText('[venues.bybit]\ndead_connection_ms = 4000\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n');
    const text = formatConfigToml(c);
    expect(text).toContain("dead_connection_ms = 4000");
    expect(text).toContain("dead_connection_ms = 0");
    expect(parseConfigText(text, "again.toml").venues.map((v) => [v.venue, v.deadConnectionMs])).toEqual([["bybit", 4000], ["okx", undefined]]);
    expect(text).toContain("instrument_reload_ms = 3600000");
    expect(parseConfigText(text, "again.toml").venues.map((v) => [v.venue, v.instrumentReloadMs])).toEqual([["bybit", undefined], ["okx", 3_600_000]]);
  });

  test("instrument_reload_ms: okx's instrument reload interval (default 1 hour, 0 = never); other venues and bad values are named", () => {
    const c = parseConfigText('[venues.okx]\ninstrument_reload_ms = 600000\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
    expect(c.venues.map((v) => [v.venue, v.instrumentReloadMs])).toEqual([["okx", 600000], ["bybit", undefined]]);
    expect(parseConfigText('[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n').venues[0]!.instrumentReloadMs).toBe(3_600_000);
    expect(parseConfigText('[venues.okx]\ninstrument_reload_ms = 0\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n').venues[0]!.instrumentReloadMs).toBe(0);
    expect(problemsOf('[venues.okx]\ninstrument_reload_ms = 1000\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n')).toEqual([
      "venues.okx.instrument_reload_ms: 1000 is not 0 (never) or 60000 to 604800000",
    ]);
    // Only OKX and Binance reload while running: elsewhere the key is unknown.
    expect(problemsOf('[venues.bybit]\ninstrument_reload_ms = 600000\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n').join("\n")).toContain("venues.bybit.instrument_reload_ms");
  });

  test("instrument_reload_ms: binance's exchangeInfo reload interval, same default and bounds as okx's", () => {
    const b = (extra: string) => `[venues.binance]\n${extra}[venues.binance.spot]\nsymbols = ["BTCUSDT"]\n`;
    expect(parseConfigText(b("instrument_reload_ms = 600000\n")).venues[0]!.instrumentReloadMs).toBe(600_000);
    expect(parseConfigText(b("")).venues[0]!.instrumentReloadMs).toBe(3_600_000);
    expect(parseConfigText(b("instrument_reload_ms = 0\n")).venues[0]!.instrumentReloadMs).toBe(0);
    expect(problemsOf(b("instrument_reload_ms = 1000\n"))).toEqual(["venues.binance.instrument_reload_ms: 1000 is not 0 (never) or 60000 to 604800000"]);
    expect(formatConfigToml(parseConfigText(b("instrument_reload_ms = 120000\n")))).toContain("instrument_reload_ms = 120000");
  });

  test("rest_bridge_buffer_bytes: okx's and binance's REST-bridge byte budget (default 256 MiB, 1 MiB to 16 GiB), reaching their adapters; other venues and bad values are named", () => {
    for (const [venue, symbol] of [["okx", "BTC-USDT"], ["binance", "BTCUSDT"]] as const) {
      const c = (extra: string) => `[venues.${venue}]\n${extra}[venues.${venue}.spot]\nsymbols = ["${symbol}"]\n`;
      expect(parseConfigText(c("rest_bridge_buffer_bytes = 8388608\n")).venues[0]!.restBridgeBufferBytes).toBe(8 * 1024 * 1024);
      expect(parseConfigText(c("")).venues[0]!.restBridgeBufferBytes).toBe(256 * 1024 * 1024);
      expect(problemsOf(c("rest_bridge_buffer_bytes = 1000\n"))).toEqual([`venues.${venue}.rest_bridge_buffer_bytes: 1000 is not an integer 1048576–17179869184`]);
      expect(problemsOf(c('rest_bridge_buffer_bytes = "256MiB"\n'))).toEqual([`venues.${venue}.rest_bridge_buffer_bytes: "256MiB" is not an integer 1048576–17179869184`]);
      expect(formatConfigToml(parseConfigText(c("rest_bridge_buffer_bytes = 8388608\n")))).toContain("rest_bridge_buffer_bytes = 8388608");
    }
    // Binance splits the one value (options.ts splitBufferBudget): before, its resync bridges and its depth refreshes
    // each had all of it, and the overlap hold was uncounted. check-config says so.
    expect(splitBufferBudget(8 * 1024 * 1024)).toEqual({ resyncBytes: 4 * 1024 * 1024, refreshBytes: 2 * 1024 * 1024, holdBytes: 2 * 1024 * 1024 });
    for (const total of [1024 * 1024 + 3, 16 * 1024 ** 3 - 1]) {
      const s = splitBufferBudget(total);
      expect(s.resyncBytes + s.refreshBytes + s.holdBytes).toBe(total);
    }
    const shown = formatConfigToml(parseConfigText('[venues.binance]\nrest_bridge_buffer_bytes = 8388608\n[venues.binance.spot]\nsymbols = ["BTCUSDT"]\n'));
    expect(shown).toContain("# binance splits it: 4194304 for resync bridges, 2097152 for depth refreshes, 2097152 for the overlap hold");
    expect(formatConfigToml(parseConfigText('[venues.okx]\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n'))).not.toContain("splits it");
    // The OKX adapter's budget is the key's (Binance's: depth-band.test.ts, "replay: a refresh no recorded answer").
    const okx = parseConfigText('[venues.okx]\nrest_bridge_buffer_bytes = 8388608\n[venues.okx.spot]\nsymbols = ["BTC-USDT"]\n').venues[0]!;
    expect(new OkxAdapter(okx, [], { log: silentLogger }).bridge.maxBytes).toBe(8 * 1024 * 1024);
    // Only OKX and Binance bridge a REST snapshot: elsewhere the key is unknown.
    expect(problemsOf('[venues.bybit]\nrest_bridge_buffer_bytes = 8388608\n[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n').join("\n")).toContain("venues.bybit.rest_bridge_buffer_bytes: unknown key");
  });

  test("rest_bridge_buffer_bytes with workers = N: each worker's adapter keeps 1/N of it (before: all of it, N times the key in all); check-config shows the part, a part under 1 MiB is refused", async () => {
    const file = (venue: "okx" | "binance", symbols: string, extra: string) => `workers = 4\n[venues.${venue}]\n${extra}[venues.${venue}.spot]\nsymbols = [${symbols}]\n`;
    const okxSymbols = '"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"';
    const config = parseConfigText(file("okx", okxSymbols, "rest_bridge_buffer_bytes = 8388608\n"));
    // What a worker's Feeder (connectBudgetShare 1 / workers, app/worker-main.ts) gives the venue's adapter.
    const given = async (share: number | undefined): Promise<number | undefined> => {
      let seen: number | undefined;
      const okx: VenueSpec = { ...venueSpec("okx")!, create: (vc) => { seen = vc.restBridgeBufferBytes; throw new Error("adapter not built"); } };
      const feeder = new Feeder({ config, log: silentLogger, venues: { okx }, ...(share === undefined ? {} : { connectBudgetShare: share }) });
      await expect(feeder.resolveInstruments()).rejects.toThrow("adapter not built");
      return seen;
    };
    expect(await given(1 / 4)).toBe(2 * 1024 * 1024);
    expect(await given(1 / 3)).toBe(Math.floor(8 * 1024 * 1024 / 3));
    expect(await given(undefined)).toBe(8 * 1024 * 1024); // one process (record, replay, workers = 1): all of it
    const shown = formatConfigToml(parseConfigText(file("binance", '"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"', "rest_bridge_buffer_bytes = 8388608\n")));
    expect(shown).toContain("rest_bridge_buffer_bytes = 8388608\n# each of the 4 workers keeps 2097152 of it for its books\n# binance splits each worker's part: 1048576 for resync bridges, 524288 for depth refreshes, 524288 for the overlap hold");
    expect(problemsOf(file("okx", okxSymbols, "rest_bridge_buffer_bytes = 2097152\n"))).toEqual(["venues.okx.rest_bridge_buffer_bytes: 2097152 is not at least 4194304 with workers = 4 (each worker keeps 1/4 of it, at least 1048576)"]);
  });

  test("check-config says what stale_after_ms left out (or 0) is: the adapter's default for each depth of the market, further depths too", () => {
    const shown = formatConfigToml(
      parseConfigText(
        '[venues.bybit.linear]\nsymbols = ["BTCUSDT", "BTCUSDT@1"]\n[venues.bybit.option]\nsymbols = ["BTC-27DEC24-100000-C"]\nstale_after_ms = 0\n' +
          '[venues.bybit.spot]\nsymbols = ["BTCUSDT"]\nstale_after_ms = 30000\n[venues.okx.spot]\nsymbols = ["BTC-USDT@5"]\n[venues.deribit.option]\nsymbols = ["BTC-27DEC24-100000-C"]\n',
      ),
    );
    const lines = shown.split("\n").filter((l) => l.includes("stale_after_ms"));
    expect(lines).toEqual([
      "stale_after_ms = 30000",
      "# stale_after_ms not set: the adapter's default for each depth, 60000 ms at depth 50, 10000 ms at depth 1",
      "stale_after_ms = 0",
      "# stale_after_ms 0: the adapter's default for each depth, 300000 ms at depth 25",
      "# stale_after_ms not set: the adapter's default for each depth, 90000 ms at depth 400, 120000 ms at depth 5",
      "# stale_after_ms not set: the adapter's default for each depth, 600000 ms at depth 0",
    ]);
  });

  test("a venue without an adapter is named with the ones that have one (from the registry)", () => {
    // The list is the registry's, whichever venues it holds (bybit first).
    expect(problemsOf('[venues.kraken.spot]\nsymbols = ["XBTUSD"]\n')).toEqual([`venues.kraken: (table) is not a supported venue: ${supportedVenues().join(", ")}`]);
    expect(supportedVenues()[0]).toBe("bybit");
  });
});

describe("deribit venue keys (from its registry entry)", () => {
  test("depths 0, 1, 10, 20 on every market; others named with the valid ones", () => {
    const cfg = parseConfigText('[venues.deribit.inverse]\nsymbols = ["BTC-PERPETUAL", "BTC-PERPETUAL@10"]\n[venues.deribit.option]\ndepth = 20\nsymbols = ["BTC-27MAR26-70000-C"]\n[venues.deribit.linear]\nsymbols = ["BTC_USDC-PERPETUAL"]\n');
    const v = cfg.venues[0]!;
    expect([v.venue, v.wsUrl, v.restUrl]).toEqual(["deribit", "wss://www.deribit.com/ws/api/v2", "https://www.deribit.com"]);
    expect(v.markets.map((m) => [m.market, m.depth])).toEqual([["linear", 0], ["inverse", 0], ["option", 20]]);
    expect(problemsOf('[venues.deribit.inverse]\ndepth = 50\nsymbols = ["BTC-PERPETUAL"]\n')).toEqual(["venues.deribit.inverse.depth: 50 is not one of 0, 1, 10, 20"]);
  });
});

describe("check-config shows what each Binance market gets (spot and USD-M: two hosts, each its own budgets)", () => {
  // Until s-binmisc it showed the three byte figures for both markets together only, though the adapter splits each
  // between the markets by their streams (market-bridges.ts splitByMarket) and each market has its own connect and
  // REST weight budgets.
  const binanceLines = (text: string) => formatConfigToml(parseConfigText(text)).split("\n").filter((l) => l.startsWith("# binance"));

  test("one worker: each market's part of the three byte budgets, its connects and its REST weight", () => {
    const lines = binanceLines('[venues.binance]\nrest_bridge_buffer_bytes = 8388608\n[venues.binance.spot]\nsymbols = ["AUSDT", "BUSDT", "CUSDT"]\n[venues.binance.linear]\nsymbols = ["DUSDT"]\n');
    expect(lines).toEqual([
      "# binance splits it: 4194304 for resync bridges, 2097152 for depth refreshes, 2097152 for the overlap hold",
      "# binance per market (resync bridges, depth refreshes, overlap hold; half in equal parts, half by streams): spot (3 streams) 2621440, 1310720, 1310720; linear (1 stream) 1572864, 786432, 786432",
      "# binance per market (each its own host): spot 250 connects per 300 s, REST weight 4800 a minute; linear 250 connects per 300 s, REST weight 1920 a minute (the weight follows exchangeInfo's rateLimits)",
    ]);
    const two = binanceLines('workers = 2\n[venues.binance]\n[venues.binance.spot]\nsymbols = ["AUSDT", "BUSDT", "CUSDT", "EUSDT"]\n[venues.binance.linear]\nsymbols = ["DUSDT", "FUSDT"]\n');
    expect(two.at(-1)).toBe("# binance per market, each worker (each its own host): spot 125 connects per 300 s, REST weight 2400 a minute; linear 125 connects per 300 s, REST weight 960 a minute (the weight follows exchangeInfo's rateLimits)");
  });

  test("random symbol sets and worker counts: the figures shown are those each worker's adapter uses", () => {
    let reach = { workers: 0, bothMarkets: 0 };
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const pick = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `"${prefix}${i}X${Math.floor(r() * 1e6)}USDT"`);
      const spot = pick(Math.floor(r() * 6), "S");
      const linear = pick((spot.length === 0 ? 1 : 0) + Math.floor(r() * 4), "L");
      const workers = 1 + Math.floor(r() * Math.min(3, spot.length + linear.length));
      const total = (8 + Math.floor(r() * 64)) * 1024 * 1024;
      const text = `workers = ${workers}\n[venues.binance]\nrest_bridge_buffer_bytes = ${total}\n` +
        (spot.length > 0 ? `[venues.binance.spot]\nsymbols = [${spot.join(", ")}]\n` : "") +
        (linear.length > 0 ? `[venues.binance.linear]\nsymbols = [${linear.join(", ")}]\n` : "");
      const config = parseConfigText(text);
      const shown = binanceLines(text).filter((l) => l.includes("overlap hold;"));
      const vc = config.venues[0]!;
      const seen: string[] = [];
      for (let w = 0; w < workers; w++) {
        const subs = configuredSubscriptions(config, vc, (venue, sub) => inWorkerShare(venue, sub, w, workers));
        if (subs.length === 0) continue;
        const adapter = new BinanceAdapter({ ...vc, restBridgeBufferBytes: restBridgeBytesPerWorker(total, workers) }, subs, { log: silentLogger }) as unknown as {
          bridge: { maxBytesOf(m: MarketName): number };
          band: { bridge: { maxBytesOf(m: MarketName): number } };
          overlap: { maxBytesOf(m: MarketName): number };
        };
        const parts = (["spot", "linear"] as const).filter((m) => subs.some((s) => s.market === m)).map((m) => {
          const n = subs.filter((s) => s.market === m).length;
          return `${m} (${n} stream${n === 1 ? "" : "s"}) ${adapter.bridge.maxBytesOf(m)}, ${adapter.band.bridge.maxBytesOf(m)}, ${adapter.overlap.maxBytesOf(m)}`;
        });
        seen.push(`# binance${workers > 1 ? ` worker ${w}` : ""} per market (resync bridges, depth refreshes, overlap hold; half in equal parts, half by streams): ${parts.join("; ")}`);
      }
      expect(shown, `seed ${seed}: ${text}`).toEqual(seen);
      reach = { workers: reach.workers + (workers > 1 ? 1 : 0), bothMarkets: reach.bothMarkets + (spot.length > 0 && linear.length > 0 ? 1 : 0) };
    }
    // The fixed seeds reach several workers and both markets together (this only guards the test's own reach).
    expect(reach.workers).toBeGreaterThan(2);
    expect(reach.bothMarkets).toBeGreaterThan(2);
  });

  test("shards: the connect and REST weight line names only the markets this shard takes streams of; no byte split without any", () => {
    // Until s-cfgfold it named every configured market, also one whose streams all go to other shards: this process
    // connects to no such host and spends none of its weight.
    let reach = { left: 0, both: 0, none: 0 };
    for (let seed = 1; seed <= 16; seed++) {
      const r = rng(seed);
      const pick = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `"${prefix}${i}X${Math.floor(r() * 1e6)}USDT"`);
      const count = 2 + Math.floor(r() * 2);
      const index = Math.floor(r() * count);
      const spot = pick(1 + Math.floor(r() * 2), "S");
      const linear = pick(1 + Math.floor(r() * 2), "L");
      // Coinbase's products keep every shard holding a symbol (a shard with none is refused).
      const products = Array.from({ length: 12 }, (_, i) => `"P${i}X${Math.floor(r() * 1e6)}-USD"`);
      const text = `shard = "${index}/${count}"\n[publish]\nsource_id = ${1 + index}\n[venues.binance.spot]\nsymbols = [${spot.join(", ")}]\n` +
        `[venues.binance.linear]\nsymbols = [${linear.join(", ")}]\n[venues.coinbase.spot]\nsymbols = [${products.join(", ")}]\n`;
      const config = parseConfigText(text);
      const taken = (["spot", "linear"] as const).filter((m) => configuredSubscriptions(config, config.venues[0]!).some((s) => s.market === m));
      const line = binanceLines(text).filter((l) => l.includes(" connects per "));
      const expected = taken.length === 0 ? [] : [`# binance per market (each its own host): ${taken.map((m) => `${m} 250 connects per 300 s, REST weight ${m === "spot" ? 4800 : 1920} a minute`).join("; ")} (the weight follows exchangeInfo's rateLimits)`];
      expect(line, `seed ${seed}: ${text}`).toEqual(expected);
      // The byte split likewise: a shard taking no Binance stream keeps no Binance bridge (until 2026-12-07 its line
      // was printed all the same).
      expect(binanceLines(text).filter((l) => l.startsWith("# binance splits")), `seed ${seed}: ${text}`).toHaveLength(taken.length === 0 ? 0 : 1);
      reach = { left: reach.left + (taken.length === 1 ? 1 : 0), both: reach.both + (taken.length === 2 ? 1 : 0), none: reach.none + (taken.length === 0 ? 1 : 0) };
    }
    // The fixed seeds reach a shard taking one market only, both, and neither (this only guards the test's own reach).
    expect(reach.left).toBeGreaterThan(1);
    expect(reach.both).toBeGreaterThan(1);
    expect(reach.none).toBeGreaterThan(0);
  });

  // Until s-rd15c config/format.ts printed a descriptor's lines as given: one that was no comment, or held a line
  // break or a control character, made check-config print a file that does not load (or loads as another config).
  test("a descriptor's lines are printed as comments whatever they hold: the output still loads as the same configuration", () => {
    const venues = VENUES as Record<string, VenueSpec>;
    const spec = venues.binance!;
    venues.binance = { ...spec, describeConfig: () => ["instrument_reload_ms = 0", "# two\nworkers = 3", "# bell \u0007 and\r\nrest_bridge_buffer_bytes = 1", "#\tok"] };
    try {
      const c = parseConfigText('[venues.binance]\n[venues.binance.spot]\nsymbols = ["BTCUSDT"]\n', "test.toml");
      const text = formatConfigToml(c);
      expect(parseConfigText(text, "test.toml")).toEqual(c);
      expect(text).toContain("\n# instrument_reload_ms = 0\n# two\n# workers = 3\n# bell \\x07 and\n# rest_bridge_buffer_bytes = 1\n#\tok\n");
    } finally {
      venues.binance = spec;
    }
  });
});
