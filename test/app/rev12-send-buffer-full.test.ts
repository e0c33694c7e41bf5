/**
 * The publisher's send path when the socket buffer is full (EAGAIN / ENOBUFS: the interface does not keep up, as
 * on a saturated NIC). The rest of the batch cannot go now; trying each datagram again at once (twice, as for a
 * bounce's pending error) only adds two failing system calls and a thrown error per datagram exactly when there
 * is too much work. The socket is a stand-in (a loopback socket never fills on demand): it takes the first 10
 * datagrams, then finds its buffer full; the publisher, packer and counters are the real ones.
 */
import { afterEach, expect, it } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { makeInstrument, randomBookSides, rng, TestBook } from "../wire/helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

for (const code of ["EAGAIN", "ENOBUFS"]) {
  it(`a full socket buffer (${code}) drops the rest of the batch at once, counted, without a call per datagram`, async () => {
    const publish: PublishConfig = {
      maxDatagramBytes: 1400,
      heartbeatIntervalMs: 60_000,
      snapshotIntervalMs: 0,
      snapshotDepth: 0,
      destinations: [{ name: "desk", group: "239.255.47.9", port: 47909, iface: "127.0.0.1", ttl: 1, channelId: 5, match: { venue: "*", market: "*", symbols: ["*"] } }],
    };
    const pub = new FeedPublisher({ publish });
    await pub.start();
    cleanups.push(() => pub.stop());
    const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    const sides = randomBookSides(rng(5), 3000, 500_000);
    book.load(sides.bids, sides.asks, 1, 1_764_000_000_000_000);
    const handle = pub.register(book.instrument, book);
    pub.flush();
    // From here on the channel sends through the stand-in.
    let calls = 0;
    let taken = 0;
    const channel = (pub as unknown as { channels: { socket: unknown }[] }).channels[0]!;
    channel.socket = {
      sendMany(args: Uint8Array[]) {
        calls++;
        if (taken === 0) {
          taken = Math.min(10, args.length);
          return taken;
        }
        throw Object.assign(new Error(`${code}: the socket buffer is full, send`), { code });
      },
      close() {},
    };
    const before = { ...pub.counters };
    pub.publishSnapshot(handle, book); // 6000 levels: ~70 datagrams, two sendMany batches
    pub.flush();
    const datagrams = pub.counters.datagrams - before.datagrams;
    const refused = pub.counters.sendErrors - before.sendErrors;
    expect(datagrams).toBe(10);
    expect(refused).toBeGreaterThan(54); // the rest of the first batch of 64, and the second batch
    // One call took 10, one found the buffer full (the rest of that batch dropped), one for the second batch.
    expect(calls).toBe(3);
    expect(pub.sendFailures().map((f) => f.destination)).toEqual(["desk"]);
  });
}
