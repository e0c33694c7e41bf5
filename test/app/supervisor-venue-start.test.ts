/**
 * With `workers = 2` each venue starts on its own, as in one process (test/app/venue-start-isolation.test.ts): Bybit
 * and Coinbase simulators, each venue's symbols split over both workers (BTCUSDT and ETH-USD in worker 0's share,
 * SOLUSDT and BTC-USD in worker 1's), Coinbase's products REST behind a front that holds its requests. Multicast on
 * 127.0.0.1, TTL 1.
 * - Coinbase's REST hangs: both workers publish their Bybit books (usable at a subscriber) while every Coinbase
 *   request is still held, and /readyz's input names Coinbase's symbols as `resolving`; released, they join. Before,
 *   the supervisor resolved every venue's instruments itself before starting any worker: no worker started until its
 *   own Coinbase request had run into the 10 s REST timeout (the front saw it give up first).
 * - stop() then ends the workers' held requests at once and start() resolves; the Bybit books are halted.
 * - A venue whose symbols are all not listed, split over both workers, still fails the start naming each of them
 *   (the supervisor's check over the workers' shares); one not listed beside a listed one does not.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { SymbolsUnusableError } from "../../src/core/errors.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../src/sim/coinbase-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/feed-subscriber.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

const BYBIT = ["BTCUSDT", "SOLUSDT"];
const COINBASE = ["BTC-USD", "ETH-USD"];

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Polls an async read until `ok` holds (no fixed sleeps); throws naming `what` and the last value after timeoutMs. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function sims(seed: number): Promise<{ bybit: BybitSim; coinbase: CoinbaseSim }> {
  const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: BYBIT }], seed, messagesPerSecond: 0 });
  cleanups.push(() => bybit.stop());
  const coinbase = await startCoinbaseSimulator({ products: COINBASE, seed, messagesPerSecond: 0, levels: 20, heartbeatMs: 100 });
  cleanups.push(() => coinbase.stop());
  return { bybit, coinbase };
}

/** A REST front holding every request until release() (then forwarding it), or until its client gives up. */
function heldFront(target: string): { url: string; held: () => number; gone: () => number; release: () => void } {
  let held = 0;
  let gone = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      held++;
      const clientGone = new Promise<"gone">((r) => req.signal.addEventListener("abort", () => r("gone")));
      if ((await Promise.race([released.then(() => "released" as const), clientGone])) === "gone") {
        gone++;
        return new Response("gone", { status: 499 });
      }
      const url = new URL(req.url);
      const answer = await fetch(`${target.replace(/\/+$/, "")}${url.pathname}${url.search}`);
      return new Response(await answer.text(), { status: answer.status, headers: { "content-type": "application/json" } });
    },
  });
  cleanups.push(() => front.stop(true));
  cleanups.push(() => release()); // before the front stops (cleanups run in reverse)
  return { url: `http://127.0.0.1:${front.port}`, held: () => held, gone: () => gone, release };
}

function supervisorOf(seed: number, bybit: BybitSim, coinbase: CoinbaseSim, coinbaseRestUrl: string, symbols: { bybit?: string[] } = {}): { supervisor: Supervisor; group: string; port: number } {
  const { group, port } = uniqueDestination(seed);
  const cache = (v: string) => join(tempDir(`feeder-supres-${v}-`), "instruments.json");
  const config = validateConfig({
    workers: 2,
    log: { level: "error", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 1000, startup_listen_ms: 0, destinations: [{ name: "supres", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
    venues: {
      bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: cache("bybit"), linear: { depth: 50, symbols: symbols.bybit ?? BYBIT } },
      coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbaseRestUrl, instrument_cache: cache("coinbase"), spot: { symbols: COINBASE } },
    },
  });
  const supervisor = new Supervisor(config, silentLogger);
  cleanups.push(() => supervisor.stop());
  return { supervisor, group, port };
}

async function subscriberOn(group: string, port: number): Promise<FeedSubscriber> {
  const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await sub.start();
  cleanups.push(() => sub.stop());
  return sub;
}

const shareOf = (venue: string, market: "linear" | "spot", symbol: string) => (inWorkerShare(venue, { market, symbol, depth: 50 }, 0, 2) ? 0 : 1);
const liveOf = (books: { venue: string; symbol: string; state: string }[], venue: string) => books.filter((b) => b.venue === venue && b.state === "live").map((b) => b.symbol).sort();
const bybitUsable = (sub: FeedSubscriber) => BYBIT.every((s) => sub.books.get(instrumentIdOf("bybit", "linear", s))?.usable === true);

describe("workers = 2: each venue starts on its own", { timeout: 60_000 }, () => {
  test("the symbols are split over both workers, each venue's", () => {
    expect(BYBIT.map((s) => shareOf("bybit", "linear", s))).toEqual([0, 1]);
    expect(COINBASE.map((s) => shareOf("coinbase", "spot", s))).toEqual([1, 0]);
  });

  test("one venue's instrument REST hanging: both workers publish the other venue's books at once; the venue joins when REST answers", async () => {
    const { bybit, coinbase } = await sims(91);
    const front = heldFront(coinbase.restUrl);
    const { supervisor, group, port } = supervisorOf(91, bybit, coinbase, front.url);
    const sub = await subscriberOn(group, port);
    let settled = false;
    const starting = supervisor.start().finally(() => (settled = true));
    await waitFor(() => bybitUsable(sub) || front.gone() > 0, "bybit books usable at the subscriber (or a coinbase request given up)", 30_000);
    // The old code started no worker before the supervisor's own Coinbase request had timed out (given up).
    expect(front.gone(), "a coinbase request given up at its 10 s REST timeout before the bybit books were usable").toBe(0);
    expect(settled).toBe(false);
    expect(liveOf((await supervisor.readiness()).books, "bybit")).toEqual([...BYBIT].sort());
    const reasons = evaluateReadiness(await supervisor.readiness()).reasons;
    expect(reasons.filter((r) => r.check === "worker_down")).toEqual([]);
    const resolving = reasons.filter((r) => r.check === "symbol_unresolved").map((r) => [r.venue, r.symbol, r.reason]);
    expect(resolving.sort()).toEqual([
      ["coinbase", "BTC-USD", "resolving"],
      ["coinbase", "ETH-USD", "resolving"],
    ]);

    front.release();
    await starting;
    await until(async () => (await supervisor.readiness()).books, (b) => liveOf(b, "coinbase").length === 2, "coinbase books LIVE once REST answered");
    await until(() => supervisor.readiness(), (r) => evaluateReadiness(r).ready, "ready");
    expect(front.gone()).toBe(0);
  });

  test("stop() while both workers run one venue and wait for the other's REST: the requests end at once, start() resolves, the running books are halted", async () => {
    const { bybit, coinbase } = await sims(92);
    const front = heldFront(coinbase.restUrl); // never released
    const { supervisor, group, port } = supervisorOf(92, bybit, coinbase, front.url);
    const sub = await subscriberOn(group, port);
    let settled = false;
    const starting = supervisor.start().finally(() => (settled = true));
    await waitFor(() => bybitUsable(sub) || front.gone() > 0, "bybit books usable at the subscriber (or a coinbase request given up)", 30_000);
    expect(front.gone(), "a coinbase request given up at its 10 s REST timeout before the bybit books were usable").toBe(0);
    expect(settled).toBe(false);
    const held = front.held();
    await supervisor.stop();
    await starting; // resolves: stopped during start-up is no failure
    // Every held request was given up by the stopping worker, not by its 10 s timeout (none had been before stop()).
    await waitFor(() => front.gone() === held, "every held coinbase request abandoned");
    await waitFor(() => BYBIT.every((s) => sub.books.get(instrumentIdOf("bybit", "linear", s))?.state === BookState.HALTED), "bybit books halted at the subscriber");
  });

  test("a venue whose symbols are all not listed, over both workers' shares, still fails the start naming each", async () => {
    const bad = ["NOPE0USDT", "NOPE3USDT"];
    expect(bad.map((s) => shareOf("bybit", "linear", s))).toEqual([1, 0]);
    const { bybit, coinbase } = await sims(93);
    const { supervisor } = supervisorOf(93, bybit, coinbase, coinbase.restUrl, { bybit: bad });
    const err = await supervisor.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^bybit: cannot resolve instruments for /);
    expect(err).toBeInstanceOf(SymbolsUnusableError); // run exits 2 on it (before: a plain Error, exit 1, restarted for ever)
    for (const s of bad) expect(err?.message).toMatch(new RegExp(`linear:${s} \\(not listed`));
    await supervisor.stop();
  });

  test("one worker's share of a venue not listed while the other's resolves: the start goes on", async () => {
    const { bybit, coinbase } = await sims(94);
    const { supervisor } = supervisorOf(94, bybit, coinbase, coinbase.restUrl, { bybit: ["BTCUSDT", "NOPE0USDT"] });
    await supervisor.start();
    const books = await until(async () => (await supervisor.readiness()).books, (b) => liveOf(b, "bybit").length === 1 && liveOf(b, "coinbase").length === 2, "the listed books LIVE");
    expect(liveOf(books, "bybit")).toEqual(["BTCUSDT"]);
    const unresolved = evaluateReadiness(await supervisor.readiness()).reasons.filter((r) => r.check === "symbol_unresolved");
    expect(unresolved.map((r) => [r.venue, r.symbol, r.reason])).toEqual([["bybit", "NOPE0USDT", "not_listed"]]);
  });
});
