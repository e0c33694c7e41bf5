/**
 * feeder_datagrams_sent_total is a counter: it never goes down. The publisher's count is of datagrams the kernel
 * took less those that came back (a unicast receiver's port closed: send-batch.ts bounced), and a datagram can come
 * back after a scrape counted it: until 2026-12-07 the next scrape was one lower, which Prometheus reads as a reset
 * (rate() a spike of the whole count); with a sole receiver gone every datagram bounces, so the count only ever
 * dipped. So is feeder_sent_bytes_total, which a bounce takes the datagram's bytes off too (until 2026-12-07 it did not: it
 * counted bounced datagrams feeder_datagrams_sent_total did not). A Feeder without venues (its publisher on 127.0.0.1, TTL 1); the bounce as Bun reports it, to the sender.
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { renderMetrics } from "../../src/app/metrics.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const stops: (() => unknown)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function sent(feeder: Feeder, name = "feeder_datagrams_sent_total"): number {
  return parsePrometheusText(renderMetrics({ pipelines: [feeder.metricsSnapshot()] })).samples.find((s) => s.name === name)!.value;
}

test("a datagram that comes back after a scrape counted it: the next scrape is not lower", async () => {
  const config = validateConfig({
    publish: { heartbeat_interval_ms: 1000, startup_listen_ms: 0, destinations: [{ ...uniqueDestination(272), interface: "127.0.0.1", ttl: 1, channel: 1 }] },
  }, { requireVenue: false });
  const feeder = new Feeder({ config, log: silentLogger });
  stops.push(() => feeder.stop());
  await feeder.start();
  const counters = feeder.publisher.counters;
  counters.datagrams += 1; // one taken by the kernel (as BatchSender.send counts it) …
  counters.bytes = 100 * counters.datagrams; // every datagram so far of 100 B (the mean a bounce takes off)
  const first = sent(feeder);
  const firstBytes = sent(feeder, "feeder_sent_bytes_total");
  const channel = (feeder.publisher as unknown as { channels: { sender: { bounced(error: string): void } }[] }).channels[0]!;
  channel.sender.bounced("ECONNREFUSED"); // … then back, after the scrape
  expect(counters.datagrams).toBe(first - 1); // the count itself: less the one come back
  expect(counters.bytes).toBe(firstBytes - 100); // and its bytes (until 2026-12-07 they stayed counted)
  expect(sent(feeder)).toBeGreaterThanOrEqual(first);
  expect(sent(feeder, "feeder_sent_bytes_total")).toBeGreaterThanOrEqual(firstBytes);
  counters.datagrams += 3; // three more taken: counted from the count less the bounce
  counters.bytes += 300;
  expect(sent(feeder)).toBe(first + 2);
  expect(sent(feeder, "feeder_sent_bytes_total")).toBe(firstBytes + 200);
});
