/**
 * /readyz's publish_send_failing reason says how long ago the kernel last refused a destination's datagram. It said
 * the refusal's wall-clock time against the wall clock of /readyz: after a step forward of an hour, "the last
 * 3600000 ms ago" of a refusal a moment old (and after a step back, 0 ms of one long past). Now the age is read on
 * the monotonic clock the failure window already counts on. The publisher is not started: its channel is told of a
 * refusal as its sender would tell it; Date.now is stubbed and stepped.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import { FeedPublisher } from "../../src/net/feed-publisher.ts";

afterEach(() => vi.restoreAllMocks());

const publish: PublishConfig = {
  maxDatagramBytes: 1400,
  heartbeatIntervalMs: 1000,
  snapshotIntervalMs: 1000,
  snapshotDepth: 0,
  destinations: [{ name: "desk", group: "239.255.48.9", port: 48999, iface: "127.0.0.1", ttl: 1, channelId: 4, match: { venue: "*", market: "*", symbols: ["*"] } }],
};

describe("publish_send_failing on a stepped wall clock", () => {
  test("an hour forward: the refusal a moment ago is said so; the window still ends on the monotonic clock", () => {
    const wall = { ms: 1_765_000_000_000 };
    vi.spyOn(Date, "now").mockImplementation(() => wall.ms);
    const pub = new FeedPublisher({ publish, sessionId: 7 });
    const channel = (pub as unknown as { channels: { refused(error: string, datagrams: number): void }[] }).channels[0]!;
    const startMono = performance.now();
    channel.refused("EMSGSIZE: message too long", 1);
    wall.ms += 3_600_000;
    const reasons = evaluateReadiness({ books: [], unresolved: [], connections: [], workersDown: [], sendFailures: pub.sendFailures() }).reasons.filter((r) => r.check === "publish_send_failing");
    expect(reasons).toHaveLength(1);
    const agoMs = Number(/the last (\d+) ms ago/.exec(reasons[0]!.detail)?.[1]);
    expect(agoMs).toBeLessThanOrEqual(performance.now() - startMono + 1); // before: 3600000
    expect(pub.sendFailures(startMono + 60_000)).toEqual([]); // a minute on (window 3 heartbeats, ≥ 1 s): over
    // /metrics' count of that destination stays (feeder_destination_send_errors_total): not only while failing.
    expect(pub.destinationSendErrors()).toEqual([{ destination: "desk", sendErrors: 1 }]);
  });
});
