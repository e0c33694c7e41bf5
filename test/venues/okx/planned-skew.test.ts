/**
 * A planned reconnect (64008) of `books` without its initial snapshot, where the replacement socket's path is slower
 * than the old one's: a WebSocket proxy on 127.0.0.1 between the adapter and the simulator holds what the simulator
 * sends on the replacement socket. Meanwhile the old socket delivers two more messages; then the replacement's
 * acks come (the adapter closes the old socket), and only after that its first messages, which the book already
 * has. They are the new socket's lagging stream, not a break: no book may leave LIVE (issue #12's must-show).
 * Also: a second 64008, on the replacement socket while the old one still delivers (the proxy holds the
 * replacement's subscribe, so the overlap lasts), is not lost.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { Server, ServerWebSocket } from "bun";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { okxConfig, sameAsSim, MapSink, until } from "./helpers.ts";

/** One client socket of the proxy and its upstream socket to the simulator. */
interface Link {
  up: WebSocket;
  toUp: string[];
  held: string[] | null;
  /** What the adapter sends on this link while held (null: forwarded). */
  heldUp: string[] | null;
  client: ServerWebSocket<{ link: Link }>;
  closed: boolean;
}

/** A proxy whose `holdNext` link queues everything the simulator sends it until `release`d. */
function startProxy(upstreamUrl: string): {
  url: string;
  links: Link[];
  holdNext: boolean;
  holdNextUp: boolean;
  release(link: Link, pred: (f: string) => boolean): void;
  releaseUp(link: Link): void;
  stop(): void;
} {
  const links: Link[] = [];
  const state = {
    url: "",
    links,
    holdNext: false,
    holdNextUp: false,
    releaseUp(link: Link) {
      const up = link.heldUp ?? [];
      link.heldUp = null;
      for (const m of up) link.up.send(m);
    },
    release(link: Link, pred: (f: string) => boolean) {
      const keep: string[] = [];
      for (const f of link.held ?? []) (pred(f) ? link.client.send(f) : keep.push(f));
      link.held = keep;
    },
    stop() {
      server.stop(true);
    },
  };
  const server: Server<{ link: Link }> = Bun.serve<{ link: Link }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: { link: null as unknown as Link } })) return undefined;
      return new Response("websocket only", { status: 400 });
    },
    websocket: {
      open(ws) {
        const link: Link = { up: new WebSocket(upstreamUrl), toUp: [], held: state.holdNext ? [] : null, heldUp: state.holdNextUp ? [] : null, client: ws, closed: false };
        state.holdNext = false;
        state.holdNextUp = false;
        ws.data.link = link;
        links.push(link);
        link.up.onopen = () => {
          for (const m of link.toUp) link.up.send(m);
          link.toUp.length = 0;
        };
        link.up.onmessage = (ev) => {
          const f = String(ev.data);
          if (link.held !== null) link.held.push(f);
          else ws.send(f);
        };
        link.up.onclose = () => ws.close();
      },
      message(ws, m) {
        const link = ws.data.link;
        if (link.heldUp !== null) link.heldUp.push(String(m));
        else if (link.up.readyState === WebSocket.OPEN) link.up.send(String(m));
        else link.toUp.push(String(m));
      },
      close(ws) {
        ws.data.link.closed = true;
        ws.data.link.up.close();
      },
    },
  });
  state.url = `ws://127.0.0.1:${server.port}/ws/v5/public`;
  return state;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("okx planned reconnect with the replacement socket's path slower", { timeout: 20_000 }, () => {
  test("books without its snapshot: the replacement's first messages arrive after the old socket closed, behind the book; the book stays LIVE and equal", async () => {
    const subs: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 5, initialSnapshot: false });
    const proxy = startProxy(sim.wsUrl);
    const config = { ...okxConfig(sim, subs), wsUrl: proxy.url };
    const adapter = new OkxAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.start(sink);
    const equal = () => sameAsSim(sim, subs[0]!, sink, 0);
    sim.step(1);
    await until(() => equal() && adapter.topicInfo(0).state === "live", "the book live through the REST bridge");
    sim.step(3);
    await until(equal, "the book equal");

    proxy.holdNext = true;
    sim.inject("notice");
    await until(() => proxy.links.length === 2 && (proxy.links[1]!.held ?? []).some((f) => f.includes('"event":"subscribe"')), "the replacement subscribed (its answers held)");
    const newLink = proxy.links[1]!;
    sim.step(2); // the old socket delivers two more messages; the replacement's copies wait in the proxy
    await until(equal, "the book equal through the old socket");
    proxy.release(newLink, (f) => f.includes('"event":"subscribe"'));
    await until(() => proxy.links[0]!.closed, "the old socket closed once the replacement's subscription was acked");
    proxy.release(newLink, () => true); // its first messages: the book has them
    newLink.held = null;
    sim.step(3);
    await until(equal, "the book equal through the replacement");
    expect(sink.invalid).toEqual([]);
    expect([adapter.stats().gaps, adapter.stats().reconnects, adapter.stats().plannedReconnects]).toEqual([0, 0, 1]);
    expect(adapter.stats().duplicates).toBeGreaterThanOrEqual(2);
  });
});

describe("okx: a second 64008 during a planned reconnect's overlap", { timeout: 20_000 }, () => {
  test("the notice on the replacement socket (its subscriptions not yet acked) is not lost: the replacement is replaced in turn, no book leaves LIVE", async () => {
    const subs: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 6, noticeCloseMs: 1_500 });
    const proxy = startProxy(sim.wsUrl);
    const config = { ...okxConfig(sim, subs), wsUrl: proxy.url };
    const adapter = new OkxAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.start(sink);
    const equal = () => sameAsSim(sim, subs[0]!, sink, 0);
    sim.step(1);
    await until(() => equal() && adapter.topicInfo(0).state === "live", "the book live");

    proxy.holdNextUp = true; // the replacement's subscribe waits in the proxy: the overlap lasts
    sim.inject("notice");
    await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).some((m) => m.includes('"subscribe"')), "the replacement open, its subscribe held");
    await until(() => sim.stats.connections === 2, "the simulator sees both sockets");
    // A second notice, to both sockets: the replacement's server is upgraded too and will close it.
    sim.inject("notice");
    sim.step(1);
    await until(equal, "the book equal through the old socket");
    proxy.releaseUp(proxy.links[1]!);
    await until(() => adapter.stats().plannedReconnects === 2, "the replacement replaced in turn");
    await until(() => proxy.links[0]!.closed && proxy.links[1]!.closed, "both notified sockets closed");
    sim.step(2);
    await until(() => equal() && sim.stats.connections === 1, "the book equal on the third socket");
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats().reconnects).toBe(0);
  });

  test("a notice repeated on the old socket during the overlap does not replace the replacement", async () => {
    const subs: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 7, noticeCloseMs: 60_000 });
    const proxy = startProxy(sim.wsUrl);
    const adapter = new OkxAdapter({ ...okxConfig(sim, subs), wsUrl: proxy.url }, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      proxy.stop();
      await sim.stop();
    });
    const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.start(sink);
    await until(() => adapter.topicInfo(0).state === "live", "the book live");
    proxy.holdNextUp = true;
    proxy.holdNext = true;
    sim.inject("notice");
    await until(() => proxy.links.length === 2 && (proxy.links[1]!.heldUp ?? []).length > 0 && sim.stats.connections === 2, "the replacement open, its subscribe held");
    sim.inject("notice"); // both sockets get it; the replacement's copy is dropped by the proxy: only the old one's counts
    await until(() => (proxy.links[1]!.held ?? []).some((f) => f.includes('"notice"')), "the replacement's copy of the notice held");
    proxy.links[1]!.held = null; // drops its copy of the notice, all it got so far (its subscribe is still held)
    proxy.releaseUp(proxy.links[1]!);
    await until(() => proxy.links[0]!.closed, "the old socket closed once the replacement's subscription was acked");
    sim.step(2);
    await until(() => sink.seq[0] === sim.book("BTC-USDT", 400).seqId, "the book on the replacement");
    // A notice kept for the replacement would wait in the lifecycle (plannedNextWhy, then plannedWhy) until the overlap
    // is over, then replace it: the old socket's notice is kept nowhere.
    const conn = (adapter as unknown as { conns: { plannedWhy: string; plannedNextWhy: string }[] }).conns[0]!;
    expect([conn.plannedWhy, conn.plannedNextWhy]).toEqual(["", ""]);
    expect([adapter.stats().plannedReconnects, proxy.links.length]).toEqual([1, 2]);
    expect(sink.invalid).toEqual([]);
  });
});
