/**
 * The publisher's heartbeats and refresh on a wall clock stepped back (an NTP step, a resumed VM). Both counted on
 * Date.now: an hour's step back put the channel's last send and the refresh cycle's start an hour ahead, so an idle
 * channel sent no heartbeat (its subscribers saw the stream stale) and no book was refreshed (a subscriber that lost a
 * datagram, or joined late, got no usable book back) for the hour. Now both count on the monotonic clock. Date.now
 * is stubbed (from before the publisher starts) and stepped back; datagrams are observed through the drop filter.
 */
import { afterEach, describe, test, vi } from "vitest";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { MSG_FLAG_REFRESH } from "../../src/wire/layout.ts";
import { waitFor } from "../e2e/harness.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { uniqueDestination } from "../support/destination.ts";

const PORT = uniqueDestination(458).port; // below the ephemeral ports (test/support/destination.ts)

function config(): PublishConfig {
  return {
    maxDatagramBytes: 1400,
    heartbeatIntervalMs: 100,
    snapshotIntervalMs: 400,
    snapshotDepth: 0,
    destinations: [
      { name: "all", group: "239.255.44.1", port: PORT, iface: "127.0.0.1", ttl: 1, channelId: 1, match: { venue: "*", market: "*", symbols: ["*"] } },
    ],
  };
}

afterEach(() => vi.restoreAllMocks());

describe("the publisher on a clock stepped back", { timeout: 20_000 }, () => {
  test("an hour's step back: heartbeats and refreshes go on", async () => {
    const back = { ms: 0 };
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - back.ms);
    let heartbeats = 0;
    let refreshes = 0;
    const pub = new FeedPublisher({
      publish: config(),
      dropFilter: (_ch, _seq, bytes) => {
        const res = decodeDatagram(bytes);
        if (!res.ok) throw res.error;
        if (res.packet.messages.length === 0) heartbeats++;
        if (res.packet.messages.some((m) => m.type === "snapshot" && (m.msgFlags & MSG_FLAG_REFRESH) !== 0)) refreshes++;
        return true; // observed, not sent
      },
    });
    await pub.start();
    try {
      const book = new TestBook(makeInstrument("bybit", "linear", "BTCUSDT", 1, 3));
      book.load([[943500, 10]], [[943501, 20]], 1, 1_764_000_000_000_000);
      pub.register(book.instrument, book);
      pub.flush();
      await waitFor(() => heartbeats >= 2 && refreshes >= 2, "heartbeats and refreshes before the step");
      back.ms = 3_600_000;
      const [h, r] = [heartbeats, refreshes];
      await waitFor(() => heartbeats >= h + 3 && refreshes >= r + 2, "heartbeats and refreshes within 5 s of the step", 5_000);
    } finally {
      await pub.stop();
    }
  });
});
