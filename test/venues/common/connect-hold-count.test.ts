/**
 * When a refused handshake doubles the venue's connect hold (connect-hold.ts): connects already under way when a
 * refusal is read are refused in the same burst and do not double it again (before: two connections refused at once
 * held 2 × the first hold, seven 10 min); a planned replacement that opens starts the count over, like an ordinary
 * connect (before: it did not, so the next refusal's hold was doubled). Each refusal is counted per connection in
 * /metrics (`connects_refused_total`). Bybit through a proxy that refuses chosen handshakes; loopback only.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import type { VenueConfig } from "../../../src/config/types.ts";
import type { MarketName } from "../../../src/core/types.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { captureLog } from "../../support/capture-log.ts";
import { BookMaps, startBybit, until } from "../planned-fallback-harness.ts";
import { startWsProxy } from "../ws-proxy.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const refusalsOf = (lines: ReturnType<typeof captureLog>["lines"]) => lines.filter((l) => l.msg.includes("refused a connect")).map((l) => l.fields);

describe("the connect hold's doubling", { timeout: 30_000 }, () => {
  test("two connections refused 429 at once (their connects under way together): one hold of the first length, each refusal counted on its connection", async () => {
    const markets: { market: MarketName; symbols: string[] }[] = [
      { market: "linear", symbols: ["BTCUSDT"] },
      { market: "spot", symbols: ["ETHUSDT"] },
    ];
    const sim = await startBybitSimulator({ markets, seed: 65 });
    cleanups.push(() => sim.stop());
    const proxy = startWsProxy(new URL(sim.wsUrl).origin);
    cleanups.push(() => proxy.stop());
    proxy.refuseUpgrade = () => 429; // every handshake; the hold (60 s) outlasts the test: no second attempt
    const subs: Subscription[] = markets.map((m) => ({ market: m.market, symbol: m.symbols[0]!, depth: 50 }));
    const config: VenueConfig = {
      venue: "bybit",
      wsUrl: `${proxy.origin}/v5/public`,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("hold-burst"), "instruments.json"),
      markets: markets.map((m) => ({ market: m.market, depth: 50, symbols: m.symbols })),
      overrides: new Map(),
    };
    const { log, lines } = captureLog();
    const adapter: VenueAdapter = createBybitAdapter(config, subs, { log, connectHoldMs: { 429: 60_000 } });
    cleanups.push(() => adapter.stop());
    adapter.start(new BookMaps(await adapter.loadInstruments()));
    await until(() => refusalsOf(lines).length >= 2, "both connections' handshakes refused");
    expect(proxy.upgradesAtMs).toHaveLength(2); // both connects were under way before the first refusal was read
    expect(refusalsOf(lines).map((f) => [f.status, f.holdMs])).toEqual([
      [429, 60_000],
      [429, 60_000], // not 120 s: the same burst
    ]);
    const refused = adapter.metrics().filter((m) => m.name === "connects_refused_total");
    expect(refused.map((m) => [m.type, m.labels.market, m.value]).sort()).toEqual([
      ["counter", "linear", 1],
      ["counter", "spot", 1],
    ]);
    expect(adapter.stats().connectsRefused).toBe(2);
  });

  test("s-rev55: the wall clock stepped back after a refusal: the reconnect's refusal (a repeated ban) still doubles the hold", async () => {
    const { log, lines } = captureLog();
    let offsetMs = 0;
    const now = () => Date.now() + offsetMs;
    const run = await startBybit(["BTCUSDT"], Infinity, {
      prepare: (p) => (p.refuseUpgrade = () => 429), // every handshake: a ban that lasts
      adapter: { log, now, connectHoldMs: { 429: 200 } },
    });
    cleanups.push(() => run.stop());
    await until(() => refusalsOf(lines).length >= 1, "the first handshake refused");
    offsetMs = -3_600_000; // an NTP step back of an hour: the next connect starts "before" the first refusal was read
    await until(() => refusalsOf(lines).length >= 2, "the reconnect refused too", 20_000);
    expect(run.proxy.upgradesAtMs.length).toBeGreaterThanOrEqual(2);
    expect(refusalsOf(lines).slice(0, 2).map((f) => [f.status, f.holdMs, f.refusedInRow])).toEqual([
      [429, 200, 1],
      [429, 400, 2], // old code: 200 ms, 1 in a row (taken for the first refusal's burst), so the ban never grew
    ]);
  });

  test("a planned replacement refused, the next one opening, then another refused: the hold starts over from the first length", async () => {
    const { log, lines } = captureLog({ info: true });
    // Handshakes: 0 the connection, 1 its first planned replacement (refused), 2 the retry (opens), 3 the next one (refused).
    const run = await startBybit(["BTCUSDT"], 1_500, {
      prepare: (p) => (p.refuseUpgrade = (attempt) => (attempt === 1 || attempt === 3 ? 429 : undefined)),
      adapter: { log, connectHoldMs: { 429: 200 } },
    });
    cleanups.push(() => run.stop());
    await until(() => refusalsOf(lines).length >= 2, "two planned replacements refused", 20_000);
    expect(run.proxy.upgradesAtMs.length).toBeGreaterThanOrEqual(4);
    expect(refusalsOf(lines).map((f) => [f.status, f.holdMs, f.refusedInRow])).toEqual([
      [429, 200, 1],
      [429, 200, 1], // not 400 ms, 2 in a row: handshake 2 opened in between
    ]);
    expect(run.adapter.stats().reconnects).toBe(0); // the old socket carried the books throughout
  });
});
