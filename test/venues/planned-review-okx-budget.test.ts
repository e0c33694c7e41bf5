/**
 * Review of the planned-reconnect fallback: OKX counts subscribe + unsubscribe requests per socket (480 per hour,
 * docs/venues/okx.md [F2]). A failed replacement's fallback gives the old socket a new generation; the requests that
 * socket sent before the overlap still count against it, so a resync after the fallback that would go over the
 * budget waits for it (requestBudgetWaits) instead of being sent (the venue would answer 60014).
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { StatusReason } from "../../src/core/types.ts";
import { startOkxSimulator, type OkxSim } from "../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../src/venues/okx/index.ts";
import type { Subscription } from "../../src/venues/venue.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { BookMaps, TEST_TIMINGS, until } from "./planned-fallback-harness.ts";
import { startWsProxy, type WsProxy } from "./ws-proxy.ts";

const REQUESTS_PER_WINDOW = 4;
const WINDOW_MS = 120_000; // longer than the test: nothing leaves the window

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

const isRequest = (m: string) => m.includes('"op":"subscribe"') || m.includes('"op":"unsubscribe"');

test("okx: after a failed planned reconnect the old socket's requests before the overlap still count against its hourly budget", { timeout: 30_000 }, async () => {
  const symbols = ["BTC-USDT", "ETH-USDT"];
  const sim: OkxSim = await startOkxSimulator({ markets: [{ market: "spot", symbols }], seed: 31, noticeCloseMs: 30_000, requestsPerHour: REQUESTS_PER_WINDOW, requestWindowMs: WINDOW_MS });
  const proxy: WsProxy = startWsProxy(new URL(sim.wsUrl).origin);
  for (const i of [1, 2, 3]) proxy.byIndex.set(i, { holdDown: true }); // replacements whose acks never come
  const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 400 }));
  const config = {
    venue: "okx" as const,
    wsUrl: `${proxy.origin}/ws/v5/public`,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("planned-review-okx"), "instruments.json"),
    markets: [{ market: "spot" as const, depth: 400, symbols }],
    overrides: new Map(),
  };
  const adapter = new OkxAdapter(config, subs, { log: silentLogger, ...TEST_TIMINGS, resyncBackoffBaseMs: 20, requestsPerHour: REQUESTS_PER_WINDOW, requestWindowMs: WINDOW_MS });
  const sink = new BookMaps(await adapter.loadInstruments());
  adapter.start(sink);
  cleanup = async () => {
    await adapter.stop();
    proxy.stop();
    await sim.stop();
  };
  const live = () => adapter.stats().topicsLive === 2;
  sim.step(2);
  await until(live, "both books live");
  const old = () => proxy.links[0]!;
  // The old socket: its subscribe (1), one resync's unsubscribe + subscribe (2): 3 of 4.
  adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
  await until(() => old().fromClient.filter(isRequest).length === 3 && live(), "the first resync done on the old socket");
  sim.inject("notice");
  await until(() => adapter.stats().plannedReconnectFailures === 1, "the replacement failed (acks held)");
  expect(old().closed).toBe(false);
  // A second resync within the backoff's reset time: its unsubscribe goes out at once (4 of 4), its subscribe once the
  // backoff is over, which would be the old socket's fifth request: it waits for the budget.
  adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
  await until(() => adapter.stats().requestBudgetWaits > 0 || old().fromClient.filter(isRequest).length > REQUESTS_PER_WINDOW, "the resync's subscribe waiting or sent");
  expect(old().fromClient.filter(isRequest).length).toBe(REQUESTS_PER_WINDOW);
  expect(adapter.stats().requestBudgetWaits).toBe(1);
  expect(sim.stats.errorsSent).toBe(0); // no 60014
});
