/**
 * Control frames Coinbase numbers in the connection's sequence that arrive readable down to their `sequence_num` but
 * not beyond (real simulator behind a proxy that rewrites one frame):
 * - a heartbeat whose `heartbeat_counter` (or events) cannot be read: its sequence_num is taken and no book is
 *   touched. Before, it was an unreadable frame: every book of its connection RESYNCING / PARSE_ERROR and a reconnect,
 *   on every heartbeat (once a second) while the venue sent them so, though no book message was lost;
 * - a `subscriptions` event whose product lists cannot be read: it answers its request (Coinbase answers in order),
 *   rejecting nothing. Before, it read as listing no product, so every product of that subscribe was HALTED /
 *   SUBSCRIBE_REJECTED for good, books the venue was serving.
 */
import { afterEach, describe, expect, test } from "vitest";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
import { BookState } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { startWsProxy } from "../ws-proxy.ts";
import { recordedLog } from "../common/instrument-closed-scenario.ts";
import { coinbaseConfig, startIntoSink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];

/** Simulator, proxy (every link's frames through `rewrite`), adapter (two connections: 2 + 1 products), sink. */
async function setup(rewrite: (f: string) => string, log: Logger = silentLogger) {
  const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 5, levels: 10, heartbeatMs: 20 });
  const proxy = startWsProxy(sim.wsUrl.replace(/\/$/, ""));
  for (let i = 0; i < 8; i++) proxy.byIndex.set(i, { rewriteDown: rewrite });
  cleanup.push(() => proxy.stop());
  const config = { ...coinbaseConfig(sim, PRODUCTS), wsUrl: proxy.origin };
  const adapter = createCoinbaseAdapter(config, subsOf(PRODUCTS), { log, maxProductsPerConnection: 2 });
  const sink = await startIntoSink(sim, adapter, cleanup);
  sim.step(1);
  const allMatch = () => PRODUCTS.every((p, i) => sink.matches(sim, i, p));
  await waitFor(allMatch, "books live");
  return { sim, adapter, sink, allMatch };
}

describe("coinbase: a control frame readable only down to its sequence_num", { timeout: 20_000 }, () => {
  test("a heartbeat whose counter or events cannot be read: its sequence_num taken, no book touched, no reconnect", async () => {
    /** How the armed heartbeats are spoiled, each keeping its sequence_num. */
    const spoils: ((f: string) => string)[] = [
      (f) => f.replace(/"heartbeat_counter":\d+/, '"heartbeat_counter":"soon"'),
      (f) => f.replace(/,"heartbeat_counter":\d+/, ""),
      (f) => f.replace(/"events":\[.*\]\}$/, '"events":{}}'),
      (f) => f.replace(/"events":\[(.*)\]\}$/, '"events":[$1,$1]}'),
    ];
    let armed = 0;
    const rewrite = (f: string): string => {
      if (armed === 0 || !f.startsWith('{"channel":"heartbeats"')) return f;
      armed--;
      return spoils[armed]!(f);
    };
    const { sim, adapter, sink, allMatch } = await setup(rewrite);
    const heartbeats = adapter.stats().heartbeats!;
    armed = spoils.length;
    await waitFor(() => armed === 0, "the spoiled heartbeats sent");
    // Readable heartbeats after them on the same socket: the sequence went on from the spoiled ones' numbers.
    await waitFor(() => adapter.stats().heartbeats! >= heartbeats + spoils.length + 2, "heartbeats after the spoiled ones");
    sim.step(2);
    await waitFor(allMatch, "books equal");
    expect(sink.invalid).toEqual([]);
    const s = adapter.stats();
    expect([s.reconnects, s.gaps, s.connectionResyncs]).toEqual([0, 0, 0]);
    expect(s["parseErrors.heartbeat"]).toBe(spoils.length);
    expect(s.heartbeatCounterBreaks).toBe(0); // the counter's baseline starts again after one it could not read
  });

  test("logged as what it is, apart from unreadable frames: a frame that resyncs its connection right after still has its own line", async () => {
    // Before, both went to one rate-limited line (one a 5 s) saying "every book of the connection resynced": the
    // heartbeat's line claimed a resync that never was, and the malformed frame's resync, inside the same 5 s, was
    // only a count in a later line.
    let armed = 0;
    const rewrite = (f: string): string => {
      if (armed === 0 || !f.startsWith('{"channel":"heartbeats"')) return f;
      armed--;
      return f.replace(/"heartbeat_counter":\d+/, '"heartbeat_counter":"soon"');
    };
    const { log, lines } = recordedLog();
    const { sim, adapter } = await setup(rewrite, log);
    armed = 1;
    await waitFor(() => adapter.stats()["parseErrors.heartbeat"] === 1, "the spoiled heartbeat");
    sim.inject("malformed", "SOL-USD");
    await waitFor(() => adapter.stats().connectionResyncs === 1, "the malformed frame's resync");
    const about = (what: string) => lines.map((l) => JSON.parse(l) as { msg: string; detail?: string }).filter((l) => l.detail?.startsWith(what));
    const heartbeat = about("heartbeat");
    expect(heartbeat).toHaveLength(1);
    expect(heartbeat[0]!.msg).not.toMatch(/resync/);
    expect(heartbeat[0]!.msg).toMatch(/no book/);
    expect(about("syntax")).toHaveLength(1);
  });

  test("a subscriptions event whose product lists cannot be read answers its request and rejects nothing", async () => {
    // The first subscriptions event (a connection's level2 subscribe's answer) with `level2` no list.
    let spoiled = 0;
    const rewrite = (f: string): string => {
      if (spoiled > 0 || !f.startsWith('{"channel":"subscriptions"')) return f;
      spoiled++;
      return f.replace(/"level2":\[[^\]]*\]/, '"level2":"BTC-USD,ETH-USD"');
    };
    const { sim, adapter, sink, allMatch } = await setup(rewrite);
    expect(spoiled).toBe(1);
    // Its heartbeats subscribe's answer came after it, taken as that one's (the queue of answers stays in order).
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 2, "heartbeats");
    expect(sink.invalid.filter((x) => x.state === BookState.HALTED)).toEqual([]);
    sim.step(2);
    await waitFor(allMatch, "books equal");
    expect(PRODUCTS.map((_, i) => adapter.topicState(i).subscribed)).toEqual([true, true, true]);
    const s = adapter.stats();
    expect([s.subscribeRejected, s.reconnects, s["parseErrors.subscriptions"]]).toEqual([0, 0, 1]);
  });
});
