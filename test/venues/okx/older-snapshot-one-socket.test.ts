/**
 * A `books` snapshot older than the LIVE book (seqId below the book's) on the one socket that delivered the book:
 * nothing can lag behind it (no planned reconnect under way), so it is the venue's book starting over, as Bybit's
 * older snapshot on the socket of record is (docs/venues/okx.md, Sequencing). Before, it was taken for a planned
 * reconnect's replacement snapshot and ignored: the book stayed LIVE at levels the venue had replaced, and the
 * messages chaining on the new snapshot were counted as that "lagging" stream's repeats (no liveness either) until
 * 51 of them or the stale period. A proxy between the adapter and the simulator injects the snapshot on the socket.
 * Replay decides so from the capture's socket events (venue.ts): a replay begun in a later capture file (no
 * `ws:sockets` of the connection's open) learns from the `ws:state` said every minute that there is one socket;
 * before, it took the older snapshot for a replacement's.
 */
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { startWsProxy } from "../ws-proxy.ts";
import { btcUsdtConfig, okxConfig, MapSink, sameAsSim, until } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/**
 * A replaying adapter of spot BTC-USDT (depth 400), and what a test feeds it on the capture's connection conn0.spot:
 * a `books` frame of one level a side, the frame itself, a socket event.
 */
async function replayAdapter() {
  const adapter = new OkxAdapter(btcUsdtConfig(400), [{ market: "spot", symbol: "BTC-USDT", depth: 400 }], { log: silentLogger });
  cleanups.push(() => adapter.stop());
  const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
  adapter.startReplay(sink);
  const frame = (action: string, prev: number, seq: number, bid: string) =>
    `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"${action}","data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
  const feed = (f: string) => expect(adapter.ingestFrame("spot", "conn0.spot", f, 1)).toBe(true);
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  return { adapter, sink, frame, feed, event };
}

describe("okx: a snapshot older than the book on its one socket", { timeout: 20_000 }, () => {
  test("replaces the LIVE book (a venue reset), never ignored as a replacement's", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 11 });
    const proxy = startWsProxy(new URL(sim.wsUrl).origin);
    cleanups.push(() => sim.stop(), () => proxy.stop());
    const subs: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];
    const config = { ...okxConfig(sim, subs), wsUrl: proxy.origin + new URL(sim.wsUrl).pathname };
    const adapter = new OkxAdapter(config, subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(() => adapter.stop());
    const instruments = (await adapter.loadInstruments()) as Instrument[];
    const sink = new MapSink(instruments);
    adapter.start(sink);
    await until(() => adapter.topicInfo(0).state === "live", "BTC-USDT live");
    for (let i = 0; i < 5; i++) sim.step(1);
    await until(() => sameAsSim(sim, subs[0]!, sink, 0), "the book at the simulator's");
    const last = adapter.topicInfo(0).seqId as number;
    // The venue starts the book over below the book's seqId, with other levels, on the same socket.
    const seq = last - 3;
    proxy.links[0]!.client.send(
      `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["70001.5","2","0","1"]],"bids":[["69990","1.5","0","1"]],"ts":"1700000000000","checksum":0,"prevSeqId":-1,"seqId":${seq}}]}`,
    );
    await until(() => adapter.stats().olderSnapshots! + adapter.stats().maintenanceResets! > 0, "the snapshot handled");
    expect(adapter.stats().olderSnapshots).toBe(0);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: seq });
    const inst = instruments[0]!;
    const px = (s: string) => Math.round(Number(s) * 10 ** inst.priceExp);
    const qty = (s: string) => Math.round(Number(s) * 10 ** inst.qtyExp);
    expect(sink.bids[0]).toEqual(new Map([[px("69990"), qty("1.5")]]));
    expect(sink.asks[0]).toEqual(new Map([[px("70001.5"), qty("2")]]));
  });
});

describe("okx: the capture says every minute that the connection has one socket (ws:state)", { timeout: 20_000 }, () => {
  test("recorded while one socket, once a minute by the adapter's clock", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 13 });
    cleanups.push(() => sim.stop());
    const subs: Subscription[] = [{ market: "spot", symbol: "BTC-USDT", depth: 400 }];
    let clock = 1_000_000;
    const urls: string[] = [];
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, {
      log: silentLogger,
      now: () => clock,
      pingIntervalMs: 1e9,
      deadConnectionMs: 1e9,
      onRawRest: (_m, _c, url) => void (url.startsWith("ws:req ") || urls.push(url)), // the socket events, not its requests
    });
    cleanups.push(() => adapter.stop());
    const sink = new MapSink((await adapter.loadInstruments()) as Instrument[]);
    adapter.start(sink);
    await until(() => adapter.topicInfo(0).state === "live", "BTC-USDT live");
    expect(urls).toEqual(["ws:open", "ws:sockets"]);
    clock += 60_000;
    await until(() => urls.length === 3, "ws:state said");
    expect(urls[2]).toBe("ws:state");
  });

  test("a replay begun after the connection's ws:sockets takes an older snapshot on the one socket as a reset once ws:state says so", async () => {
    const { adapter, frame, feed } = await replayAdapter();
    feed(frame("snapshot", -1, 10, "100.1"));
    feed(frame("update", 10, 15, "100.2"));
    expect(adapter.ingestConnectionEvent("spot", "conn0.spot", "ws:state", 1)).toBe(true);
    feed(frame("update", 15, 16, "100.3"));
    feed(frame("snapshot", -1, 12, "99.5")); // the venue starts the book over, on the one socket
    feed(frame("update", 12, 13, "99.6"));
    feed(frame("update", 13, 14, "99.7"));
    // Before: ignored as a replacement's; the book LIVE at seqId 16 with its pre-reset levels.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 14 });
    expect([adapter.stats().maintenanceResets, adapter.stats().olderSnapshots]).toEqual([1, 0]);
  });

  test("a ws:state after an overlap whose end the capture lost (a block lost) ends the overlap: an older snapshot on the one socket is a reset", async () => {
    const { adapter, frame, feed, event } = await replayAdapter();
    event("ws:sockets");
    feed(frame("snapshot", -1, 10, "100.1"));
    feed(frame("update", 10, 15, "100.2"));
    event("ws:swap"); // its ws:retired was in a block the disk could not take
    event("ws:state"); // live says it with one socket only
    feed(frame("update", 15, 16, "100.3"));
    feed(frame("snapshot", -1, 12, "99.5")); // the venue starts the book over, on the one socket
    feed(frame("update", 12, 13, "99.6"));
    // Before: replay kept the overlap open for good and took the snapshot for a replacement's; LIVE at 16, old levels.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 13 });
    expect([adapter.stats().maintenanceResets, adapter.stats().olderSnapshots]).toEqual([1, 0]);
  });
});

describe("okx replay: a capture file begun during a planned reconnect's overlap, and a lost ws:swap", { timeout: 20_000 }, () => {
  test("a file whose head says ws:overlap follows the sockets from its first record: after ws:retired an older snapshot on the one socket is a reset", async () => {
    const { adapter, frame, feed, event } = await replayAdapter();
    event("ws:overlap"); // the file's head (app/capture-sockets.ts): the run's ws:sockets and ws:swap are in earlier files
    event("ws:old");
    feed(frame("snapshot", -1, 10, "100.1"));
    event("ws:old");
    feed(frame("update", 10, 15, "100.2"));
    event("ws:retired");
    feed(frame("update", 15, 16, "100.3")); // the replacement, now the one socket
    feed(frame("snapshot", -1, 12, "99.5")); // the venue starts the book over on it
    feed(frame("update", 12, 13, "99.6"));
    // Before: ws:overlap unknown, the sockets not known until the next minute's ws:state: the snapshot ignored as a
    // replacement's, the book LIVE at 16 with its pre-reset levels.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 13 });
    expect([adapter.stats().maintenanceResets, adapter.stats().olderSnapshots]).toEqual([1, 0]);
  });

  test("a ws:swap lost with its capture block: the old socket's first ws:old begins the overlap, the replacement's older snapshot is ignored as live did", async () => {
    const { adapter, frame, feed, event } = await replayAdapter();
    event("ws:sockets");
    feed(frame("snapshot", -1, 10, "100.1"));
    feed(frame("update", 10, 15, "100.2"));
    // ws:swap: in a block the disk could not take
    event("ws:old");
    feed(frame("update", 15, 16, "100.3")); // the old socket goes on
    feed(frame("snapshot", -1, 14, "99.5")); // the replacement's snapshot, behind the book
    event("ws:old");
    feed(frame("update", 16, 17, "100.4"));
    // Before: the ws:old taken for nothing, the replacement's snapshot as the one socket's reset: the book replaced at 14
    // and the old socket's 16 → 17 a sequence break.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 17 });
    expect([adapter.stats().maintenanceResets, adapter.stats().olderSnapshots]).toEqual([0, 1]);
  });

  test("a recorder stopped and started again (no ws:close between its runs): the new run's ws:open invalidates the book still LIVE, as live's was not", async () => {
    const { adapter, sink, frame, feed, event } = await replayAdapter();
    event("ws:open");
    event("ws:sockets");
    feed(frame("snapshot", -1, 10, "100.1"));
    feed(frame("update", 10, 15, "100.2"));
    // The first run's last file ends here (the recorder killed); the next run's first file begins.
    event("ws:open");
    // Before: still LIVE at the first run's levels until the new run's snapshot.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing" });
    expect(sink.invalid).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    event("ws:sockets");
    feed(frame("snapshot", -1, 40, "101.1"));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 40 });
    // A ws:open after a recorded ws:close finds nothing LIVE: nothing more.
    event("ws:close");
    event("ws:open");
    expect(sink.invalid).toHaveLength(2);
  });
});
