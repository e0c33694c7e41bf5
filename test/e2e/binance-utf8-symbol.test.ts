/**
 * A Binance symbol named in Chinese end to end: the simulator lists 币安人生USDT (spot) and streams it as
 * 币安人生usdt@depth@100ms → the feeder (config, exchangeInfo, REST depth with the symbol percent-encoded, the stream
 * table, the general reader) → real multicast on 127.0.0.1, TTL 1 → the subscriber, which names the book as the venue
 * does and holds the simulator's book. The same name in /status, /books/binance/spot/<encoded>, and the instrument
 * cache. One short run beside an ASCII book; before, the configuration refused the symbol.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBinanceSimulator, type BinanceSim } from "../../src/sim/binance-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, uniqueDestination, waitFor } from "./harness.ts";

const SYMBOLS = ["币安人生USDT", "BTCUSDT"];
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

test("币安人生USDT: simulator → feeder → multicast → subscriber, book equal, named as the venue names it", { timeout: 30_000 }, async () => {
  const sim: BinanceSim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 8 });
  stops.push(() => sim.stop());
  const { group, port } = uniqueDestination(77);
  const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  stops.push(() => sub.stop());
  await sub.start();
  const cache = join(tempDir("binance-utf8-"), "instruments.json");
  const config = validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: true, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 500, destinations: [{ name: "u", group, port, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
    venues: { binance: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache, spot: { depth: 1000, symbols: SYMBOLS } } },
  });
  const runtime: Runtime = await startRuntime(config, silentLogger);
  stops.push(() => runtime.stop());
  const ids = SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s));
  const equal = () =>
    SYMBOLS.every((s, k) => {
      const b = sub.books.get(ids[k]!);
      if (!b?.usable) return false;
      const t = sim.book("spot", s);
      return b.venueSeq === t.u && sameLevels(levelsOfView(b), levelsOfSim(t, b.instrument.priceExp, b.instrument.qtyExp));
    });
  await waitFor(equal, "both books usable and equal to the simulator's", 20_000, () => sim.step(1));
  sim.step(3);
  await waitFor(equal, "equal again after three more diffs", 10_000);

  const book = sub.books.get(ids[0]!)!;
  expect(book.instrument.symbol).toBe("币安人生USDT");
  expect(book.instrument.venue).toBe("binance");
  expect(book.instrument.market).toBe("spot");
  expect(runtime.feeder!.stats().venues.binance!.parseErrors ?? 0).toBe(0);

  const base = runtime.http!.url;
  const status = (await (await fetch(`${base}/status`)).json()) as { books: { symbol: string; state: string }[] };
  expect(status.books.map((b) => b.symbol).sort()).toEqual([...SYMBOLS].sort());
  const one = await fetch(`${base}/books/binance/spot/${encodeURIComponent("币安人生USDT")}?depth=1`);
  expect(one.status).toBe(200);
  expect(((await one.json()) as { symbol: string }).symbol).toBe("币安人生USDT");
  await waitFor(() => readFileSync(cache, "utf8").includes("币安人生USDT"), "the instrument cache written", 10_000);
  expect(JSON.stringify(JSON.parse(readFileSync(cache, "utf8")))).toContain("spot:币安人生USDT");
});
