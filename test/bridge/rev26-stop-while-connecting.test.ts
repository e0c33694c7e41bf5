/**
 * The forward bridge and the NATS reader (reverse bridge, `listen --nats`) stopped while their NATS connect is
 * under way (the CLI's SIGINT/SIGTERM during start-up). Before, stop() found no connection yet and did nothing: the
 * connect that ended afterwards was kept, reconnecting forever, and the start went on (the forward bridge joined its
 * groups and forwarded, the reader subscribed and fed its sink) after the stop. Now a start whose stop came first
 * closes the connection it got and goes no further.
 * Real parts: the NATS client, against a server on 127.0.0.1 that holds its greeting until the test lets it go.
 */
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { silentLogger } from "../../src/core/log.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { waitFor } from "../e2e/harness.ts";
import { heldNatsServer } from "./held-nats-server.ts";

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("stop() while the NATS connect is under way", { timeout: 30_000 }, () => {
  test("the forward bridge closes the connection it gets afterwards and joins no group", async () => {
    const nats = heldNatsServer(stops);
    const bridge = new ForwardBridge({ groups: [{ group: "239.255.26.1", port: 31261, iface: "127.0.0.1" }], servers: nats.url, prefix: "rev26f", log: silentLogger });
    const starting = bridge.start();
    stops.push(() => bridge.stop());
    await waitFor(() => nats.state.opened > 0, "the NATS connection accepted", 20_000);
    await bridge.stop();
    nats.greet();
    await starting.catch(() => undefined);
    await waitFor(() => nats.state.closed > 0, "the bridge's NATS connection closed", 10_000);
    expect((bridge as unknown as { sockets: unknown[] }).sockets).toHaveLength(0);
  });

  test("the reader closes the connection it gets afterwards, subscribes to nothing and feeds nothing", async () => {
    const nats = heldNatsServer(stops);
    let fed = 0;
    const reader = new NatsFeedReader({ servers: nats.url, prefix: "rev26r" }, () => void fed++);
    const starting = reader.start();
    stops.push(() => reader.stop());
    await waitFor(() => nats.state.opened > 0, "the NATS connection accepted", 20_000);
    await reader.stop();
    nats.greet();
    await starting.catch(() => undefined);
    await waitFor(() => nats.state.closed > 0, "the reader's NATS connection closed", 10_000);
    expect(nats.state.subs).toBe(0);
    expect(fed).toBe(0);
  });

  test("the reverse bridge stopped while its socket opens connects to nothing", async () => {
    const nats = heldNatsServer(stops);
    nats.greet();
    const bridge = new ReverseBridge({ servers: nats.url, prefix: "rev26b", group: "239.255.26.2", port: 31262, iface: "127.0.0.1", ttl: 1 });
    const starting = bridge.start();
    stops.push(() => bridge.stop());
    await bridge.stop();
    await starting; // the old code's start went on: connected (the server answers at once) and subscribed
    expect(nats.state).toMatchObject({ opened: 0, subs: 0 });
  });
});
