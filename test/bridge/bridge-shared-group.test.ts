/**
 * A group and port given twice to the forward bridge (two `--config` destinations sharing it with other channels,
 * or a `--group` given again) was a socket each, and Linux hands a group's datagrams to every socket bound to it:
 * every datagram was read twice, its heartbeats forwarded twice, its messages counted as the network's duplicates.
 * Now one socket per group and port, joined on each of its interfaces. In-process, multicast on 127.0.0.1 (TTL 1);
 * the bridge's NATS client a recorder.
 */
import dgram from "node:dgram";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../src/core/log.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { RecordedBridge } from "./recorded-bridge.ts";

const stops: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

describe("forward bridge: a group given twice", () => {
  test("is one socket: each datagram is read and forwarded once", async () => {
    const g = { group: "239.255.77.41", port: 31741, iface: "127.0.0.1" };
    const bridge = new RecordedBridge({ groups: [g, { ...g }], servers: "nats://127.0.0.1:1", prefix: "shared", log: silentLogger });
    await bridge.start();
    stops.push(() => bridge.stop());
    expect((bridge as unknown as { sockets: unknown[] }).sockets.length).toBe(1);

    const sender = dgram.createSocket("udp4");
    stops.push(() => void sender.close());
    await new Promise<void>((r) => sender.bind(0, "127.0.0.1", () => r()));
    sender.setMulticastInterface("127.0.0.1");
    sender.setMulticastTTL(1);
    const p = packer({ channelId: 1, sourceId: 1 });
    const heartbeats = [1, 2, 3].map((i) => (p.appendHeartbeat(0), take(p, T0 + 1000 * i)[0]!)); // each its own send time: one sent in the µs of the last is a copy the bridge drops
    for (const d of heartbeats) sender.send(d, g.port, g.group);
    const deadline = Date.now() + 5000;
    while (bridge.counters.datagrams < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(bridge.counters.datagrams).toBe(3);
    expect(bridge.client.published.length).toBe(3);
  });
});
