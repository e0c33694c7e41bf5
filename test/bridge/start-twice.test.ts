/**
 * start() called a second time without stop() on the NATS reader and the bridges. Before, each went ahead: the first
 * NATS connection (and the forward bridge's group sockets, the reverse bridge's socket and reader) stayed open and
 * running, never closed by stop(), so every datagram was fed, forwarded or sent twice and the process kept a
 * connection reconnecting forever. Now the second call rejects at once, opening nothing; after stop() a start opens
 * everything afresh. Real NATS client against a minimal server on 127.0.0.1 that counts connections.
 */
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { heldNatsServer } from "./held-nats-server.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("start() twice", { timeout: 30_000 }, () => {
  test("the NATS reader refuses the second start, opening no second connection; after stop() it starts again", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "twice-r" }, () => {});
    stops.push(() => reader.stop());
    await reader.start();
    await expect(reader.start()).rejects.toThrow("nats reader: start() called twice (stop() first)");
    await reader.stop();
    await waitFor(() => nats.state.closed === 1, "the reader's connection closed", 10_000);
    expect(nats.state.opened).toBe(1);
    await reader.start();
    await waitFor(() => nats.state.opened === 2, "a new connection after stop()", 10_000);
  });

  test("the forward bridge refuses the second start, opening no second connection and no second socket", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const { group, port } = uniqueDestination(251);
    const bridge = new ForwardBridge({ groups: [{ group, port, iface: "127.0.0.1" }], servers: nats.url, prefix: "twice-f", log: silentLogger });
    stops.push(() => bridge.stop());
    await bridge.start();
    await expect(bridge.start()).rejects.toThrow("bridge: start() called twice (stop() first)");
    expect((bridge as unknown as { sockets: unknown[] }).sockets).toHaveLength(1);
    expect(nats.state.opened).toBe(1);
  });

  test("the reverse bridge refuses the second start, opening no second connection", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const { group, port } = uniqueDestination(252);
    const bridge = new ReverseBridge({ servers: nats.url, prefix: "twice-b", group, port, iface: "127.0.0.1", ttl: 1 });
    stops.push(() => bridge.stop());
    await bridge.start();
    await expect(bridge.start()).rejects.toThrow("bridge: start() called twice (stop() first)");
    expect(nats.state.opened).toBe(1);
  });
});
