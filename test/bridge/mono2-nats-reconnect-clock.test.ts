/**
 * The NATS connection of the bridge and the reader (connectNats) after a wall clock stepped back (an NTP step, a
 * resumed VM). The client paced its reconnects by Date.now (a server is dialled again once its last dial plus
 * the wait is past): after a step back of an hour, every dial lay an hour ahead, so a NATS server restarted
 * meanwhile was not dialled again for the hour (the bridge dropping what it reads, the reader silent). Dials are
 * paced on the monotonic clock now (ReconnectPacing). Real parts: nats-server on 127.0.0.1, restarted on its port;
 * Date.now is stubbed and stepped back after the connection is made. The pacing's waits, on the test's clock.
 * close() while the client waits for its next dial: no dial after it (the client's `{ server, delay }` path dialled
 * once the delay was cut short by close(), and a server back by then kept a connection open for good).
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { connectNats, ReconnectPacing, RECONNECT_WAIT_MS } from "../../src/subscriber/nats-source.ts";
import { waitFor } from "../e2e/harness.ts";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.restoreAllMocks();
});

describe("NATS reconnects on a stepped wall clock", () => {
  test.skipIf(missing !== undefined)("stepped back an hour: a restarted server is dialled again at once", { timeout: 60_000 }, async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.stop());
    // The client's status() and isClosed() (not in nats-source.ts's narrow NatsConnection type).
    const nc = (await connectNats(nats.url, "mono2-test")) as Awaited<ReturnType<typeof connectNats>> & { status(): AsyncIterable<{ type: string }>; isClosed(): boolean };
    cleanups.push(() => nc.close());
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") reconnects++;
    })();
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000);
    await nats.stop();
    await nats.restart();
    await waitFor(() => reconnects > 0, "the client reconnected to the restarted server", 15_000); // before: an hour
    expect(nc.isClosed()).toBe(false);
  });

  test.skipIf(missing !== undefined)("close() while the next dial is awaited: no dial after it", { timeout: 60_000 }, async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.stop());
    let monoMs = 0;
    const nc = (await connectNats(nats.url, "mono2-close", new ReconnectPacing(() => monoMs, () => 0))) as Awaited<ReturnType<typeof connectNats>> & {
      status(): AsyncIterable<{ type: string }>;
      // The client's dial loop (nats-core 3.4 internals, read by this test only): whether it dialled after close().
      protocol: { connectPromise: Promise<void> | null; connected: boolean };
    };
    cleanups.push(() => nc.close());
    const seen: string[] = [];
    void (async () => {
      for await (const s of nc.status()) seen.push(s.type);
    })();
    monoMs = -100_000; // on the pacing's clock the server is due again only in 100 s: the client waits for it
    await nats.stop();
    await waitFor(() => seen.includes("disconnect"), "the client saw the server go", 15_000);
    await nats.restart();
    const dialLoop = nc.protocol.connectPromise;
    expect(dialLoop).not.toBeNull();
    await nc.close();
    await dialLoop!.catch(() => undefined);
    expect(nc.protocol.connected).toBe(false); // before: true (dialled after close, connected for good)
  });

  /** What the client (nats-core 3.4 dodialLoop) waits before a dial of a server last dialled at lastConnect (Date.now). */
  function clientWaitMs(waitMs: number, lastConnect: number, wallNowMs: number): number {
    return lastConnect + waitMs <= wallNowMs ? 0 : Math.min(waitMs, lastConnect + waitMs - wallNowMs);
  }

  test("the pacing: a server dialled again only the wait after its last dial, on its own clock, whatever Date.now does", () => {
    let nowMs = 1000;
    let wallMs = 1_700_000_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => wallMs);
    const pacing = new ReconnectPacing(() => nowMs, () => 0);
    const a = { listen: "127.0.0.1:4222" };
    const b = { listen: "127.0.0.1:4223" };
    // Until the client asks reconnectToServer (clients before nats-core 3.4 never do): its own pacing, a real wait
    // (not "now", which such a client would take for dialling back to back).
    expect(pacing.reconnectDelayHandler()).toBe(RECONNECT_WAIT_MS);
    expect(pacing.reconnectToServer([a, b])).toBe(a); // first dial: at once
    expect(pacing.reconnectDelayHandler()).toBe(-Number.MAX_SAFE_INTEGER); // b never dialled: due
    nowMs += 10;
    wallMs += 10;
    expect(pacing.reconnectToServer([a, b])).toBe(b); // a not due: b, due
    const aDialWallMs = wallMs - 10;
    nowMs += 100;
    wallMs += 100;
    // Neither due: the client waits until a is (RECONNECT_WAIT_MS after its dial), measured on the pacing's clock.
    const unsteppedMs = wallMs;
    for (const stepMs of [0, -3_600_000, 3_600_000]) {
      wallMs = unsteppedMs + stepMs; // the wall clock stepped after the dials
      expect(clientWaitMs(pacing.reconnectDelayHandler(), aDialWallMs, wallMs)).toBe(RECONNECT_WAIT_MS - 110 + 1);
    }
    nowMs += RECONNECT_WAIT_MS - 110;
    expect(pacing.reconnectDelayHandler()).toBe(-Number.MAX_SAFE_INTEGER);
    expect(pacing.reconnectToServer([b, a])).toBe(a); // the client's pick (b) not due yet: a, due
    nowMs += 10 * RECONNECT_WAIT_MS;
    expect(pacing.reconnectToServer([b, a])).toBe(b);
    expect(pacing.reconnectToServer([])).toBeNull();
  });
});
