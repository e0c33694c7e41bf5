/**
 * Upbit or Bithumb behind a WebSocket proxy (../ws-proxy.ts), for tests that rewrite, hold or answer frames on the
 * way: the simulator (text frames), the proxy, the adapter through it, a sink of price → qty maps and `equal(i)`,
 * whether book i is the simulator's, level for level, at its timestamp. Returns once both books are equal.
 * The simulator is still (messagesPerSecond 0): its books move only by `sim.step`, so a wait for equality compares
 * books at rest. Before, it ran in real time (100-200 books/s) and under CPU load 'books equal at start' timed out:
 * the books moved while polled.
 */
import { parseFixed } from "../../../src/core/fixed.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startUpbitSimulator, type UpbitSim } from "../../../src/sim/upbit-sim.ts";
import { venueSpec } from "../../../src/venues/registry.ts";
import type { CommonAdapterOptions, Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { tempCachePath } from "../bybit/helpers.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";

export const PROXIED_SUBS: Subscription[] = [
  { market: "spot", symbol: "KRW-BTC", depth: 15 },
  { market: "spot", symbol: "KRW-XRP", depth: 15 },
];

export interface ProxiedUpbit {
  sim: UpbitSim;
  proxy: WsProxy;
  adapter: VenueAdapter;
  sink: BookMaps;
  equal(i: number): boolean;
}

/** `prepare` sets the proxy's rules before the adapter connects; `options` are the adapter's (a log among them). */
export async function startProxiedUpbit(
  venue: "upbit" | "bithumb",
  sim: { seed: number; quiet?: string[] },
  prepare: (p: WsProxy) => void,
  options: CommonAdapterOptions & Record<string, unknown>,
  cleanups: (() => Promise<void>)[],
): Promise<ProxiedUpbit> {
  const SUBS = PROXIED_SUBS;
  const upbit = await startUpbitSimulator({ venue, codes: SUBS.map((s) => s.symbol), ...sim, messagesPerSecond: 0, frames: "text" });
  const proxy = startWsProxy(new URL(upbit.wsUrl).origin);
  prepare(proxy);
  const config = {
    venue,
    wsUrl: `${proxy.origin}${new URL(upbit.wsUrl).pathname}`,
    restUrl: upbit.restUrl,
    instrumentCachePath: tempCachePath(),
    markets: [{ market: "spot" as const, depth: 15, symbols: SUBS.map((s) => s.symbol) }],
    overrides: new Map(),
  };
  const adapter: VenueAdapter = venueSpec(venue)!.create(config, SUBS, options);
  cleanups.push(async () => {
    await adapter.stop();
    proxy.stop();
    await upbit.stop();
  });
  const sink = new BookMaps(await adapter.loadInstruments());
  adapter.start(sink);
  const equal = (i: number) => {
    const inst = sink.instruments[i]!;
    const b = upbit.book(SUBS[i]!.symbol, SUBS[i]!.depth);
    const conv = (m: Map<string, string>) => new Map([...m].map(([p, q]) => [parseFixed(p, inst.priceExp), parseFixed(q, inst.qtyExp)] as [number, number]));
    const same = (a: Map<number, number> | undefined, e: Map<number, number>) => a !== undefined && a.size === e.size && [...e].every(([k, v]) => a.get(k) === v);
    return sink.seq[i] === b.ts && same(sink.bids[i], conv(b.bids)) && same(sink.asks[i], conv(b.asks));
  };
  await until(() => equal(0) && equal(1), "books equal at start");
  return { sim: upbit, proxy, adapter, sink, equal };
}

/** A live run's frames and connection events, in the order the adapter's taps saw them (as `feeder record` writes them). */
export interface Recorded {
  readonly records: { tsUs: number; frame?: string; event?: string }[];
  /** The adapter options that fill `records`. */
  readonly taps: Pick<CommonAdapterOptions, "onRawFrame" | "onRawRest">;
}

/** `nowUs`: the receive times to record (a test's adapter clock, so replay sees the times live judged by); default the tap's. */
export function recorder(nowUs?: () => number): Recorded {
  const records: Recorded["records"] = [];
  return {
    records,
    taps: {
      onRawFrame: (_m, _c, frame, tsUs) => void records.push({ tsUs: nowUs?.() ?? tsUs, frame }),
      onRawRest: (_m, _c, url, _b, tsUs) => void records.push({ tsUs: nowUs?.() ?? tsUs, event: url }),
    },
  };
}

/**
 * Replays `records` through a new adapter's replay entry as the Feeder's replay feeds a capture: before each record
 * the clock moves to its receive time and the housekeeping due by then runs (replayClockAt). `invalidAt[k]` is the
 * number of records fed before the sink's k-th invalidation (live: the records tapped before it).
 */
export async function replayRecorded(
  venue: "upbit" | "bithumb",
  restUrl: string,
  records: Recorded["records"],
  options: Record<string, unknown>,
  cleanups: (() => Promise<void>)[],
): Promise<{ adapter: VenueAdapter; sink: BookMaps; invalidAt: number[] }> {
  let nowMs = 0;
  const config = {
    venue,
    wsUrl: "ws://127.0.0.1:9",
    restUrl,
    instrumentCachePath: tempCachePath(),
    markets: [{ market: "spot" as const, depth: 15, symbols: PROXIED_SUBS.map((x) => x.symbol) }],
    overrides: new Map(),
  };
  const adapter: VenueAdapter = venueSpec(venue)!.create(config, PROXIED_SUBS, { log: silentLogger, ...options, now: () => nowMs, wallNow: Date.now });
  cleanups.push(() => adapter.stop());
  const sink = new BookMaps(await adapter.loadInstruments());
  const invalidAt: number[] = [];
  let fed = 0;
  const onInvalid = sink.onBookInvalid.bind(sink);
  sink.onBookInvalid = (index, state, reason) => {
    invalidAt.push(fed);
    onInvalid(index, state, reason);
  };
  adapter.startReplay(sink);
  for (const r of records) {
    nowMs = r.tsUs / 1000;
    adapter.replayClockAt?.(nowMs);
    if (r.frame !== undefined) adapter.ingestFrame("spot", "conn0.spot", r.frame, r.tsUs);
    else adapter.ingestConnectionEvent!("spot", "conn0.spot", r.event!, r.tsUs);
    fed++;
  }
  return { adapter, sink, invalidAt };
}
