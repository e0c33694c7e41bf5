/**
 * Shared pieces of the end-to-end tests: simulator → feeder → real loopback multicast → subscriber library.
 * Every multicast socket uses interface 127.0.0.1 and TTL 1.
 */
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { parseFixed } from "../../src/core/fixed.ts";
import type { BookView } from "../../src/core/book-view.ts";
import type { MarketName } from "../../src/core/types.ts";
import type { BybitSim } from "../../src/sim/bybit-sim.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { until } from "../support/until.ts";

export type Markets = { market: MarketName; depth: number; symbols: string[] }[];

export { DESTINATION_PORT_END, uniqueDestination } from "../support/destination.ts";

export function tempDir(prefix: string): string {
  return makeTempDir(prefix);
}

export interface FeederTestConfig {
  sim: BybitSim;
  markets: Markets;
  group: string;
  port: number;
  snapshotIntervalMs?: number;
  heartbeatIntervalMs?: number;
  http?: boolean;
  workers?: number;
}

/** The TOML-shaped raw config (also written to a file for the compiled binary). */
export function rawConfig(o: FeederTestConfig): Record<string, unknown> {
  const bybit: Record<string, unknown> = {
    ws_url: o.sim.wsUrl,
    rest_url: o.sim.restUrl,
    instrument_cache: join(tempDir("feeder-e2e-cache-"), "instruments.json"),
  };
  for (const m of o.markets) bybit[m.market] = { depth: m.depth, symbols: m.symbols };
  return {
    workers: o.workers ?? 1,
    log: { level: "warn", format: "json" },
    http: { enabled: o.http ?? false, listen: "127.0.0.1:0" },
    publish: {
      heartbeat_interval_ms: o.heartbeatIntervalMs ?? 200,
      snapshot_interval_ms: o.snapshotIntervalMs ?? 1000,
      destinations: [{ name: "e2e", group: o.group, port: o.port, interface: "127.0.0.1", ttl: 1, channel: 7 }],
    },
    venues: { bybit },
  };
}

export function feederConfig(o: FeederTestConfig): FeederConfig {
  return validateConfig(rawConfig(o));
}

export function toToml(raw: Record<string, unknown>): string {
  const lines: string[] = [];
  const scalar = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(scalar).join(", ")}]` : String(v));
  const table = (path: string, t: Record<string, unknown>) => {
    const nested: [string, Record<string, unknown>][] = [];
    const arrays: [string, Record<string, unknown>[]][] = [];
    if (path) lines.push(`[${path}]`);
    for (const [k, v] of Object.entries(t)) {
      if (Array.isArray(v) && v.length > 0 && typeof v[0] === "object") arrays.push([k, v as Record<string, unknown>[]]);
      else if (v !== null && typeof v === "object" && !Array.isArray(v)) nested.push([k, v as Record<string, unknown>]);
      else lines.push(`${k} = ${scalar(v)}`);
    }
    for (const [k, v] of nested) table(path ? `${path}.${k}` : k, v);
    for (const [k, arr] of arrays) {
      for (const item of arr) {
        lines.push(`[[${path ? `${path}.${k}` : k}]]`);
        for (const [ik, iv] of Object.entries(item)) lines.push(`${ik} = ${scalar(iv)}`);
      }
    }
  };
  table("", raw);
  return lines.join("\n") + "\n";
}

/** A book as sorted [priceMantissa, qtyMantissa] pairs per side (best first), for exact comparison. */
export interface Levels {
  bids: [number, number][];
  asks: [number, number][];
}

export function levelsOfView(view: BookView): Levels {
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let r = 0; r < view.bidCount; r++) bids.push([view.bidPriceAt(r), view.bidQtyAt(r)]);
  for (let r = 0; r < view.askCount; r++) asks.push([view.askPriceAt(r), view.askQtyAt(r)]);
  return { bids, asks };
}

/** The simulator's book (decimal strings) converted exactly at the instrument's exponents. */
export function levelsOfSim(book: { bids: Map<string, string>; asks: Map<string, string> }, priceExp: number, qtyExp: number): Levels {
  const conv = (m: Map<string, string>) => [...m].map(([p, q]) => [parseFixed(p, priceExp), parseFixed(q, qtyExp)] as [number, number]);
  return {
    bids: conv(book.bids).sort((a, b) => b[0] - a[0]),
    asks: conv(book.asks).sort((a, b) => a[0] - b[0]),
  };
}

/** True when every topic's book at the subscriber is valid, at the simulator's u, with the simulator's levels. */
export function allBooksEqual(subscriber: FeedSubscriber, sim: BybitSim, topics: readonly { market: MarketName; symbol: string; id: number }[]): boolean {
  return topics.every((t) => {
    const b = subscriber.books.get(t.id);
    if (!b || !b.usable) return false;
    const s = sim.book(t.market, t.symbol);
    return b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
  });
}

export function sameLevels(a: Levels, b: Levels): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Polls a condition until it holds, failing naming what was awaited (test/support/until.ts). */
export { until as waitFor };

const SUBSCRIBER_EVENTS = ["update", "status", "gap", "session", "stale", "repair", "supersede", "evict", "exponent", "definition"] as const;

/**
 * Until `cond` holds, judged when `sub` has emitted an event since the last try (what it shows changes only with
 * one; at most every 2 ms, as waitFor) and every `tickMs`, calling `onTick` (e.g. a simulator step) at that pace from
 * a timer, as waitFor's polls do (a loop busy with what the steps sent delays the next step: never ahead of it); past
 * `timeoutMs` it throws naming `what`. For a `cond` that compares whole books: waitFor judges it every 2 ms, 500
 * formattings a second of every book while nothing moved (the CPU the suite is short of); this only once moved.
 */
export async function untilSubscriber(sub: FeedSubscriber, cond: () => boolean, what: string, timeoutMs = 10_000, onTick?: () => void, tickMs = 20): Promise<void> {
  let moved = false;
  let ticked = false;
  let wake: (() => void) | undefined;
  const onEvent = () => {
    moved = true;
    wake?.();
  };
  const tick = () => {
    ticked = true;
    wake?.();
  };
  let timer = setTimeout(tick, tickMs);
  for (const ev of SUBSCRIBER_EVENTS) sub.on(ev, onEvent);
  try {
    const deadlineMs = performance.now() + timeoutMs;
    while (!cond()) {
      const triedMs = performance.now();
      moved = false;
      while (!moved && !ticked) {
        if (performance.now() > deadlineMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (performance.now() > deadlineMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
      if (moved) {
        // What moved is judged before a step due meanwhile (the next try) could undo the equality awaited.
        const sinceMs = performance.now() - triedMs;
        if (sinceMs < 2) await new Promise((r) => setTimeout(r, 2 - sinceMs));
        continue;
      }
      ticked = false;
      onTick?.();
      timer = setTimeout(tick, tickMs);
    }
  } finally {
    clearTimeout(timer);
    wake = undefined;
    for (const ev of SUBSCRIBER_EVENTS) sub.off(ev, onEvent);
  }
}
