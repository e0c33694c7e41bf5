/**
 * HTTP against an enormous book (10^5 levels a side, prices over ten decades) with real parts: the Bybit simulator
 * over WebSocket (the enormous book is a replayed topic, the other a generated one), the feeder in process, real
 * HTTP and real multicast on 127.0.0.1. The HTTP server shares its thread with the venue connections and the
 * publisher, so what it does per request is what every other book waits for.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unpack } from "msgpackr";
import { Feeder } from "../../src/app/feeder.ts";
import { detail } from "../../src/app/book-json.ts";
import { startHttpServer, type HttpServerHandle } from "../../src/app/http-server.ts";
import { localStatusSource } from "../../src/app/runtime.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState } from "../../src/core/types.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, tempDir, uniqueDestination, untilSubscriber, waitFor, type Markets } from "../e2e/harness.ts";

const LEVELS = 100_000;
const MARKETS: Markets = [{ market: "linear", depth: 1000, symbols: ["BTCUSDT", "ETHUSDT"] }];
const BTC = { market: "linear" as const, symbol: "BTCUSDT", id: instrumentIdOf("bybit", "linear", "BTCUSDT") };
const HEARTBEAT_MS = 200;
/** Concurrent full-depth requests of ETHUSDT. */
const BODIES = 5;

let sim: BybitSim;
let feeder: Feeder;
let http: HttpServerHandle;
let subscriber: FeedSubscriber;

/** Levels a side of orderbook.1000's snapshot: a deeper one is refused (over_depth, docs/venues/bybit.md). */
const SNAPSHOT_LEVELS = 1000;
/** One delta grows ETHUSDT's book from the snapshot's 1000 levels a side to LEVELS (a delta's count is not bounded; one, not 99 of 1000 a side: the suite's time). */
const GROWTH_DELTAS = 1;

/**
 * ETHUSDT's recording: LEVELS bids from 10^8 down to 0.01 (ten decades) and LEVELS asks, the best 1000 a side as a
 * snapshot and the rest in one delta (a delta's count is not bounded), then small deltas.
 */
function enormousRecording(): string {
  const bids: string[] = [];
  let prev = Infinity;
  for (let i = 0; i < LEVELS; i++) {
    // Geometric from 10^10 cents down, then one cent apart near zero: strictly falling, the last at 0.01.
    const cents = Math.min(prev - 1, Math.max(LEVELS - i, Math.round(1e10 * Math.pow(1e-10, i / (LEVELS - 1)))));
    bids.push(`["${(cents / 100).toFixed(2)}","1.5"]`);
    prev = cents;
  }
  const asks = Array.from({ length: LEVELS }, (_, i) => `["${(1e8 + 1 + i * 0.37).toFixed(2)}","2.25"]`);
  const part = (from: number, to: number, worstFirst = false) => {
    const side = (levels: string[]) => (worstFirst ? levels.slice(from, to).reverse() : levels.slice(from, to)).join(",");
    return `"b":[${side(bids)}],"a":[${side(asks)}]`;
  };
  const lines = [`{"topic":"orderbook.1000.ETHUSDT","type":"snapshot","ts":1,"data":{"s":"ETHUSDT",${part(0, SNAPSHOT_LEVELS)},"u":1,"seq":1},"cts":1}`];
  // Worst first: each level lands at the worst end of the ladder's overflow, no shift. Best first, each shifted every
  // level inserted before it (~3 s of CPU for 10^5: the file's largest cost); the book after the delta is the same.
  lines.push(`{"topic":"orderbook.1000.ETHUSDT","type":"delta","ts":1,"data":{"s":"ETHUSDT",${part(SNAPSHOT_LEVELS, LEVELS, true)},"u":2,"seq":2},"cts":1}`);
  for (let u = GROWTH_DELTAS + 2; u < GROWTH_DELTAS + 200; u++) lines.push(`{"topic":"orderbook.1000.ETHUSDT","type":"delta","ts":${u},"data":{"s":"ETHUSDT","b":[["5000.00","${u}"]],"a":[],"u":${u},"seq":${u}},"cts":${u}}`);
  return lines.join("\n") + "\n";
}

beforeAll(async () => {
  const file = join(tempDir("feeder-review-http-"), "eth.jsonl");
  writeFileSync(file, enormousRecording());
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 13, messagesPerSecond: 0, replayFile: file });
  const { group, port } = uniqueDestination(143);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await subscriber.start();
  const raw = rawConfig({ sim, markets: MARKETS, group, port, heartbeatIntervalMs: HEARTBEAT_MS, snapshotIntervalMs: 600_000, http: true });
  // The test's own checks of 10^5-level bodies (JSON.parse, toEqual) hold this thread, the feeder's, for seconds on
  // a loaded machine: the quiet simulator connection must not be recycled as dead meanwhile (the book would resync).
  (raw.venues as { bybit: Record<string, unknown> }).bybit.dead_connection_ms = 120_000;
  // Nor may ETHUSDT be judged stale: nothing is stepped from its growth delta to the second test, and under load that
  // passed the 60 s default (depth 1000); its resync then met the simulator's snapshot of the whole replay book,
  // refused (over_depth: reason parse_error), or since the simulator's cut to the depth, a 1000-level book.
  (raw.venues as { bybit: { linear: Record<string, unknown> } }).bybit.linear.stale_after_ms = 600_000;
  feeder = new Feeder({ config: validateConfig(raw), log: silentLogger });
  await feeder.start();
  http = startHttpServer(validateConfig(raw).http, localStatusSource(feeder), silentLogger);
  await waitFor(() => feeder.bookSummaries().every((b) => b.state === "live"), "both books live", 30_000);
  sim.step(GROWTH_DELTAS); // ETHUSDT's deltas up to LEVELS a side
  await waitFor(() => ethBuilder().bidCount === LEVELS && ethBuilder().askCount === LEVELS, "ETHUSDT at LEVELS a side", 30_000);
  await untilSubscriber(subscriber, btcEqual, "BTCUSDT at the subscriber", 20_000);
}, 120_000);

afterAll(async () => {
  await http?.stop();
  await feeder?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

/** Plain data as JSON with every object's keys sorted: equal texts, equal data (toEqual's sense, key order aside). */
const canonicalJson = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));

/**
 * An answer equals `want` exactly but for recvAgeUs (read as each answer is made: any number). Compared as canonical
 * JSON, not by toEqual: toEqual over 2 × 10^5 levels took ~4 s of this thread per body on a loaded box (the file's
 * largest cost); where the texts differ, toEqual is still asked, for its diff.
 */
function expectSameDetail(answer: unknown, want: object, what: string): void {
  const got = answer as { recvAgeUs?: unknown };
  expect(typeof got.recvAgeUs, `${what}: recvAgeUs`).toBe("number");
  // Plain JSON first (the same key order, as these are made: a third of canonicalJson's cost), canonical where not.
  const [g, w] = [{ ...got, recvAgeUs: 0 }, { ...want, recvAgeUs: 0 }];
  const same = JSON.stringify(g) === JSON.stringify(w) || canonicalJson(g) === canonicalJson(w);
  if (!same) expect(got, what).toEqual({ ...want, recvAgeUs: expect.any(Number) });
  expect(same, `${what}: the whole answer, exactly`).toBe(true);
}

/**
 * BTCUSDT at the subscriber equals the simulator's, its u compared first: sim.book formats its 1000 levels a side,
 * a cost paid only once the sequence agrees (the book's only topic is orderbook.1000).
 */
function btcEqual(): boolean {
  const u = sim.topics().find((t) => t.topic === "orderbook.1000.BTCUSDT")!.u;
  return subscriber.books.get(BTC.id)?.venueSeq === u && allBooksEqual(subscriber, sim, [BTC]);
}

function ethBuilder() {
  const b = feeder.books().find((x) => x.instrument.symbol === "ETHUSDT")!;
  return b;
}

describe("HTTP and an enormous book", { timeout: 120_000 }, () => {
  test("the whole book is served exactly, as JSON and MessagePack, and a depth", async () => {
    const b = ethBuilder();
    expect(b.bidCount).toBe(LEVELS);
    expect(b.bidPriceAt(LEVELS - 1)).toBe(1); // 0.01: ten decades below the best bid
    expect(b.bidPriceAt(0)).toBe(1e10);
    expect(b.askCount).toBe(LEVELS);
    const want = detail(b, b.state === BookState.LIVE);
    const url = `${http.url}/books/bybit/linear/ETHUSDT`;
    expectSameDetail(await (await fetch(url)).json(), want, "JSON");
    expectSameDetail(unpack(new Uint8Array(await (await fetch(url, { headers: { accept: "application/msgpack" } })).arrayBuffer())), want, "MessagePack");
    expectSameDetail(await (await fetch(`${url}?depth=30000`)).json(), detail(b, true, 30_000), "depth 30000");
  });

  test("five concurrent full-depth requests: the other book keeps following the venue step after step meanwhile", async () => {
    const url = `${http.url}/books/bybit/linear/ETHUSDT`;
    // 5 copies of 3.2 MB, well within the bound on copies held by deep bodies in progress (MAX_HELD_LEVEL_BYTES, 64 MiB;
    // the bound itself: rev18-http-bounds.test.ts). Five, not 20: 20 made ~890 steps (the suite's time), five ~220.
    const bodies = Array.from({ length: BODIES }, () => fetch(url).then((r) => r.arrayBuffer()));
    // Meanwhile BTCUSDT keeps moving: each step must reach the subscriber.
    let steps = 0;
    let done = false;
    void Promise.all(bodies).then(() => (done = true));
    while (!done) {
      sim.step(1);
      steps++;
      await untilSubscriber(subscriber, btcEqual, `BTCUSDT after step ${steps}`, 20_000);
    }
    // Every client got the whole book (each copied in a turn of its own: the states may differ by the steps between).
    for (const b of await Promise.all(bodies)) {
      const whole = JSON.parse(new TextDecoder().decode(b)) as { bids: unknown[]; asks: unknown[]; bidLevels: number; askLevels: number };
      expect([whole.bids.length, whole.asks.length]).toEqual([whole.bidLevels, whole.askLevels]);
      expect(whole.bids.length).toBeGreaterThanOrEqual(LEVELS); // a delta may add the level 5000.00
    }
    // Counted in venue steps, not time: the 5 bodies take at least 5 × 2 × 10^5 / LEVELS_PER_CHUNK = 500 event-loop
    // turns of their own, and BTCUSDT's round trips (simulator → feeder → subscriber) run in between. Formatted a
    // whole body per turn (the old code), BTCUSDT made 8 steps in all while 20 bodies were made, 5 while five were.
    expect(steps).toBeGreaterThanOrEqual(50);
  });
});
