/**
 * An Upbit/Bithumb code closed (no longer listed: ConnectionLifecycle.retire) while a bisect probe that names it is
 * out. Upbit has no unsubscribe: the close only sends the list again without it, which waits for the bisection (a
 * probe is the whole subscription). Before, the next error frame bisected the probe as it was sent, closed code
 * included, and its first half was that code alone: a request naming a code that is gone, the venue's whole
 * subscription for a probe period, every other book left out meanwhile. Now a probe never names a refused or closed
 * code: the bisection goes on with the others and the whole list that ends it leaves the closed code out.
 * Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import type { ConnectionLifecycle } from "../../../src/venues/common/connection-lifecycle.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { allResolved, RecordingSink, tempCachePath, waitFor } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const until = (cond: () => boolean, what: string, timeoutMs = 15_000) => waitFor(cond, what, timeoutMs);

const CODES = ["KRW-BTC", "KRW-XRP", "USDT-BTC"];

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a code closed while a bisect probe names it`, { timeout: 60_000 }, () => {
    it("is never probed alone; the bisection goes on with the others and ends without it", async () => {
      const venue = spec.venue as "upbit" | "bithumb";
      const subs: Subscription[] = CODES.map((symbol) => ({ market: "spot", symbol, depth: 30 }));
      const sim = await startUpbitSimulator({ venue, codes: CODES, seed: 3 });
      const config = { venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 30, symbols: CODES }], overrides: new Map() };
      // A probe passes after 1.5 s without an error frame: long enough to close a code while one is out.
      const adapter = spec.create(config, subs, { log: silentLogger, errorWaitMs: 1_500 }) as VenueAdapter & { stats(): Record<string, number> };
      cleanups.push(async () => {
        await adapter.stop();
        await sim.stop();
      });
      const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
      adapter.start(sink);
      const inner = adapter as unknown as { lifecycle: ConnectionLifecycle; topics: TopicState[] };
      const subscribed = () => sim.subscribed().sort().join();
      await until(() => {
        sim.step(1);
        return adapter.stats().topicsLive === 3;
      }, "every book live");

      sim.inject("error_frame"); // no code caused it: the last request is bisected, first [KRW-BTC, KRW-XRP]
      await until(() => subscribed() === "KRW-BTC,KRW-XRP", "the first probe is the venue's subscription");
      inner.lifecycle.retire(inner.topics[0]!, StatusReason.INSTRUMENT_CLOSED); // KRW-BTC no longer listed
      expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
      const requests = sim.stats.requests;
      sim.inject("error_frame"); // lands while the probe is out: its codes are bisected further
      await until(() => sim.stats.requests > requests, "the next probe out");
      // Old: the probe was KRW-BTC alone, the closed code the venue's whole subscription.
      expect(subscribed()).toBe("KRW-XRP");
      // That probe passes (no error within 1.5 s): the whole list goes out again, without the closed code.
      await until(() => subscribed() === "KRW-XRP,USDT-BTC", "the whole list again, without KRW-BTC", 20_000);
      await until(() => {
        sim.step(1);
        return adapter.stats().topicsLive === 2;
      }, "the other books live");
      expect(adapter.stats().subscribeRejected).toBe(0);
      expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    });
  });
}
