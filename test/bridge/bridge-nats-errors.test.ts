/**
 * A NATS server that refuses the bridge's publishes (its user — the server's no_auth_user, the bridge has no
 * credentials — without publish rights on the prefix) answers each with -ERR 'Permissions Violation' and drops it.
 * The bridge neither logged nor counted these: it looked healthy, everything counted as published, while no reader
 * got anything. It now counts the server's errors (natsErrors) and logs them (the first at once, then rate-limited).
 * A real nats-server with a permissions block; the bridge's datagrams handed to onDatagram in-process.
 */
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { Logger } from "../../src/core/log.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

const DENY_PREFIX = `authorization { users: [ { user: anon, password: x, permissions: { publish: { deny: ["denied.>"] } } } ] }
no_auth_user: anon`;

describe.skipIf(missing !== undefined)("forward bridge: errors the NATS server reports", () => {
  test("a publish the server refuses is counted and logged", async () => {
    const nats = await NatsServer.start(DENY_PREFIX);
    stops.push(() => nats.stop());
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = { debug() {}, info() {}, warn: (msg, fields) => void warnings.push({ msg, fields }), error() {}, child: () => log };
    const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "denied", log });
    await bridge.start();
    stops.push(() => bridge.stop());
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    let sendUs = T0; // each its own send time: one sent in the µs of the last is a copy the bridge drops
    for (let i = 0; i < 3; i++) {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    }
    const deadline = Date.now() + 5000;
    while (bridge.counters.natsErrors < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(bridge.counters.natsErrors).toBe(3);
    const w = warnings.filter((x) => /NATS server reported an error/.test(x.msg));
    expect(w.length).toBe(1); // the first at once, the others within the interval counted
    expect(String(w[0]!.fields?.detail)).toMatch(/Permissions Violation for Publish to "denied\._hb"/);
  });
});
