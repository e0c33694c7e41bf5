/**
 * A second read of the send path split (send-batch.ts, publish-channel.ts, publisher-recovery.ts): what the merge
 * kept from the pre-split publisher, over real sockets on loopback (interface 127.0.0.1, TTL 1, group 239.255.48.x,
 * this file only). A datagram the kernel refuses still has its sequence numbers, so it must stay in the retransmit
 * ring (a subscriber's request is the only way it can be repaired before the next refresh); a start that fails
 * leaves no socket open and no timer running, and a later start opens the destinations again. A destination paused
 * for a lost route (publish-channel.ts) is tried again at stop, so its END_OF_SESSION goes out if the route is back.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PublishConfig, RetransmitConfig } from "../../src/config/types.ts";
import { getU64 } from "../../src/core/i64.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { PKT_CHECKSUM_OFFSET, PKT_FLAG_END_OF_SESSION, PKT_FLAG_RETRANSMIT, PKT_FLAGS_OFFSET, PKT_MSG_COUNT_OFFSET, PKT_SEQ_NUM_OFFSET } from "../../src/wire/layout.ts";
import { encodeRetxControl, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { makeInstrument, randomBookSides, rng, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const T0 = 1_764_000_000_000_000;
const PORT = uniqueDestination(459).port; // below the ephemeral ports (test/support/destination.ts)
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function retx(over: Partial<RetransmitConfig> = {}): RetransmitConfig {
  return { host: "127.0.0.1", port: 0, ringBytes: 1 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 26, totalBytesPerSec: 1 << 26, ...over };
}

function publishConfig(retransmit: RetransmitConfig): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 50,
    snapshotIntervalMs: 100,
    snapshotDepth: 0,
    destinations: [{ name: "desk", group: "239.255.48.1", port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 4, match: { venue: "*", market: "*", symbols: ["*"] } }],
    retransmit,
  };
}

function bigBook(): TestBook {
  const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  const sides = randomBookSides(rng(17), 600, 500_000);
  book.load(sides.bids, sides.asks, 1, T0);
  return book;
}

type Channel = { socket: { sendMany(args: never): number; close(): void } | undefined; routeBackoffMs: number };
const channelsOf = (pub: FeedPublisher) => (pub as unknown as { channels: Channel[] }).channels;

describe("send path split, second read", () => {
  it("a datagram the kernel refused stays in the retransmit ring: a request for it gets the original back", async () => {
    const pub = new FeedPublisher({ publish: publishConfig(retx()), sessionId: 99 });
    await pub.start();
    cleanups.push(() => pub.stop());
    const book = bigBook();
    const handle = pub.register(book.instrument, book);
    pub.flush();
    // The real socket, behind a wrapper that refuses the second datagram of the next batch as Bun does: sendMany
    // stops before it (throws EMSGSIZE when it comes first), every time it is offered.
    const ch = channelsOf(pub)[0]!;
    const real = ch.socket!;
    let refused: Uint8Array | undefined;
    let target: Uint8Array | undefined;
    ch.socket = {
      sendMany(args: never) {
        const a = args as unknown as Uint8Array[];
        if (target === undefined) target = a[1];
        const k = a.indexOf(target!);
        if (k < 0) return real.sendMany(args);
        if (k === 0) {
          refused = target!.slice();
          throw Object.assign(new Error("EMSGSIZE: message too long"), { code: "EMSGSIZE" });
        }
        return real.sendMany(a.slice(0, k) as never);
      },
      close: () => real.close(),
    };
    const before = { ...pub.counters };
    pub.publishSnapshot(handle, book); // 1200 levels: several datagrams in one batch
    pub.flush();
    // The real socket again: the packer reuses its views, so a refresh flushed while this test awaits (every 100 ms;
    // a loaded machine takes longer than that below) would offer `target` again and replace `refused` with another
    // datagram than the one requested.
    ch.socket = real;
    expect(refused).toBeDefined();
    expect(pub.counters.sendErrors - before.sendErrors).toBe(1);
    expect(pub.sendFailures().map((f) => f.destination)).toEqual(["desk"]);
    const dv = new DataView(refused!.buffer);
    const seqNum = Number(getU64(dv, PKT_SEQ_NUM_OFFSET));
    const count = dv.getUint16(PKT_MSG_COUNT_OFFSET, true);
    expect(count).toBeGreaterThan(0);

    const requester = dgram.createSocket("udp4");
    cleanups.push(() => new Promise<void>((resolve) => requester.close(() => resolve())));
    await new Promise<void>((resolve) => requester.bind(0, "127.0.0.1", () => resolve()));
    const answer = new Promise<Buffer>((resolve) => requester.once("message", (m) => resolve(m)));
    const req = new Uint8Array(64);
    const n = encodeRetxControl(req, { kind: RETX_KIND_REQUEST, channelId: 4, sourceId: pub.sourceId, sessionId: 99, seqNum, count, firstAvailable: 0, nextSeq: 0 });
    const addr = pub.retransmitAddress()!;
    requester.send(req.subarray(0, n), addr.port, addr.host);
    const got = new Uint8Array(await answer);
    expect(got.length).toBe(refused!.length);
    expect(got[PKT_FLAGS_OFFSET]! & PKT_FLAG_RETRANSMIT).toBe(PKT_FLAG_RETRANSMIT);
    // The original apart from the RETRANSMIT flag and the CRC recomputed over it.
    const strip = (b: Uint8Array) => {
      const c = b.slice();
      c[PKT_FLAGS_OFFSET] = c[PKT_FLAGS_OFFSET]! & ~PKT_FLAG_RETRANSMIT;
      c.fill(0, PKT_CHECKSUM_OFFSET, PKT_CHECKSUM_OFFSET + 4);
      return c;
    };
    expect(strip(got)).toEqual(strip(refused!));
    expect(pub.retransmitCounters!.answered).toBe(1);
  });

  it("a destination paused for a lost route whose route is back sends END_OF_SESSION at stop, within the pause", async () => {
    const pub = new FeedPublisher({ publish: publishConfig(retx()), sessionId: 98 });
    await pub.start();
    cleanups.push(() => pub.stop());
    // The monotonic clock stands still: stop() comes within the pause (ROUTE_BACKOFF_FIRST_MS) however slow the machine.
    const nowMs = performance.now();
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    cleanups.push(() => void vi.restoreAllMocks());
    const ch = channelsOf(pub)[0]!;
    const real = ch.socket!;
    let gone = true;
    const flags: number[] = [];
    ch.socket = {
      sendMany(args: never) {
        if (gone) throw Object.assign(new Error("ENETUNREACH: network is unreachable, send"), { code: "ENETUNREACH" });
        for (const d of args as unknown as Uint8Array[]) flags.push(d[PKT_FLAGS_OFFSET]!);
        return (args as unknown as Uint8Array[]).length;
      },
      close: () => real.close(),
    };
    const book = bigBook();
    pub.register(book.instrument, book);
    pub.flush();
    expect(ch.routeBackoffMs).toBeGreaterThan(0);
    expect(pub.counters.sendErrors).toBeGreaterThan(0);
    gone = false;
    await pub.stop();
    expect(flags.some((f) => (f & PKT_FLAG_END_OF_SESSION) !== 0)).toBe(true);
    expect(ch.routeBackoffMs).toBe(0);
  });

  it("a failed start leaves no socket open and no timer running; a later start opens the destinations again", async () => {
    // The retransmission port is taken: start() fails after the destination's socket was opened.
    const blocker = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => blocker.bind(0, "127.0.0.1", () => resolve()));
    const taken = blocker.address().port;
    const pub = new FeedPublisher({ publish: publishConfig(retx({ port: taken })) });
    cleanups.push(() => pub.stop());
    await expect(pub.start()).rejects.toThrow(/publish\.retransmit\.listen 127\.0\.0\.1:\d+/);
    expect(channelsOf(pub).map((c) => c.socket)).toEqual([undefined]);
    const recovery = (pub as unknown as { recovery: { heartbeatTimer: unknown; refreshTimer: unknown } }).recovery;
    expect([recovery.heartbeatTimer, recovery.refreshTimer]).toEqual([undefined, undefined]);
    expect(pub.retransmitAddress()).toBeUndefined();

    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const sub = dgram.createSocket({ type: "udp4", reuseAddr: true });
    cleanups.push(() => new Promise<void>((resolve) => sub.close(() => resolve())));
    await new Promise<void>((resolve) => sub.bind(PORT, "239.255.48.1", () => resolve()));
    sub.addMembership("239.255.48.1", "127.0.0.1");
    const first = new Promise<Buffer>((resolve) => sub.once("message", (m) => resolve(m)));
    const book = bigBook();
    pub.register(book.instrument, book);
    await pub.start(); // flushes the definition registered before it
    expect((await first).length).toBeGreaterThan(0);
    expect(pub.counters.sendErrors).toBe(0);
    expect(pub.retransmitAddress()?.port).toBe(taken);
    await pub.stop();
    expect(channelsOf(pub).map((c) => c.socket)).toEqual([undefined]);
    expect([recovery.heartbeatTimer, recovery.refreshTimer]).toEqual([undefined, undefined]);
  });
});
