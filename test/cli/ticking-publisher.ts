/**
 * A FeedPublisher on group:port (interface 127.0.0.1, TTL 1) with one bybit book whose best bid changes every 5 ms for
 * as long as the test runs, as on a live feed: for tests that run `feeder listen` as a process. Its stop goes on
 * `cleanups`.
 */
import { ChangeSet } from "../../src/core/change-set.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";

const T0 = 1_764_000_000_000_000;

export async function startTickingPublisher(group: string, port: number, channelId: number, cleanups: (() => unknown)[]): Promise<void> {
  const publish: PublishConfig = {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 1000,
    snapshotIntervalMs: 50,
    snapshotDepth: 0,
    destinations: [{ name: "t", group, port, iface: "127.0.0.1", ttl: 1, channelId, match: { venue: "*", market: "*", symbols: ["*"] } }],
  };
  const pub = new FeedPublisher({ publish });
  await pub.start();
  cleanups.push(() => pub.stop());
  const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
  book.load([[302472, 1500]], [[302473, 250]], 1, T0);
  const handle = pub.register(book.instrument, book);
  pub.publishSnapshot(handle, book);
  const cs = new ChangeSet();
  const ticker = setInterval(() => {
    cs.clear();
    cs.addBid(302472, 1000 + book.instrSeq);
    book.apply(cs, book.venueSeq + 1, T0 + book.instrSeq);
    pub.publishDelta(handle, book, cs);
  }, 5);
  cleanups.push(() => clearInterval(ticker));
}
