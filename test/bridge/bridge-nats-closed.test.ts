/**
 * The NATS client reconnects forever (connectNats), except after two authorization errors in a row — a server
 * restarted requiring credentials the bridge does not have — when it closes the connection for good. The forward
 * bridge did not look: it stayed up dropping every datagram ("NATS is disconnected", logged once), for good, even
 * once the server took it again; only a restart by the operator brought it back. It now logs the close as an error,
 * counts it (natsClosed) and connects again until it can. A real nats-server restarted with and without an
 * authorization block; the bridge's datagrams handed to onDatagram in-process.
 */
import { afterEach, describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import type { Logger } from "../../src/core/log.ts";
import { connectNats } from "../../src/subscriber/nats-source.ts";
import { packer, take, T0 } from "../subscriber/feed-harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

async function until(what: string, ok: () => boolean | Promise<boolean>, onTry: () => void = () => {}, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    onTry();
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(missing !== undefined)("forward bridge: the NATS client closed for good", () => {
  test("is logged, counted, and connected again once the server takes the bridge", async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const lines: { level: string; msg: string }[] = [];
    const log: Logger = {
      debug() {},
      info: (msg) => void lines.push({ level: "info", msg }),
      warn: (msg) => void lines.push({ level: "warn", msg }),
      error: (msg) => void lines.push({ level: "error", msg }),
      child: () => log,
    };
    const bridge = new ForwardBridge({ groups: [], servers: nats.url, prefix: "closed", reconnectAfterCloseMs: 100, log, jetstream: { stream: "CLOSED", maxAgeMs: 60_000, maxBytes: 1 << 20 } });
    await bridge.start();
    stops.push(() => bridge.stop());
    const p = packer({ channelId: 5, sourceId: 3, sessionId: 900, sessionStartUs: T0 });
    let sendUs = T0; // each its own send time: one sent in the µs of the last is a copy the bridge drops
    const heartbeat = () => {
      p.appendHeartbeat(0);
      for (const d of take(p, (sendUs += 1000))) bridge.onDatagram(d);
    };

    const first = (bridge as unknown as { nc: { isClosed(): boolean } }).nc;
    await nats.stop();
    await nats.restart("authorization { user: someone, password: else }");
    await until("the client to close for good", () => first.isClosed());
    // While closed for good no check of the stream runs: it is not storing (before, its last state: true, the gauge
    // 1 and no stream reason on /readyz for the whole outage).
    await until("the close for good handled", () => bridge.counters.natsClosed === 1);
    expect(bridge.health.streamStoring).toBe(false);

    await nats.stop();
    await nats.restart("");
    const watcher = (await connectNats(nats.url, "test-watcher")) as unknown as {
      subscribe(s: string, o: { callback: (e: unknown, m: unknown) => void }): unknown;
      flush(): Promise<void>;
      close(): Promise<void>;
    };
    stops.push(() => watcher.close());
    let heard = 0;
    watcher.subscribe("closed._hb", { callback: () => void heard++ });
    await watcher.flush();
    await until("the bridge's heartbeats through the restored server", () => heard > 0, heartbeat);
    expect(lines.some((l) => l.level === "error" && /closed its connection for good/.test(l.msg))).toBe(true);
    expect(lines.some((l) => l.level === "info" && /connected to NATS again/.test(l.msg))).toBe(true);
    expect(bridge.counters.natsClosed).toBe(1);
    await until("the stream read again", () => bridge.health.streamStoring === true);
  }, 20_000);
});
