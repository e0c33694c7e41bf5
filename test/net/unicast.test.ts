/**
 * Unicast destinations over real sockets on loopback: a destination lists `host:port` receivers instead of a group;
 * every receiver gets the same datagrams. Receivers are 127.0.0.1 only; ports from uniqueDestination(454), private
 * to this file.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { listenCommand } from "../../src/cli/commands/listen.ts";
import type { CommandContext } from "../../src/cli/command.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { levelsOf, makeInstrument, randomBookSides, randomChanges, rng, TestBook, waitFor } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const BASE_PORT = uniqueDestination(454).port; // below the ephemeral ports (test/support/destination.ts)
const T0 = 1_764_000_000_000_000;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function unicastConfig(ports: number[], over: Partial<PublishConfig> = {}): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 200,
    snapshotIntervalMs: 0,
    snapshotDepth: 0,
    destinations: [
      {
        name: "uni",
        port: 0,
        receivers: ports.map((port) => ({ host: "127.0.0.1", port })),
        iface: "127.0.0.1",
        ttl: 1,
        channelId: 5,
        match: { venue: "*", market: "*", symbols: ["*"] },
      },
    ],
    ...over,
  };
}

function identical(sub: FeedSubscriber, books: TestBook[]): boolean {
  return books.every((b) => {
    const sb = sub.book(b.instrument.instrumentId);
    return sb !== undefined && sb.valid && sb.instrSeq === b.instrSeq && JSON.stringify(levelsOf(sb)) === JSON.stringify(levelsOf(b));
  });
}

describe("unicast destinations", () => {
  it("every receiver gets the same datagrams and rebuilds identical books; the publisher counts one datagram per receiver", async () => {
    const ports = [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2];
    const subs: FeedSubscriber[] = [];
    for (const port of ports) {
      const sub = new FeedSubscriber({ groups: [{ bind: "127.0.0.1", port }], staleAfterMs: 0 });
      await sub.start();
      cleanups.push(() => sub.stop());
      subs.push(sub);
    }
    const pub = new FeedPublisher({ publish: unicastConfig(ports) });
    await pub.start();
    cleanups.push(() => pub.stop());
    const r = rng(3);
    const books = [makeInstrument("bybit", "spot", "BTCUSDT", 2, 6), makeInstrument("bybit", "linear", "ETHUSDT", 1, 3)].map((inst) => {
      const b = new TestBook(inst);
      const s = randomBookSides(r, 100, 300_000);
      b.load(s.bids, s.asks, 1, T0);
      return b;
    });
    const handles = books.map((b) => pub.register(b.instrument, b));
    books.forEach((b, i) => pub.publishSnapshot(handles[i]!, b));
    const cs = new ChangeSet();
    for (let e = 0; e < 300; e++) {
      const k = e % 2;
      randomChanges(r, books[k]!, cs, e % 11 === 0 ? 150 : 6, 300_000);
      books[k]!.apply(cs, 100 + e, T0 + e);
      pub.publishDelta(handles[k]!, books[k]!, cs);
      if (e % 4 === 3) await nextTurn();
    }
    await nextTurn();
    for (const sub of subs) await waitFor(() => identical(sub, books), 5000, "identical books at every receiver");
    await waitFor(() => subs.every((s) => s.counters.datagrams * ports.length === pub.counters.datagrams), 5000, "every datagram at every receiver");
    for (const sub of subs) {
      expect(sub.counters.gaps).toBe(0);
      expect(sub.counters.errors).toBe(0);
      expect(sub.counters.bytes * ports.length).toBe(pub.counters.bytes);
    }
    expect(pub.counters.sendErrors).toBe(0);
    expect(pub.channelInfo()[0]!.group).toBe(ports.map((p) => `127.0.0.1:${p}`).join(","));
  });

  it("a unicast destination with retransmission: a receiver that lost datagrams asks and recovers", async () => {
    const port = BASE_PORT + 3;
    const cfg = unicastConfig([port], { retransmit: { host: "127.0.0.1", port: 0, ringBytes: 1 << 20, allow: ["127.0.0.0/8"], requestsPerSec: 1000, bytesPerSec: 1 << 26, totalBytesPerSec: 1 << 26 } });
    const lossy = rng(8);
    const pub = new FeedPublisher({ publish: cfg, dropFilter: (_c, seq) => seq > 5 && lossy() < 0.1 });
    await pub.start();
    cleanups.push(() => pub.stop());
    const sub = new FeedSubscriber({ groups: [{ bind: "127.0.0.1", port }], staleAfterMs: 0, retransmit: { ...pub.retransmitAddress()! } });
    await sub.start();
    cleanups.push(() => sub.stop());
    const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    const r = rng(9);
    const s = randomBookSides(r, 60, 300_000);
    book.load(s.bids, s.asks, 1, T0);
    const h = pub.register(book.instrument, book);
    pub.publishSnapshot(h, book);
    await nextTurn();
    const cs = new ChangeSet();
    for (let e = 0; e < 200; e++) {
      randomChanges(r, book, cs, 6, 300_000);
      book.apply(cs, 100 + e, T0 + e);
      pub.publishDelta(h, book, cs);
      if (e % 2 === 1) await nextTurn();
    }
    await nextTurn();
    await waitFor(() => identical(sub, [book]) && sub.retransmitsPending === 0, 8000, "recovered");
    expect(pub.counters.droppedOnPurpose).toBeGreaterThan(0);
    expect(sub.counters.retransmitRecovered).toBeGreaterThan(0);
    expect(sub.counters.gaps).toBe(0);
  });

  it("feeder listen --bind receives a unicast feed", async () => {
    const port = BASE_PORT + 4;
    const pub = new FeedPublisher({ publish: unicastConfig([port], { snapshotIntervalMs: 20 }) });
    await pub.start();
    cleanups.push(() => pub.stop());
    const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
    book.load([[302472, 1500]], [[302473, 250]], 7, T0);
    pub.register(book.instrument, book);
    const lines: string[] = [];
    const ctx: CommandContext = { values: { bind: [`127.0.0.1:${port}`], format: "ndjson", depth: "1", count: "1", duration: "10" }, positionals: [], log: silentLogger, out: (t) => lines.push(t), stopSignal: new Promise<string>(() => {}) };
    expect(await listenCommand.run(ctx)).toBe(0);
    const updates = lines.map((l) => JSON.parse(l)).filter((o) => o.type === "update");
    expect(updates.length).toBe(1);
    expect(updates[0]).toMatchObject({ symbol: "BTCUSDT", channelId: 5, bids: [["30247.2", "1.500"]] });
  });
});
